"""Forward + backward time of MMoE, CGC and PLE (about 8 experts of 16 units each), with one
shared input and with per-task inputs (the batch split between the two tasks).

    python benchmarks/bench_models.py [--batches 128 2048] [--backend numba]

Per-task inputs run the model once on all rows stacked, so their cost over a shared input
of the same total batch is the K-fold gates, mixtures and towers (see models/base.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_description, markdown_table, seconds_per_call  # noqa: E402

import mmoe_np as mn  # noqa: E402

MODELS = {
    "MMoE (8 experts)": lambda backend: mn.MMoE(100, n_experts=8, backend=backend),
    "CGC (2 x 3 own + 2 shared)": lambda backend: mn.CGC(100, n_task_experts=3, n_shared_experts=2, backend=backend),
    "PLE (2 levels of 2 x 2 own + 2 shared)": lambda backend: mn.PLE(100, n_task_experts=2, n_shared_experts=2,
                                                                     n_levels=2, backend=backend),
}


def step_time(model, X):
    def step():
        preds, cache = model.forward(X)
        model.backward(cache, [np.ones_like(p) for p in preds])
    return seconds_per_call(step)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 2048])
    parser.add_argument("--backend", default="numba", choices=["numpy", "numba", "cuda"])
    args = parser.parse_args(argv)
    print(machine_description())
    rows = []
    rng = np.random.default_rng(0)
    for B in args.batches:
        X = rng.standard_normal((B, 100))
        base = None
        for name, make in MODELS.items():
            model = make(args.backend)
            shared, per_task = step_time(model, X), step_time(model, [X[:B // 2], X[B // 2:]])
            base = shared if base is None else base
            rows.append([B, name, model.n_params, f"{shared * 1e6:.0f}", f"{shared / base:.2f}",
                         f"{per_task * 1e6:.0f}", f"{per_task / shared:.2f}"])
    print(markdown_table(["batch", "model", "params", "shared input (us)", "vs MMoE",
                          "per-task inputs (us)", "per-task / shared"], rows))


if __name__ == "__main__":
    main()
