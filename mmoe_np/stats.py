r"""The one place for intervals and verdicts: means, paired ratios between runs, spreads, bands.

Final losses spread over two decades between runs (paper Fig. 5), so two models -- or one
model at two correlations -- are compared **paired** (the same run: the same data, the same
minibatches) and on a log scale. For R paired runs with losses :math:`a_r, b_r`:

.. math:: \ell_r = \log\frac{a_r}{b_r}, \qquad
          \text{ratio} = \exp(\bar\ell), \qquad
          95\%\ \text{interval}: \exp\big(\bar\ell \pm t_{0.975,\,R-1}\; s_\ell/\sqrt{R}\big)

with Student's t quantile for R - 1 degrees of freedom (2.78 for 5 runs, 2.20 for 12, 2.09 for
20, 1.97 for 200), never the normal 1.96: with few runs the standard deviation is itself
uncertain, and the normal quantile gives intervals that are too narrow. A ratio below 1 means
``a`` is lower.

**Too few runs.** Below :data:`MIN_PAIRED_RUNS` paired runs there is no interval and no verdict,
only "too few runs". Why 3: subsets of R runs drawn from the 200-run study's twelve paired
log-ratios gave t intervals that covered the 200-run value 93-95% of the time for every R from
2 to 20 (the log-ratios are close to normal), but with 2 runs the interval rests on one
difference and spans a factor of about 25 either way (t = 12.7): it can never show anything,
and a verdict from it would only reflect one run. The spread of final losses between runs is
compared with a paired bootstrap (:func:`ratio_of_spreads`); the same subsampling gave that
bootstrap a coverage of 68-71% at 3 runs, 87-90% at 5-10, 89-93% at 20 and 93-95% at 40, so
spreads need :data:`MIN_SPREAD_RUNS` = 20 runs before they get an interval.

The same numbers feed every sentence that states a result (:mod:`mmoe_np.findings`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

LEVEL = 0.95
MIN_PAIRED_RUNS = 3        # fewer paired runs: "too few runs" (see the module docstring)
MIN_SPREAD_RUNS = 20       # fewer runs: no bootstrap interval for a ratio of spreads


def t_quantile(runs: int, level: float = LEVEL) -> float:
    """Student's t quantile for a two-sided ``level`` interval of a mean of ``runs`` values (R - 1 d.f.).

    >>> round(t_quantile(12), 3), round(t_quantile(20), 3)
    (2.201, 2.093)
    """
    from scipy.stats import t
    if runs < 2:
        return float("inf")
    return float(t.ppf(0.5 + level / 2, runs - 1))


class Interval(NamedTuple):
    """An estimate with its interval, and how many runs it rests on (0: not counted)."""

    estimate: float
    low: float
    high: float
    runs: int = 0

    @property
    def too_few(self) -> bool:
        """No interval: the estimate rests on too few runs (its low and high are NaN)."""
        return bool(np.isnan(self.low) or np.isnan(self.high))

    def excludes(self, value: float) -> bool:
        """True when the interval lies wholly above or wholly below ``value``."""
        return not self.too_few and (self.low > value or self.high < value)

    def __str__(self):
        if self.too_few:
            return f"{self.estimate:.3f} (too few runs for an interval: {self.runs})"
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


class MeanInterval(NamedTuple):
    """A mean with the t interval of the mean: ``mean +- half``."""

    mean: float
    std: float
    half: float
    runs: int

    @property
    def low(self):
        return self.mean - self.half

    @property
    def high(self):
        return self.mean + self.half


def mean_interval(values, level: float = LEVEL) -> MeanInterval:
    """Mean, standard deviation (ddof 1) and the t half-width of the ``level`` interval of the mean.

    With fewer than 2 values the standard deviation is 0 and the half-width infinite.
    """
    values = np.asarray(values, dtype=float)
    R = len(values)
    if R < 2:
        return MeanInterval(float(values.mean()) if R else float("nan"), 0.0, float("inf"), R)
    std = float(values.std(ddof=1))
    return MeanInterval(float(values.mean()), std, t_quantile(R, level) * std / np.sqrt(R), R)


def log_interval(log_values, level: float = LEVEL, min_runs: int = MIN_PAIRED_RUNS) -> Interval:
    """``exp`` of the mean of ``log_values`` with its t interval (NaN bounds below ``min_runs``)."""
    m = mean_interval(log_values, level)
    if m.runs < min_runs:
        return Interval(float(np.exp(m.mean)), float("nan"), float("nan"), m.runs)
    return Interval(float(np.exp(m.mean)), float(np.exp(m.mean - m.half)), float(np.exp(m.mean + m.half)), m.runs)


class PairedRatio(NamedTuple):
    """A paired comparison of ``a`` and ``b`` over runs (see the module docstring)."""

    ratio: Interval            # geometric mean of a/b with its interval
    wins: float                # share of runs with a < b
    runs: int

    @property
    def too_few(self) -> bool:
        return self.ratio.too_few

    def verdict(self, margin: float = 1.0) -> str:
        """'lower' (a below b), 'higher', 'level' (the interval contains ``margin``, default 1) or
        'too few runs'."""
        if self.too_few:
            return "too few runs"
        if self.ratio.high < margin:
            return "lower"
        if self.ratio.low > margin:
            return "higher"
        return "level"


def paired_ratio(a, b, level: float = LEVEL) -> PairedRatio:
    """Paired comparison of positive values ``a`` and ``b`` (one pair per run); see the module."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be two 1-D arrays of the same length (one value per run), got shapes "
                         f"{a.shape} and {b.shape}")
    if not (np.all(a > 0) and np.all(b > 0)):
        raise ValueError("a and b must be positive (a ratio is compared on a log scale)")
    return PairedRatio(log_interval(np.log(a / b), level), float(np.mean(a < b)), len(a))


