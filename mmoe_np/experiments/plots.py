"""The figures of the experiments: loss curves (one function for the CLI and the lessons) and
Fig. 5's histograms. Matplotlib is imported when a figure is drawn, never at import."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..stats import geometric_band, t_quantile
from .common import MODEL_LABELS


def pyplot():
    """matplotlib.pyplot with a non-interactive backend unless one was chosen."""
    import matplotlib
    if not matplotlib.get_backend().lower().startswith(("agg", "module://")):
        try:
            matplotlib.use("Agg")
        except Exception:        # pragma: no cover - a backend already in use stays
            pass
    import matplotlib.pyplot as plt
    return plt


def save(fig, path):
    """Save and close a figure; prints where."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    print(f"figure: {path}")


def band(curves, kind="ci", log=True):
    """A centre line over runs and a band around it, ``curves`` (runs, points) -> centre, low, high (points,).

    - ``ci`` on a log axis (``log``): the geometric mean and its 95% t interval,
      ``exp(mean log +- t se)`` (:func:`mmoe_np.stats.geometric_band`): positive, so the band never
      leaves a log plot; on a linear axis: the mean and its 95% t interval;
    - ``range``: the geometric (or arithmetic) mean, and min..max over runs.
    """
    if log:
        centre, low, high = geometric_band(curves, axis=0)
    else:
        centre = curves.mean(axis=0)
        R = len(curves)
        half = t_quantile(R) * curves.std(axis=0, ddof=1) / np.sqrt(R) if R > 1 else np.zeros_like(centre)
        low, high = centre - half, centre + half
    if kind == "range":
        return centre, curves.min(axis=0), curves.max(axis=0)
    return centre, low, high


def loss_curves(axes, steps, curves, correlations, models, *, kind="ci", log=True, ylabel="test loss (mean of 2 tasks)",
                colors=None):
    """One panel per correlation, one curve per model: mean over runs with a band.

    ``curves``: (C, R, M, points); ``axes``: C matplotlib axes. Colours are fixed per model
    name, so every figure of the project shows a model in the same colour.
    """
    colors = colors or MODEL_COLORS
    for i, ax in enumerate(np.atleast_1d(axes)):
        for j, name in enumerate(models):
            mean, low, high = band(curves[i, :, j], kind, log)
            color = colors.get(str(name), f"C{j}")
            ax.plot(steps, mean, label=MODEL_LABELS.get(str(name), str(name)), color=color)
            ax.fill_between(steps, low, high, alpha=0.2, color=color, linewidth=0)
        ax.set_title(f"correlation {correlations[i]:g}")
        ax.set_xlabel("training step")
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    np.atleast_1d(axes)[0].set_ylabel(ylabel)
    np.atleast_1d(axes)[0].legend()


MODEL_COLORS = {"shared_bottom": "C0", "omoe": "C1", "mmoe": "C2", "single_task": "C7", "cgc": "C3", "ple": "C4"}


def plot_loss_curves(path, steps, curves, correlations, models, *, title, kind="ci", log=True):
    """A figure of :func:`loss_curves`, saved to ``path``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(correlations), figsize=(4.2 * len(correlations), 3.6), sharey=True,
                             squeeze=False)
    loss_curves(axes[0], steps, curves, correlations, models, kind=kind, log=log)
    centre = "geometric mean" if log else "mean"
    what = f"{centre} and its 95% t interval" if kind == "ci" else f"{centre}, min..max over runs"
    fig.suptitle(f"{title} ({curves.shape[1]} runs; band: {what})", y=1.02)
    save(fig, path)


def plot_correlation_curves(path, steps, curves, correlations, *, title, kind="ci"):
    """One model at every correlation in one panel (paper Fig. 3). ``curves``: (C, R, points)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, p in enumerate(correlations):
        mean, low, high = band(curves[i], kind)
        ax.plot(steps, mean, label=f"correlation {p:g}", color=f"C{i}")
        ax.fill_between(steps, low, high, alpha=0.2, color=f"C{i}", linewidth=0)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("test loss (mean of 2 tasks)")
    ax.set_title(f"{title} ({curves.shape[1]} runs)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    save(fig, path)


def plot_final_histograms(path, final, correlations, models, *, title):
    """Fig. 5: each run's final loss, one histogram per model (rows) and correlation (columns).

    ``final``: (C, R, M). Shared log-spaced bins, so the spreads compare at a glance.
    """
    plt = pyplot()
    fig, axes = plt.subplots(len(models), len(correlations), figsize=(3.6 * len(correlations), 2.3 * len(models)),
                             sharex=True, sharey=True, squeeze=False)
    positive = final[np.isfinite(final) & (final > 0)]
    bins = np.geomspace(positive.min(), positive.max(), 30)
    for j, name in enumerate(models):
        for i, p in enumerate(correlations):
            ax = axes[j][i]
            ax.hist(final[i, :, j], bins=bins, color=MODEL_COLORS.get(str(name), f"C{j}"))
            ax.set_xscale("log")
            if j == 0:
                ax.set_title(f"correlation {p:g}")
            if i == 0:
                ax.set_ylabel(f"{MODEL_LABELS.get(str(name), name)}\nruns")
    for ax in axes[-1]:
        ax.set_xlabel("final test loss")
    fig.suptitle(f"{title}: final test loss of each of {final.shape[1]} runs", y=1.01)
    fig.tight_layout()
    save(fig, path)
