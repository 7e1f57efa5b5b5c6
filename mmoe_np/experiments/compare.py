"""``python -m mmoe_np compare``: Shared-Bottom, OMoE and MMoE at task correlations 0.5, 0.9, 1.0.

A short version of the paper's Figure 4: for each correlation and run, fresh synthetic
data and fresh models; each model is trained with Adam on the same minibatches and its
test loss (mean over the two tasks) is recorded along the way. Prints a table of final
test losses and writes a figure of the loss curves.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .common import MODEL_LABELS, mean_interval
from .sweep import SweepConfig, run_sweep

MODEL_NAMES = ("shared_bottom", "omoe", "mmoe")


def run(correlations=(0.5, 0.9, 1.0), runs=3, steps=3000, batch_size=128, lr=1e-2, n_train=8000,
        n_test=2000, eval_every=100, seed=0, backend="numba", progress=True):
    """Train every model at every correlation (serially); returns a dict of arrays.

    ``curves[p_index, run, model_index, eval]``: test loss (mean over tasks) after
    ``steps[eval]`` steps. The engine is :mod:`mmoe_np.experiments.sweep`.
    """
    config = SweepConfig(correlations=tuple(correlations), runs=runs, models=MODEL_NAMES, lrs=(lr,),
                         steps=steps, batch_size=batch_size, eval_every=min(eval_every, steps),
                         n_train=n_train, n_val=0, n_test=n_test, seed=seed, backend=backend)
    return run_sweep(config, executor="serial", progress=progress)


def table(result) -> str:
    """Final test loss per model (rows) and correlation (columns): mean +- std over runs."""
    corr, curves = result["correlations"], result["curves"]
    runs = curves.shape[1]
    lines = [f"Final test loss (mean over the 2 tasks; mean +- std over {runs} runs)",
             f"{'model':<15}" + "".join(f"{'corr ' + format(p, 'g'):>20}" for p in corr)]
    for j, name in enumerate(result["models"]):
        cells = []
        for i in range(len(corr)):
            mean, std, _ = mean_interval(curves[i, :, j, -1])
            cells.append(f"{mean:>12.4f} +- {std:<5.3f}")
        lines.append(f"{MODEL_LABELS[str(name)]:<15}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)


def plot(result, path):
    """Mean test-loss curves with a 95% band, one panel per correlation."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corr, steps, curves = result["correlations"], result["steps"], result["curves"]
    fig, axes = plt.subplots(1, len(corr), figsize=(4.2 * len(corr), 3.6), sharey=True, squeeze=False)
    for i, ax in enumerate(axes[0]):
        for j, name in enumerate(result["models"]):
            c = curves[i, :, j]
            mean = c.mean(axis=0)
            half = 1.96 * c.std(axis=0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else 0 * mean
            ax.plot(steps, mean, label=MODEL_LABELS[str(name)])
            ax.fill_between(steps, mean - half, mean + half, alpha=0.2)
        ax.set_title(f"task correlation {corr[i]:g}")
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test loss (MSE, mean of 2 tasks)")
    axes[0][0].legend()
    fig.suptitle(f"Shared-Bottom vs OMoE vs MMoE on the synthetic tasks ({curves.shape[1]} runs)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args):
    start = time.perf_counter()
    result = run(correlations=tuple(args.correlations), runs=args.runs, steps=args.steps,
                 batch_size=args.batch_size, lr=args.lr, seed=args.seed, backend=args.backend,
                 progress=not args.no_progress)
    print(table(result))
    plot(result, args.figure)
    print(f"\nfigure: {args.figure}\nbackend {args.backend}, {time.perf_counter() - start:.1f} s")
    return result


def add_arguments(parser):
    parser.add_argument("--runs", type=int, default=3, help="runs per model and correlation (default 3)")
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps per run (default 3000)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 1e-2)")
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.5, 0.9, 1.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default="figures/compare.png")
