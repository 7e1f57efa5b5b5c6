"""``python -m mmoe_np reproduce sensitivity``: which undocumented choices move which verdict.

The paper leaves the data size, the number of steps, c, m and alpha/beta open, and grid-searches
the learning rate. Each variant below is the faithful protocol (:data:`.protocol.FAITHFUL`) with
one choice changed, at 20 runs -- the main study's first 20 runs (same seeds, so the same data
draws: every variant is paired with the baseline and with each other). Models train at the
learning rates the main study chose, unless the variant is about the learning rate. Raw results
go to ``results/sensitivity/<variant>/``; ``python -m mmoe_np reproduce report`` builds the
table from them.

The learning-rate rows come from the main study's pilot (20 runs at every rate of the grid,
``results/reproduce/pilot``), so they cost nothing extra.
"""
from __future__ import annotations

import time
from dataclasses import replace

from .. import outputs
from . import protocol, store
from .common import check_options
from .reproduce import describe, mismatch, run_part, study_learning_rates, sweep_config

VARIANTS = {
    "baseline": ({}, "the faithful protocol itself (20 runs)"),
    "float64": (dict(dtype="float64"), "float64 arithmetic instead of float32 (same data)"),
    "n8000": (dict(n_train=8000), "a fixed training set of 8,000 points per run (the old study's size)"),
    "n100k": (dict(n_train=100_000), "a fixed training set of 100,000 points per run"),
    "steps1500": (dict(steps=1500, eval_every=100), "1,500 steps (the old study's length)"),
    "steps32000": (dict(steps=32_000, eval_every=1000), "32,000 steps: four times longer"),
    "anneal32000": (dict(steps=32_000, eval_every=1000, anneal=0.25),
                    "32,000 steps, the rate falling linearly towards 0 over the last 8,000 (annealed)"),
    "legacy": ({k: protocol.LEGACY[k] for k in ("n_train", "steps", "eval_every", "lrs", "dtype")},
               "the old study's protocol: 8,000 points, 1,500 steps, lr 1e-2 for every model"),
    "c3": (dict(c=3.0), "c = 3 (larger task weights) instead of 1"),
    "m0": (dict(m=0), "m = 0: linear tasks, no sinusoids"),
    "m20": (dict(m=20), "m = 20 sinusoids instead of 10"),
    "google": (dict(alpha_beta="google"), "alpha_i = i, beta_i = (i-1)^2 (Google Research's generator)"),
}
RUNS = 20


def variant_config(name, runs=RUNS, backend="numba", lrs=None):
    """The :class:`~.sweep.SweepConfig` of variant ``name``."""
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {name!r}")
    changes, _ = VARIANTS[name]
    settings = dict(protocol.FAITHFUL, runs=runs, backend=backend, **changes)
    config = sweep_config(settings, models=protocol.FIG4["models"])
    if "lrs" not in changes:
        lrs = lrs or study_learning_rates(config.models, config.correlations)
        if lrs is None:
            raise FileNotFoundError("results/reproduce/config.json (the main study's chosen learning rates) not "
                                    "found: run python -m mmoe_np reproduce fig4 first, or pass --lr")
        config = replace(config, lrs=(1e-3,), chosen_lrs={m: list(lrs[m]) for m in config.models})
    return config


def main(args):
    check_options(args, "runs")
    full = args.runs == RUNS and args.lr is None and args.backend == protocol.FAITHFUL["backend"]
    out = outputs.choose("--out", args.out, "results/sensitivity", full_run=full, force=args.force,
                         label="sensitivity", what=f"python -m mmoe_np reproduce sensitivity (with {RUNS} runs)")
    lrs = None if args.lr is None else {m: [args.lr] * len(protocol.FAITHFUL["correlations"])
                                        for m in protocol.FIG4["models"]}
    configs = {name: variant_config(name, args.runs, args.backend, lrs) for name in args.variants}   # errors first
    executor_kw = dict(executor="serial" if args.jobs == 1 else "joblib", n_jobs=args.jobs,
                       progress=not args.no_progress)
    args.resume_folder = out
    with store.lock(out):
        for name, config in configs.items():                   # one folder, one study: checked before training
            diffs = mismatch(out / name, config, name)
            if diffs:
                raise outputs.OutputError(f"--out {out}: its {name}/ holds that variant with other settings "
                                          f"({store.describe_differences(diffs)}); choose another --out, or delete "
                                          f"{out / name} to run it again")
        for name, config in configs.items():
            start = time.perf_counter()
            result = run_part(config, out / name, executor_kw, dict(study="sensitivity", variant=name,
                                                                    description=VARIANTS[name][1]), name)
            print(describe(result, f"{name}: {VARIANTS[name][1]}"))
            print(f"[{name}: {time.perf_counter() - start:.0f} s]\n")
    print(f"raw results: {out}; the table: python -m mmoe_np reproduce report")


def add_arguments(parser):
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs per variant (default {RUNS})")
    parser.add_argument("--lr", type=float, default=None, help="one learning rate for every model (default: the "
                                                               "main study's choices)")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--out", default=None, help="folder (default results/sensitivity for the documented run)")
    parser.add_argument("--force", action="store_true", help="allow overwriting committed results with other settings")
