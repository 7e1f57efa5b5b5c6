r"""Losses: each returns ``(loss, dpred)`` with ``dpred = d loss / d pred``.

Both are means over every element of ``pred`` (batch and output units).
"""
from __future__ import annotations

import numpy as np

from .. import _checks


def _pair(pred, y):
    # No NaN check on pred here: a NaN loss is information the training loop reports.
    pred = np.asarray(pred)
    if not np.issubdtype(pred.dtype, np.floating):
        raise TypeError(f"pred must be a float array, got dtype {pred.dtype}")
    y = np.asarray(y, dtype=pred.dtype)
    if y.shape != pred.shape:
        if y.ndim == 1 and pred.shape == (len(y), 1):
            y = y[:, None]
        else:
            raise ValueError(f"y must have the shape of pred {pred.shape}, got {y.shape}")
    if pred.size == 0:
        raise ValueError("pred is empty: a loss needs at least one element")
    return pred, y


def mse(pred, y):
    r"""Mean squared error :math:`L = \frac{1}{N}\sum (\hat y - y)^2`.

    ``pred``, ``y``: same shape, e.g. (B, O). Returns ``loss`` (float) and
    ``dpred = 2 (pred - y) / N`` (shape of pred).
    """
    pred, y = _pair(pred, y)
    diff = pred - y
    n = diff.size
    return float(np.vdot(diff, diff)) / n, diff * (2.0 / n)


def bce_with_logits(logits, y):
    r"""Binary cross-entropy on logits :math:`z` with labels :math:`y \in [0, 1]`.

    .. math:: L = \frac{1}{N}\sum \max(z, 0) - z y + \log(1 + e^{-|z|})

    the stable form of :math:`-y\log\sigma(z) - (1-y)\log(1-\sigma(z))`: no exp of a
    large positive number, so logits of +-1e4 give finite losses and gradients.
    ``dlogits = (sigmoid(z) - y) / N``.
    """
    z, y = _pair(logits, y)
    n = z.size
    e = np.exp(-np.abs(z))              # in (0, 1]: never overflows
    loss = np.maximum(z, 0) - z * y + np.log1p(e)
    # stable sigmoid from the same e
    sig = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(loss.sum()) / n, (sig - y) / n


LOSSES = {"mse": mse, "bce_with_logits": bce_with_logits}


def get(name):
    """Look a loss up by name ('mse' or 'bce_with_logits'); a callable passes through."""
    if callable(name):
        return name
    _checks.choice("loss", name, LOSSES)
    return LOSSES[name]
