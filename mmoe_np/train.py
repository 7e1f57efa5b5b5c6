"""Minibatch training: per-task losses, train/validation history, divergence detection,
a progress bar.

::

    history = mn.fit(model, X, Y, optimizer=mn.Adam(1e-3), steps=2000, batch_size=128,
                     X_val=Xv, Y_val=Yv, eval_every=100)

``Y`` is (n, K) when every task has one output, or a list of K arrays (n, out_units).

Per-task inputs (each task its own data): ``X`` is a list of K arrays (n_k, D) and ``Y`` a
list of K arrays (n_k, out_units) (or (n_k,)); each step then draws ``batch_size`` rows of
every task from that task's own data. ``loss`` may be one loss for all tasks or a list of K
(e.g. ``["mse", "bce_with_logits"]``).

Runs: a model with runs (``seed`` a sequence) trains every run at once. Data may be shared
by all runs ((n, D)) or one set per run ((R, n, D)); ``seed`` may give each run its own
minibatch order. Fresh data every step comes from a *batch source*: any object with
``next_batch(batch_size) -> (X, Y)`` passed as ``X`` (e.g.
:class:`mmoe_np.data.SyntheticRuns`).

:class:`Trainer` is one model being trained (forward, loss, backward, update, divergence
guard); :func:`fit` is the loop around it. The sweeps of :mod:`mmoe_np.experiments` drive
several Trainers in step on one data stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _checks
from .data.sampling import EpochSampler
from .memory import keep_freed_memory
from .models.base import check_run_axes, seed_array
from .nn import losses as losses_module
from .optim import Adam
from .progress import bar as progress_bar


class TrainingDiverged(FloatingPointError):
    """The loss became NaN/inf or exploded; the model keeps its last good parameters."""


@dataclass
class History:
    """What happened during :func:`fit`, one row per evaluation.

    ``train_loss[i]``: each task's mean minibatch loss over the steps before ``step[i]``,
    (K,) -- (*run_shape, K) with runs; ``val_loss[i]``: the same on the validation set at
    ``step[i]`` (NaN without one). ``diverged``: with runs and ``on_divergence="freeze"``, the
    step at which each run diverged and was frozen (0: never), (*run_shape,).
    """

    step: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    diverged: np.ndarray | None = None

    def as_arrays(self):
        """``step`` (n,), ``train_loss`` and ``val_loss`` (n, K) -- (n, *run_shape, K) with runs."""
        return (np.asarray(self.step), np.asarray(self.train_loss, dtype=float),
                np.asarray(self.val_loss, dtype=float))


# ------------------------------------------------------------------------- argument checks
def task_targets(Y, rows, n_tasks, out_units, name="Y", dtype=np.float64):
    """Normalise ``Y`` to a list of K arrays (..., n_k, out_units), checking shapes and values.

    ``rows``: the number of rows, or a list of K (per-task inputs: Y must then be a list).
    ``dtype``: the model's; a target that overflows it is an error naming it.
    """
    per_task = isinstance(rows, (list, tuple))
    counts = list(rows) if per_task else [rows] * n_tasks
    if Y is None:
        raise ValueError(f"{name} is missing: give the targets of X")
    if isinstance(Y, (list, tuple)):
        if len(Y) != n_tasks:
            raise ValueError(f"{name} must hold n_tasks={n_tasks} arrays, got {len(Y)}")
        out = []
        for k, (y, n) in enumerate(zip(Y, counts)):
            y = _checks.real_array(f"{name}[{k}]", y, dtype=np.float64)
            if y.ndim == 1 and out_units == 1:
                y = y[:, None]
            out.append(_checks.finite_array(f"{name}[{k}]", y, min_ndim=2, shape=(n, out_units), dtype=dtype))
        return out
    if per_task:
        raise ValueError(f"with per-task inputs (X a list of {n_tasks} arrays), {name} must be a list of "
                         f"{n_tasks} target arrays too, got one {type(Y).__name__}")
    if out_units != 1:
        raise ValueError(f"{name} as one array needs out_units == 1; pass a list of {n_tasks} "
                         f"(n, {out_units}) arrays instead")
    Y = _checks.finite_array(name, Y, min_ndim=2, dtype=dtype, shape=(rows, n_tasks))
    return [Y[..., k:k + 1] for k in range(n_tasks)]


def check_labels(loss_fns, targets, name="Y"):
    """Labels of the tasks trained with binary cross-entropy must lie in [0, 1]: checked once, up front,
    so a bad label is an error before training rather than at the step that first draws it."""
    for k, (fn, y) in enumerate(zip(loss_fns, targets)):
        if fn is losses_module.bce_with_logits:
            outside = (y < 0) | (y > 1)
            if outside.any():
                first = tuple(int(i) for i in np.argwhere(outside)[0])
                raise ValueError(f"{name}: task {k} is trained with bce_with_logits, whose labels must lie in "
                                 f"[0, 1]; got {y[first]} at index {first}")


def loss_value(fn, out, pred, run_shape, k):
    """Check what a loss function returned, ``(loss, dpred)``, and return the loss as floats.

    The loss must be real numbers, one per run (a float for one run); ``dpred`` a float array
    shaped like ``pred``. A ValueError/TypeError names the loss and the task otherwise.
    """
    name = f"loss {getattr(fn, '__name__', repr(fn))} (task {k})"
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{name} must return (loss, dpred), got {type(out).__name__}")
    value, d = out
    try:
        value = np.asarray(value)
    except Exception:
        value = np.asarray(None)
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} must return the loss as real numbers, got {type(out[0]).__name__}"
                        f"{' of dtype ' + str(value.dtype) if value.dtype.kind != 'O' else ''}")
    if value.shape not in ((), tuple(run_shape)):
        raise ValueError(f"{name} must return one loss per run (shape {tuple(run_shape)}), got shape {value.shape}")
    if not isinstance(d, np.ndarray) or d.shape != pred.shape or d.dtype.kind != "f":
        got = f"shape {d.shape}, dtype {d.dtype}" if isinstance(d, np.ndarray) else type(d).__name__
        raise ValueError(f"{name} must return dpred, a float array shaped like pred {pred.shape}, got {got}")
    return value.astype(float)


def task_losses(loss, n_tasks):
    """One loss function per task from a name/callable or a list of K of them."""
    if isinstance(loss, (list, tuple)):
        if len(loss) != n_tasks:
            raise ValueError(f"loss as a list needs one loss per task (n_tasks={n_tasks}), got {len(loss)}")
        return [losses_module.get(name) for name in loss]
    return [losses_module.get(loss)] * n_tasks


def _rows(X, name="X"):
    """Rows of X (or of each task's X); zero rows is an error naming X (or X[k])."""
    for label, x in ([(f"{name}[{k}]", x) for k, x in enumerate(X)] if isinstance(X, list) else [(name, X)]):
        if x.shape[-2] == 0:
            raise ValueError(f"{label} has no rows (shape {x.shape}): nothing to train or evaluate on")
    return [x.shape[-2] for x in X] if isinstance(X, list) else X.shape[-2]


def _check_optimizer(optimizer, backend="numpy"):
    """The optimizer (default ``Adam(lr=1e-3)``); an Adam left at ``fused=None`` follows ``backend``
    (NumPy for the numpy backend, which never needs numba)."""
    if optimizer is None:
        optimizer = Adam(lr=1e-3)
    if isinstance(optimizer, type):
        raise TypeError(f"optimizer must be an optimizer object such as mn.Adam(lr=1e-3), got the class "
                        f"{optimizer.__name__} itself (add the parentheses)")
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be an optimizer object such as mn.Adam(lr=1e-3) (with a "
                        f"step(params, grads) method), got {optimizer!r}")
    if hasattr(optimizer, "use_backend"):
        optimizer.use_backend(backend)
    return optimizer


def _check_task_weights(task_weights, n_tasks):
    if task_weights is None:
        return None
    w = _checks.finite_array("task_weights", task_weights, ndim=1, dtype=np.float64, shape=(n_tasks,))
    if np.any(w < 0):
        raise ValueError(f"task_weights must be >= 0 (a weight multiplies a task's loss), got {w.tolist()}")
    return None if np.all(w == 1) else w


def evaluate(model, X, Y, loss="mse", batch_size=8192):
    """Each task's loss on (X, Y): an array (K,) -- (*run_shape, K) for a model with runs.

    ``X``, ``Y`` and ``loss`` as in :func:`fit`; ``batch_size`` rows are predicted at a time.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    loss_fns = task_losses(loss, model.n_tasks)
    X = model.check_inputs(X)
    targets = task_targets(Y, _rows(X), model.n_tasks, model.out_units, dtype=model.dtype)
    check_labels(loss_fns, targets)
    preds = model.predict(X, batch_size=batch_size, checked=True)
    lead = np.broadcast_shapes(*[p.shape[:-2] for p in preds])
    values = [loss_value(fn, fn(p, t), p, lead, k) for k, (fn, p, t) in enumerate(zip(loss_fns, preds, targets))]
    return np.stack([np.broadcast_to(v, lead) for v in values], axis=-1)


# ---------------------------------------------------------------------------- minibatches
def _take(A, idx):
    """Rows ``idx`` of A: A (..., n, C), idx (B,) or (*run_shape, B) -> (*, B, C)."""
    if idx.ndim == 1:
        return A[..., idx, :]
    if A.ndim == 2:                                   # data shared by every run, own order per run
        return A[idx]
    return np.take_along_axis(A, np.broadcast_to(idx[..., None], idx.shape + A.shape[-1:]), axis=-2)


class ArrayBatches:
    """Minibatches from arrays held in memory (one input for all tasks, or per-task inputs)."""

    def __init__(self, X, targets, batch_size, rngs):
        self.X, self.targets, self.batch_size = X, targets, batch_size
        if isinstance(X, list):
            self.samplers = [EpochSampler(x.shape[-2], rngs) for x in X]
        else:
            self.sampler = EpochSampler(X.shape[-2], rngs)
            self.stacked = np.concatenate(targets, axis=-1)            # (..., n, K*O): one gather per step

    def next_batch(self, batch_size=None):
        batch_size = batch_size or self.batch_size
        if isinstance(self.X, list):                                    # every task its own rows
            idx = [s.next(batch_size) for s in self.samplers]
            return [_take(x, i) for x, i in zip(self.X, idx)], [_take(t, i) for t, i in zip(self.targets, idx)]
        idx = self.sampler.next(batch_size)
        Y = _take(self.stacked, idx)
        O = Y.shape[-1] // len(self.targets)
        return _take(self.X, idx), [Y[..., k * O:(k + 1) * O] for k in range(len(self.targets))]


def _updates_like_adam(optimizer):
    """True for :class:`~mmoe_np.optim.Adam` itself (not a subclass that changes its step): the update a
    resident step makes on the device."""
    return isinstance(optimizer, Adam) and type(optimizer).step is Adam.step


def _generators(seed, run_shape):
    """The minibatch-order Generator(s): one for all runs, or one per run from a sequence of seeds."""
    if isinstance(seed, np.random.Generator):
        return seed
    shape, seeds = seed_array(seed)
    if shape == ():
        return np.random.default_rng(int(seeds[()]))
    if len(shape) != len(run_shape) or not all(s in (1, r) for s, r in zip(shape, run_shape)):
        raise ValueError(f"seed has shape {shape}, which does not fit the model's runs {tuple(run_shape)}: give "
                         f"one seed, or one per run (an array of shape {tuple(run_shape)})")
    return np.vectorize(np.random.default_rng, otypes=[object])(np.broadcast_to(seeds, run_shape).astype(np.int64))


# ------------------------------------------------------------------------------- training
class Trainer:
    """One model being trained: forward, per-task losses, backward, update -- and a guard.

    The guard stops a run whose loss is not finite, or is more than ``max_loss_ratio`` times
    its loss at the first step ("far above where training started"). It keeps a snapshot of
    the parameters every ``snapshot_every`` steps (one copy of the flat buffer, taken only
    after the loss computed with those parameters passed the check), so a diverged run goes
    back to parameters one can train on from. ``on_divergence="raise"`` raises
    :class:`TrainingDiverged` naming the step; ``"freeze"`` (runs only) restores and freezes
    the diverged runs and lets the others train on.

    **The fused step.** Where the model's backend has one (``model.kernels.fused_training``: the
    numba backend, for MMoE, OMoE, Shared-Bottom and the single-task net with MSE or BCE losses),
    a step on one input array computes its losses and gradients in one fused pass
    (:mod:`mmoe_np.kernels.cpu_step`) instead of ``forward``, the losses and ``backward`` -- the
    same numbers (float64: within 1e-10), several times faster. ``fused=False`` always takes the
    readable path.

    **The resident step.** On a GPU (``model.kernels.resident_training``: the cuda backend, for
    those models, CGC and PLE, trained with :class:`~mmoe_np.optim.Adam` and MSE or BCE losses) the
    whole training state stays on the device (:mod:`mmoe_np.kernels.cuda_train`): the step also
    updates, and the guard below acts there through it (``snapshot``, ``restore``, ``freeze``). A
    steady step copies back only its losses, which the guard reads. Its batches are best drawn on the
    device too (:meth:`batch_source`; ``fit`` does so). Reading ``model.params`` meanwhile brings the
    host copy up to date; :meth:`finish` gives the parameters back to the model.
    """

    def __init__(self, model, optimizer=None, loss="mse", task_weights=None, *, max_loss_ratio=1e4,
                 snapshot_every=100, on_divergence="raise", fused=True):
        self.model = model
        self.optimizer = _check_optimizer(optimizer, model.backend)
        self.loss_fns = task_losses(loss, model.n_tasks)
        self.weights = _check_task_weights(task_weights, model.n_tasks)
        self.max_loss_ratio = _checks.real("max_loss_ratio", max_loss_ratio, low=1.0)
        self.snapshot_every = _checks.positive_int("snapshot_every", snapshot_every)
        self.on_divergence = _checks.choice("on_divergence", on_divergence, ("raise", "freeze"))
        keep_freed_memory()                       # large per-step arrays: no page faults (see memory.py)
        shape = model.run_shape + (model.n_tasks,)
        self.step_count = 0
        self.running, self.n_running = np.zeros(shape), 0
        self.start_loss = None
        self.snapshot, self.snapshot_step = model.params.flat.copy(), 0
        self.diverged = np.zeros(model.run_shape, dtype=np.int64)
        self._checked_loss = False
        self.fused = self.resident = None
        make_resident = getattr(model.kernels, "resident_training", None) if fused else None
        if make_resident is not None and _updates_like_adam(self.optimizer):
            self.resident = make_resident(model, self.loss_fns, self.weights, self.optimizer)
        make_fused = getattr(model.kernels, "fused_training", None) if fused and self.resident is None else None
        self.fused = make_fused(model, self.loss_fns, self.weights) if make_fused is not None else None

    def step(self, X, targets):
        """One training step on a batch (checked data, or a batch of :meth:`batch_source`). Returns the task
        losses, (*run_shape, K)."""
        self.step_count += 1
        model = self.model
        if self.resident is not None and isinstance(X, list):
            self._leave_device()                          # per-task inputs: the readable path, on the host
        if self.resident is not None:
            losses = self.resident.step(X, targets)       # forward, losses, backward on the device
            self._guard(losses)
            frozen = self.diverged > 0
            self.resident.update(frozen)                  # Adam on the device (frozen runs: no gradient)
            if frozen.any():
                losses = np.where(frozen[..., None], 0.0, losses)
            self.running += losses
            self.n_running += 1
            return losses
        if self.fused is not None and not isinstance(X, list):
            losses = self.fused.step(X, targets)          # forward, losses and backward in one fused pass
            self._guard(losses)
            grads = self.fused.grads
        else:
            preds, cache = model.forward(X, checked=True)
            losses, dpreds = self._losses(preds, targets)
            self._guard(losses)
            grads = model.backward(cache, dpreds, checked=True)
        if self.diverged.any():                   # diverged runs: no gradient (it may be NaN), no update
            frozen = self.diverged > 0
            grads.flat[frozen] = 0.0
            losses = np.where(frozen[..., None], 0.0, losses)
        self.optimizer.step(model.params, grads)
        self.running += losses
        self.n_running += 1
        return losses

    def _losses(self, preds, targets):
        K = self.model.n_tasks
        losses = np.empty(self.model.run_shape + (K,))
        dpreds = []
        for k in range(K):
            out = self.loss_fns[k](preds[k], targets[k])
            if not self._checked_loss:
                loss_value(self.loss_fns[k], out, preds[k], self.model.run_shape, k)
            losses[..., k], d = out
            w = 1.0 if self.weights is None else self.weights[k]
            dpreds.append(d * w if w != 1.0 else d)
        self._checked_loss = True
        return losses, dpreds

    def _guard(self, losses):
        """Check this step's losses (computed with the current parameters) and snapshot good ones."""
        total = losses.sum(axis=-1)
        if self.start_loss is None:
            self.start_loss = np.where(np.isfinite(total), np.maximum(total, 1e-12), np.inf)
            self._limit = self.max_loss_ratio * self.start_loss
        if not (np.isfinite(total).all() and (total <= self._limit).all()):     # the usual step skips this
            bad = ~np.isfinite(total) | (total > self._limit)
            bad &= self.diverged == 0
            if bad.any():
                self._diverge(bad, losses)
                return
        if (self.step_count - 1) % self.snapshot_every == 0 and self.step_count > 1:
            if self.resident is not None:
                self.resident.snapshot()                                 # a copy within the device
            else:
                np.copyto(self.snapshot, self.model.params.flat)
            self.snapshot_step = self.step_count - 1

    def _diverge(self, bad, losses):
        if self.resident is not None:
            self.resident.restore(bad)                                   # back to the last good parameters
        else:
            flat = self.model.params.flat
            flat[bad] = self.snapshot[bad]
        run = tuple(int(i) for i in np.argwhere(bad)[0]) if self.model.run_shape else ()
        where = f" in {int(bad.sum())} run(s), first run {run}" if run else ""
        first, start = losses[run], self.start_loss[run]
        what = ("the loss is not finite" if not np.isfinite(first).all() else
                f"the loss {first.sum():.3g} is more than {self.max_loss_ratio:g} times the first step's "
                f"{float(start):.3g}")
        whose = "the diverged runs keep" if run else "the model keeps"
        message = (f"training diverged at step {self.step_count}{where}: {what} (task losses {first.tolist()}). "
                   f"{whose[0].upper() + whose[1:]} the parameters of step {self.snapshot_step} (the last snapshot "
                   "whose loss was finite and not exploding); train on from there with a smaller learning rate and "
                   "a new optimizer (this one's moments hold the diverged steps).")
        if self.on_divergence == "raise" or not self.model.run_shape:
            raise TrainingDiverged(message)
        self.diverged[bad] = self.step_count
        freeze = self.resident.freeze if self.resident is not None else getattr(self.optimizer, "freeze", None)
        if freeze is None:
            raise TrainingDiverged(message + " (this optimizer cannot freeze runs)")
        freeze(bad)

    def evaluate(self, X, targets, batch_size=512):
        """Each task's loss on checked data ``X`` and ``targets`` (K arrays), (*run_shape, K): with the
        resident or fused step's forward half where it applies (device data from :meth:`batch_source` or
        ``resident.rows`` are read where they are), else :func:`evaluate`'s readable forward pass."""
        if self.resident is not None and not isinstance(X, list) and X.shape[-2] > 0:
            return self.resident.losses(X, targets, batch_size)
        if self.fused is not None and not isinstance(X, list) and X.shape[-2] > 0:
            return self.fused.losses(X, targets, batch_size)
        return evaluate(self.model, X, targets, self.loss_fns, batch_size)

    def take_running_loss(self):
        """The mean minibatch loss since the last call, (*run_shape, K); resets the running sum."""
        mean = self.running / max(self.n_running, 1)
        self.running[...], self.n_running = 0.0, 0
        return mean

    def batch_source(self, source, steps=None):
        """``source`` where this trainer computes: with a resident step, a
        :class:`~mmoe_np.data.SyntheticRuns` becomes a copy of its data on the device (its training set
        uploaded once, or its fresh samples once per block of steps -- ``steps`` in all, when given -- and
        its ``validation`` and ``test`` sets once), yielding the same batches; otherwise ``source`` itself."""
        if self.resident is not None and hasattr(source, "training_set") and hasattr(source, "sampler"):
            return self.resident.stream(source, steps)
        return source

    def finish(self):
        """After the last step: a NaN/inf gradient in the last update shows only in the parameters. A resident
        step gives the parameters back to the model (its host copy up to date)."""
        flat = self.model.params.flat
        bad = ~np.isfinite(flat).all(axis=-1) & (self.diverged == 0)
        try:
            if bad.any():
                flat[bad] = (self.resident.snapshot_on_host() if self.resident is not None else self.snapshot)[bad]
                if self.on_divergence == "raise" or not self.model.run_shape:
                    raise TrainingDiverged(
                        f"training diverged at step {self.step_count}: the last update made a parameter NaN or inf; "
                        f"the model keeps the parameters of step {self.snapshot_step}.")
                self.diverged[bad] = self.step_count
        finally:
            self.release()

    def release(self):
        """A resident step gives the parameters back to the model (``finish`` does this); nothing otherwise."""
        if self.resident is not None:
            self.resident.release()

    def _leave_device(self):
        """Train on the host from now on (per-task inputs have no device path): parameters, moments and the
        guard's snapshot come back."""
        self.snapshot = self.resident.snapshot_on_host()
        self.resident.release()
        self.resident = None


