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


def test_numerical_gradient_nudges_a_strided_parameter_view_where_the_model_reads_it():
    """The params trap (lesson 02, gradcheck's docstring): MMoE's expert_kernel is a strided view into
    the model's one buffer, so v.reshape(-1) is a copy and a check through it sees a gradient of 0;
    numerical_gradient, given the view itself, writes through it and agrees with backward."""
    import mmoe_np as mn
    rng = np.random.default_rng(0)
    model = mn.MMoE(n_features=3, n_experts=2, expert_units=2, tower_units=2, seed=0)
    v = model.params["expert_kernel"]
    assert not v.flags.c_contiguous and not np.shares_memory(v, v.reshape(-1))
    X, dout = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))

    def f():
        return float(np.sum(model.forward(X)[0][0] * dout))

    preds, cache = model.forward(X)
    analytic = model.backward(cache, [dout, 0 * dout])["expert_kernel"]
    assert np.abs(analytic).max() > 0
    copy = v.reshape(-1)
    through_copy = gradcheck.numerical_gradient(f, copy)
    assert np.all(through_copy == 0)                                    # the trap: the model never saw the nudge
    gradcheck.compare("expert_kernel", analytic, gradcheck.numerical_gradient(f, v))
    before = model.params.flat.copy()
    for x in np.nditer(v, op_flags=["readwrite"]):                      # the documented idioms write through
        x[...] = x + 1.0
    v.flat[0] = v.flat[0] + 1.0
    assert np.count_nonzero(model.params.flat - before) == v.size


def test_compare_message_names_parameter_index_and_both_numbers():
    with pytest.raises(gradcheck.GradientError,
                       match=r"expert_kernel: relative error .* index \(1,\): analytic 5, numerical 2"):
        gradcheck.compare("expert_kernel", np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    assert gradcheck.rel_error(np.ones(3), np.ones(3)) == 0.0


def test_gate_polarisation_is_the_largest_mean_gate_weight():
    from mmoe_np.metrics import gate_polarisation
    even = np.full((2, 5, 4), 0.25)                                   # (K, B, E)
    picked = np.zeros((2, 5, 4))
    picked[..., 1] = 1.0
    np.testing.assert_allclose(gate_polarisation(even), [0.25, 0.25])
    np.testing.assert_allclose(gate_polarisation(picked), [1.0, 1.0])
    assert gate_polarisation(np.stack([even, picked])).shape == (2, 2)  # a run axis is kept
    with pytest.raises(ValueError, match="gates"):
        gate_polarisation(np.zeros((3, 4)))


def test_expert_similarity_is_one_for_identical_experts_and_checks_its_input():
    from mmoe_np.metrics import expert_similarity
    W = np.random.default_rng(0).normal(size=(4, 3, 1)).repeat(5, axis=-1)  # (D, U, E) with E copies
    np.testing.assert_allclose(expert_similarity(W), 1.0)
    orthogonal = np.eye(4).reshape(4, 1, 4)                           # four orthogonal experts
    np.testing.assert_allclose(expert_similarity(orthogonal), 0.0, atol=1e-15)
    assert expert_similarity(np.stack([W, -W])).shape == (2,)
    with pytest.raises(ValueError, match="E >= 2"):
        expert_similarity(np.ones((4, 3, 1)))
    with pytest.raises(ValueError, match="all zero"):
        expert_similarity(np.zeros((4, 3, 2)))
