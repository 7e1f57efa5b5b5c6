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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from . import _checks
from .nn import losses as losses_module
from .optim import Adam


class TrainingDiverged(FloatingPointError):
    """The loss or a gradient became NaN/inf; the model keeps its last good parameters."""


@dataclass
class History:
    """What happened during :func:`fit`, one row per evaluation.

    ``train_loss[i, k]``: mean minibatch loss of task k over the steps before ``step[i]``;
    ``val_loss[i, k]``: task k's loss on the validation set at ``step[i]`` (NaN without one).
    """

    step: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)

    def as_arrays(self):
        return (np.asarray(self.step), np.asarray(self.train_loss, dtype=float),
                np.asarray(self.val_loss, dtype=float))


def task_targets(Y, n_rows, n_tasks, out_units, name="Y"):
    """Normalise ``Y`` to a list of K arrays (n_k, out_units), checking shapes and values.

    ``n_rows``: the number of rows, or a list of K (per-task inputs: Y must then be a list).
    """
    per_task = isinstance(n_rows, (list, tuple))
    rows = list(n_rows) if per_task else [n_rows] * n_tasks
    if isinstance(Y, (list, tuple)):
        if len(Y) != n_tasks:
            raise ValueError(f"{name} must hold n_tasks={n_tasks} arrays, got {len(Y)}")
        out = []
        for k, (y, n) in enumerate(zip(Y, rows)):
            y = np.asarray(y, dtype=np.float64)
            if y.ndim == 1 and out_units == 1:
                y = y[:, None]
            out.append(_checks.finite_array(f"{name}[{k}]", y, ndim=2, dtype=np.float64, shape=(n, out_units)))
        return out
    if per_task:
        raise ValueError(f"with per-task inputs (X a list of {n_tasks} arrays), {name} must be a list of "
                         f"{n_tasks} target arrays too, got one {type(Y).__name__}")
    if out_units != 1:
        raise ValueError(f"{name} as one array needs out_units == 1; pass a list of {n_tasks} "
                         f"(n, {out_units}) arrays instead")
    Y = _checks.finite_array(name, Y, ndim=2, dtype=np.float64, shape=(n_rows, n_tasks))
    return [Y[:, k:k + 1] for k in range(n_tasks)]


def task_losses(loss, n_tasks):
    """One loss function per task from a name/callable or a list of K of them."""
    if isinstance(loss, (list, tuple)):
        if len(loss) != n_tasks:
            raise ValueError(f"loss as a list needs one loss per task (n_tasks={n_tasks}), got {len(loss)}")
        return [losses_module.get(name) for name in loss]
    return [losses_module.get(loss)] * n_tasks


def _rows(X):
    return [len(x) for x in X] if isinstance(X, list) else len(X)


def evaluate(model, X, Y, loss="mse", batch_size=8192):
    """Each task's loss on (X, Y): an array (K,). ``X``, ``Y`` and ``loss`` as in :func:`fit`."""
    loss_fns = task_losses(loss, model.n_tasks)
    X = model._check_X(X)
    targets = task_targets(Y, _rows(X), model.n_tasks, model.out_units)
    preds = model.predict(X, batch_size=batch_size)
    return np.array([fn(p, t)[0] for fn, p, t in zip(loss_fns, preds, targets)])


class _EpochSampler:
    """Minibatch row indices drawn without replacement, a fresh permutation each epoch."""

    def __init__(self, n_rows, batch_size, rng):
        self.n, self.batch, self.rng = n_rows, min(batch_size, n_rows), rng
        self.order, self.cursor = rng.permutation(n_rows), 0

    def next(self):
        if self.cursor + self.batch > self.n:              # next epoch
            self.order, self.cursor = self.rng.permutation(self.n), 0
        idx = self.order[self.cursor:self.cursor + self.batch]
        self.cursor += self.batch
        return idx


