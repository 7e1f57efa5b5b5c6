r"""The paper's synthetic tasks for many runs at once, with fresh training samples every step.

:func:`~mmoe_np.data.synthetic.make_synthetic` draws one fixed data set. A study of hundreds
of runs needs each run to have its own task weights, sinusoids and data, and -- to stay in
the paper's "enough data" regime -- fresh samples at every step. :class:`SyntheticRuns` does
that for R runs and C correlations at once:

- run r's seed fixes everything about run r: u1, u2 (so w1 and every correlation's w2),
  alpha, beta, its validation and test sets, and its stream of training samples;
- every correlation of a run shares all of these (only w2 changes with p), so comparisons
  across correlations -- and across models trained on the same stream -- are paired;
- each step draws ``batch_size`` new inputs per run; memory does not grow with the number of
  samples seen (``n_train=None``). ``n_train=N`` instead draws a fixed training set of N
  points per run, sampled epoch by epoch (the "little data" regime, for comparison).

Shapes: X (R, 1, B, d) -- one input per run, read at every correlation -- and a list of the
two tasks' targets, each (R, C, B, 1). Run r of the stream equals the same seed's run in any
other set of runs (runs never share a generator), so a study split into chunks of runs, on
any number of processes, draws exactly the same data.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from .sampling import EpochSampler
from .synthetic import labels, weights_from


class SyntheticRuns:
    """The synthetic tasks (paper §3.2) for R runs and C correlations; a batch source for ``fit``.

    Parameters
    ----------
    seeds : (R,) non-negative integers, one per run.
    correlations : (C,) weight cosines p in [-1, 1].
    d, m, c, noise_std : as in :func:`~mmoe_np.data.synthetic.make_synthetic`.
    alpha_beta : "normal" (alpha_i, beta_i ~ N(0, 1) per run) or "google" (alpha_i = i,
        beta_i = (i - 1)^2, Google Research's generator for the paper).
    n_val, n_test : fixed validation and test points per run.
    n_train : None for fresh samples every step; an integer for a fixed training set per run.
    dtype : dtype of the arrays handed out (data are drawn in float64, then cast, so float32
        and float64 studies see the same data).
    """

    def __init__(self, seeds, correlations, *, d=100, m=10, c=1.0, noise_std=0.01, alpha_beta="normal",
                 n_val=1000, n_test=2000, n_train=None, dtype=np.float64):
        seeds = [int(_checks.non_negative_int("seeds", s)) for s in np.atleast_1d(np.asarray(seeds, dtype=object))]
        self.correlations = np.array([_checks.real("correlations", p, low=-1.0, high=1.0) for p in correlations])
        self.d = _checks.positive_int("d", d)
        if self.d < 2:
            raise ValueError(f"d must be >= 2 (u1 and u2 are orthogonal directions), got {d}")
        self.m = _checks.non_negative_int("m", m)
        self.c = _checks.real("c", c, low=0.0, low_open=True)
        self.noise_std = _checks.real("noise_std", noise_std, low=0.0)
        _checks.choice("alpha_beta", alpha_beta, ("normal", "google"))
        self.n_val, self.n_test = (_checks.positive_int(n, v) for n, v in (("n_val", n_val), ("n_test", n_test)))
        self.n_train = None if n_train is None else _checks.positive_int("n_train", n_train)
        self.dtype = _checks.float_dtype("dtype", dtype)
        self.rngs = [np.random.default_rng(s) for s in seeds]
        W, alpha, beta = [], [], []
        for rng in self.rngs:
            q, _ = np.linalg.qr(rng.standard_normal((self.d, 2)))          # u1, u2 of this run
            w1, w2 = weights_from(q[:, 0], q[:, 1], self.correlations, self.c)
            W.append(np.concatenate([w1[None], w2]).T)                      # (d, 1 + C): w1, then w2 per p
            if alpha_beta == "google":
                alpha.append(np.arange(1.0, self.m + 1))
                beta.append(np.arange(self.m, dtype=float) ** 2)
            else:
                alpha.append(rng.standard_normal(self.m))
                beta.append(rng.standard_normal(self.m))
        self.W, self.alpha, self.beta = np.stack(W), np.stack(alpha), np.stack(beta)   # (R, d, 1+C), (R, m)
        self.validation = self._draw(self.n_val)
        self.test = self._draw(self.n_test)
        self._train = None if self.n_train is None else self._draw(self.n_train, cast=False)
        self._sampler = EpochSampler(self.n_train, self.rngs) if self.n_train is not None else None

    @property
    def n_runs(self):
        return len(self.rngs)

    @property
    def training_set(self):
        """The fixed training set (``n_train``): X (R, 1, n_train, d) in float64 and the targets as
        :meth:`next_batch` gives them; None when every step draws fresh samples. (A copy of the stream on a
        GPU uploads it once and draws its batches there, with :attr:`sampler`.)"""
        return self._train

    @property
    def sampler(self):
        """The :class:`~mmoe_np.data.sampling.EpochSampler` that orders the fixed training set (None when
        streaming); :meth:`next_batch` draws its rows from it."""
        return self._sampler

    def _inputs_and_noise(self, n):
        """Each run's next n inputs and label noise from its own generator: (R, n, d), (R, n, 2)."""
        X = np.empty((self.n_runs, n, self.d))
        noise = np.empty((self.n_runs, n, 2))
        for r, rng in enumerate(self.rngs):
            rng.standard_normal(out=X[r])
            rng.standard_normal(out=noise[r])
        return X, noise * self.noise_std

    def _targets(self, X, noise):
        """The two tasks' labels at every correlation: a list of two (R, C, n, 1) arrays."""
        S = np.matmul(X, self.W)                                            # (R, n, 1 + C): w^T x
        Y = labels(S, self.alpha[:, None, None, :], self.beta[:, None, None, :])    # (R, n, 1 + C)
        C = len(self.correlations)
        y1 = np.broadcast_to((Y[:, :, 0] + noise[:, :, 0])[:, None, :, None], (self.n_runs, C, X.shape[1], 1))
        y2 = (Y[:, :, 1:] + noise[:, :, 1:2]).transpose(0, 2, 1)[..., None]          # (R, C, n, 1)
        return [np.ascontiguousarray(y1, dtype=self.dtype), np.ascontiguousarray(y2, dtype=self.dtype)]

    def _draw(self, n, cast=True):
        X, noise = self._inputs_and_noise(n)
        Y = self._targets(X, noise)
        return (X[:, None].astype(self.dtype) if cast else X[:, None]), Y

    def next_batch(self, batch_size):
        """The next training batch: X (R, 1, B, d) and the two tasks' targets, each (R, C, B, 1)."""
        batch_size = _checks.positive_int("batch_size", batch_size)
        if self._train is None:                                             # fresh samples
            X, noise = self._inputs_and_noise(batch_size)
            return X[:, None].astype(self.dtype), self._targets(X, noise)
        X, Y = self._train
        idx = self._sampler.next(batch_size)                                # (R, B): epoch by epoch, per run
        rows = np.arange(self.n_runs)[:, None]
        Xb = X[rows, 0, idx][:, None]                                       # (R, 1, B, d)
        return Xb.astype(self.dtype), [y[rows[:, :, None], np.arange(y.shape[1])[None, :, None], idx[:, None]]
                                       for y in Y]
