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


def test_a_run_of_the_stream_does_not_depend_on_the_other_runs():
    """Run r draws from its own generator: the same data in any set or chunk of runs."""
    a = mn.SyntheticRuns([5, 6, 7], [0.5, 1.0], d=8, n_val=20, n_test=30)
    b = mn.SyntheticRuns([6], [0.5, 1.0], d=8, n_val=20, n_test=30)
    np.testing.assert_array_equal(a.test[0][1], b.test[0][0])
    np.testing.assert_array_equal(a.validation[1][1][1], b.validation[1][1][0])
    for _ in range(3):
        (Xa, Ya), (Xb, Yb) = a.next_batch(16), b.next_batch(16)
        np.testing.assert_array_equal(Xa[1], Xb[0])
        np.testing.assert_array_equal(Ya[1][1], Yb[1][0])


def test_the_stream_follows_the_papers_recipe_and_pairs_the_correlations():
    s = mn.SyntheticRuns([3], [0.0, 0.5, 1.0], d=10, m=4, noise_std=0.0, n_val=10, n_test=10)
    X, (y1, y2) = s.next_batch(50)
    assert X.shape == (1, 1, 50, 10) and y1.shape == y2.shape == (1, 3, 50, 1)
    W, alpha, beta = s.W[0], s.alpha[0], s.beta[0]                       # (d, 1 + C): w1, then w2 per p
    for i, p in enumerate([0.0, 0.5, 1.0]):
        cos = W[:, 0] @ W[:, 1 + i] / (np.linalg.norm(W[:, 0]) * np.linalg.norm(W[:, 1 + i]))
        assert cos == pytest.approx(p, abs=1e-12)
        s2 = X[0, 0] @ W[:, 1 + i]
        np.testing.assert_allclose(y2[0, i, :, 0], s2 + np.sin(s2[:, None] * alpha + beta).sum(1), rtol=1e-12)
    np.testing.assert_array_equal(y1[0, 0], y1[0, 2])                   # task 1 does not change with p
    np.testing.assert_allclose(y2[0, 2], y1[0, 2], rtol=1e-12)          # p = 1: the same task


def test_a_fixed_training_set_is_sampled_epoch_by_epoch():
    s = mn.SyntheticRuns([1, 2], [0.5], d=4, n_train=20, n_val=5, n_test=5)
    seen = np.concatenate([s.next_batch(5)[0][:, 0] for _ in range(4)], axis=1)        # one epoch: (2, 20, 4)
    assert len(np.unique(seen[0], axis=0)) == 20                                      # every row once
    assert not np.allclose(seen[0], seen[1])
