"""Every claim's verdict at every training budget the sweep recorded, and whether it changes.

A sweep records each run's test loss every ``eval_every`` steps (``curves``: (C, R, M, n_evals)),
so the verdicts of :mod:`.claims` can be computed at each recorded budget for free: the study's
runs, stopped after 250, 500, ..., 8,000 steps. A verdict that holds only at the end, or flips
between budgets, is a statement about the training budget as much as about the models; one that
is the same from early on is not.

- :func:`verdicts_by_budget` -- every claim's statistic, interval and verdict at every budget;
- :func:`budget_table` -- the markdown table of REPRODUCTION.md (a few budgets, and the whole run);
- :func:`stability` -- the phrase "holds at every budget from 1,250 steps on" made from the verdicts;
- :func:`summary_table` -- the README's table of the paper's claims, each verdict with its budget;
- :func:`plot_budgets` -- one panel per claim: the statistic and its interval against steps.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import claims


class Budgets(NamedTuple):
    """Claims (rows) by budget (columns): ``steps`` (S,), ``rows`` the claims at the last budget,
    ``values[i][s]`` (Interval) and ``verdicts[i][s]`` (str) of claim i at budget s."""

    steps: np.ndarray
    rows: list
    values: list
    verdicts: list


def _at_budget(result, s):
    """A sweep's result with ``final`` replaced by the test losses after ``result['steps'][s]`` steps."""
    return dict(result, final=result["curves"][..., s])


def verdicts_by_budget(main, fig3=None) -> Budgets:
    """Every claim of :func:`.claims.evaluate_claims` at every budget recorded in ``main['steps']``
    (the Fig. 3 study at the same step counts, where it recorded them)."""
    steps = np.asarray(main["steps"])
    fig3_steps = [] if fig3 is None else [int(x) for x in fig3["steps"]]
    per_budget = []
    for s, step in enumerate(steps):
        f3 = None
        if fig3 is not None and int(step) in fig3_steps:
            f3 = _at_budget(fig3, fig3_steps.index(int(step)))
        per_budget.append(claims.evaluate_claims(_at_budget(main, s), f3))
    names = [r.claim for r in per_budget[-1]]
    values = [[_lookup(rows, name, "value") for rows in per_budget] for name in names]
    verdicts = [[_lookup(rows, name, "verdict") for rows in per_budget] for name in names]
    return Budgets(steps, per_budget[-1], values, verdicts)


def _lookup(rows, name, field):
    for r in rows:
        if r.claim == name:
            return getattr(r, field)
    return claims.NO_VALUE if field == "value" else claims.NOT_MEASURED


def table_budgets(steps, smallest=1000):
    """The budgets the table shows: the last one, and halving from it while a budget is recorded and at
    least ``smallest`` steps (8,000 -> 1,000, 2,000, 4,000, 8,000; 32,000 -> 1,000 ... 32,000)."""
    recorded = [int(x) for x in steps]
    shown, step = [], recorded[-1]
    while step in recorded and step >= min(smallest, recorded[-1]):
        shown.append(step)
        if step % 2:
            break
        step //= 2
    return sorted(shown)


def _steps(n):
    return f"{int(n):,}"


def stability(steps, verdicts) -> str:
    """How a claim's verdict depends on the budget, in words made from ``verdicts`` (one per budget in
    ``steps``): "holds at every recorded budget (250 to 8,000 steps)", or "holds at 30 of the 32 budgets,
    at every one from 7,250 steps on; inconclusive at 2 (the last at 7,000 steps)"."""
    steps = [int(x) for x in steps]
    final, n = verdicts[-1], len(verdicts)
    if all(v == final for v in verdicts):
        return f"{final} at every recorded budget ({_steps(steps[0])} to {_steps(steps[-1])} steps)"
    first = n - 1
    while first > 0 and verdicts[first - 1] == final:
        first -= 1
    text = (f"{final} at {verdicts.count(final)} of the {n} budgets, at every one from {_steps(steps[first])} "
            "steps on")
    for other in dict.fromkeys(v for v in verdicts if v != final):
        last = max(i for i, v in enumerate(verdicts) if v == other)
        count = verdicts.count(other)
        text += f"; {other} at {count} (the last at {_steps(steps[last])} steps)" if count > 1 else \
            f"; {other} at 1 ({_steps(steps[last])} steps)"
    return text


def _cell(value, verdict):
    if verdict == claims.NOT_MEASURED:
        return "—"
    if value.too_few:
        return f"{value.estimate:.2f} (too few runs)"
    return f"{value.estimate:.2f} [{value.low:.2f}, {value.high:.2f}] {SHORT[verdict]}"


SHORT = {"holds": "holds", "does not hold": "**no**", "inconclusive": "?", "too few runs": "too few runs",
         claims.NOT_MEASURED: "—"}


