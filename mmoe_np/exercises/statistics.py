"""Exercises on comparing models over runs (lessons 07 and 14)."""
from __future__ import annotations

import numpy as np

from .. import stats
from .judging import Call, Exercise, Mistake, exercise, rng


def _paired(a, b, *, ddof=1, root=True, swap=False, quantile="t", paired=True):
    """The library's paired ratio and 95% interval, right (the defaults) or with one typical mistake,
    made by rescaling the library's interval on the log scale."""
    if swap:
        a, b = b, a
    mean = stats.mean_interval(np.log(a / b))              # the library's t interval of the mean log ratio
    R, centre, half = mean.runs, mean.mean, mean.half       # half = t * s / sqrt(R), s with ddof 1
    if ddof == 0:
        half *= np.sqrt((R - 1) / R)
    if not root:
        half *= np.sqrt(R)
    if quantile != "t":
        half *= 1.959963984540054 / stats.t_quantile(R)
    if not paired:                                          # as if a and b were independent samples
        half *= np.sqrt(np.log(a).var(ddof=1) + np.log(b).var(ddof=1)) / np.log(a / b).std(ddof=1)
    return np.exp(centre), np.exp(centre - half), np.exp(centre + half)


PAIRED_MISTAKES = [
    Mistake("the standard deviation of a sample's spread uses ddof=1 (R - 1 in the denominator); ddof=0 makes the "
            "interval too narrow", lambda c: _paired(*c.args, ddof=0)),
    Mistake("the standard error of a mean is the standard deviation divided by sqrt(R)", lambda c: _paired(*c.args,
                                                                                                         root=False)),
    Mistake("you compared b to a: the ratio is a / b (below 1 when a is lower)", lambda c: _paired(*c.args, swap=True)),
    Mistake("1.96 is the normal quantile; with R runs the mean of the log ratios follows Student's t with R - 1 "
            "degrees of freedom (scipy.stats.t.ppf(0.975, R - 1))", lambda c: _paired(*c.args, quantile="z")),
    Mistake("the runs are paired: take the standard error of the per-run log ratios log(a[r] / b[r]), not of "
            "log a and log b as if they were independent", lambda c: _paired(*c.args, paired=False)),
    Mistake("this is the ratio of the mean losses; the paired ratio is the geometric mean of the per-run "
            "ratios, exp(mean(log(a / b)))", lambda c: (np.mean(c.args[0]) / np.mean(c.args[1]), None, None)),
]


def _runs(seed, R, effect=-0.2, spread=0.3):
    r = rng(seed)
    b = np.exp(r.normal(-3.0, 1.0, R))
    return b * np.exp(r.normal(effect, spread, R)), b            # a is exp(effect) times b, paired


@exercise("ex14_paired_ratio")
def paired_ratio():
    calls = []
    for seed, R in enumerate([200, 12]):
        a, b = _runs(50 + seed, R)
        calls.append(Call("paired_ratio", (a, b), tuple(np.asarray(v) for v in _paired(a, b)), ("ratio", "low", "high"),
                          stage=f"{R} runs", tol=2e-3))
    return Exercise(("paired_ratio",), calls, "the paired ratio and its 95% t interval match (200 and 12 runs)",
                    PAIRED_MISTAKES, stages=True, preload=("scipy.stats",))


def _compare(a, b, margin=1.0, *, rule="interval", few=True, wins="below"):
    """compare(): the library's paired ratio and verdict, right (the defaults) or with one typical mistake."""
    p = stats.paired_ratio(a, b)
    r = p.ratio
    if not few and p.too_few:                              # an interval from 2 runs, and a verdict from it
        p = stats.PairedRatio(stats.Interval(r.estimate, *_paired(a, b)[1:], len(a)), p.wins, p.runs)
        r = p.ratio
    share = {"below": np.mean(a < b), "not above": np.mean(a <= b), "above": np.mean(a > b)}[wins]
    verdict = p.verdict(margin)
    if verdict != "too few runs":
        if rule == "ratio":
            verdict = "lower" if r.estimate < margin else "higher"
        elif rule == "swapped":
            verdict = {"lower": "higher", "higher": "lower"}.get(verdict, verdict)
        elif rule == "one":
            verdict = p.verdict(1.0)
    return (np.asarray(r.estimate), np.asarray(r.low), np.asarray(r.high), np.asarray(share), verdict)


def _tied(runs, n=4):
    a, b = runs
    a = a.copy()
    a[:n] = b[:n]                                                  # n runs end at exactly the same loss
    return a, b


@exercise("ex07_compare")
def compare():
    cases = [("a clearly lower", _runs(60, 12, effect=-0.4), 1.0),
             ("a clearly higher", _runs(61, 12, effect=0.4), 1.0),
             ("no clear difference", _runs(62, 12, effect=0.02), 1.0),
             ("2 runs", _runs(63, 2, effect=-0.4), 1.0),
             ("margin 1.2", _runs(64, 30, effect=0.1, spread=0.1), 1.2),
             ("some runs tied", _tied(_runs(65, 12, effect=-0.1)), 1.0)]
    calls = [Call("compare", (a, b, margin), _compare(a, b, margin), ("ratio", "low", "high", "wins", "verdict"),
                  stage=label, tol=2e-3) for label, (a, b), margin in cases]

    def mistake(hint, **kw):
        return Mistake(hint, lambda c: _compare(*c.args, **kw))
    mistakes = [
        mistake("the verdict comes from the interval, not the ratio alone: an interval that contains the margin "
                "cannot tell the direction ('level')", rule="ratio"),
        mistake("a ratio a / b whose interval lies below the margin means a is *lower*", rule="swapped"),
        mistake("compare the interval with the margin argument, not always with 1", rule="one"),
        mistake("below 3 paired runs there is no interval and no verdict: nan, nan and 'too few runs' (with 2 runs "
                "the t quantile is 12.7 and the interval rests on one difference)", few=False),
        mistake("wins is the share of runs where a is strictly below b", wins="not above"),
        mistake("wins is the share of runs where a is below b, not above", wins="above"),
    ]
    return Exercise(("compare",), calls, "ratio, interval, wins and verdict match mmoe_np.stats.paired_ratio on 6 "
                    "cases (lower, higher, level, too few runs, a margin, ties)", mistakes, stages=True,
                    uses=("paired_ratio",), preload=("scipy.stats",))
