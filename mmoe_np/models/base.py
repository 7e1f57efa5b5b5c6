"""What every model shares: parameters in one dict, K task towers, argument checks,
backend selection, ``.npz`` save/load.

A subclass builds ``self.params`` and implements two methods for its shared part:

- ``_shared_forward(X) -> (F, cache)``: F (K, B, U) -- or (1, B, U) when all towers read
  the same representation -- the input of the towers;
- ``_shared_backward(cache, dF) -> dict`` of gradients for the shared parameters.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from ..kernels import get_kernels
from ..nn import layers


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
        return _checks.finite_array("X", X, ndim=2, dtype=self.dtype, shape=(None, self.n_features))

    def _check_dpreds(self, dpreds, batch):
        if not isinstance(dpreds, (list, tuple)) or len(dpreds) != self.n_tasks:
            got = f"{len(dpreds)} items" if isinstance(dpreds, (list, tuple)) else type(dpreds).__name__
            raise ValueError(f"dpreds must be a list of n_tasks={self.n_tasks} arrays, got {got}")
        out = []
        for k, d in enumerate(dpreds):
            d = np.asarray(d, dtype=self.dtype)
            if d.shape != (batch, self.out_units):
                raise ValueError(f"dpreds[{k}] must have shape {(batch, self.out_units)}, got {d.shape}")
            out.append(d)
        return np.stack(out)                                          # (K, B, O)

    # --------------------------------------------------------- forward / backward
    def forward(self, X):
        """Predict every task.

        X: (B, n_features). Returns ``preds``, a list of K arrays (B, out_units), and the
        ``cache`` that :meth:`backward` needs.
        """
        return self._forward(self._check_X(X))

    def _forward(self, X):
        """:meth:`forward` without the argument check (``X`` already checked, e.g. by ``fit``)."""
        F, shared_cache = self._shared_forward(X)
        p = self.params
        out, tower_cache = layers.towers_forward(
            F, p["tower_kernel"], p["tower_bias"], p["output_kernel"], p["output_bias"])
        return list(out), (shared_cache, tower_cache, len(X))

    def backward(self, cache, dpreds):
        """Gradients of a loss with respect to every parameter.

        ``dpreds``: list of K arrays (B, out_units), d loss / d preds[k]. Returns a new
        dict with the keys and shapes of ``params`` (nothing accumulates between calls).
        """
        shared_cache, tower_cache, batch = cache
        dout = self._check_dpreds(dpreds, batch)
        dF, grads = layers.towers_backward(dout, tower_cache)
        grads.update(self._shared_backward(shared_cache, dF))
        return {name: grads[name] for name in self.params}

    def predict(self, X, batch_size=8192):
        """Predictions without a cache, in chunks: list of K arrays (n, out_units)."""
        X = self._check_X(X)
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
