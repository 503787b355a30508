#!/usr/bin/env python3
"""Paired A/B of two normlab binaries on the same benchmarks, alternated round by round.

On a shared host the same binary's time drifts by 10-30 % (DRAM-bound rows up to 2x) within
minutes, so two separate runs cannot tell a 10 % change from noise. This runs A, then B, then A, ...
(`normlab --threads N bench --json --filter REGEX --repeat 5` each time) and prints, per benchmark,
the median over rounds of each side and B's time relative to A's. The binary run second in a pair
was 5-18 % faster on this host whichever it was, so either run it twice with A and B swapped (a
change is real when both orders agree; docs/performance-history.md, steps 15-18), or once with
--swap, which alternates the order round by round so that bias falls on both sides.

  scripts/bench-ab.py OLD/bin/normlab build/bin/normlab --threads 2 --rounds 4 --filter 'norm_fwdbwd/2048'
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(binary, threads, pattern):
    out = subprocess.run([binary, "--threads", str(threads), "bench", "--json", "--filter", pattern,
                          "--repeat", "5"], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="normlab binary A (e.g. the old build)")
    ap.add_argument("b", help="normlab binary B (e.g. build/bin/normlab)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=4, help="A/B alternations (default 4)")
    ap.add_argument("--filter", default="^step/", help="benchmark name regex (default '^step/')")
    ap.add_argument("--swap", action="store_true",
                    help="swap the order every round (B first in odd rounds), so the host's bias "
                         "for whichever binary runs second falls on both; use an even --rounds")
    args = ap.parse_args()
    times = {"a": {}, "b": {}}
    cpu = {"a": {}, "b": {}}
    order = []
    for r in range(args.rounds):
        pair = (("a", args.a), ("b", args.b))
        for side, binary in (pair[::-1] if args.swap and r % 2 else pair):
            for rec in run(binary, args.threads, args.filter):
                name = rec["bench"]
                if name not in order:
                    order.append(name)
                times[side].setdefault(name, []).append(rec["median_ms"])
                cpu[side].setdefault(name, []).append(rec["cpu_ms"])
    if not order:
        sys.exit("bench-ab: no benchmark matches --filter %r (normlab bench --list)" % args.filter)
    med = statistics.median
    print("%d thread(s), %d rounds%s, A = %s, B = %s" % (
        args.threads, args.rounds, " (order swapped every round)" if args.swap else "", args.a, args.b))
    print("%-28s %10s %10s %8s %10s %10s" % ("benchmark", "A ms", "B ms", "A/B", "A cpu ms", "B cpu ms"))
    for name in order:
        a, b = med(times["a"][name]), med(times["b"][name])
        print("%-28s %10.4f %10.4f %8.3f %10.4f %10.4f" % (
            name, a, b, a / b, med(cpu["a"][name]), med(cpu["b"][name])))
    print("A/B > 1: B is faster.")


if __name__ == "__main__":
    main()