def fit(model, X, Y=None, *, optimizer=None, loss="mse", steps=1000, batch_size=128, X_val=None,
        Y_val=None, eval_every=100, task_weights=None, seed=0, progress=True, desc=None, on_eval=None,
        max_loss_ratio=1e4, on_divergence="raise", fused=True):
    """Train ``model`` in place with minibatches drawn without replacement, epoch by epoch.

    Parameters
    ----------
    X, Y : one input (n, D) for all tasks with targets (n, K) or a list of K (n, out_units);
        or per-task inputs: lists of K arrays (n_k, D) and (n_k, out_units); or a batch source
        (an object with ``next_batch(batch_size) -> (X, Y)``) as ``X`` and no ``Y``. With runs,
        arrays may carry leading run axes (one data set per run).
    optimizer : default ``Adam(lr=1e-3)``.
    loss : 'mse', 'bce_with_logits' or a callable ``(pred, y) -> (loss, dpred)``; or a list
        of K of them, one per task.
    batch_size : rows per step (per-task inputs: rows of each task per step).
    task_weights : (K,) weights >= 0 of the per-task losses in the total (default all 1); the
        gradient of task k's loss is scaled by its weight (e.g. from
        :func:`mmoe_np.relatedness.svd_task_weights`).
    seed : int or Generator for the minibatch order; with runs, also one seed per run.
    progress : show a tqdm bar.
    on_eval : optional ``on_eval(step, model, history) -> bool`` called after each evaluation;
        returning True stops training (early stopping).
    max_loss_ratio, on_divergence, fused : see :class:`Trainer`.

    Returns a :class:`History`. Raises :class:`TrainingDiverged` naming the step when the loss
    is not finite or explodes, after restoring the last snapshot of good parameters.
    """
    steps = _checks.positive_int("steps", steps)
    eval_every = _checks.positive_int("eval_every", eval_every)
    per_task = isinstance(X, (list, tuple))                  # no fused or resident step for per-task inputs
    trainer = Trainer(model, optimizer, loss, task_weights, max_loss_ratio=max_loss_ratio,
                      snapshot_every=eval_every, on_divergence=on_divergence, fused=fused and not per_task)
    try:
        batches, validation = _prepare(trainer, X, Y, X_val, Y_val, batch_size, seed, loss, steps)
        history = History()
        bar = progress_bar(total=steps, show=progress, desc=desc or type(model).__name__, leave=False)
        try:
            for step in range(1, steps + 1):
                trainer.step(*batches.next_batch(batch_size))
                bar.update(1)
                if step % eval_every == 0 or step == steps:
                    _record(history, step, trainer, validation, loss, bar)
                    if on_eval is not None and on_eval(step, model, history):
                        break
        finally:
            bar.close()
            history.diverged = trainer.diverged if model.run_shape else None
    except BaseException:
        trainer.release()                                    # a resident step gives the parameters back
        raise
    trainer.finish()
    return history


