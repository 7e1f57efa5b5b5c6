"""What every model shares: parameters in one dict, K task towers, argument checks,
backend selection, ``.npz`` save/load.

A subclass builds ``self.params`` and implements two methods for its shared part:

- ``_shared_forward(X) -> (F, cache)``: F (K, B, U) -- or (1, B, U) when all towers read
  the same representation -- the input of the towers;
- ``_shared_backward(cache, dF) -> dict`` of gradients for the shared parameters.

Inputs come in two forms, everywhere (``forward``, ``predict``, ``fit``, ``evaluate``):

- one array ``X`` (B, D) read by every task -- the paper's setting;
- a list of K arrays ``[X_1 ... X_K]`` (B_k, D): **per-task inputs**, task k reads only
  its own rows. The model stacks the rows, runs once on all of them, and hands task k the
  predictions for its own rows; in backward the other rows get zero gradient from task k.
  Every model supports it through this one mechanism (the experts run once per row; the
  gates, mixtures and towers run for every task on every row, which costs K times their
  small share of the work).
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from ..kernels import get_kernels
from ..nn import layers


class _PerTaskCache:
    """The cache of a per-task forward pass: row edges of each task, and the stacked pass's cache."""

    def __init__(self, edges, cache):
        self.edges, self.cache = edges, cache


def glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (keras' default).

    Each expert gets its own independent draw, so experts start out different.
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


class MultiTaskModel:
    """Base class: towers, checks, save/load. Not used on its own."""

    def __init__(self, *, n_features, n_tasks, tower_units, out_units, seed, backend, dtype):
        self.n_features = _checks.positive_int("n_features", n_features)
        self.n_tasks = _checks.positive_int("n_tasks", n_tasks)
        self.tower_units = _checks.positive_int("tower_units", tower_units)
        self.out_units = _checks.positive_int("out_units", out_units)
        self.dtype = _checks.float_dtype("dtype", dtype)
        self.backend = backend
        self.kernels = get_kernels(backend)
        self.seed = seed
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}

    # ----------------------------------------------------------------- parameters
    def _init_towers(self, input_units):
        """K towers: dense(input_units -> T) + ReLU, dense(T -> O); zero biases."""
        K, T, O = self.n_tasks, self.tower_units, self.out_units
        rng, dt = self._rng, self.dtype
        self.params["tower_kernel"] = glorot_uniform(rng, (K, input_units, T), input_units, T, dt)
        self.params["tower_bias"] = np.zeros((K, T), dt)
        self.params["output_kernel"] = glorot_uniform(rng, (K, T, O), T, O, dt)
        self.params["output_bias"] = np.zeros((K, O), dt)

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        return int(sum(p.size for p in self.params.values()))

    # ------------------------------------------------------------------- checks
    def _check_X(self, X):
        """An array (B, D), or a list of K arrays (B_k, D) for per-task inputs."""
        if isinstance(X, (list, tuple)):
            if len(X) != self.n_tasks:
                raise ValueError(f"X as a list holds per-task inputs: it needs n_tasks={self.n_tasks} "
                                 f"arrays, got {len(X)}")
            return [_checks.finite_array(f"X[{k}]", x, ndim=2, dtype=self.dtype, shape=(None, self.n_features))
                    for k, x in enumerate(X)]
        return _checks.finite_array("X", X, ndim=2, dtype=self.dtype, shape=(None, self.n_features))

    def _check_dpreds(self, dpreds, batches):
        """``batches``: rows per task (K,). Returns the K arrays, checked, as self.dtype."""
        if not isinstance(dpreds, (list, tuple)) or len(dpreds) != self.n_tasks:
            got = f"{len(dpreds)} items" if isinstance(dpreds, (list, tuple)) else type(dpreds).__name__
            raise ValueError(f"dpreds must be a list of n_tasks={self.n_tasks} arrays, got {got}")
        out = []
        for k, (d, batch) in enumerate(zip(dpreds, batches)):
            d = np.asarray(d, dtype=self.dtype)
            if d.shape != (batch, self.out_units):
                raise ValueError(f"dpreds[{k}] must have shape {(batch, self.out_units)}, got {d.shape}")
            out.append(d)
        return out

    # --------------------------------------------------------- forward / backward
    def forward(self, X):
        """Predict every task.

        X: (B, n_features), or per-task inputs: a list of K arrays (B_k, n_features).
        Returns ``preds``, a list of K arrays (B, out_units) (per-task: (B_k, out_units),
        task k's predictions for its own rows), and the ``cache`` :meth:`backward` needs.
        """
        return self._forward(self._check_X(X))

    def _forward(self, X):
        """:meth:`forward` without the argument check (``X`` already checked, e.g. by ``fit``)."""
        if isinstance(X, list):
            return self._forward_per_task(X)
        F, shared_cache = self._shared_forward(X)
        p = self.params
        out, tower_cache = layers.towers_forward(
            F, p["tower_kernel"], p["tower_bias"], p["output_kernel"], p["output_bias"])
        return list(out), (shared_cache, tower_cache, len(X))

    def _forward_per_task(self, Xs):
        """Per-task inputs: run once on all rows stacked; task k keeps its own rows' predictions."""
        edges = np.cumsum([0] + [len(x) for x in Xs])                 # task k owns rows edges[k]:edges[k+1]
        preds, cache = self._forward(np.concatenate(Xs))
        own = [preds[k][edges[k]:edges[k + 1]] for k in range(self.n_tasks)]
        return own, _PerTaskCache(edges, cache)

    def backward(self, cache, dpreds):
        """Gradients of a loss with respect to every parameter.

        ``dpreds``: list of K arrays shaped like ``preds`` (d loss / d preds[k]). Returns a
        new dict with the keys and shapes of ``params`` (nothing accumulates between calls).
        """
        if isinstance(cache, _PerTaskCache):
            edges = cache.edges
            own = self._check_dpreds(dpreds, np.diff(edges).tolist())
            dout = np.zeros((self.n_tasks, edges[-1], self.out_units), self.dtype)   # (K, B_total, O)
            for k, d in enumerate(own):                # task k's loss reads only task k's rows
                dout[k, edges[k]:edges[k + 1]] = d
            cache = cache.cache
        else:
            dout = np.stack(self._check_dpreds(dpreds, [cache[2]] * self.n_tasks))  # (K, B, O)
        shared_cache, tower_cache, _ = cache
        dF, grads = layers.towers_backward(dout, tower_cache)
        grads.update(self._shared_backward(shared_cache, dF))
        return {name: grads[name] for name in self.params}

    def predict(self, X, batch_size=8192):
        """Predictions without a cache, in chunks: list of K arrays (n, out_units)
        (per-task inputs: task k's predictions on X[k], (n_k, out_units))."""
        X = self._check_X(X)
        if isinstance(X, list):
            return [self._predict(x, batch_size)[k] for k, x in enumerate(X)]
        return self._predict(X, batch_size)

    def _predict(self, X, batch_size):
        chunks = [self._forward(X[i:i + batch_size])[0] for i in range(0, len(X), batch_size)]  # checked once
        return [np.concatenate([c[k] for c in chunks]) for k in range(self.n_tasks)]

    # --------------------------------------------------------------- save / load
    def save(self, path):
        """Write the parameters to ``path`` (.npz, no pickle)."""
        np.savez(path, **self.params)

    def load(self, path):
        """Read parameters saved by :meth:`save`; names and shapes must match this model."""
        with np.load(path, allow_pickle=False) as f:
            missing = set(self.params) - set(f.files)
            extra = set(f.files) - set(self.params)
            if missing or extra:
                raise ValueError(f"{path}: parameter names differ: missing {sorted(missing)}, "
                                 f"unexpected {sorted(extra)}")
            for name, value in self.params.items():
                if f[name].shape != value.shape:
                    raise ValueError(f"{path}: parameter {name!r} has shape {f[name].shape}, "
                                     f"this model expects {value.shape}")
            for name in self.params:
                self.params[name][...] = f[name]
        return self

    def __repr__(self):
        return f"{type(self).__name__}({self.n_params} params, backend={self.backend!r}, dtype={self.dtype})"