def fit(model, X, Y, *, optimizer=None, loss="mse", steps=1000, batch_size=128, X_val=None,
        Y_val=None, eval_every=100, task_weights=None, seed=0, progress=True, desc=None, on_eval=None):
    """Train ``model`` in place with minibatches drawn without replacement, epoch by epoch.

    Parameters
    ----------
    X, Y : one input (n, D) for all tasks with targets (n, K) or a list of K (n, out_units);
        or per-task inputs: lists of K arrays (n_k, D) and (n_k, out_units).
    optimizer : default ``Adam(lr=1e-3)``.
    loss : 'mse', 'bce_with_logits' or a callable ``(pred, y) -> (loss, dpred)``; or a list
        of K of them, one per task.
    batch_size : rows per step (per-task inputs: rows of each task per step).
    task_weights : (K,) weights of the per-task losses in the total (default all 1); the
        gradient of task k's loss is scaled by its weight (e.g. from
        :func:`mmoe_np.relatedness.svd_task_weights`).
    seed : int or Generator for the minibatch order.
    progress : show a tqdm bar.
    on_eval : optional ``on_eval(step, model, history) -> bool`` called after each evaluation;
        returning True stops training (early stopping).

    Returns a :class:`History`. Raises :class:`TrainingDiverged` naming the step when the
    loss or a gradient is not finite, after restoring the last parameters whose loss was.
    """
    X = model._check_X(X)
    K = model.n_tasks
    per_task = isinstance(X, list)
    targets = task_targets(Y, _rows(X), K, model.out_units)
    has_val = X_val is not None
    if has_val:
        X_val = model._check_X(X_val)
        if isinstance(X_val, list) != per_task:
            raise ValueError("X_val must have the form of X: " + ("a list of per-task inputs" if per_task
                                                                  else "one array for all tasks"))
        task_targets(Y_val, _rows(X_val), K, model.out_units, name="Y_val")
    steps = _checks.positive_int("steps", steps)
    batch_size = _checks.positive_int("batch_size", batch_size)
    eval_every = _checks.positive_int("eval_every", eval_every)
    loss_fns = task_losses(loss, K)
    weights = (np.ones(K) if task_weights is None else
               _checks.finite_array("task_weights", task_weights, ndim=1, dtype=np.float64, shape=(K,)))
    optimizer = Adam(lr=1e-3) if optimizer is None else optimizer
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    history = History()
    last_good = {name: p.copy() for name, p in model.params.items()}
    running, n_running = np.zeros(K), 0
    samplers = ([_EpochSampler(len(x), batch_size, rng) for x in X] if per_task
                else _EpochSampler(len(X), batch_size, rng))
    bar = tqdm(total=steps, disable=not progress, desc=desc or type(model).__name__, leave=False)
    try:
        for step in range(1, steps + 1):
            if per_task:                                     # every task its own rows
                idx = [s.next() for s in samplers]
                batch, batch_targets = [x[i] for x, i in zip(X, idx)], [t[i] for t, i in zip(targets, idx)]
            else:
                idx = samplers.next()
                batch, batch_targets = X[idx], [t[idx] for t in targets]

            preds, cache = model._forward(batch)            # X was checked once, above
            losses_now = np.empty(K)
            dpreds = []
            for k in range(K):
                losses_now[k], d = loss_fns[k](preds[k], batch_targets[k])
                dpreds.append(d * weights[k] if weights[k] != 1 else d)
            grads = model.backward(cache, dpreds)
            # Only the loss is checked each step: a NaN/inf gradient makes the next loss NaN, and
            # then the snapshot below (taken before that update) is restored.
            if not np.isfinite(losses_now).all():
                _restore_and_raise(model, last_good, step,
                                   f"the loss is not finite (task losses {losses_now.tolist()})")
            for name, p in model.params.items():
                np.copyto(last_good[name], p)
            optimizer.step(model.params, grads)
            running += losses_now
            n_running += 1

            if step % eval_every == 0 or step == steps:
                val = evaluate(model, X_val, Y_val, loss) if has_val else np.full(K, np.nan)
                history.step.append(step)
                history.train_loss.append((running / n_running).tolist())
                history.val_loss.append(val.tolist())
                running[:], n_running = 0.0, 0
                shown = val if has_val else history.train_loss[-1]
                bar.set_postfix({("val" if has_val else "train") + f"{k}": f"{v:.4g}"
                                 for k, v in enumerate(shown)}, refresh=False)
                if on_eval is not None and on_eval(step, model, history):
                    break
            bar.update(1)
    finally:
        bar.close()
    if not all(np.isfinite(p).all() for p in model.params.values()):   # a bad gradient at the last step
        _restore_and_raise(model, last_good, step, "the last update made a parameter NaN or inf")
    return history


def _restore_and_raise(model, last_good, step, what):
    for name, p in model.params.items():
        p[...] = last_good[name]
    raise TrainingDiverged(
        f"training diverged at step {step}: {what}; the model keeps the parameters that gave a "
        f"finite loss (those before step {step}'s update). Try a smaller learning rate.")