def _prepare(trainer, X, Y, X_val, Y_val, batch_size, seed, loss, steps):
    """Check the data once and return the minibatch source and the validation set (or None) -- on the device
    for a resident step: arrays uploaded once, their minibatches drawn there."""
    model, resident = trainer.model, trainer.resident
    batch_size = _checks.positive_int("batch_size", batch_size)
    if Y_val is not None and X_val is None:
        raise ValueError("Y_val is given without X_val: pass both (the validation inputs and targets) or neither")
    if X_val is not None and Y_val is None:
        raise ValueError("X_val is given without Y_val: pass both (the validation inputs and targets) or neither")
    rngs = _generators(seed, model.run_shape)
    loss_fns = task_losses(loss, model.n_tasks)
    if hasattr(X, "next_batch"):
        if Y is not None:
            raise ValueError("X is a batch source, which yields its own targets: leave Y out")
        on_device = trainer.batch_source(X, steps)
        if on_device is X:
            batches = _CheckedFirstBatch(X, model, loss_fns)
        else:                             # its batches have the shapes of its validation set: checked there
            _CheckedFirstBatch(_Once(*X.validation), model, loss_fns).next_batch(None)
            batches = on_device
    else:
        X = model.check_inputs(X)
        targets = task_targets(Y, _rows(X), model.n_tasks, model.out_units, dtype=model.dtype)
        _check_target_runs(targets, model, "Y", isinstance(Y, (list, tuple)))
        check_labels(loss_fns, targets)
        if resident is not None and not isinstance(X, list):
            batches = resident.batches(X, targets, batch_size, rngs)
        else:
            batches = ArrayBatches(X, targets, batch_size, rngs)
    validation = None
    if X_val is not None:
        X_val = model.check_inputs(X_val, "X_val")
        if isinstance(X_val, list) != isinstance(X, list):
            raise ValueError("X_val must have the form of X: " + ("a list of per-task inputs" if isinstance(X, list)
                                                                  else "one array for all tasks"))
        validation = (X_val, task_targets(Y_val, _rows(X_val, "X_val"), model.n_tasks, model.out_units, "Y_val",
                                          dtype=model.dtype))
        _check_target_runs(validation[1], model, "Y_val", isinstance(Y_val, (list, tuple)))
        check_labels(loss_fns, validation[1], "Y_val")
        if resident is not None and not isinstance(X_val, list):
            validation = resident.rows(*validation)                 # uploaded once
    return batches, validation


