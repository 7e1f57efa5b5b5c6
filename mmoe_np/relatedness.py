r"""How related are two tasks' data? Tools from Wu, Zhang & Ré, "Understanding and Improving
Information Transfer in Multi-Task Learning" (ICLR 2020).

- :func:`covariance_similarity` compares two tasks' *inputs* through their covariance
  (``X_i^T X_i``): do the tasks' inputs spread along the same directions?
- :func:`svd_task_weights` turns the tasks' *labels* into loss weights: each task is
  weighted by how much of its linear signal ``theta_i = X_i^T y_i`` lies in the directions
  the tasks share (the best rank-r approximation of ``[theta_1 ... theta_K]``).

Both are plain NumPy and cheap (one thin SVD per task); they run before any training.
"""
from __future__ import annotations

import numpy as np

from . import _checks


def low_rank_covariance_factor(X, keep=0.99):
    r"""The factor ``A = U_r D_r^{1/2}`` of the rank-r approximation of ``X^T X``.

    .. math:: X^\top X = U D U^\top \approx U_r D_r U_r^\top = A A^\top

    ``r`` is the smallest rank whose singular values (of ``X^T X``, the diagonal of D) add
    up to at least ``keep`` of their total. Computed from the thin SVD of X itself
    (``X = P S V^T`` gives ``X^T X = V S^2 V^T``), never forming ``X^T X``.

    X: (n, d). Returns A: (d, r).
    """
    X = _checks.finite_array("X", X, ndim=2, dtype=np.float64)
    keep = _checks.real("keep", keep, low=0.0, high=1.0, low_open=True)
    if X.size == 0:
        raise ValueError(f"X must have at least one row and one column, got shape {X.shape}")
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    eigenvalues = s**2                                        # singular values of X^T X
    total = eigenvalues.sum()
    if total == 0:
        raise ValueError("X is all zeros: its covariance has no direction to compare")
    r = int(np.searchsorted(np.cumsum(eigenvalues), keep * total * (1 - 1e-12)) + 1)
    return Vt[:r].T * s[:r]                                   # U_r D_r^{1/2}: (d, r)


def covariance_similarity(X1, X2, keep=0.99) -> float:
    r"""Covariance similarity score of two tasks' inputs, in [0, 1].

    With ``A_i = U_i D_i^{1/2}`` the factor of the rank-r approximation of ``X_i^T X_i``
    (keeping ``keep`` of its singular values, see :func:`low_rank_covariance_factor`):

    .. math::

        \mathrm{score}(X_1, X_2) =
            \frac{\lVert A_1^\top A_2 \rVert_F}
                 {\left(\lVert A_1^\top A_1 \rVert_F\, \lVert A_2^\top A_2 \rVert_F\right)^{1/2}}
          = \left(\frac{\langle \Sigma_1, \Sigma_2 \rangle_F}
                       {\lVert \Sigma_1 \rVert_F \lVert \Sigma_2 \rVert_F}\right)^{1/2},
        \quad \Sigma_i = A_i A_i^\top

    i.e. the square root of the cosine between the two (truncated) covariance matrices.
    It is 1 when one covariance is a multiple of the other, 0 when the inputs live in
    orthogonal subspaces; it is symmetric, ignores the inputs' scale, and is unchanged
    when both inputs' features are rotated by one orthogonal matrix (``X_i -> X_i Q``) or
    when either input's rows are (``X_i -> R X_i``: ``X_i^T X_i`` does not change).

    Note on the normaliser: Wu et al. write ``||A_1||_F ||A_2||_F`` below the same
    numerator. That equals ``(tr Sigma_1 tr Sigma_2)^{1/2}``, so identical inputs would
    score ``||D||_F / tr D < 1`` unless r = 1 (e.g. 0.1 for isotropic inputs in d = 100).
    We normalise by ``(||A_1^T A_1||_F ||A_2^T A_2||_F)^{1/2}`` instead, which by
    Cauchy-Schwarz keeps the score in [0, 1] and makes identical inputs score exactly 1.

    X1: (n1, d), X2: (n2, d) -- any numbers of rows, the same features.
    """
    X1 = _checks.finite_array("X1", X1, ndim=2, dtype=np.float64)
    X2 = _checks.finite_array("X2", X2, ndim=2, dtype=np.float64)
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(f"X1 and X2 must have the same number of features (columns), "
                         f"got X1 {X1.shape} and X2 {X2.shape}")
    A1 = low_rank_covariance_factor(X1, keep)                 # (d, r1)
    A2 = low_rank_covariance_factor(X2, keep)                 # (d, r2)
    cross = np.linalg.norm(A1.T @ A2)                         # ||A1^T A2||_F
    own = np.sqrt(np.linalg.norm(A1.T @ A1) * np.linalg.norm(A2.T @ A2))
    return float(min(cross / own, 1.0))                       # clip rounding above 1


