#!/usr/bin/python3
"""PyTorch peer for `make bench-compare`: times the same benchmarks as `normlab bench --json`
(same names, same shapes, same timing rules) with PyTorch eager on the CPU.

  /usr/bin/python3 scripts/torch_peer.py --config t1 [--filter REGEX] [--repeat K]
  /usr/bin/python3 scripts/torch_peer.py --config t1 --serve   # names on stdin, one record each

Configs: t1 = torch 1 thread + OpenBLAS 1 thread; t1b2 = torch 1 thread + OpenBLAS 2 threads
(PyTorch's best 2-core setting here: torch 2 + OpenBLAS 2 oversubscribes the cores).
The thread settings are fixed per process, so the caller starts one process per config.
Run it with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
(bench-compare does) so freed memory is reused as normlab's caching allocator does.

Benchmarks: layernorm/batchnorm fwd and fwd+bwd (nn.LayerNorm, nn.BatchNorm1d, training
mode, autograd recording on), rmsnorm fwd+bwd (composed from ATen ops: torch 1.13 has no
fused RMSNorm), matmul/MxNxK (torch.mm), step/NAME (forward + cross-entropy + backward +
Adam(lr 1e-3) + zero_grad) for the reference workloads. Output: one JSON object per line.
"""
import argparse
import ctypes
import json
import math
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_SHAPES = [(8192, 256), (8192, 1024), (2048, 128), (512, 64)]
MM_SHAPES = [(256, 256, 256), (512, 512, 512), (2048, 128, 128), (2048, 512, 128), (2048, 128, 512)]
MIN_REP_S = 0.020


def set_threads(config):
    blas = {"t1": 1, "t1b2": 2}[config]
    torch.set_num_threads(1)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(blas)
    except OSError:
        pass
    return blas


def time_calls(fn, reps):
    for _ in range(3):
        fn()
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        if time.perf_counter() - t0 >= MIN_REP_S or inner >= 1 << 20:
            break
        inner *= 2
    per_call = []
    cpu0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        per_call.append((time.perf_counter() - t0) / inner * 1e3)
    cpu_ms = (time.process_time() - cpu0) / (reps * inner) * 1e3
    return statistics.median(per_call), min(per_call), cpu_ms


# ---- models (the reference workloads; see normlab's train/workloads.h) ------------------------
class RowsBN(nn.Module):
    """BatchNorm1d over the last axis, all leading axes flattened into rows."""

    def __init__(self, d):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)

    def forward(self, x):
        return self.bn(x.reshape(-1, x.shape[-1])).view(x.shape)


def norm_layer(kind, d):
    return nn.LayerNorm(d) if kind == "ln" else RowsBN(d)


