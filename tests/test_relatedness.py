"""Covariance similarity and SVD task weights (Wu, Zhang & Re 2020)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mmoe_np as mn
from mmoe_np.relatedness import covariance_similarity, low_rank_covariance_factor, svd_task_weights


def inputs(seed, n=60, d=8, scale=None):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.2, 3.0, d) if scale is None else scale
    return rng.standard_normal((n, d)) * scale


def orthogonal(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_score_properties(seed1, seed2):
    X1, X2 = inputs(seed1), inputs(seed2, n=45)
    s = covariance_similarity(X1, X2)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(covariance_similarity(X2, X1), abs=1e-12)            # symmetric
    assert covariance_similarity(X1, X1) == pytest.approx(1.0, abs=1e-12)          # identical
    Q = orthogonal(8, seed1 + 1)                                                    # same feature rotation
    assert covariance_similarity(X1 @ Q, X2 @ Q) == pytest.approx(s, abs=1e-9)
    R1, R2 = orthogonal(60, seed1 + 2), orthogonal(45, seed2 + 3)                   # row rotations
    assert covariance_similarity(R1 @ X1, X2) == pytest.approx(s, abs=1e-9)
    assert covariance_similarity(X1, R2 @ X2) == pytest.approx(s, abs=1e-9)
    assert covariance_similarity(3.0 * X1, X2) == pytest.approx(s, abs=1e-9)        # scale-free


def test_score_extremes_and_keep():
    rng = np.random.default_rng(0)
    left = np.zeros((50, 6))
    left[:, :3] = rng.standard_normal((50, 3))
    right = np.zeros((40, 6))
    right[:, 3:] = rng.standard_normal((40, 3))
    assert covariance_similarity(left, right) == pytest.approx(0.0, abs=1e-12)      # orthogonal supports
    assert covariance_similarity(left, 2 * left) == pytest.approx(1.0)
    X = inputs(1, d=10, scale=np.geomspace(10, 0.01, 10))
    assert low_rank_covariance_factor(X, keep=0.5).shape[1] < low_rank_covariance_factor(X, keep=1.0).shape[1]
    A = low_rank_covariance_factor(X, keep=1.0)
    np.testing.assert_allclose(A @ A.T, X.T @ X, rtol=1e-10, atol=1e-9)            # full rank: exact


def test_score_tracks_the_input_shift():
    scores = [covariance_similarity(*mn.make_multitask(n=2000, d=20, n_tasks=2, input_shift=s, seed=0).X)
              for s in (0.0, 0.5, 1.0)]
    assert scores[0] > 0.9 and scores[0] > scores[1] > scores[2] and scores[2] < 1e-10


@pytest.mark.parametrize("X1, X2, match", [
    (np.zeros((5, 3)), np.ones((5, 4)), r"same number of features.*\(5, 3\).*\(5, 4\)"),
    (np.zeros((5, 3)), np.ones((5, 3)), "all zeros"),
    (np.ones(5), np.ones((5, 3)), "X1 must be 2-D"),
    (np.full((5, 3), np.nan), np.ones((5, 3)), "X1 contains NaN"),
])
def test_score_errors(X1, X2, match):
    with pytest.raises(ValueError, match=match):
        covariance_similarity(X1, X2)
    with pytest.raises(ValueError, match=r"keep must be in \(0.0"):
        covariance_similarity(np.ones((3, 2)), np.ones((3, 2)), keep=0)


def test_svd_task_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 10))
    w = rng.standard_normal(10)
    Y = np.stack([X @ w, 2 * X @ w, X @ rng.standard_normal(10)], axis=1)
    full = svd_task_weights(X, Y, rank=3)                       # nothing projected away: ||theta_i||
    thetas = X.T @ Y / len(X)
    np.testing.assert_allclose(full, np.linalg.norm(thetas, axis=0) / np.linalg.norm(thetas, axis=0).mean())
    assert svd_task_weights(X, Y, rank=1).mean() == pytest.approx(1.0)
    one = svd_task_weights(X, Y, rank=1)                        # tasks 1, 2 share a direction; task 3 not
    assert one[2] / one[0] < full[2] / full[0]
    noisy = np.stack([X @ w, X @ w + 0.01 * rng.standard_normal(400), 3 * X @ w + 30 * rng.standard_normal(400)], 1)
    plain, cosine = svd_task_weights(X, noisy, rank=1), svd_task_weights(X, noisy, rank=1, normalize=True)
    assert plain[2] > plain[0]                                  # the paper's rule favours the long, noisy theta
    assert cosine[2] < cosine[0] and cosine.mean() == pytest.approx(1.0)
    # per-task inputs and list targets give the same answer when the inputs are the same
    np.testing.assert_allclose(svd_task_weights([X] * 3, [Y[:, k] for k in range(3)], rank=2),
                               svd_task_weights(X, Y, rank=2))
    with pytest.raises(ValueError, match="rank must be between 1 and the number of tasks K=3"):
        svd_task_weights(X, Y, rank=4)
    with pytest.raises(ValueError, match="X has 400 rows but Y has 5"):
        svd_task_weights(X, Y[:5])
    with pytest.raises(ValueError, match="one input per task: 3 tasks in Y, 2 arrays in X"):
        svd_task_weights([X, X], Y)


def test_make_multitask():
    data = mn.make_multitask(n=500, d=12, n_tasks=3, p=0.3, noise_std=[0.0, 0.1, 1.0], seed=0)
    assert data.X.shape == (500, 12) and data.Y.shape == (500, 3)
    np.testing.assert_allclose(data.W @ data.W.T, 0.3 + 0.7 * np.eye(3), atol=1e-12)
    shifted = mn.make_multitask(n=300, d=12, n_tasks=2, input_shift=1.0, seed=0)
    assert shifted.per_task_inputs and len(shifted.X) == 2 and shifted.Y[1].shape == (300, 1)
    assert np.all(shifted.X[0][:, 6:] == 0) and np.all(shifted.X[1][:, :6] == 0)
    np.testing.assert_allclose(shifted.input_variances.sum(axis=1), 12)
    (Xtr, Ytr), (Xte, Yte) = shifted.split((0.8, 0.2))
    assert len(Xtr[0]) == 240 and len(Yte[1]) == 60
    again = mn.make_multitask(n=300, d=12, n_tasks=2, input_shift=1.0, seed=0)
    np.testing.assert_array_equal(again.Y[0], shifted.Y[0])
    with pytest.raises(ValueError, match="noise_std must be a scalar or n_tasks=3 values"):
        mn.make_multitask(n=10, d=5, n_tasks=3, noise_std=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\]"):
        mn.make_multitask(n=10, d=5, p=-0.5)
    with pytest.raises(ValueError, match="d must be >= n_tasks \\+ 1"):
        mn.make_multitask(n=10, d=3, n_tasks=3)
