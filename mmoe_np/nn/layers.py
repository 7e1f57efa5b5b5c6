r"""Layers as forward/backward pairs (CS231n style): ``forward -> (out, cache)``,
``backward(dout, cache) -> gradients``.

Every shape below is for one run. Any array may also carry leading *run* axes (``...``):
R independent runs stacked on one array, computed by the same code (NumPy broadcasting over
the leading axes; see ``mmoe_np/models/base.py``). That is why indexing is written from the
right (``axis=-1``) and why one input read by several weight sets is written ``x[..., None, :, :]``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DenseCache(NamedTuple):
    x: np.ndarray          # the layer's input
    W: np.ndarray          # its weights


class GateCache(NamedTuple):
    dense: DenseCache      # the gates' logits layer
    G: np.ndarray          # the gate weights (K, B, E)


class TowerCache(NamedTuple):
    hidden: DenseCache     # dense(U -> T)
    relu: np.ndarray       # the hidden activations (K, B, T); their sign is ReLU's mask
    output: DenseCache     # dense(T -> O)


def sum_to_shape(grad: np.ndarray, shape) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes that were broadcast to reach ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def dense_forward(x, W, b):
    r"""Affine layer :math:`z = x W + b`.

    Shapes: ``x`` (..., B, I), ``W`` (..., I, O), ``b`` (..., O) -> ``z`` (..., B, O).
    Leading axes broadcast, e.g. one input ``(1, B, I)`` into K towers ``W: (K, I, O)``.
    """
    z = np.matmul(x, W)
    z += b[..., None, :]
    return z, DenseCache(x, W)


def dense_backward(dz, cache):
    r"""Gradients of the affine layer.

    .. math:: dx = dz\,W^\top,\quad dW = x^\top dz,\quad db = \sum_{batch} dz

    Returns ``dx`` (shape of x), ``dW`` (shape of W), ``db`` (..., O), each summed over the
    axes that broadcasting added in the forward pass.
    """
    x, W = cache
    db = dz.sum(axis=-2)                                               # sum over the batch
    dx = sum_to_shape(np.matmul(dz, np.swapaxes(W, -1, -2)), np.shape(x))
    dW = sum_to_shape(np.matmul(np.swapaxes(x, -1, -2), dz), W.shape)
    db = sum_to_shape(db, W.shape[:-2] + W.shape[-1:])                # b has W's leading axes
    return dx, dW, db


def relu_forward(z):
    """:math:`\\max(z, 0)`, any shape (NaN stays NaN). The cache is the output (its sign is the mask)."""
    a = np.maximum(z, 0)
    return a, a


def relu_backward(da, cache):
    """:math:`dz = da \\cdot [a > 0]`."""
    return da * (cache > 0)


def softmax(z, axis=-1):
    """Numerically stable softmax (subtract the max before exponentiating)."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def softmax_backward(dG, G):
    r"""Softmax's Jacobian-vector product, per row: :math:`dl_e = g_e\,(dg_e - \sum_j g_j\,dg_j)`."""
    return G * (dG - (dG * G).sum(axis=-1, keepdims=True))


def softmax_gate_forward(X, gate_kernel, gate_bias):
    r"""The paper's gates, all K at once: :math:`g^k(x) = \mathrm{softmax}(W_{gk} x + b_{gk})`.

    Shapes: ``X`` (B, D), ``gate_kernel`` (K, D, E), ``gate_bias`` (K, E)
    -> ``G`` (K, B, E), each row a distribution over the E experts.
    """
    logits, dense_cache = dense_forward(X[..., None, :, :], gate_kernel, gate_bias)   # (K, B, E)
    G = softmax(logits, axis=-1)
    return G, GateCache(dense_cache, G)


def softmax_gate_backward(dG, cache, need_dX=False):
    r"""Backward of the gates: softmax's backward, then the dense layer's.

    Returns ``dX`` (B, D) or None, ``dgate_kernel`` (K, D, E), ``dgate_bias`` (K, E).
    """
    dlogits = softmax_backward(dG, cache.G)                            # (K, B, E)
    dX, dW, db = dense_backward(dlogits, cache.dense)                  # dX summed over the K gates
    return (dX[..., 0, :, :] if need_dX else None), dW, db


def towers_forward(F, tower_kernel, tower_bias, output_kernel, output_bias):
    r"""K task towers at once:

    .. math:: \hat y_k = h^k(f^k) = W_{ok}\,\mathrm{ReLU}(W_{tk} f^k + b_{tk}) + b_{ok}

    Shapes: ``F`` (K, B, U), or (1, B, U) when every tower reads the same input
    (Shared-Bottom); ``tower_kernel`` (K, U, T), ``tower_bias`` (K, T),
    ``output_kernel`` (K, T, O), ``output_bias`` (K, O) -> ``out`` (K, B, O).
    """
    z, hidden_cache = dense_forward(F, tower_kernel, tower_bias)       # (K, B, T)
    a, relu_cache = relu_forward(z)
    out, output_cache = dense_forward(a, output_kernel, output_bias)   # (K, B, O)
    return out, TowerCache(hidden_cache, relu_cache, output_cache)


def towers_backward(dout, cache):
    """Backward of :func:`towers_forward`.

    Returns ``dF`` (shape of F, summed over the towers when they share it) and the
    gradients ``(dtower_kernel, dtower_bias, doutput_kernel, doutput_bias)``.
    """
    da, dWo, dbo = dense_backward(dout, cache.output)
    dz = relu_backward(da, cache.relu)
    dF, dWt, dbt = dense_backward(dz, cache.hidden)
    return dF, (dWt, dbt, dWo, dbo)
