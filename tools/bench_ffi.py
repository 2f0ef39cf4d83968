#!/usr/bin/env python3
"""Per-op latency of PyTorch eager on CPU, the baseline for the Deno FFI op benchmarks.

    bench_ffi.py [--json] [--rounds 7] [--min-time 0.05]

Each op runs on fp32 randn inputs created once, outside the timed loop; every call's result is
dropped. Per op: warm-up, then the iteration count is calibrated so one round lasts about --min-time
seconds, then --rounds rounds (at least 5); the reported figure is the median over rounds of the
per-call time, in microseconds. The default intra-op thread count is used (and reported).

Prints {"torch_version", "threads", "ops": {"add_64": us, ...}}; without --json also a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F


def make_ops() -> dict[str, Callable[[], torch.Tensor]]:
    torch.manual_seed(0)
    a, b = torch.randn(64, 64), torch.randn(64, 64)
    x4k, w4k, b4k = torch.randn(1, 4096), torch.randn(4096, 4096), torch.randn(4096)
    emb, ids = torch.randn(32000, 256), torch.randint(0, 32000, (16,), dtype=torch.int64)
    ln_w, ln_b = torch.randn(64), torch.randn(64)
    return {
        "add_64": lambda: a + b,
        "mul_64": lambda: a * b,
        "matmul_64": lambda: a @ b,
        "softmax_64": lambda: torch.softmax(a, dim=-1),
        "relu_64": lambda: torch.relu(a),
        "sum_64": lambda: a.sum(),
        "transpose_contig_64": lambda: a.t().contiguous(),
        "cat_64": lambda: torch.cat([a, b], dim=0),
        "linear_4096": lambda: F.linear(x4k, w4k, b4k),
        "embedding_32k": lambda: F.embedding(ids, emb),
        "layer_norm_64": lambda: F.layer_norm(a, (64,), ln_w, ln_b, eps=1e-5),
        "silu_64": lambda: F.silu(a),
    }


def time_op(fn: Callable[[], torch.Tensor], rounds: int, min_time: float) -> float:
    """Median per-call microseconds over `rounds` rounds."""
    for _ in range(20):
        fn()
    iters = 1
    while True:
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        iters *= 2
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        samples.append((time.perf_counter() - start) / iters * 1e6)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per op (>= 5)")
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per round (calibrated)")
    args = parser.parse_args()
    if args.rounds < 5:
        sys.exit("error: --rounds must be at least 5")

    threads = torch.get_num_threads()
    if not args.json:
        print(f"torch {torch.__version__}, {threads} intra-op threads", file=sys.stderr)
    results: dict[str, float] = {}
    for name, fn in make_ops().items():
        results[name] = round(time_op(fn, args.rounds, args.min_time), 3)
        if not args.json:
            print(f"{name:22s} {results[name]:12.3f} us", file=sys.stderr)
    print(json.dumps({"torch_version": torch.__version__, "threads": threads, "ops": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