def _check_target_runs(targets, model, name, per_task):
    """Targets' leading (run) axes follow the rule of the inputs' (:func:`~mmoe_np.models.base.check_run_axes`)."""
    for k, y in enumerate(targets):
        check_run_axes(f"{name}[{k}]" if per_task else name, y.shape[:-2], model.run_shape,
                       ("n", y.shape[-1] if per_task else len(targets)))


class _Once:
    """A batch source that yields one given batch (to check a batch with :class:`_CheckedFirstBatch`)."""

    def __init__(self, X, Y):
        self.batch = (X, Y)

    def next_batch(self, batch_size):
        return self.batch


class _CheckedFirstBatch:
    """A user's batch source, whose first batch is checked like arrays given to :func:`fit` (shapes,
    NaN/inf, overflow, labels); later batches are trusted, as the source yields them alike."""

    def __init__(self, source, model, loss_fns):
        self.source, self.model, self.loss_fns, self.first = source, model, loss_fns, True

    def next_batch(self, batch_size):
        X, Y = self.source.next_batch(batch_size)
        if self.first:
            self.first = False
            X = self.model.check_inputs(X, "the batch source's X")
            Y = task_targets(Y, _rows(X, "the batch source's X"), self.model.n_tasks, self.model.out_units,
                             "the batch source's Y", dtype=self.model.dtype)
            check_labels(self.loss_fns, Y, "the batch source's Y")
        return X, Y


def _record(history, step, trainer, validation, loss, bar):
    model = trainer.model
    train = trainer.take_running_loss()
    val = (trainer.evaluate(*validation, batch_size=8192) if validation is not None
           else np.full(model.run_shape + (model.n_tasks,), np.nan))
    history.step.append(step)
    history.train_loss.append(train.tolist())
    history.val_loss.append(val.tolist())
    shown = val if validation is not None else train
    shown = shown.reshape(-1, model.n_tasks).mean(axis=0)
    bar.set_postfix({("val" if validation is not None else "train") + f"{k}": f"{v:.4g}"
                     for k, v in enumerate(shown)}, refresh=False)
