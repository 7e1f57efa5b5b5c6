r"""Losses: each returns ``(loss, dpred)`` with ``dpred = d loss / d pred``.

Both are means over the batch and output axes of ``pred`` (B, O): ``loss`` is a float. With
leading run axes, ``pred`` (..., B, O) gives one loss per run, an array (...), and each run's
gradient is that of its own mean -- exactly what R separate trainings would compute.
"""
from __future__ import annotations

import numpy as np

from .. import _checks


def _pair(pred, y):
    """``pred`` as a float array and ``y`` broadcast to its shape; n = elements per run's mean."""
    # No NaN check on pred here: a NaN loss is information the training loop reports.
    if isinstance(pred, (str, bytes)) or pred is None:
        raise TypeError(f"pred must be a float array, got {type(pred).__name__}")
    pred = np.asarray(pred)
    if not np.issubdtype(pred.dtype, np.floating):
        raise TypeError(f"pred must be a float array, got dtype {pred.dtype}")
    try:
        y = np.asarray(y, dtype=pred.dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"y must be an array of real numbers, got {type(y).__name__} ({err})") from None
    if y.ndim == 1 and pred.shape == (len(y), 1):
        y = y[:, None]
    core = min(pred.ndim, 2)                  # (B, O): must match exactly; leading (run) axes may broadcast
    try:
        if y.shape[y.ndim - core:] != pred.shape[pred.ndim - core:] or y.ndim < core:
            raise ValueError
        if np.broadcast_shapes(y.shape, pred.shape) != pred.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"y must have the shape of pred {pred.shape} (its leading run axes may be missing "
                         f"or 1), got {y.shape}") from None
    if pred.size == 0:
        raise ValueError(f"pred is empty (shape {pred.shape}): a loss needs at least one element")
    n = pred.shape[-2] * pred.shape[-1] if pred.ndim >= 2 else pred.size
    return pred, y, n


def _mean(values, n, pred):
    """Per-run mean over the batch and output axes: a float for one run."""
    if pred.ndim <= 2:
        return float(values.sum()) / n
    return values.sum(axis=(-2, -1)) / n


def mse(pred, y):
    r"""Mean squared error :math:`L = \frac{1}{N}\sum (\hat y - y)^2` over the N = B x O entries.

    ``pred``, ``y``: same shape, e.g. (B, O). Returns ``loss`` and
    ``dpred = 2 (pred - y) / N`` (shape of pred).
    """
    pred, y, n = _pair(pred, y)
    diff = pred - y
    if pred.ndim <= 2:
        return float(np.vdot(diff, diff)) / n, diff * (2.0 / n)
    return _mean(diff * diff, n, pred), diff * (2.0 / n)


def bce_with_logits(logits, y):
    r"""Binary cross-entropy on logits :math:`z` with labels :math:`y \in [0, 1]`.

    .. math:: L = \frac{1}{N}\sum \max(z, 0) - z y + \log(1 + e^{-|z|})

    the stable form of :math:`-y\log\sigma(z) - (1-y)\log(1-\sigma(z))`: no exp of a
    large positive number, so logits of +-1e4 give finite losses and gradients.
    ``dlogits = (sigmoid(z) - y) / N``. Labels outside [0, 1] (or NaN) are a ValueError:
    they make the loss unbounded below.
    """
    z, y, n = _pair(logits, y)
    outside = ~((y >= 0) & (y <= 1))
    if outside.any():
        first = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"y must hold labels in [0, 1] for bce_with_logits, got {y[first]} at index {first}")
    e = np.exp(-np.abs(z))              # in (0, 1]: never overflows
    loss = np.maximum(z, 0) - z * y + np.log1p(e)
    # stable sigmoid from the same e
    sig = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _mean(loss, n, z), (sig - y) / n


LOSSES = {"mse": mse, "bce_with_logits": bce_with_logits}


def get(name):
    """Look a loss up by name ('mse' or 'bce_with_logits'); a callable passes through."""
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss must be one of {sorted(LOSSES)} or a callable (pred, y) -> (loss, dpred), "
                        f"got {type(name).__name__}")
    _checks.choice("loss", name, LOSSES)
    return LOSSES[name]
