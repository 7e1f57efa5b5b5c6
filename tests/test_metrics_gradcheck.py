import itertools

import numpy as np
import pytest

from mmoe_np import gradcheck, metrics


def brute_force_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_pairwise_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    y[:2] = [0, 1]
    s = rng.integers(0, 5, 60).astype(float)    # many ties
    assert metrics.roc_auc(y, s) == pytest.approx(brute_force_auc(y, s))


def test_roc_auc_errors():
    with pytest.raises(ValueError, match="needs both classes"):
        metrics.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="only 0 and 1"):
        metrics.roc_auc([0, 2], [0.2, 0.3])


def test_pearson():
    a = np.arange(10.0)
    assert metrics.pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert metrics.pearson(a, -a) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="constant"):
        metrics.pearson(a, np.ones(10))


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    g = gradcheck.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)


def test_compare_message_names_parameter_index_and_both_numbers():
    with pytest.raises(gradcheck.GradientError,
                       match=r"expert_kernel: relative error .* index \(1,\): analytic 5, numerical 2"):
        gradcheck.compare("expert_kernel", np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    assert gradcheck.rel_error(np.ones(3), np.ones(3)) == 0.0