class PreNormBlock(nn.Module):
    def __init__(self, d, heads, ff, kind, seq):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = norm_layer(kind, d), norm_layer(kind, d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.up, self.down = nn.Linear(d, ff), nn.Linear(ff, d)
        self.register_buffer("causal", torch.ones(seq, seq, dtype=torch.bool).triu(1))

    def forward(self, x):
        B, T, C = x.shape
        hd = C // self.heads
        z = self.norm1(x)
        split = lambda t: t.view(B, T, self.heads, hd).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(z)), split(self.k(z)), split(self.v(z))
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        a = torch.softmax(s.masked_fill(self.causal[:T, :T], float("-inf")), dim=-1)
        x = x + self.o((a @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class LM(nn.Module):
    def __init__(self, d, ff, kind, vocab=64, seq=64, heads=4, layers=2):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(PreNormBlock(d, heads, ff, kind, seq) for _ in range(layers))
        self.final = norm_layer(kind, d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("pos_ids", torch.arange(seq))

    def forward(self, ids):
        B, T = ids.shape
        x = self.tok(ids) + self.pos(self.pos_ids[:T])
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.final(x)).reshape(B * T, -1)


class ElmanLoop(nn.Module):
    def __init__(self, use_ln, inp=32, hid=256, classes=10):
        super().__init__()
        self.inp, self.rec = nn.Linear(inp, hid), nn.Linear(hid, hid, bias=False)
        self.ln = nn.LayerNorm(hid) if use_ln else None
        self.head = nn.Linear(hid, classes)
        self.hid = hid

    def forward(self, x):  # (T, B, inp)
        h = x.new_zeros(x.shape[1], self.hid)
        for t in range(x.shape[0]):
            a = self.inp(x[t]) + self.rec(h)
            h = torch.tanh(self.ln(a) if self.ln is not None else a)
        return self.head(h)


def mlp(kind):
    layers, prev = [], 784
    for width in (256, 256):
        layers.append(nn.Linear(prev, width))
        if kind == "ln":
            layers.append(nn.LayerNorm(width))
        elif kind == "bn":
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        prev = width
    return nn.Sequential(*layers, nn.Linear(prev, 10))


def workload(name):
    g = torch.Generator().manual_seed(1234)
    torch.manual_seed(0)
    if name.startswith("lm_"):
        d, ff, B = (16, 64, 1) if name == "lm_tiny" else (128, 512, 32)
        T = 256 if name == "lm_ln_t256" else 64  # normlab's own workload: lm_ln as 8 x 256 tokens
        B = 8 if T == 256 else B
        m = LM(d, ff, "bn" if name == "lm_bn" else "ln", seq=T)
        return m, torch.randint(0, 64, (B, T), generator=g), torch.randint(0, 64, (B * T,), generator=g)
    if name.startswith("rnn"):
        B = 4 if name.endswith("_b4") else 32
        m = ElmanLoop(use_ln=name.startswith("rnn_ln"))
        return m, torch.randn(64, B, 32, generator=g), torch.randint(0, 10, (B,), generator=g)
    B = 4 if name.endswith("_b4") else 64
    kind = {"mlp": None, "mlp_ln": "ln", "mlp_bn": "bn"}[name.replace("_b4", "")]
    return mlp(kind), torch.randn(B, 784, generator=g), torch.randint(0, 10, (B,), generator=g)


WORKLOADS = ["lm_ln", "lm_bn", "lm_tiny", "rnn_ln", "rnn", "rnn_ln_b4", "mlp", "mlp_ln", "mlp_bn",
             "mlp_ln_b4", "mlp_bn_b4", "lm_ln_t256"]


# ---- benchmark cases ---------------------------------------------------------------------------
def norm_case(op, backward, R, C):
    torch.manual_seed(0)
    x = torch.randn(R, C).requires_grad_(True)
    dy = torch.randn(R, C)
    if op == "rmsnorm":
        w = torch.empty(C).uniform_(0.5, 1.5).requires_grad_(True)
        params = (x, w)
        fwd = lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w  # noqa: E731
    else:
        mod = nn.LayerNorm(C) if op == "layernorm" else nn.BatchNorm1d(C).train()
        with torch.no_grad():
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.uniform_(-0.5, 0.5)
        params = (x, mod.weight, mod.bias)
        fwd = lambda: mod(x)  # noqa: E731
    if backward:
        return lambda: torch.autograd.grad(fwd(), params, dy), 5.0 * R * C * 4
    return fwd, 2.0 * R * C * 4


def step_case(name):
    model, x, y = workload(name)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def all_names():
    names = []
    for op, bwd in (("layernorm", 0), ("layernorm", 1), ("batchnorm", 0), ("batchnorm", 1), ("rmsnorm", 1)):
        names += ["%s_%s/%dx%d" % (op, "fwdbwd" if bwd else "fwd", R, C) for R, C in NORM_SHAPES]
    names += ["matmul/%dx%dx%d" % s for s in MM_SHAPES]
    names += ["step/" + w for w in WORKLOADS]
    return names


def run(name, config, blas, reps):
    kind, _, arg = name.partition("/")
    rec = {"bench": name, "config": config, "torch_threads": torch.get_num_threads(), "blas_threads": blas}
    if kind == "matmul":
        M, N, K = (int(v) for v in arg.split("x"))
        a, b = torch.rand(M, K), torch.rand(K, N)
        med, mn, cpu = time_calls(lambda: torch.mm(a, b), reps)
        rec["gflops"] = 2.0 * M * N * K / (med * 1e6)
    elif kind == "step":
        med, mn, cpu = time_calls(step_case(arg), reps)
    else:
        op, _, mode = kind.partition("_")
        R, C = (int(v) for v in arg.split("x"))
        fn, nbytes = norm_case(op, mode == "fwdbwd", R, C)
        med, mn, cpu = time_calls(fn, reps)
        rec["gbps"] = nbytes / (med * 1e6)
    rec.update(median_ms=med, min_ms=mn, cpu_ms=cpu)
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=("t1", "t1b2"), default="t1")
    ap.add_argument("--filter", default="")
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--serve", action="store_true", help="read benchmark names from stdin")
    args = ap.parse_args()
    blas = set_threads(args.config)
    known = set(all_names())
    if args.serve:
        for line in sys.stdin:
            name = line.strip()
            if not name:
                continue
            rec = run(name, args.config, blas, args.repeat) if name in known else {"bench": name, "skipped": True}
            print(json.dumps(rec), flush=True)
        return 0
    for name in all_names():
        if re.search(args.filter, name):
            print(json.dumps(run(name, args.config, blas, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
