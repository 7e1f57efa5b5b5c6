import numpy as np
import pytest

import mmoe_np as mn


@pytest.mark.parametrize("p", [-1.0, -0.3, 0.0, 0.5, 0.9, 1.0])
def test_weights_have_cosine_p_and_norm_c(p):
    data = mn.make_synthetic(n=50, d=20, p=p, c=2.5, seed=3)
    cos = data.w1 @ data.w2 / (np.linalg.norm(data.w1) * np.linalg.norm(data.w2))
    assert cos == pytest.approx(p, abs=1e-12)
    assert np.linalg.norm(data.w1) == pytest.approx(2.5)
    assert np.linalg.norm(data.w2) == pytest.approx(2.5)


def test_shapes_dtypes_and_labels_follow_the_formula():
    data = mn.make_synthetic(n=300, d=100, p=0.5, m=10, noise_std=0.0, seed=0)
    assert data.X.shape == (300, 100) and data.Y.shape == (300, 2)
    assert data.X.dtype == np.float64 and data.alpha.shape == data.beta.shape == (10,)
    for k, w in enumerate([data.w1, data.w2]):
        for row in (0, 17, 299):  # the paper's formula, one sample at a time
            s = w @ data.X[row]
            y = s + sum(np.sin(a * s + b) for a, b in zip(data.alpha, data.beta))
            assert data.Y[row, k] == pytest.approx(y, abs=1e-12)


def test_same_seed_same_data_and_different_seed_different_data():
    a = mn.make_synthetic(n=20, d=10, seed=7)
    b = mn.make_synthetic(n=20, d=10, seed=7)
    c = mn.make_synthetic(n=20, d=10, seed=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert not np.allclose(a.X, c.X)


def test_noise_std_is_a_standard_deviation():
    clean = mn.make_synthetic(n=20_000, d=10, noise_std=0.0, seed=1)
    noisy = mn.make_synthetic(n=20_000, d=10, noise_std=0.5, seed=1)
    # same X, alpha, beta draws come first, so the difference is the noise alone
    assert np.std(noisy.Y - clean.Y) == pytest.approx(0.5, rel=0.03)


def test_label_correlation_grows_with_weight_cosine():
    corr = [np.corrcoef(mn.make_synthetic(n=20_000, d=100, p=p, seed=2).Y.T)[0, 1]
            for p in (0.0, 0.5, 1.0)]
    assert corr[0] < corr[1] < corr[2]
    assert corr[2] > 0.99


def test_fixed_alpha_beta():
    alpha, beta = np.arange(1.0, 4.0), np.arange(3.0) ** 2
    data = mn.make_synthetic(n=10, d=5, m=3, alpha=alpha, beta=beta, seed=0)
    np.testing.assert_array_equal(data.alpha, alpha)
    with pytest.raises(ValueError, match="alpha must have shape"):
        mn.make_synthetic(n=10, d=5, m=4, alpha=alpha, seed=0)


def test_split_is_consecutive_and_complete():
    data = mn.make_synthetic(n=100, d=5, seed=0)
    parts = data.split((0.8, 0.1, 0.1))
    assert [len(x) for x, _ in parts] == [80, 10, 10]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in parts]), data.X)


@pytest.mark.parametrize("kwargs, match", [
    (dict(p=1.5), "p must be in"),
    (dict(p=float("nan")), "p must be finite"),
    (dict(n=0), "n must be a positive integer"),
    (dict(n=2.5), "n must be a positive integer"),
    (dict(d=1), "d must be >= 2"),
    (dict(m=-1), "m must be a non-negative integer"),
    (dict(c=0.0), "c must be in"),
    (dict(noise_std=-0.1), "noise_std must be in"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mn.make_synthetic(**{"n": 10, "d": 5, **kwargs})
