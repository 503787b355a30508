#!/usr/bin/python3
"""`make bench-compare`: normlab against PyTorch eager on the same benchmarks, interleaved
(for each benchmark: ours, then PyTorch's, before moving on), at 1 thread (PyTorch t1) and at
2 threads (PyTorch t1b2: torch 1 thread + OpenBLAS 2, its best 2-core setting here).

  /usr/bin/python3 scripts/bench-compare.py [--normlab build/bin/normlab] [--filter REGEX]
                                            [--repeat K] [--rounds R] [--threads 1,2]
                                            [--json-out FILE]

Columns: ours and PyTorch (median wall ms per call), ratio = PyTorch / ours (> 1: normlab is
faster); the same for process CPU time per call (summed over threads: on a machine shared with
other jobs, wall time also counts waiting for a core, CPU time much less so); and
the physical floor measured in the same run: for a step, its matmul FLOPs / the best raw sgemm
rate of the run; for a matmul, raw cblas_sgemm of the same shape (sgemm/MxNxK, measured next to
ours in every round, the median); for the norm kernels, minimal bytes / the STREAM triad rate of
the matching cache level (ceilings from each one's fastest repetition; for the DRAM-sized norm
rows the DRAM triad measured next to ours in every round, the median of the rounds' ceilings,
since the host's DRAM rate drifts within a sitting); "% floor" = floor / ours. Without PyTorch (Debian python3-torch) only our numbers and the floors are printed.

At 1 thread a last table sets each step against its BLAS floor: the step's own products,
recorded in one step and replayed alone (blas/NAME, which also times the step in alternation
with the replay, in one process, so the two share the host's slow and fast stretches).
"step - blas" is the framework's own work (elementwise ops, norms, softmax, optimizer,
bookkeeping); "torch/1.3 - blas" is what a step 1.3x faster than PyTorch's could spend on it.

With --rounds R > 1 each benchmark is measured R times, ours and PyTorch's back to back, the
order swapped every round (the one run second in a pair is often a few % faster here); the
table then shows the medians over rounds, the median of the per-round ratios, and their range
(min-max) in a last column: on this shared host one round's ratio moves by 10-30 %, so a target
near the edge is judged on the median and its range, not on one pair.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
RETAIN = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"


def torch_available():
    if not os.path.exists(PY):
        return False
    return subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0


def round_trip_ns(binary):
    """The cache-line round trip between the first two CPUs right now (core_round_trip), ns."""
    rec = ours(binary, 2, "core_round_trip", 5)
    return rec.get("median_ns") if rec else None


def ours(binary, threads, name, repeat):
    out = subprocess.run([binary, "--threads", str(threads), "bench", "--json", "--filter",
                          "^" + re.escape(name) + "$", "--repeat", str(repeat)],
                         capture_output=True, text=True, check=True).stdout
    recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return recs[0] if recs else None


class Peer:
    """One long-lived torch_peer.py process per thread config, fed benchmark names."""

    def __init__(self, config, repeat):
        env = dict(os.environ, GLIBC_TUNABLES=RETAIN)
        env.pop("OMP_WAIT_POLICY", None)
        self.p = subprocess.Popen([PY, os.path.join(HERE, "torch_peer.py"), "--config", config, "--serve",
                                   "--repeat", str(repeat)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        # Wait until the peer has imported torch and serves (a name it does not know comes back
        # "skipped"): the import keeps one core busy for seconds, and the first benchmark of a
        # thread count, ours at 2 threads especially, used to run beside it (one round of the
        # first row read 0.4-0.5x the others).
        self.run("(ready)")

    def run(self, name):
        self.p.stdin.write(name + "\n")
        self.p.stdin.flush()
        rec = json.loads(self.p.stdout.readline())
        return None if rec.get("skipped") else rec

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def suite_names(binary):
    """Every benchmark name of `normlab bench --json` except the ceilings (which run first)."""
    out = subprocess.run([binary, "bench", "--list"], capture_output=True, text=True, check=True).stdout
    return [n for n in out.split()
            if not n.startswith(("stream_triad/", "sgemm/", "blas/", "core_round_trip"))]


def stream_level(nbytes):
    # the working set of a norm call (minimal bytes) decides which triad rate bounds it
    return "128K" if nbytes <= (1 << 20) else "8M" if nbytes <= (16 << 20) else "128M"


def dram_norm(name):
    # Whether a norm benchmark's minimal bytes are DRAM-sized (its floor: the 128M triad). The
    # bytes come from the name (RxC: 5 arrays fwd+bwd, 2 fwd), as the benchmark counts them.
    kind, _, arg = name.partition("/")
    if kind.split("_")[0] not in ("layernorm", "batchnorm", "rmsnorm") or "x" not in arg:
        return False
    rows, cols = (int(v) for v in arg.split("x"))
    arrays = 5 if kind.endswith("fwdbwd") else 2
    return stream_level(arrays * rows * cols * 4) == "128M"


def floor_ms(name, rec, ceil):
    kind, _, arg = name.partition("/")
    if kind == "step" and "matmul_gflop" in rec and ceil.get("sgemm"):
        return rec["matmul_gflop"] / ceil["sgemm"] * 1e3
    if kind == "matmul" and ceil.get("sgemm"):
        M, N, K = (int(v) for v in arg.split("x"))
        return 2.0 * M * N * K / (ceil["sgemm"] * 1e6)
    if "gbps" in rec and kind.split("_")[0] in ("layernorm", "batchnorm", "rmsnorm"):
        nbytes = rec["gbps"] * rec["median_ms"] * 1e6
        rate = ceil.get("stream/" + stream_level(nbytes))
        return nbytes / (rate * 1e6) if rate else None
    return None


def main():
    ap = argparse.ArgumentParser(description="normlab vs PyTorch, one table")
    ap.add_argument("--normlab", default=os.path.join(HERE, "..", "build", "bin", "normlab"))
    ap.add_argument("--filter", default="")
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure each benchmark R times, ours and PyTorch's alternating (default 1)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--json-out", default=None, help="also write every record here (JSON lines)")
    args = ap.parse_args()
    if args.rounds < 1 or args.repeat < 1:
        sys.exit("bench-compare: --rounds and --repeat must be >= 1")
    if not os.path.exists(args.normlab):
        sys.exit("bench-compare: %s not found (run make build first)" % args.normlab)
    have_torch = torch_available()
    if not have_torch:
        print("bench-compare: PyTorch not installed (/usr/bin/python3 -c 'import torch' failed; Debian "
              "package python3-torch) -- printing normlab's numbers and floors only")
    dump = open(args.json_out, "w") if args.json_out else None
    for threads in [int(t) for t in args.threads.split(",")]:
        config = "t1" if threads == 1 else "t1b2"
        # the ceilings first, measured in this sitting at this thread count
        ceil = {}
        ceil_recs = []
        for name in ("stream_triad/128K", "stream_triad/8M", "stream_triad/128M", "sgemm/2048x512x128",
                     "sgemm/2048x128x512", "sgemm/512x512x512"):
            r = ours(args.normlab, threads, name, args.repeat)
            ceil_recs.append(r)
            # ceilings from the fastest repetition (the best the hardware gave in this sitting)
            best = r["median_ms"] / r["min_ms"]
            if name.startswith("stream"):
                ceil["stream/" + name.split("/")[1]] = r["gbps"] * best
            else:
                ceil["sgemm"] = max(ceil.get("sgemm", 0.0), r["gflops"] * best)
        # At 2+ threads, how far apart the two CPUs are, measured around each of our runs: this
        # host sometimes places its two vCPUs far apart (the round trip 60-150 -> 300-900 ns)
        # for seconds at a time, and 2-thread steps then run up to 2.7x slower while
        # 1-thread ones do not move (docs/performance.md, "The 2-thread rows").
        cross = threads > 1 and round_trip_ns(args.normlab) is not None
        names = [n for n in suite_names(args.normlab) if re.search(args.filter, n)]
        peer = Peer(config, args.repeat) if have_torch else None
        print("\n## %d thread(s): normlab --threads %d vs PyTorch %s; ceilings this run: sgemm %.0f GFLOP/s, "
              "STREAM triad L2 %.0f / L3 %.0f / DRAM %.0f GB/s" % (
                  threads, threads, config, ceil["sgemm"], ceil["stream/128K"], ceil["stream/8M"],
                  ceil["stream/128M"]))
        spread = args.rounds > 1
        print("(norm rows of DRAM size: floor from the DRAM triad measured next to ours in every round, "
              "the median of the rounds; the triad above was read once, at the start)")
        if cross:
            print("(x-core ns: the cache-line round trip between the two CPUs just before and after each "
                  "of our runs, the larger, round by round; 60-150 ns is this host's usual reading, 300-900 "
                  "a stretch where it placed them far apart; '+N inline': our runs had N pool jobs run on one "
                  "thread, the pool having found its threads taking turns)")
        print("| %-24s | %9s | %9s | %6s | %9s | %9s | %6s | %9s | %7s |%s%s" % (
            "benchmark", "ours ms", "torch ms", "ratio", "ours cpu", "torch cpu", "ratio", "floor ms", "% floor",
            " ratio range |" if spread else "", " x-core ns |" if cross else ""))
        print("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s%s" % ("-" * 26, "-" * 11, "-" * 11, "-" * 8, "-" * 11, "-" * 11, "-" * 8,
                                                   "-" * 11, "-" * 9, "-" * 13 + "|" if spread else "",
                                                   "-" * 11 + "|" if cross else ""))
        for r in ceil_recs:
            if dump:
                dump.write(json.dumps(dict(r, side="normlab")) + "\n")
        blas_rows = []
        for name in names:
            mine_runs, theirs_runs, raw_runs = [], [], []
            # A matmul's floor is raw sgemm of the same shape, measured next to ours in every round
            # (one reading after the rounds had read 85-105 % for the same code).
            raw_name = "sgemm/" + name.split("/")[1] if name.startswith("matmul/") else None
            # A step's BLAS floor: its own products replayed alone, in alternation with the step
            # in one process (a 1-thread measurement).
            blas_name = "blas/" + name.split("/")[1] if name.startswith("step/") and threads == 1 else None
            blas_runs, cross_runs = [], []
            # A DRAM-sized norm row's floor: the DRAM triad measured next to ours in every round.
            # One reading at the start of the sitting had set the floor for rows run minutes
            # later, while this host's DRAM rate moved by 10-30 % within minutes
            # (docs/performance-history.md, thirty-first round).
            triad_name = "stream_triad/128M" if dram_norm(name) else None
            triad_runs = []

            def ours_timed():
                before = round_trip_ns(args.normlab) if cross else None
                rec = ours(args.normlab, threads, name, args.repeat)
                if cross:
                    after = round_trip_ns(args.normlab)
                    cross_runs.append(max(v for v in (before, after, 0.0) if v is not None))
                return rec

            for rnd in range(args.rounds):
                # Alternate who goes first: the second of a back-to-back pair tends to run faster.
                if rnd % 2 == 0:
                    m = ours_timed()
                    t = peer.run(name) if peer and m else None
                else:
                    t = peer.run(name) if peer else None
                    m = ours_timed()
                if m is None:
                    break
                mine_runs.append(m)
                raw = ours(args.normlab, threads, raw_name, args.repeat) if raw_name else None
                if raw:
                    raw_runs.append(raw["median_ms"])
                    if dump:
                        dump.write(json.dumps(dict(raw, side="normlab", round=rnd)) + "\n")
                triad = ours(args.normlab, threads, triad_name, args.repeat) if triad_name else None
                if triad:
                    triad_runs.append(triad["gbps"] * triad["median_ms"] / triad["min_ms"])
                    if dump:
                        dump.write(json.dumps(dict(triad, side="normlab", round=rnd, next_to=name)) + "\n")
                blas = ours(args.normlab, 1, blas_name, args.repeat) if blas_name else None
                if blas:
                    blas_runs.append(blas)
                    if dump:
                        dump.write(json.dumps(dict(blas, side="normlab", round=rnd)) + "\n")
                if t:
                    theirs_runs.append(t)
                if dump:
                    dump.write(json.dumps(dict(m, side="normlab", round=rnd)) + "\n")
                    if t:
                        dump.write(json.dumps(dict(t, side="torch", round=rnd)) + "\n")
            if not mine_runs:
                continue
            mine = {k: statistics.median(r[k] for r in mine_runs) for k in ("median_ms", "cpu_ms")}
            theirs = ({k: statistics.median(r[k] for r in theirs_runs) for k in ("median_ms", "cpu_ms")}
                      if theirs_runs and len(theirs_runs) == len(mine_runs) else None)
            round_ceil = dict(ceil, **{"stream/128M": statistics.median(triad_runs)}) if triad_runs else ceil
            fl = floor_ms(name, mine_runs[0], round_ceil)  # FLOPs or bytes / ceiling
            if raw_runs:  # the floor of a matmul: raw sgemm, same shape, the median of the rounds
                fl = statistics.median(raw_runs)
            if blas_runs:
                blas_rows.append((name[5:], statistics.median(b["step_ms"] for b in blas_runs),
                                  statistics.median(b["median_ms"] for b in blas_runs),
                                  theirs["median_ms"] if theirs else None))
            ratios = ([t["median_ms"] / m["median_ms"] for m, t in zip(mine_runs, theirs_runs)]
                      if theirs else [])
            ratio = statistics.median(ratios) if ratios else None
            cpu_ratio = theirs["cpu_ms"] / mine["cpu_ms"] if theirs and mine["cpu_ms"] > 0 else None
            rng = " %11s |" % ("%.2f-%.2f" % (min(ratios), max(ratios)) if ratios else "-") if spread else ""
            if cross:
                inline = sum(r.get("inline_jobs", 0) for r in mine_runs)
                rng += " %9s |" % ("/".join("%.0f" % v for v in cross_runs) +
                                   (" +%d inline" % inline if inline else ""))
            print("| %-24s | %9.3f | %9s | %6s | %9.3f | %9s | %6s | %9s | %7s |%s" % (
                name, mine["median_ms"], "%.3f" % theirs["median_ms"] if theirs else "-",
                "%.2f" % ratio if ratio else "-", mine["cpu_ms"], "%.3f" % theirs["cpu_ms"] if theirs else "-",
                "%.2f" % cpu_ratio if cpu_ratio else "-", "%.3f" % fl if fl else "-",
                "%.0f%%" % (100 * fl / mine["median_ms"]) if fl else "-", rng), flush=True)
        if peer:
            peer.close()
        if blas_rows:
            print_blas_floor(blas_rows)
    return 0


def print_blas_floor(rows):
    """Each step against its own BLAS products replayed alone (blas/NAME, the median of the
    rounds): what any framework calling this BLAS must spend at least, and how much time a
    1.3x-PyTorch step leaves for everything else (elementwise ops, norms, softmax, optimizer)."""
    print("\n### 1 thread: each step's BLAS floor (its own sgemm/sgemv calls replayed alone, blas/NAME;")
    print("### 'step ms' timed in alternation with the replay, in the same process)")
    print("| %-12s | %9s | %9s | %7s | %11s | %9s | %12s | %16s |" % (
        "step", "step ms", "blas ms", "% blas", "step - blas", "torch ms", "torch / blas",
        "torch/1.3 - blas"))
    print("|%s|%s|%s|%s|%s|%s|%s|%s|" % ("-" * 14, "-" * 11, "-" * 11, "-" * 9, "-" * 13, "-" * 11,
                                         "-" * 14, "-" * 18))
    for step, mine, blas, torch in rows:
        print("| %-12s | %9.3f | %9.3f | %6.0f%% | %11.3f | %9s | %12s | %16s |" % (
            step, mine, blas, 100 * blas / mine, mine - blas, "%.3f" % torch if torch else "-",
            "%.2f" % (torch / blas) if torch else "-", "%.3f" % (torch / 1.3 - blas) if torch else "-"),
            flush=True)


if __name__ == "__main__":
    sys.exit(main())