def ratio_of_spreads(a, b, n_boot: int = 2000, seed: int = 0, level: float = LEVEL) -> Interval:
    """How much more ``a`` varies than ``b`` between runs: the ratio of the standard deviations of the
    log values, with a paired bootstrap percentile interval (runs resampled together).

    Below :data:`MIN_SPREAD_RUNS` runs the interval is NaN ("too few runs": the bootstrap of a
    spread from so few runs covers far less often than it claims; see the module docstring).
    """
    la, lb = np.log(np.asarray(a, float)), np.log(np.asarray(b, float))
    R = len(la)
    estimate = float(la.std(ddof=1) / lb.std(ddof=1)) if R > 1 else float("nan")
    if R < MIN_SPREAD_RUNS:
        return Interval(estimate, float("nan"), float("nan"), R)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, R, size=(n_boot, R))
    with np.errstate(divide="ignore", invalid="ignore"):     # a resample of identical runs has no spread
        boot = la[idx].std(axis=1, ddof=1) / lb[idx].std(axis=1, ddof=1)
    boot = boot[np.isfinite(boot)]
    tail = (1 - level) / 2
    return Interval(estimate, float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail)), R)


def geometric_band(values, axis: int = 0, level: float = LEVEL):
    """Geometric mean over ``axis`` and its t interval, ``exp(mean log +- t se)``: three arrays.

    For positive values drawn on a log axis: the band is always positive, so it never leaves
    the plot. With one run the band is the line itself.
    """
    logs = np.log(np.asarray(values, dtype=float))
    R = logs.shape[axis]
    mean = logs.mean(axis=axis)
    if R < 2:
        return np.exp(mean), np.exp(mean), np.exp(mean)
    half = t_quantile(R, level) * logs.std(axis=axis, ddof=1) / np.sqrt(R)
    return np.exp(mean), np.exp(mean - half), np.exp(mean + half)


def resolvable_ratio(log_ratio_std: float, runs: int, level: float = LEVEL) -> float:
    """The factor f to which a paired ratio of ``runs`` runs is known (its interval is ratio x/ f), for
    paired log-ratios with standard deviation ``log_ratio_std``: ``exp(t s / sqrt(R))``. inf below
    :data:`MIN_PAIRED_RUNS`."""
    if runs < MIN_PAIRED_RUNS or not np.isfinite(log_ratio_std):
        return float("inf")
    return float(np.exp(t_quantile(runs, level) * log_ratio_std / np.sqrt(runs)))
