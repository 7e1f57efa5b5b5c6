r"""K related regression tasks, optionally each with its own inputs (lessons 10-13).

The paper's generator (:mod:`.synthetic`) makes two tasks that read one input. This one
keeps its recipe -- :math:`y_k = w_k^\top x + \sum_i \sin(\alpha_i w_k^\top x + \beta_i) + \epsilon_k`
-- and adds the three knobs the "when does sharing help?" lessons turn:

- ``n_tasks`` = K tasks, every pair with the same weight cosine ``p`` (0 <= p <= 1):
  :math:`w_k = c\,(\sqrt{p}\,u_0 + \sqrt{1-p}\,u_k)` with :math:`u_0 \dots u_K` orthonormal,
  so :math:`\cos(w_j, w_k) = p` and :math:`\lVert w_k \rVert = c`. (For K = 2 this is a
  different construction from the paper's, with the same cosine.)
- ``noise_std``: one label-noise level per task (a scalar is used for all).
- ``input_shift`` = s in [0, 1]: each task draws its **own** inputs
  :math:`x \sim N(0, \Sigma_k)`. The d features are cut into K blocks;
  :math:`\Sigma_k = \mathrm{diag}(v_k)`, :math:`v_{k,j} = (1 - s) + s\,K\,[j \in \text{block } k]`.
  s = 0: the same isotropic distribution for every task; s = 1: task k's inputs vary only
  on its own block (disjoint supports). Every :math:`\Sigma_k` has trace d, so the inputs'
  overall scale does not change with s. ``input_shift=None`` gives the paper's setting:
  one input array for all tasks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _checks
from .synthetic import split_rows


@dataclass(frozen=True)
class MultiTaskData:
    """One draw of K related tasks.

    Attributes
    ----------
    X : (n, d) array read by every task (``input_shift=None``), or a list of K arrays (n, d),
        task k's own inputs.
    Y : (n, K) labels (shared input), or a list of K arrays (n, 1).
    W : (K, d) task weight vectors (row k is w_k).
    alpha, beta : (m,) sinusoid parameters, shared by the tasks.
    noise_std : (K,) label-noise standard deviations.
    input_variances : (K, d) the diagonal of each task's input covariance (all ones when shared).
    """

    X: object
    Y: object
    W: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    noise_std: np.ndarray
    input_variances: np.ndarray

    @property
    def per_task_inputs(self) -> bool:
        return isinstance(self.X, list)

    def split(self, fractions=(0.8, 0.2)):
        """Cut every task's rows, in order, into consecutive parts: a list of (X, Y) pairs
        (see :func:`~mmoe_np.data.synthetic.split_rows`)."""
        if not self.per_task_inputs:
            return list(zip(split_rows(self.X, fractions), split_rows(self.Y, fractions)))
        columns = [split_rows(a, fractions) for a in self.X + self.Y]       # per array, its parts
        K = len(self.X)
        return [([c[i] for c in columns[:K]], [c[i] for c in columns[K:]]) for i in range(len(columns[0]))]


def input_variances(d: int, n_tasks: int, input_shift: float) -> np.ndarray:
    """(K, d): the diagonal of each task's input covariance for a given shift s."""
    blocks = np.array_split(np.arange(d), n_tasks)
    v = np.full((n_tasks, d), 1.0 - input_shift)
    for k, block in enumerate(blocks):
        v[k, block] += input_shift * d / len(block)   # = s*K for equal blocks; trace stays d
    return v


def make_multitask(n: int = 10_000, d: int = 100, n_tasks: int = 3, p: float = 0.5, m: int = 10,
                   c: float = 1.0, noise_std=0.01, input_shift=None, seed=0) -> MultiTaskData:
    """Draw ``n`` examples of each of ``n_tasks`` related regression tasks.

    Parameters
    ----------
    n : examples per task.
    d : input dimension, >= n_tasks + 1 (u_0..u_K must be orthonormal).
    n_tasks : K >= 1.
    p : weight cosine between every pair of tasks, in [0, 1].
    m : number of sinusoids; c : norm of every w_k.
    noise_std : scalar or (K,) label-noise standard deviations, >= 0.
    input_shift : None (one shared input, the paper's setting) or s in [0, 1] (per-task
        inputs, see the module docstring).
    seed : int or Generator; alpha, beta ~ N(0, 1) as in :func:`~.synthetic.make_synthetic`.
    """
    n = _checks.positive_int("n", n)
    K = _checks.positive_int("n_tasks", n_tasks)
    d = _checks.positive_int("d", d)
    if d < K + 1:
        raise ValueError(f"d must be >= n_tasks + 1 = {K + 1} (u_0..u_K are orthonormal), got {d}")
    p = _checks.real("p", p, low=0.0, high=1.0)
    m = _checks.non_negative_int("m", m)
    c = _checks.real("c", c, low=0.0, low_open=True)
    noise = np.asarray(noise_std, dtype=np.float64)
    noise = np.full(K, float(noise)) if noise.ndim == 0 else noise
    if noise.shape != (K,) or not np.all(np.isfinite(noise)) or np.any(noise < 0):
        raise ValueError(f"noise_std must be a scalar or n_tasks={K} values, all finite and >= 0, "
                         f"got {noise_std!r}")
    if input_shift is not None:
        input_shift = _checks.real("input_shift", input_shift, low=0.0, high=1.0)
    rng = _checks.generator("seed", seed)

    q, _ = np.linalg.qr(rng.standard_normal((d, K + 1)))          # u_0 .. u_K: (d, K+1)
    W = c * (np.sqrt(p) * q[:, :1] + np.sqrt(1.0 - p) * q[:, 1:]).T   # (K, d)
    alpha, beta = rng.standard_normal(m), rng.standard_normal(m)

    def labels(S, noise):                            # S: (n, k) = w_k^T x; noise: (k,)
        waves = np.sin(S[:, :, None] * alpha + beta).sum(axis=2)   # sum_i sin(alpha_i w_k^T x + beta_i)
        return S + waves + noise * rng.standard_normal(S.shape)

    if input_shift is None:
        X = rng.standard_normal((n, d))
        return MultiTaskData(X=X, Y=labels(X @ W.T, noise), W=W, alpha=alpha, beta=beta,
                             noise_std=noise, input_variances=np.ones((K, d)))
    variances = input_variances(d, K, input_shift)
    Xs = [rng.standard_normal((n, d)) * np.sqrt(variances[k]) for k in range(K)]
    Ys = [labels(x @ W[k:k + 1].T, noise[k:k + 1]) for k, x in enumerate(Xs)]    # K x (n, 1)
    return MultiTaskData(X=Xs, Y=Ys, W=W, alpha=alpha, beta=beta, noise_std=noise,
                         input_variances=variances)