def budget_table(budgets: Budgets) -> str:
    """REPRODUCTION.md's table: each claim's paired statistic [95% interval] and verdict at a few budgets,
    and how its verdict behaves over every recorded budget."""
    shown = table_budgets(budgets.steps)
    index = [list(map(int, budgets.steps)).index(b) for b in shown]
    lines = ["| claim | " + " | ".join(f"{_steps(b)} steps" for b in shown)
             + f" | over all {len(budgets.steps)} recorded budgets |",
             "|---|" + "---|" * (len(shown) + 1)]
    for i, row in enumerate(budgets.rows):
        cells = [_cell(budgets.values[i][s], budgets.verdicts[i][s]) for s in index]
        lines.append(f"| {row.claim} | " + " | ".join(cells) + f" | {stability(budgets.steps, budgets.verdicts[i])} |")
    changed = sum(len(set(v)) > 1 for v in budgets.verdicts)
    lines += ["", f"Each cell: the claim's statistic (as in the verdict table) [95% interval] and its verdict at that "
                  f"budget (holds / **no**: does not hold / ?: inconclusive). {changed} of the {len(budgets.rows)} "
                  f"verdicts change between the {len(budgets.steps)} recorded budgets "
                  f"({_steps(budgets.steps[0])} to {_steps(budgets.steps[-1])} steps)."]
    return "\n".join(lines)


VERB = {"holds": ("holds", "hold"), "does not hold": ("does not hold", "do not hold"),
        "inconclusive": ("is inconclusive", "are inconclusive"),
        "too few runs": ("has too few runs", "have too few runs"),
        claims.NOT_MEASURED: ("is not measured", "are not measured")}


def summary_table(budgets: Budgets, runs: int) -> str:
    """The README's table of the paper's claims: what each says, the measured statistic at the last
    budget, and the verdict with the budgets it holds at (every word from the verdicts)."""
    last = int(budgets.steps[-1])
    finals = [row.verdict for row in budgets.rows]
    counts = ", ".join(f"{finals.count(v)} {VERB[v][finals.count(v) != 1]}" for v in dict.fromkeys(finals))
    changing = sum(len(set(v)) > 1 for v in budgets.verdicts)
    lines = [f"After {_steps(last)} steps of {runs} paired runs, of the paper's {len(finals)} claims: {counts}. "
             f"{changing} of the {len(finals)} verdicts are not the same at every recorded budget "
             f"({_steps(budgets.steps[0])} to {_steps(last)} steps): the last column says where each holds.", "",
             f"| the paper says | measured after {_steps(last)} steps (95% interval) | "
             "verdict, and over the recorded budgets |", "|---|---|---|"]
    for i, row in enumerate(budgets.rows):
        value = "—" if row.verdict == claims.NOT_MEASURED else str(row.value)
        lines.append(f"| {row.claim} | {row.statistic}: {value} | **{row.verdict}** at {_steps(last)} steps; "
                     f"{stability(budgets.steps, budgets.verdicts[i])} |")
    return "\n".join(lines)


def plot_budgets(path, budgets: Budgets, title="Every claim's verdict by training budget"):
    """One panel per claim: the statistic (a ratio) with its 95% interval against training steps, on a
    log axis, with the "no effect" line at 1; markers coloured by the verdict at each budget."""
    from . import plots
    plt = plots.pyplot()
    n = len(budgets.rows)
    cols = 4
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, sharex=True)
    colours = {"holds": "tab:green", "does not hold": "tab:red", "inconclusive": "tab:gray",
               "too few runs": "tab:orange", claims.NOT_MEASURED: "white"}
    steps = np.asarray(budgets.steps, float)
    for i, row in enumerate(budgets.rows):
        ax = axes[i // cols][i % cols]
        est = np.array([v.estimate for v in budgets.values[i]], float)
        low = np.array([v.low for v in budgets.values[i]], float)
        high = np.array([v.high for v in budgets.values[i]], float)
        ax.fill_between(steps, low, high, color="tab:blue", alpha=0.2, lw=0)
        ax.plot(steps, est, color="tab:blue", lw=1)
        ax.scatter(steps, est, c=[colours[v] for v in budgets.verdicts[i]], s=12, zorder=3, edgecolors="none")
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        if "best losses" in row.claim:
            for margin in (claims.COMPARABLE, 1 / claims.COMPARABLE):
                ax.axhline(margin, color="k", lw=0.5, ls="--")
        if np.all(np.isfinite(est)) and np.all(est > 0):
            _log_ratio_axis(ax, np.concatenate([est, low, high, [1.0]]))
        ax.set_title(_wrap(row.claim), fontsize=7.5)
        ax.tick_params(labelsize=7, labelbottom=True)
        ax.grid(alpha=0.3)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("training steps", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=v) for v, c in colours.items()
               if v != claims.NOT_MEASURED and any(v in vs for vs in budgets.verdicts)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, title="verdict at that budget",
               title_fontsize=8)
    fig.suptitle(f"{title} (band: 95% interval; dotted line: no effect)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))          # room below the panels for the legend, off every axis
    plots.save(fig, path)


TICKS = (0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0)


def _log_ratio_axis(ax, values):
    """A log axis for ratios with plain tick labels (0.8, 1, 1.25) instead of powers of ten."""
    from matplotlib.ticker import FixedLocator, NullLocator, StrMethodFormatter
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    inside = [t for t in TICKS if values.min() <= t <= values.max()] or [1.0]
    ticks = inside[::max(1, -(-len(inside) // 6))]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


def _wrap(text, width=48):
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])
