"""``python -m mmoe_np reproduce {fig2,fig3,fig4,fig5,all}``: the paper's synthetic experiments.

- fig2: Pearson correlation of the two labels against the weight cosine (10,000 points per
  cosine value, ``--runs`` trials each, mean and standard deviation).
- fig3: Shared-Bottom test-loss curves per correlation.
- fig4: the three models' mean test-loss curves per correlation with 95% confidence bands.
- fig5: histograms of every run's final test loss, per model and correlation.

fig3/4/5 come from one sweep (:mod:`mmoe_np.experiments.sweep`): ``--runs`` independent
runs per correlation (paper: 200), each with fresh data and fresh initialisations. Our
choices where the paper gives none: 8,000 training, 1,000 validation and 2,000 test points
per run, batch 128, 1,500 Adam steps, learning rate 1e-2 (``--lrs`` takes a grid: each model
and correlation then uses the rate with the lowest mean final validation loss).
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from ..data import make_synthetic
from ..metrics import pearson
from .common import MODEL_LABELS, mean_interval
from .sweep import SweepConfig, config_dict, run_sweep

TARGETS = ("fig2", "fig3", "fig4", "fig5", "all")


# ------------------------------------------------------------------------------- figure 2
def label_correlations(cosines, trials, n=10_000, d=100, seed=0, **kw):
    """(len(cosines), trials) Pearson correlations of y1, y2; one fresh data set per trial."""
    seeds = np.random.SeedSequence(seed).generate_state(trials)
    return np.array([[pearson(*make_synthetic(n=n, d=d, p=float(p), seed=int(s), **kw).Y.T) for s in seeds]
                     for p in cosines])


def plot_fig2(cosines, corr, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.errorbar(cosines, corr.mean(1), yerr=corr.std(1), fmt="o-", capsize=3, label="mean +- std")
    ax.plot([0, 1], [0, 1], "k:", label="correlation = cosine")
    ax.set_xlabel("cosine of the task weight vectors")
    ax.set_ylabel("Pearson correlation of the labels")
    ax.set_title(f"Fig. 2: {corr.shape[1]} trials x 10,000 points per cosine")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)


# ----------------------------------------------------------------------------- figures 3-5
def summary_rows(result):
    """Rows (model, correlation, lr, runs, mean, std, ci95 low, ci95 high) of the final test loss."""
    rows = []
    final = result["curves"][..., -1]                      # (C, R, M)
    for j, name in enumerate(result["models"]):
        for i, p in enumerate(result["correlations"]):
            mean, std, half = mean_interval(final[i, :, j])
            lr = result["lrs"][result["chosen_lr_index"][i, j]]
            rows.append((str(name), float(p), float(lr), final.shape[1], mean, std, mean - half, mean + half))
    return rows


def summary_table(result) -> str:
    lines = ["| model | correlation | lr | runs | mean final test loss | std | 95% CI |",
             "|---|---|---|---|---|---|---|"]
    for name, p, lr, runs, mean, std, lo, hi in summary_rows(result):
        lines.append(f"| {MODEL_LABELS[name]} | {p:g} | {lr:g} | {runs} | {mean:.4f} | {std:.4f} "
                     f"| [{lo:.4f}, {hi:.4f}] |")
    return "\n".join(lines)


def paired_table(result) -> str:
    """Paired comparisons (same data and minibatches within a run): for each pair of models and
    correlation, how often the first wins and the geometric-mean loss ratio with a 95% CI.

    Final losses spread over two decades between runs (Fig. 5), so ratios on a log scale,
    paired by run, are far more sensitive than differences of means.
    """
    final = result["curves"][..., -1]                                   # (C, R, M)
    names = list(result["models"])
    lines = ["| comparison | correlation | first wins | loss ratio (geometric mean) | 95% CI |",
             "|---|---|---|---|---|"]
    pairs = [(a, b) for a in ("mmoe", "omoe") for b in ("omoe", "shared_bottom")
             if a != b and a in names and b in names]
    for a, b in pairs:
        for i, p in enumerate(result["correlations"]):
            log_ratio = np.log(final[i, :, names.index(a)] / final[i, :, names.index(b)])
            mean, _, half = mean_interval(log_ratio)
            lines.append(f"| {MODEL_LABELS[a]} vs {MODEL_LABELS[b]} | {p:g} | {np.mean(log_ratio < 0):.0%} | "
                         f"{np.exp(mean):.3f} | [{np.exp(mean - half):.3f}, {np.exp(mean + half):.3f}] |")
    return "\n".join(lines)


def plot_curves(result, path, models=None, title="Fig. 4"):
    plt = _pyplot()
    corr, steps, curves = result["correlations"], result["steps"], result["curves"]
    names = list(result["models"])
    models = models or names
    fig, axes = plt.subplots(1, len(corr), figsize=(4.2 * len(corr), 3.6), sharey=True, squeeze=False)
    for i, ax in enumerate(axes[0]):
        for name in models:
            c = curves[i, :, names.index(name)]
            mean = c.mean(0)
            half = 1.96 * c.std(0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else 0 * mean
            ax.plot(steps, mean, label=MODEL_LABELS[name])
            ax.fill_between(steps, mean - half, mean + half, alpha=0.25)
        ax.set_title(f"correlation {corr[i]:g}")
        ax.set_xlabel("training step")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("test loss (mean of 2 tasks)")
    axes[0][0].legend()
    fig.suptitle(f"{title}: mean over {curves.shape[1]} runs, band = 95% confidence interval of the mean", y=1.02)
    _save(fig, path)


def plot_fig3(result, path):
    plt = _pyplot()
    corr, steps, curves = result["correlations"], result["steps"], result["curves"]
    j = list(result["models"]).index("shared_bottom")
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, p in enumerate(corr):
        c = curves[i, :, j]
        half = 1.96 * c.std(0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else 0
        ax.plot(steps, c.mean(0), label=f"correlation {p:g}")
        ax.fill_between(steps, c.mean(0) - half, c.mean(0) + half, alpha=0.25)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("test loss (mean of 2 tasks)")
    ax.set_title(f"Fig. 3: Shared-Bottom, {curves.shape[1]} runs (95% CI bands)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    _save(fig, path)


def plot_fig5(result, path):
    plt = _pyplot()
    corr, final = result["correlations"], result["curves"][..., -1]
    names = list(result["models"])
    fig, axes = plt.subplots(len(names), len(corr), figsize=(3.6 * len(corr), 2.4 * len(names)), sharex=True,
                             squeeze=False)
    bins = np.geomspace(max(np.nanmin(final), 1e-4), np.nanmax(final), 30)
    for j, name in enumerate(names):
        for i, p in enumerate(corr):
            ax = axes[j][i]
            ax.hist(final[i, :, j], bins=bins, color=f"C{j}")
            ax.set_xscale("log")
            if j == 0:
                ax.set_title(f"correlation {p:g}")
            if i == 0:
                ax.set_ylabel(f"{MODEL_LABELS[name]}\nruns")
    for ax in axes[-1]:
        ax.set_xlabel("final test loss")
    fig.suptitle(f"Fig. 5: final test loss of each of {final.shape[1]} runs", y=1.01)
    _save(fig, path)


# ----------------------------------------------------------------------------------- files
def save_results(result, folder):
    """sweep.npz (all arrays + config JSON), per_run.csv, summary.csv."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_json = json.dumps(config_dict(result["config"]))
    np.savez(folder / "sweep.npz", **{k: v for k, v in result.items() if isinstance(v, np.ndarray)},
             config=np.array(config_json))
    final, best = result["curves_by_lr"][..., -1], np.nanmin(result["curves_by_lr"], axis=-1)
    with open(folder / "per_run.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["correlation", "run", "model", "lr", "final_test_loss", "best_test_loss", "final_val_loss"])
        C, R, M, L = final.shape
        for i in range(C):
            for r in range(R):
                for j in range(M):
                    for li in range(L):
                        w.writerow([result["correlations"][i], r, result["models"][j], result["lrs"][li],
                                    f"{final[i, r, j, li]:.6g}", f"{best[i, r, j, li]:.6g}",
                                    f"{result['val_final'][i, r, j, li]:.6g}"])
    with open(folder / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "correlation", "lr", "runs", "mean", "std", "ci95_low", "ci95_high"])
        w.writerows(summary_rows(result))
    (folder / "config.json").write_text(config_json + "\n")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    print(f"figure: {path}")