def svd_task_weights(X, Y, rank=1, normalize=False):
    r"""SVD-based task reweighting (Wu et al. 2020, Algorithm 2), weights with mean 1.

    1. each task's linear signal :math:`\theta_i = X_i^\top y_i / n_i` (d,);
    2. the best rank-r approximation of :math:`\Theta = [\theta_1 \dots \theta_K]`:
       :math:`\Theta \approx U_r D_r V_r^\top` (its top r left singular vectors U_r);
    3. task i's weight is the length of its projection, :math:`\lVert U_r^\top \theta_i \rVert`.

    The weights are scaled to mean 1 (only their ratios matter to the loss, and the mean-1
    scale keeps the learning rate meaningful). With rank = K nothing is projected away and
    the weights are the tasks' signal lengths ``||theta_i||``; smaller ranks keep only what
    the tasks share.

    Beware (lesson 12 measures it): label noise *lengthens* ``theta_i`` (it adds
    ``X_i^T eps_i / n_i``), so as written the rule gives a noisy task *more* weight.
    ``normalize=True`` is our variant: each ``theta_i`` is scaled to unit length before the
    SVD, so the weight is the cosine between task i's signal and the shared directions --
    a task whose signal points elsewhere (noise, an unrelated target) gets less weight.

    Parameters
    ----------
    X : (n, d) array shared by all tasks, or a list of K arrays (n_i, d) (per-task inputs).
    Y : (n, K) array, or a list of K arrays (n_i,) or (n_i, 1).
    rank : r in 1..K.
    normalize : scale each theta_i to unit length first (default False: the paper's rule).

    Returns ``weights`` (K,), mean 1.
    """
    thetas = task_signals(X, Y)                               # (d, K)
    if normalize:
        lengths = np.linalg.norm(thetas, axis=0)
        thetas = thetas / np.where(lengths > 0, lengths, 1.0)
    K = thetas.shape[1]
    rank = _checks.positive_int("rank", rank)
    if rank > K:
        raise ValueError(f"rank must be between 1 and the number of tasks K={K}, got {rank}")
    U, _, _ = np.linalg.svd(thetas, full_matrices=False)
    weights = np.linalg.norm(U[:, :rank].T @ thetas, axis=0)  # ||U_r^T theta_i||
    if not weights.any():
        raise ValueError("every task's signal X^T y is zero: no weights can be derived")
    return weights / weights.mean()


def task_signals(X, Y):
    r"""The tasks' linear signals :math:`\theta_i = X_i^\top y_i / n_i`, stacked: (d, K).

    Same ``X``/``Y`` forms as :func:`svd_task_weights`.
    """
    if isinstance(Y, (list, tuple)):
        ys = [_checks.finite_array(f"Y[{k}]", np.reshape(np.asarray(y, dtype=np.float64), (len(y), -1)),
                                   ndim=2, dtype=np.float64) for k, y in enumerate(Y)]
        for k, y in enumerate(ys):
            if y.shape[1] != 1:
                raise ValueError(f"Y[{k}] must be (n,) or (n, 1): one target per row, got shape {y.shape}")
        ys = [y[:, 0] for y in ys]
    else:
        Y = _checks.finite_array("Y", Y, ndim=2, dtype=np.float64)
        ys = list(Y.T)
    K = len(ys)
    if K < 1:
        raise ValueError("Y must hold at least one task")
    if isinstance(X, (list, tuple)):
        if len(X) != K:
            raise ValueError(f"X must hold one input per task: {K} tasks in Y, {len(X)} arrays in X")
        Xs = [_checks.finite_array(f"X[{k}]", x, ndim=2, dtype=np.float64) for k, x in enumerate(X)]
        if len({x.shape[1] for x in Xs}) != 1:
            raise ValueError(f"every X[k] must have the same features, got widths {[x.shape[1] for x in Xs]}")
    else:
        Xs = [_checks.finite_array("X", X, ndim=2, dtype=np.float64)] * K
    for k, (x, y) in enumerate(zip(Xs, ys)):
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"task {k}: X has {len(x)} rows but Y has {len(y)} targets (need equal, >= 1)")
    return np.stack([x.T @ y / len(x) for x, y in zip(Xs, ys)], axis=1)
