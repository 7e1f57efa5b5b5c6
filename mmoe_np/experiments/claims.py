r"""The paper's claims about its synthetic experiments, each turned into a paired statistic
with a 95% interval and a verdict.

Every statistic compares runs **paired** (same run: same data, same initialisation, same
minibatches) on a log scale (:mod:`.stats`): a ratio of losses, its geometric mean over runs
and a 95% interval. Verdicts:

- **holds**: the interval excludes "no effect" in the direction the paper claims;
- **does not hold**: it excludes it in the other direction, or the whole interval lies
  within a negligible band around "no effect" (``NEGLIGIBLE``: a ratio within 5%), so an
  effect of the claimed kind, if any, is too small to matter;
- **inconclusive**: otherwise;
- **too few runs**: fewer paired runs than an interval needs (:data:`mmoe_np.stats.MIN_PAIRED_RUNS`,
  and :data:`mmoe_np.stats.MIN_SPREAD_RUNS` for the bootstrap of spreads): no verdict at all;
- **not measured**: the study lacks the correlations the claim is about (e.g. 0.5 and 1.0).

Intervals are t intervals for R - 1 degrees of freedom (paired ratios) or paired bootstrap
percentile intervals (spreads and best losses), all from :mod:`mmoe_np.stats`.

The claims (Ma et al. 2018, §3.3, §5.1, §5.2 and Figures 3-5):

1. Fig. 3: Shared-Bottom's loss grows as the task correlation falls.
2. §5.1 (1): every model does better at higher correlation.
3. §5.1 (2): MMoE's gap across correlations is much smaller than OMoE's and Shared-Bottom's.
4. §5.1 (3): both MoE models beat Shared-Bottom.
5. Fig. 5 / §5.2: Shared-Bottom's final losses vary much more between runs than the MoE
   models'; OMoE loses robustness at correlation 0.5; the best losses are comparable.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..stats import MIN_SPREAD_RUNS, Interval, paired_ratio, ratio_of_spreads
from .common import MODEL_LABELS

NEGLIGIBLE = 0.05          # a ratio within [1/1.05, 1.05] is no effect worth the name
COMPARABLE = 1.25          # "comparable": a ratio within [1/1.25, 1.25]


class Claim(NamedTuple):
    claim: str             # what the paper says
    statistic: str         # how we measure it
    value: Interval        # the statistic with its 95% interval
    verdict: str           # holds / does not hold / inconclusive
    detail: str = ""       # the other numbers behind the verdict


def verdict(interval: Interval, claimed="above", null=1.0, negligible=NEGLIGIBLE):
    """Verdict for a ratio whose claimed direction is ``above`` or ``below`` ``null``."""
    if interval.too_few:
        return "too few runs"
    low, high = interval.low, interval.high
    if (claimed == "above" and low > null) or (claimed == "below" and high < null):
        return "holds"
    if (claimed == "above" and high < null) or (claimed == "below" and low > null):
        return "does not hold"
    if null / (1 + negligible) <= low and high <= null * (1 + negligible):
        return "does not hold"
    return "inconclusive"


def combine(verdicts):
    """All hold: holds; any does not hold: does not hold; any too few runs: too few runs; else inconclusive."""
    if any(v == "too few runs" for v in verdicts):
        return "too few runs"
    if all(v == "holds" for v in verdicts):
        return "holds"
    if any(v == "does not hold" for v in verdicts):
        return "does not hold"
    return "inconclusive"


def _at(final, correlations, p):
    return final[list(np.round(correlations, 6)).index(round(p, 6))]


def has(correlations, *values):
    """True when every one of ``values`` is among ``correlations``."""
    at = set(np.round(np.asarray(correlations, float), 6).tolist())
    return all(round(v, 6) in at for v in values)


def correlation_trend(final, correlations, model):
    """loss(0.5)/loss(1.0) paired by run, claimed above 1; ``final`` (C, R, M) of one model's column.
    The details compare with 0.9 when the study has it."""
    lo, hi = (_at(final, correlations, p)[:, model] for p in (0.5, 1.0))
    main = paired_ratio(lo, hi).ratio
    detail = ""
    if has(correlations, 0.9):
        mid = _at(final, correlations, 0.9)[:, model]
        detail = (f"loss(0.9)/loss(1.0) {paired_ratio(mid, hi).ratio}; loss(0.5)/loss(0.9) "
                  f"{paired_ratio(lo, mid).ratio}; ")
    detail += f"runs with loss(0.5) > loss(1.0): {np.mean(lo > hi):.0%}"
    return main, verdict(main, "above"), detail


def gap_difference(final, correlations, models, other):
    """How much more model ``other``'s loss grows from correlation 1.0 to 0.5 than MMoE's:
    exp(mean over runs of [log L_o(0.5)/L_o(1) - log L_MMoE(0.5)/L_MMoE(1)]), claimed above 1."""
    mm, o = models.index("mmoe"), models.index(other)
    lo, hi = _at(final, correlations, 0.5), _at(final, correlations, 1.0)
    gap_other, gap_mmoe = lo[:, o] / hi[:, o], lo[:, mm] / hi[:, mm]
    value = paired_ratio(gap_other, gap_mmoe).ratio
    detail = (f"gap (loss(0.5)/loss(1.0)): {MODEL_LABELS[other]} {paired_ratio(lo[:, o], hi[:, o]).ratio}, "
              f"MMoE {paired_ratio(lo[:, mm], hi[:, mm]).ratio}")
    return value, verdict(value, "above"), detail


def beats(final, correlations, models, moe):
    """L_moe / L_Shared-Bottom paired, at every correlation, claimed below 1; the verdict combines them."""
    sb, m = models.index("shared_bottom"), models.index(moe)
    ratios = [paired_ratio(final[i, :, m], final[i, :, sb]) for i in range(len(correlations))]
    verdicts = [verdict(r.ratio, "below") for r in ratios]
    worst = max(ratios, key=lambda r: r.ratio.high)
    detail = "; ".join(f"at {p:g}: {r.ratio} (wins {r.wins:.0%})" for p, r in zip(correlations, ratios))
    return worst.ratio, combine(verdicts), detail


def spread(final, correlations, models, a, b, at=None, seed=0):
    """Ratio of between-run spreads (std of log final loss) of ``a`` over ``b``, claimed above 1."""
    ia, ib = models.index(a), models.index(b)
    where = range(len(correlations)) if at is None else [list(np.round(correlations, 6)).index(round(at, 6))]
    values = [ratio_of_spreads(final[i, :, ia], final[i, :, ib], seed=seed) for i in where]
    verdicts = [verdict(v, "above", negligible=0.10) for v in values]
    detail = "; ".join(f"at {correlations[i]:g}: {v}" for i, v in zip(where, values))
    worst = min(values, key=lambda v: v.low)
    return worst, combine(verdicts), detail


def best_losses(final, correlations, models, a, b, q=0.05, n_boot=2000, seed=0):
    """Ratio of the ``q`` quantiles ("best runs") of ``a``'s and ``b``'s final losses, paired bootstrap;
    "comparable" when the interval lies within [1/1.25, 1.25] at every correlation."""
    ia, ib = models.index(a), models.index(b)
    rng = np.random.default_rng(seed)
    R = final.shape[1]
    details, verdicts, values = [], [], []
    for i, p in enumerate(correlations):
        fa, fb = final[i, :, ia], final[i, :, ib]
        if R < MIN_SPREAD_RUNS:                    # a bootstrap of a low quantile needs many runs
            values.append(Interval(float(np.quantile(fa, q) / np.quantile(fb, q)), np.nan, np.nan, R))
            verdicts.append("too few runs")
            details.append(f"at {p:g}: {values[-1]}")
            continue
        idx = rng.integers(0, R, size=(n_boot, R))
        boot = np.quantile(fa[idx], q, axis=1) / np.quantile(fb[idx], q, axis=1)
        v = Interval(float(np.quantile(fa, q) / np.quantile(fb, q)), float(np.quantile(boot, 0.025)),
                     float(np.quantile(boot, 0.975)), R)
        values.append(v)
        inside = 1 / COMPARABLE <= v.low and v.high <= COMPARABLE
        outside = v.high < 1 / COMPARABLE or v.low > COMPARABLE
        verdicts.append("holds" if inside else "does not hold" if outside else "inconclusive")
        details.append(f"at {p:g}: {v}")
    worst = max(values, key=lambda v: abs(np.log(v.estimate)))
    return worst, combine(verdicts), "; ".join(details)


NOT_MEASURED = "not measured"
NO_VALUE = Interval(float("nan"), float("nan"), float("nan"), 0)


def evaluate_claims(main, fig3=None):
    """Every claim's row from the main study (``final`` (C, R, M), ``correlations``, ``models``) and,
    when given, the Fig. 3 study (Shared-Bottom with a bottom of 16).

    A claim about correlations 0.5 and 1.0 in a study without both gets a row with the verdict
    "not measured" and the reason, rather than an error after the training."""
    final, corr = main["final"], np.asarray(main["correlations"], dtype=float)
    models = [str(m) for m in main["models"]]
    ends = has(corr, 0.5, 1.0)
    missing = "needs correlations 0.5 and 1.0; this study has " + ", ".join(f"{p:g}" for p in corr)
    rows = []
    if fig3 is not None:
        fig3_corr = np.asarray(fig3["correlations"], float)
        claim, statistic = ("Fig. 3: Shared-Bottom (bottom of 16) does worse as the correlation falls",
                            "paired loss(0.5)/loss(1.0), > 1 claimed")
        if has(fig3_corr, 0.5, 1.0):
            value, v, detail = correlation_trend(fig3["final"], fig3_corr, 0)
            rows.append(Claim(claim, statistic, value, v, detail))
        else:
            rows.append(Claim(claim, statistic, NO_VALUE, NOT_MEASURED, missing))
    for j, name in enumerate(models):
        claim, statistic = (f"§5.1 (1): {MODEL_LABELS[name]} does better at higher correlation",
                            "paired loss(0.5)/loss(1.0), > 1 claimed")
        if ends:
            value, v, detail = correlation_trend(final, corr, j)
            rows.append(Claim(claim, statistic, value, v, detail))
        else:
            rows.append(Claim(claim, statistic, NO_VALUE, NOT_MEASURED, missing))
    for other in ("omoe", "shared_bottom"):
        claim, statistic = (f"§5.1 (2): MMoE's gap across correlations is much smaller than {MODEL_LABELS[other]}'s",
                            f"paired [L(0.5)/L(1.0) of {MODEL_LABELS[other]}] / [same of MMoE], > 1 claimed")
        if ends:
            value, v, detail = gap_difference(final, corr, models, other)
            rows.append(Claim(claim, statistic, value, v, detail))
        else:
            rows.append(Claim(claim, statistic, NO_VALUE, NOT_MEASURED, missing))
    for moe in ("omoe", "mmoe"):
        value, v, detail = beats(final, corr, models, moe)
        rows.append(Claim(f"§5.1 (3): {MODEL_LABELS[moe]} beats Shared-Bottom",
                          f"paired loss {MODEL_LABELS[moe]}/Shared-Bottom at each correlation (worst shown), "
                          "< 1 claimed",
                          value, v, detail))
    for moe in ("mmoe", "omoe"):
        value, v, detail = spread(final, corr, models, "shared_bottom", moe)
        rows.append(Claim(f"Fig. 5: Shared-Bottom's final losses vary much more than {MODEL_LABELS[moe]}'s",
                          f"std of log final loss, Shared-Bottom / {MODEL_LABELS[moe]} (smallest shown), > 1 claimed",
                          value, v, detail))
    claim, statistic = ("Fig. 5: OMoE loses robustness at correlation 0.5",
                        "std of log final loss at 0.5, OMoE / MMoE, > 1 claimed")
    if has(corr, 0.5):
        value, v, detail = spread(final, corr, models, "omoe", "mmoe", at=0.5)
        if has(corr, 1.0):
            detail += "; " + spread(final, corr, models, "omoe", "mmoe", at=1.0)[2]
        rows.append(Claim(claim, statistic, value, v, detail))
    else:
        rows.append(Claim(claim, statistic, NO_VALUE, NOT_MEASURED,
                          "needs correlation 0.5; this study has " + ", ".join(f"{p:g}" for p in corr)))
    for other in ("shared_bottom", "omoe"):
        value, v, detail = best_losses(final, corr, models, other, "mmoe")
        rows.append(Claim(f"Fig. 5: best losses comparable, {MODEL_LABELS[other]} vs MMoE",
                          "ratio of 5th percentiles of final loss (most different shown), within 1.25x claimed",
                          value, v, detail))
    return rows


def claims_table(rows) -> str:
    """The verdict table as markdown."""
    lines = ["| claim | paired statistic | value [95% interval] | verdict |", "|---|---|---|---|"]
    for r in rows:
        value = "—" if r.verdict == NOT_MEASURED else str(r.value)
        lines.append(f"| {r.claim} | {r.statistic} | {value} | **{r.verdict}** |")
    lines.append("")
    lines.append("Details (every correlation and comparison behind each verdict):")
    lines.append("")
    for r in rows:
        lines.append(f"- {r.claim}: {r.detail}")
    return "\n".join(lines)
