"""What every model shares: parameters, K task towers, argument checks, backend selection,
runs, ``.npz`` save/load.

A subclass lists its parameters and implements three methods for its shared part:

- ``parameter_layout() -> list`` of layout items (:mod:`mmoe_np.params`), towers excluded;
- ``initialise(params, rng)``: draw one run's initial values;
- ``shared_forward(X) -> (F, cache)``: F (K, B, U) -- or (1, B, U) when all towers read the
  same representation -- the input of the towers;
- ``shared_backward(cache, dF, grads)``: write the shared parameters' gradients into ``grads``.

Inputs come in two forms, everywhere (``forward``, ``predict``, ``fit``, ``evaluate``):

- one array ``X`` (B, D) read by every task -- the paper's setting;
- a list of K arrays ``[X_1 ... X_K]`` (B_k, D): **per-task inputs**, task k reads only
  its own rows. The model stacks the rows, runs once on all of them, and hands task k the
  predictions for its own rows; in backward the other rows get zero gradient from task k.

**Runs.** ``seed`` may be a sequence (or array) of seeds instead of one: the model then holds
that many independent runs on leading run axes, each initialised exactly as a model built
with its own seed, and computes them together (parameters (R, ...), inputs (B, D) shared by
all runs or (R, B, D) one per run, predictions (R, B, O)). Because every run's loss depends
only on its own parameters, training the stack with Adam gives exactly R separate trainings
(``tests/test_runs.py``). The model code below is the same for one run and for many: shapes
in comments are for one run, and leading axes ride along (``...``).
"""
from __future__ import annotations

import copy
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _checks
from ..kernels import get_backend
from ..params import Layout, Params


class ForwardCache(NamedTuple):
    """What :meth:`MultiTaskModel.backward` needs from a forward pass."""

    shared: object          # the shared part's cache (the subclass's own NamedTuple)
    towers: object          # the towers' cache
    pred_shape: tuple       # (..., B, O): each task's predictions


class PerTaskCache(NamedTuple):
    """The cache of a per-task forward pass: each task's row range in the stacked pass, and its cache."""

    edges: np.ndarray       # task k owns rows edges[k]:edges[k+1]
    stacked: ForwardCache


def glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (keras' default).

    Each expert gets its own independent draw, so experts start out different.
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def seed_array(seed):
    """``(run_shape, seeds)`` from a model's ``seed``: one seed or Generator (run_shape ()), or an
    array-like of non-negative integer seeds (its shape is the run shape)."""
    if isinstance(seed, np.random.Generator):
        return (), np.array(seed, dtype=object)
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = np.asarray(seed, dtype=object)
        if seeds.size == 0:
            raise ValueError("seed as a sequence needs at least one seed (one per run), got none")
        for s in seeds.flat:
            _checks.seed_value("seed", s)
        return seeds.shape, seeds
    return (), np.array(_checks.seed_value("seed", seed), dtype=object)


def check_run_axes(name, lead, run_shape, tail):
    """Leading (run) axes ``lead`` of an array whose last axes are ``tail`` must be none (one array read
    by every run) or one per run axis, each the run axis's size or 1 (shared along that axis).

    Fewer axes are refused rather than broadcast: with runs (2, 2), data (2, n, D) would be read
    as one set per *inner* run index, so run (1, 0) would train on X[0] -- never what was meant.
    """
    lead, run_shape = tuple(lead), tuple(run_shape)
    ok = not lead or (len(lead) == len(run_shape) and all(a in (1, r) for a, r in zip(lead, run_shape)))
    if not ok:
        whole = "(" + ", ".join(str(v) for v in run_shape + tuple(tail)) + ")"
        shared = "(" + ", ".join(str(v) for v in tail) + ")"
        raise ValueError(f"{name} has leading (run) axes {lead}, which do not fit this model's runs {run_shape}: "
                         f"pass {shared} for one array read by every run, or {whole} (a 1 on an axis shares "
                         "the data along it)")


def run_index(index, run_shape):
    """``index`` as a tuple of non-negative ints naming one run of ``run_shape`` (see :meth:`MultiTaskModel.run`)."""
    given = index
    index = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) for i in index):
        raise TypeError(f"index must be an integer or a tuple of integers naming one run of run_shape {run_shape}, "
                        f"got {given!r} ({type(given).__name__})")
    if len(index) != len(run_shape):
        raise ValueError(f"index must name one run of run_shape {run_shape} with {len(run_shape)} integer(s), "
                         f"got {given!r}")
    out = []
    for i, n in zip(index, run_shape):
        if not -n <= i < n:
            raise ValueError(f"index {given!r} is out of range for run_shape {run_shape}: each axis counts runs "
                             f"0 to size - 1 (or -size to -1)")
        out.append(int(i) % n)
    return tuple(out)


