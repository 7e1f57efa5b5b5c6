r"""The paper's synthetic multi-task regression data (Ma et al., KDD 2018, §3.2).

Two regression tasks whose relatedness is one number, the cosine ``p`` between the two
tasks' weight vectors:

1. Draw orthonormal :math:`u_1, u_2 \in \mathbb{R}^d`.
2. :math:`w_1 = c\,u_1`, :math:`w_2 = c\,(p\,u_1 + \sqrt{1-p^2}\,u_2)`, so
   :math:`\cos(w_1, w_2) = p` and :math:`\|w_k\| = c`.
3. Draw inputs :math:`x \sim N(0, I_d)`.
4. :math:`y_k = w_k^\top x + \sum_{i=1}^m \sin(\alpha_i w_k^\top x + \beta_i) + \epsilon_k`.

Choices the paper leaves open (all are parameters; these are our defaults):

- ``d = 100`` is the paper's value.
- ``c = 1.0``: the paper calls c "a scale constant" and gives no value.
- ``m = 10`` sinusoids: no value in the paper.
- ``alpha_i, beta_i ~ N(0, 1)``, drawn once per data set (shared by both tasks): the paper
  calls them "given parameters" without a distribution. Pass ``alpha=`` and ``beta=`` to fix
  them (Google Research's generator for this paper uses ``alpha_i = i``, ``beta_i = (i-1)**2``).
- ``epsilon_k ~ N(0, noise_std**2)`` independently per task, ``noise_std = 0.01``: the
  paper says "i.i.d. N(0, 0.01)" without saying whether 0.01 is a variance or a standard
  deviation; we read it as a standard deviation and name the argument for it.

The label correlation grows with ``p`` but is not equal to it (the non-linear terms and the
noise weaken it): lesson 01 reproduces the paper's Figure 2 to show this.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _checks


@dataclass(frozen=True)
class SyntheticData:
    """One draw of the synthetic data set.

    Attributes
    ----------
    X : (n, d) float64 inputs.
    Y : (n, 2) float64 labels; column k is task k.
    w1, w2 : (d,) task weight vectors, ``cos(w1, w2) == p``, ``|w_k| == c``.
    alpha, beta : (m,) sinusoid frequencies and phases.
    p : the requested weight cosine.
    """

    X: np.ndarray
    Y: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    p: float

    def split(self, fractions=(0.8, 0.1, 0.1)):
        """Cut the rows, in order, into consecutive parts (rows are already i.i.d.).

        Returns a list of ``(X, Y)`` pairs, one per fraction (see :func:`split_rows`).
        """
        return [(X, Y) for X, Y in zip(*(split_rows(a, fractions) for a in (self.X, self.Y)))]


def split_rows(A, fractions, name="fractions"):
    """Consecutive row ranges of ``A`` with the given fractions of its rows: a list of views.

    ``fractions`` must be positive and sum to 1; a part that would get no row is an error.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or len(fractions) == 0 or np.any(~(fractions > 0)) or not np.isclose(fractions.sum(), 1):
        raise ValueError(f"{name} must be positive and sum to 1, got {fractions.tolist()}")
    n = len(A)
    edges = np.round(np.cumsum(fractions) * n).astype(int)
    starts = np.concatenate([[0], edges[:-1]])
    if np.any(edges <= starts):
        raise ValueError(f"{n} rows are too few to split by {fractions.tolist()}: a part would be empty")
    return [A[a:b] for a, b in zip(starts, edges)]


def label_weight_vectors(d: int, p: float, c: float, rng: np.random.Generator):
    """Steps 1-2: orthonormal u1, u2, then w1, w2 with cosine ``p`` and norm ``c``."""
    q, _ = np.linalg.qr(rng.standard_normal((d, 2)))   # (d, 2), orthonormal columns
    return weights_from(q[:, 0], q[:, 1], p, c)


def weights_from(u1, u2, p, c):
    """Step 2: ``w1 = c u1``, ``w2 = c (p u1 + sqrt(1 - p^2) u2)``; ``p`` may be an array (one w2 each)."""
    p = np.asarray(p, dtype=float)[..., None]
    return c * u1, c * (p * u1 + np.sqrt(1.0 - p * p) * u2)


def labels(S, alpha, beta):
    """Step 4 without the noise: ``y = s + sum_i sin(alpha_i s + beta_i)`` for every entry of ``S = w^T x``."""
    return S + np.sin(S[..., None] * alpha + beta).sum(axis=-1)


def _fixed(name, values, m):
    return _checks.finite_array(name, values, ndim=1, dtype=np.float64, shape=(m,))


def make_synthetic(n: int = 10_000, d: int = 100, p: float = 0.5, m: int = 10, c: float = 1.0,
                   noise_std: float = 0.01, seed=0, alpha=None, beta=None) -> SyntheticData:
    """Draw ``n`` examples of the paper's two related regression tasks.

    Parameters
    ----------
    n : number of examples.
    d : input dimension (paper: 100); at least 2 (u1 and u2 must be orthogonal).
    p : cosine between the task weight vectors, in [-1, 1].
    m : number of sinusoids (0 gives two linear tasks).
    c : norm of each weight vector, > 0.
    noise_std : standard deviation of the label noise, >= 0.
    seed : int or ``numpy.random.Generator``; the only source of randomness.
    alpha, beta : optional (m,) arrays; default: drawn from N(0, 1).

    Returns
    -------
    SyntheticData with ``X`` (n, d) and ``Y`` (n, 2).
    """
    n = _checks.positive_int("n", n)
    d = _checks.positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be >= 2 (u1 and u2 are orthogonal directions), got {d}")
    p = _checks.real("p", p, low=-1.0, high=1.0)
    m = _checks.non_negative_int("m", m)
    c = _checks.real("c", c, low=0.0, low_open=True)
    noise_std = _checks.real("noise_std", noise_std, low=0.0)
    rng = _checks.generator("seed", seed)

    w1, w2 = label_weight_vectors(d, p, c, rng)
    alpha = rng.standard_normal(m) if alpha is None else _fixed("alpha", alpha, m)
    beta = rng.standard_normal(m) if beta is None else _fixed("beta", beta, m)
    X = rng.standard_normal((n, d))                      # (n, d)

    S = X @ np.stack([w1, w2], axis=1)                   # (n, 2): w_k^T x
    # w_k^T x + sum_i sin(alpha_i w_k^T x + beta_i), all rows, tasks and sinusoids at once
    Y = labels(S, alpha, beta) + noise_std * rng.standard_normal((n, 2))
    return SyntheticData(X=X, Y=Y, w1=w1, w2=w2, alpha=alpha, beta=beta, p=p)
