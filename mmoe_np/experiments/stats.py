r"""The one place for intervals: means with 95% intervals, and paired ratios between runs.

Final losses spread over two decades between runs (paper Fig. 5), so comparisons of two
models -- or of one model at two correlations -- are made **paired** (same run: same data,
same minibatches) and on a log scale: the geometric mean of the per-run ratios,

.. math:: \exp\Big(\frac{1}{R}\sum_r \log\frac{a_r}{b_r}\Big), \qquad
          95\%\ \text{interval}: \exp(\bar\ell \pm 1.96\, s_\ell/\sqrt{R}),

and the share of runs in which the first is lower. A ratio below 1 means ``a`` is lower.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

Z95 = 1.959963984540054


class Interval(NamedTuple):
    estimate: float
    low: float
    high: float

    def __str__(self):
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def mean_interval(values, z=Z95):
    """Mean, standard deviation and the normal 95% confidence half-width of ``values``."""
    values = np.asarray(values, dtype=float)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return values.mean(), std, z * std / np.sqrt(len(values))


class PairedRatio(NamedTuple):
    ratio: Interval            # geometric mean of a/b with its 95% interval
    wins: float                # share of runs with a < b
    runs: int

    def verdict(self, margin=1.0):
        """'lower', 'higher' or 'level': whether the interval excludes ``margin`` (default: 1)."""
        if self.ratio.high < margin:
            return "lower"
        if self.ratio.low > margin:
            return "higher"
        return "level"


def paired_ratio(a, b, z=Z95):
    """Paired comparison of positive values ``a`` and ``b`` (one pair per run); see the module."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    log_ratio = np.log(a / b)
    mean, _, half = mean_interval(log_ratio, z)
    return PairedRatio(Interval(float(np.exp(mean)), float(np.exp(mean - half)), float(np.exp(mean + half))),
                       float(np.mean(a < b)), len(a))


def ratio_of_spreads(a, b, n_boot=2000, seed=0):
    """How much more ``a`` varies than ``b`` between runs: the ratio of the standard deviations of
    log losses, with a paired bootstrap 95% interval (runs resampled together)."""
    la, lb = np.log(np.asarray(a, float)), np.log(np.asarray(b, float))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(la), size=(n_boot, len(la)))
    with np.errstate(divide="ignore", invalid="ignore"):     # a resample of identical runs has no spread
        boot = la[idx].std(axis=1, ddof=1) / lb[idx].std(axis=1, ddof=1)
    boot = boot[np.isfinite(boot)] if np.isfinite(boot).any() else np.array([np.nan])
    return Interval(float(la.std(ddof=1) / lb.std(ddof=1)), float(np.quantile(boot, 0.025)),
                    float(np.quantile(boot, 0.975)))
