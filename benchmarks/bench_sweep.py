"""Sweep throughput against the machine's FLOP limit in the same arithmetic, measured in the same run.

    python benchmarks/bench_sweep.py [--runs 40] [--steps 400] [--dtypes float64 float32] [--jobs 2]

- The limits: a large square matrix product (3000 x 3000) on all cores, in float64 and in float32
  (the best of 5 each), in GFLOP/s -- the fastest the machine multiplies in that arithmetic.
- A sweep: the paper's three models (Shared-Bottom 113, OMoE and MMoE with 8 experts of 16) at
  three correlations, streamed data, batch 128, on ``--jobs`` processes (the engine of
  ``reproduce``). Throughput in model-steps/s, where a model-step is one Adam step of one
  paper-size model at batch 128, counted as 6 x 128 x 14,000 FLOP (forward 2, backward 4 per
  parameter and sample, 14,000 parameters) -- the yardstick of issue 12.

The time includes everything a sweep does: drawing the data, evaluations on the test sets,
process start-up and compilation (numba's cache is warmed first). Prints a table and ratios.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_description, markdown_table  # noqa: E402

from mmoe_np.experiments.sweep import SweepConfig, run_sweep  # noqa: E402

FLOP_PER_MODEL_STEP = 6 * 128 * 14_000


def gemm_limit(n=3000, repeats=5, dtype="float64"):
    """GFLOP/s of a square product ``n x n x n`` in ``dtype`` on all cores (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    A @ B
    best = min(_timed(lambda: A @ B) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sweep_rate(runs, steps, dtype, jobs):
    config = SweepConfig(runs=runs, steps=steps, eval_every=max(steps // 4, 1), n_train=None, lrs=(1e-3,),
                         dtype=dtype)
    run_sweep(SweepConfig(**{**config.__dict__, "runs": 2, "steps": 2, "eval_every": 1}),
              executor="joblib", n_jobs=jobs, progress=False)                 # warm numba's cache
    seconds = _timed(lambda: run_sweep(config, executor="joblib", n_jobs=jobs, progress=False))
    model_steps = runs * len(config.correlations) * len(config.models) * steps
    return model_steps / seconds, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    print("# Sweep throughput\n")
    print(machine_description() + "\n")
    limits = {dtype: gemm_limit(dtype=dtype) for dtype in args.dtypes}
    rows = [[f"{dtype} square GEMM (the limit)", "-", f"{limits[dtype]:.1f}", "1.00"] for dtype in args.dtypes]
    for dtype in args.dtypes:
        rate, seconds = sweep_rate(args.runs, args.steps, dtype, args.jobs)
        gflops = rate * FLOP_PER_MODEL_STEP / 1e9
        rows.append([f"sweep, {dtype} ({args.runs} runs x 9 models x {args.steps} steps, {seconds:.0f} s)",
                     f"{rate:,.0f}", f"{gflops:.1f}", f"{gflops / limits[dtype]:.2f} of the {dtype} limit"])
    print(markdown_table(["what", "model-steps/s", "GFLOP/s (counted)", "fraction of the limit (same dtype)"], rows))


if __name__ == "__main__":
    main()
