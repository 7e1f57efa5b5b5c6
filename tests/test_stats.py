"""The one statistics module: t intervals, too few runs, geometric bands, spreads."""
import numpy as np
import pytest
from scipy import stats as scipy_stats

from mmoe_np import stats


def test_t_quantile_is_students_for_r_minus_1_degrees_of_freedom():
    assert stats.t_quantile(12) == pytest.approx(2.200985, abs=1e-6)
    assert stats.t_quantile(20) == pytest.approx(2.093024, abs=1e-6)
    assert stats.t_quantile(200) == pytest.approx(scipy_stats.t.ppf(0.975, 199))
    assert stats.t_quantile(1) == float("inf")


def test_paired_ratio_uses_t_and_pairs_the_runs():
    rng = np.random.default_rng(0)
    b = np.exp(rng.normal(0, 1, 12))
    a = b * np.exp(rng.normal(-0.2, 0.1, 12))       # a is b times a little less: paired, tight
    r = stats.paired_ratio(a, b)
    logs = np.log(a / b)
    half = scipy_stats.t.ppf(0.975, 11) * logs.std(ddof=1) / np.sqrt(12)
    assert r.ratio.estimate == pytest.approx(np.exp(logs.mean()))
    assert r.ratio.low == pytest.approx(np.exp(logs.mean() - half))
    assert r.ratio.high == pytest.approx(np.exp(logs.mean() + half))
    assert r.runs == 12 and r.verdict() == "lower"
    assert stats.paired_ratio(b, a).verdict() == "higher"


def test_below_the_minimum_there_is_no_interval_and_no_verdict():
    a, b = np.array([1.0, 1.2]), np.array([0.9, 1.0])
    r = stats.paired_ratio(a, b)
    assert r.too_few and r.verdict() == "too few runs"
    assert np.isnan(r.ratio.low) and "too few runs" in str(r.ratio)
    spread = stats.ratio_of_spreads(np.arange(1.0, 6.0), np.arange(2.0, 7.0))
    assert spread.too_few and spread.runs == 5


def test_ratio_of_spreads_has_a_proper_interval_with_enough_runs():
    rng = np.random.default_rng(1)
    a, b = np.exp(rng.normal(0, 2, 60)), np.exp(rng.normal(0, 1, 60))
    iv = stats.ratio_of_spreads(a, b)
    assert iv.low < iv.estimate < iv.high and iv.low > 1


def test_geometric_band_stays_positive_where_an_arithmetic_one_goes_below_zero():
    rng = np.random.default_rng(2)
    curves = np.exp(rng.normal(-3, 2.5, size=(4, 10)))             # 4 runs spread over decades
    mean, std = curves.mean(0), curves.std(0, ddof=1)
    assert (mean - stats.t_quantile(4) * std / 2 < 0).any()        # the old band left the log plot
    centre, low, high = stats.geometric_band(curves)
    assert (low > 0).all() and (low <= centre).all() and (centre <= high).all()
    np.testing.assert_allclose(centre, np.exp(np.log(curves).mean(0)))


def test_mean_interval_and_resolvable_ratio():
    m = stats.mean_interval([1.0, 2.0, 3.0])
    assert m.mean == 2.0 and m.half == pytest.approx(scipy_stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3))
    assert stats.resolvable_ratio(0.5, 2) == float("inf")
    assert stats.resolvable_ratio(0.5, 12) == pytest.approx(np.exp(stats.t_quantile(12) * 0.5 / np.sqrt(12)))


def test_paired_ratio_rejects_what_it_cannot_compare():
    with pytest.raises(ValueError, match="same length"):
        stats.paired_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        stats.paired_ratio([1.0, -2.0], [1.0, 1.0])