class MultiTaskModel:
    """Base class: towers, checks, runs, save/load. Not used on its own."""

    def __init__(self, *, n_features, n_tasks, tower_units, out_units, seed, backend, dtype):
        self.n_features = _checks.positive_int("n_features", n_features)
        self.n_tasks = _checks.positive_int("n_tasks", n_tasks)
        self.tower_units = _checks.positive_int("tower_units", tower_units)
        self.out_units = _checks.positive_int("out_units", out_units)
        self.dtype = _checks.float_dtype("dtype", dtype)
        self.kernels = get_backend(backend)
        self.backend = backend
        self.run_shape, _ = seed_array(seed)
        self.seed = seed

    def _build(self):
        """Allocate the parameters and initialise every run from its own seed (called by subclasses)."""
        layout = Layout(self.parameter_layout() + self._tower_layout())
        self.params = Params.zeros(layout, self.run_shape, self.dtype)
        _, seeds = seed_array(self.seed)
        for index in np.ndindex(*self.run_shape):
            s = seeds[index]
            rng = s if isinstance(s, np.random.Generator) else np.random.default_rng(s)
            run = self.params.run(index)
            self.initialise(run, rng)
            self._initialise_towers(run, rng)

    # ----------------------------------------------------------------- parameters
    @property
    def params(self):
        """The trainable parameters: a :class:`~mmoe_np.params.Params` (``{name: array}``, views into one flat
        buffer). While a backend that keeps them elsewhere trains the model (the GPU: ``backend="cuda"``),
        its copy is the one that counts, and reading ``params`` brings this one up to date first."""
        borrower = self.__dict__.get("_borrower")
        if borrower is not None:
            borrower.to_host()
        return self.__dict__["_params"]

    @params.setter
    def params(self, value):
        borrower = self.__dict__.get("_borrower")
        if borrower is not None:           # new arrays: whoever held the old ones gives them back first
            borrower.release()
        self.__dict__["_params"] = value

    @property
    def stored_params(self):
        """The host arrays as they are, without asking a borrower for an update (for the borrower itself)."""
        return self.__dict__["_params"]

    def lend_params(self, borrower):
        """Let ``borrower`` -- a training step that keeps the parameters in a device's memory -- hold the copy
        that counts, until it calls :meth:`params_returned`. Reading :attr:`params` calls ``borrower.to_host()``
        first, which must bring :attr:`stored_params` up to date. A step that held them before is asked to
        give them back (``release()``) first."""
        before = self.__dict__.get("_borrower")
        if before is not None and before is not borrower:
            before.release()
        self.__dict__["_borrower"] = borrower

    def params_returned(self, borrower):
        """``borrower`` has brought :attr:`stored_params` up to date and holds the parameters no longer."""
        if self.__dict__.get("_borrower") is borrower:
            self.__dict__["_borrower"] = None

    def __getstate__(self):                 # copies and pickles get the host arrays, up to date, and no borrower
        state = dict(self.__dict__)
        state["_params"] = self.params
        state.pop("_borrower", None)
        return state

    def _tower_layout(self):
        K, U, T, O = self.n_tasks, self.tower_input_units, self.tower_units, self.out_units
        return [("tower_kernel", (K, U, T)), ("tower_bias", (K, T)), ("output_kernel", (K, T, O)),
                ("output_bias", (K, O))]

    def _initialise_towers(self, p, rng):
        """K towers: dense(input -> T) + ReLU, dense(T -> O); Glorot kernels, zero biases."""
        K, U, T, O = self.n_tasks, self.tower_input_units, self.tower_units, self.out_units
        p["tower_kernel"] = glorot_uniform(rng, (K, U, T), U, T, self.dtype)
        p["output_kernel"] = glorot_uniform(rng, (K, T, O), T, O, self.dtype)

    @property
    def n_params(self) -> int:
        """Number of trainable scalars (of one run)."""
        return self.params.layout.size

    @property
    def n_runs(self) -> int:
        """Number of runs held on the leading run axes (1 for a plain model)."""
        return int(np.prod(self.run_shape))

    def run(self, index):
        """Run ``index`` of a model with runs, as a separate one-run model (parameters copied).

        ``index``: an integer (one run axis) or a tuple of integers, one per run axis (negative ones
        count from the end, as in NumPy). Slices, booleans, None and the like are errors: a one-run
        model holds exactly one run.
        """
        index = run_index(index, self.run_shape)
        one = copy.copy(self)
        one.run_shape = ()
        one.seed = seed_array(self.seed)[1][index] if self.run_shape else self.seed
        one.params = Params(self.params.layout, self.params.flat[index].copy())
        return one

    # ------------------------------------------------------------------- checks
    def check_inputs(self, X, name="X"):
        """``X`` checked and converted to the model's dtype: an array (..., B, D) or a list of K.

        Leading axes must broadcast to the model's ``run_shape`` (e.g. (B, D): one input read by
        every run). Raises a ValueError/TypeError naming ``name`` otherwise, and for NaN, inf,
        or values that overflow the model's dtype.
        """
        if isinstance(X, (list, tuple)):
            if len(X) != self.n_tasks:
                raise ValueError(f"{name} as a list holds per-task inputs: it needs n_tasks={self.n_tasks} "
                                 f"arrays, got {len(X)}")
            out = [self.check_inputs(x, f"{name}[{k}]") for k, x in enumerate(X)]
            if len({x.shape[:-2] for x in out}) > 1:
                raise ValueError(f"{name}: every task's array needs the same leading (run) axes, got "
                                 f"{[x.shape for x in out]}")
            return out
        X = _checks.finite_array(name, X, min_ndim=2, dtype=self.dtype, shape=(None, self.n_features))
        check_run_axes(name, X.shape[:-2], self.run_shape, ("B", self.n_features))
        return X

    def _check_dpreds(self, dpreds, shapes):
        """``shapes``: each task's expected (..., B_k, O). Returns the K arrays in the model's dtype."""
        if not isinstance(dpreds, (list, tuple)) or len(dpreds) != self.n_tasks:
            got = f"{len(dpreds)} items" if isinstance(dpreds, (list, tuple)) else type(dpreds).__name__
            raise ValueError(f"dpreds must be a list of n_tasks={self.n_tasks} arrays, got {got}")
        out = []
        for k, (d, shape) in enumerate(zip(dpreds, shapes)):
            d = _checks.real_array(f"dpreds[{k}]", d, dtype=self.dtype)
            if d.shape != tuple(shape):
                raise ValueError(f"dpreds[{k}] must have shape {tuple(shape)} (like preds[{k}]), got {d.shape}")
            out.append(d)
        return out

    # --------------------------------------------------------- forward / backward
    def forward(self, X, *, checked=False):
        """Predict every task.

        X: (B, n_features), or per-task inputs: a list of K arrays (B_k, n_features).
        Returns ``preds``, a list of K arrays (B, out_units) (per-task: (B_k, out_units),
        task k's predictions for its own rows), and the ``cache`` :meth:`backward` needs.
        ``checked=True`` skips the argument check, for callers that ran :meth:`check_inputs`
        once (``fit`` does, then runs thousands of steps on checked data).
        """
        if not checked:
            X = self.check_inputs(X)
        if isinstance(X, list):
            return self._forward_per_task(X)
        F, shared_cache = self.shared_forward(X)                              # (K or 1, B, U)
        p = self.params
        out, tower_cache = self.kernels.towers_forward(
            F, p["tower_kernel"], p["tower_bias"], p["output_kernel"], p["output_bias"])   # (K, B, O)
        pred_shape = out.shape[:-3] + out.shape[-2:]
        return [out[..., k, :, :] for k in range(self.n_tasks)], ForwardCache(shared_cache, tower_cache, pred_shape)

    def _forward_per_task(self, Xs):
        """Per-task inputs: run once on all rows stacked; task k keeps its own rows' predictions."""
        edges = np.cumsum([0] + [x.shape[-2] for x in Xs])                   # task k owns rows edges[k]:edges[k+1]
        preds, cache = self.forward(np.concatenate(Xs, axis=-2), checked=True)
        own = [preds[k][..., edges[k]:edges[k + 1], :] for k in range(self.n_tasks)]
        return own, PerTaskCache(edges, cache)

    def backward(self, cache, dpreds, *, checked=False):
        """Gradients of a loss with respect to every parameter.

        ``dpreds``: list of K arrays shaped like ``preds`` (d loss / d preds[k]). Returns a
        new :class:`~mmoe_np.params.Params` with the keys and shapes of ``params`` (nothing
        accumulates between calls).
        """
        if isinstance(cache, PerTaskCache):
            edges, cache = cache.edges, cache.stacked
            lead, O = cache.pred_shape[:-2], cache.pred_shape[-1]
            shapes = [lead + (int(n), O) for n in np.diff(edges)]
            own = dpreds if checked else self._check_dpreds(dpreds, shapes)
            dout = np.zeros(lead + (self.n_tasks, int(edges[-1]), O), self.dtype)   # (K, B_total, O)
            for k, d in enumerate(own):                    # task k's loss reads only task k's rows
                dout[..., k, edges[k]:edges[k + 1], :] = d
        else:
            own = dpreds if checked else self._check_dpreds(dpreds, [cache.pred_shape] * self.n_tasks)
            dout = np.stack(own, axis=-3)                                     # (K, B, O)
        grads = self.params.zeros_like()
        dF, _ = self.kernels.towers_backward(dout, cache.towers, out=(
            grads["tower_kernel"], grads["tower_bias"], grads["output_kernel"], grads["output_bias"]))
        self.shared_backward(cache.shared, dF, grads)
        return grads

    def predict(self, X, batch_size=8192, *, checked=False):
        """Predictions without a cache, in chunks of ``batch_size`` rows: a list of K arrays
        (n, out_units) (per-task inputs: task k's predictions on X[k], (n_k, out_units)).
        Zero rows give K empty arrays. ``checked=True`` skips the check of X (already done)."""
        batch_size = _checks.positive_int("batch_size", batch_size)
        X = X if checked else self.check_inputs(X)
        if isinstance(X, list):
            return [self._predict(x, batch_size)[k] for k, x in enumerate(X)]
        return self._predict(X, batch_size)

    def _predict(self, X, batch_size):
        n = X.shape[-2]
        lead = np.broadcast_shapes(X.shape[:-2], self.run_shape)
        if n == 0:
            return [np.zeros(lead + (0, self.out_units), self.dtype) for _ in range(self.n_tasks)]
        # chunks of batch_size rows, whatever the number of runs: the products of a run then have the same
        # sizes in any set or chunk of runs (with many runs, pass a smaller batch_size to bound memory)
        chunks = [self.forward(X[..., i:i + batch_size, :], checked=True)[0] for i in range(0, n, batch_size)]
        return [np.concatenate([c[k] for c in chunks], axis=-2) for k in range(self.n_tasks)]

    # --------------------------------------------------------------- save / load
    def save(self, path):
        """Write the parameters to ``path`` (.npz added when missing, as NumPy does; no pickle).
        Returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        np.savez(path, **self.params)
        return path

    def load(self, path):
        """Read parameters saved by :meth:`save` -- all or nothing.

        ``path`` may omit the ``.npz`` that :meth:`save` added. Every array is checked (names,
        shapes, a dtype castable to the model's without loss, finite values) before any
        parameter changes; a file that is missing, truncated, corrupt or not an ``.npz`` archive
        gets an error naming the path. Pickled objects are never loaded.
        """
        path = _npz_path(path)
        arrays = _read_npz(path)
        missing, extra = set(self.params) - set(arrays), set(arrays) - set(self.params)
        if missing or extra:
            raise ValueError(f"{path}: parameter names differ from this {type(self).__name__}'s: missing "
                             f"{sorted(missing)}, unexpected {sorted(extra)}")
        for name, target in self.params.items():
            a = arrays[name]
            if a.dtype.kind not in "biuf" or not np.can_cast(a.dtype, self.dtype, casting="safe"):
                raise ValueError(f"{path}: parameter {name!r} has dtype {a.dtype}, which this model "
                                 f"({self.dtype}) cannot take without loss")
            if a.shape != target.shape:
                raise ValueError(f"{path}: parameter {name!r} has shape {a.shape}, this model expects "
                                 f"{target.shape}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
                raise ValueError(f"{path}: parameter {name!r} holds NaN or inf (first at index {bad}: {a[bad]})")
        for name in self.params:
            self.params[name] = arrays[name]
        return self

    def __repr__(self):
        runs = f", runs={self.run_shape}" if self.run_shape else ""
        return f"{type(self).__name__}({self.n_params} params{runs}, backend={self.backend!r}, dtype={self.dtype})"


def _npz_path(path):
    path = Path(path)
    if not path.exists() and path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
        path = path.with_name(path.name + ".npz")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (save() writes NAME.npz)")
    return path


def _read_npz(path):
    """Every array of an .npz file, read into memory; one clear error for any unreadable file."""
    with open(path, "rb") as raw:
        magic = raw.read(6)
    if not zipfile.is_zipfile(path) and magic != b"\x93NUMPY":
        why = ("it starts as a zip archive but its end is missing or damaged" if magic.startswith(b"PK") else
               f"it is not a zip archive (its first bytes are {magic!r})")
        raise ValueError(f"{path} is not a readable .npz file of parameters (truncated, corrupt or another "
                         f"format?): {why}")
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not a named set of parameters")
        with f:
            return {name: f[name] for name in f.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as err:
        why = "it holds pickled objects, which are never loaded" if "pickle" in str(err) else \
              f"{type(err).__name__}: {err}"
        raise ValueError(f"{path} is not a readable .npz file of parameters (truncated, corrupt or another "
                         f"format?): {why}") from None