# ------------------------------------------------------------------------------------- CLI
def main(args):
    start = time.perf_counter()
    figures = Path(args.figures)
    if args.target in ("fig2", "all"):
        cosines = np.round(np.linspace(0, 1, 11), 2)
        corr = label_correlations(cosines, trials=args.runs, seed=args.seed, m=args.m, c=args.c,
                                  noise_std=args.noise_std)
        plot_fig2(cosines, corr, figures / "reproduce_fig2.png")
        print("label correlation at cosine " + ", ".join(f"{p:g}: {c:.3f}" for p, c in zip(cosines, corr.mean(1))))
    if args.target != "fig2":
        models = ("shared_bottom",) if args.target == "fig3" else ("shared_bottom", "omoe", "mmoe")
        config = SweepConfig(correlations=tuple(args.correlations), runs=args.runs, models=models,
                             lrs=tuple(args.lrs), steps=args.steps, batch_size=args.batch_size, n_train=args.n_train,
                             c=args.c, m=args.m, noise_std=args.noise_std, alpha_beta=args.alpha_beta, seed=args.seed,
                             backend=args.backend)
        executor = "dask" if args.scheduler else ("serial" if args.jobs == 1 else "joblib")
        result = run_sweep(config, executor=executor, n_jobs=args.jobs, scheduler=args.scheduler,
                           progress=not args.no_progress)
        save_results(result, args.out)
        print(summary_table(result))
        if len(result["models"]) > 1 and config.runs > 1:
            print("\nPaired by run (ratio < 1: the first model has the lower loss):")
            print(paired_table(result))
        if args.target in ("fig3", "all"):
            plot_fig3(result, figures / "reproduce_fig3.png")
        if args.target in ("fig4", "all"):
            plot_curves(result, figures / "reproduce_fig4.png")
        if args.target in ("fig5", "all"):
            plot_fig5(result, figures / "reproduce_fig5.png")
        print(f"raw results: {args.out}/sweep.npz, per_run.csv, summary.csv, config.json")
    print(f"{args.target}: {time.perf_counter() - start:.0f} s")


def add_arguments(parser):
    parser.add_argument("--runs", type=int, default=200, help="independent runs per correlation (paper: 200)")
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.5, 0.9, 1.0])
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps per run (default 1500)")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-2],
                        help="Adam learning rates; several = grid search on validation loss (paper: 1e-4 1e-3 1e-2)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=8000, help="training points per run")
    parser.add_argument("--c", type=float, default=1.0, help="norm of the task weights")
    parser.add_argument("--m", type=int, default=10, help="number of sinusoids")
    parser.add_argument("--noise-std", type=float, default=0.01)
    parser.add_argument("--alpha-beta", choices=["normal", "google"], default="normal",
                        help="sinusoid parameters: N(0, 1) per run, or alpha_i = i, beta_i = (i-1)^2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=-1, help="processes for joblib (-1: all cores, 1: serial)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://...): run on that cluster")
    parser.add_argument("--out", default="results/reproduce", help="folder for the raw results")
    parser.add_argument("--figures", default="figures", help="folder for the figures")
