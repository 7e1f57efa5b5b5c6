r"""Positive and negative transfer, measured: a multi-task model against single-task models.

Task k's **transfer** is how much training it together with the other tasks helped it:

.. math:: \mathrm{transfer}_k = \frac{L_k^{\text{single}} - L_k^{\text{multi}}}{L_k^{\text{single}}}

positive: the other tasks helped (positive transfer); negative: they hurt (negative
transfer). :math:`L_k` is task k's test loss; the single-task model for task k is trained on
task k's data alone. Used by lessons 10-13. Every job is independent and seeded, and :func:`~.jobs.run_jobs`
fixes each job's threads, so a grid gives the same numbers serially or on ``n_jobs`` processes.
"""
from __future__ import annotations

import numpy as np

from .. import train as train_module
from ..optim import Adam
from .common import build_model
from .jobs import run_jobs  # noqa: F401  (the lessons' one job runner)


def train_and_test(model, train, test, *, steps=1500, lr=1e-2, batch_size=128, seed=0, loss="mse",
                   task_weights=None):
    """Train ``model`` on ``train = (X, Y)`` with Adam and return its test losses (K,).

    ``X``/``Y`` in either form :func:`mmoe_np.fit` takes (one input, or per-task inputs).
    """
    train_module.fit(model, *train, optimizer=Adam(lr=lr), steps=steps, batch_size=batch_size, loss=loss,
                     task_weights=task_weights, seed=seed, progress=False, eval_every=steps)
    return train_module.evaluate(model, *test, loss=loss)


def task_data(data, k):
    """Task k alone from ``(X, Y)`` in either form: ``(X_k, Y_k)`` with Y_k (n, 1)."""
    X, Y = data
    if isinstance(X, list):
        return X[k], np.asarray(Y[k]).reshape(len(X[k]), -1)
    return X, (Y[:, k:k + 1] if not isinstance(Y, list) else Y[k])


def single_task_losses(train, test, n_tasks, *, hidden_units=16, tower_units=8, seed=0, backend="numba", **fit):
    """Test loss of one :class:`~mmoe_np.SingleTask` per task, each trained on its task alone: (K,)."""
    n_features = task_data(train, 0)[0].shape[1]
    out = []
    for k in range(n_tasks):
        model = build_model("single_task", n_features, seed=seed + k, backend=backend, hidden_units=hidden_units,
                            tower_units=tower_units)
        out.append(train_and_test(model, task_data(train, k), task_data(test, k), seed=seed, **fit)[0])
    return np.array(out)


def transfer(single, multi):
    """Relative transfer per task, ``(single - multi) / single``: > 0 helped, < 0 hurt."""
    single, multi = np.asarray(single, float), np.asarray(multi, float)
    return (single - multi) / single


