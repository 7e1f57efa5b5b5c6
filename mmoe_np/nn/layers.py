r"""Layers as forward/backward pairs (CS231n style): ``forward -> (out, cache)``,
``backward(dout, cache) -> gradients``.

Every layer works on a batch of rows and, where it helps the multi-task models, on a
leading task axis K: K towers (or K gates) are then one ``np.matmul`` instead of K.
"""
from __future__ import annotations

import numpy as np


def _sum_to_shape(grad: np.ndarray, shape) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes that were broadcast to reach it."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _one_input_many_weights(x, W):
    """True when one input ``x`` (B, I) or (1, B, I) meets K weight matrices ``W`` (K, I, O)."""
    return W.ndim == 3 and (x.ndim == 2 or (x.ndim == 3 and x.shape[0] == 1))


def dense_forward(x, W, b):
    r"""Affine layer :math:`z = x W + b`.

    Shapes: ``x`` (..., B, I), ``W`` (..., I, O), ``b`` (..., O) -> ``z`` (..., B, O).
    Leading axes broadcast (e.g. one input ``(B, I)`` into K towers ``W: (K, I, O)``).
    """
    if _one_input_many_weights(x, W):
        # All K products in one BLAS call: x (B, I) @ [W_1 ... W_K] (I, K*O). NumPy's
        # broadcast matmul would loop without BLAS here (about 20x slower at B = 8192).
        K, I, O = W.shape
        z = (x.reshape(-1, I) @ W.transpose(1, 0, 2).reshape(I, K * O)).reshape(-1, K, O)
        z = z.transpose(1, 0, 2)                                      # (K, B, O), a view
    else:
        z = np.matmul(x, W)
    z += b[..., None, :]
    return z, (x, W)


def dense_backward(dz, cache):
    r"""Gradients of the affine layer.

    .. math:: dx = dz\,W^\top,\quad dW = x^\top dz,\quad db = \sum_{batch} dz

    Returns ``dx`` (shape of x), ``dW`` (shape of W), ``db`` (..., O).
    """
    x, W = cache
    db = dz.sum(axis=-2)
    if _one_input_many_weights(x, W):
        # the K products as one BLAS call each, as in dense_forward
        K, I, O = W.shape
        dz_wide = dz.transpose(1, 0, 2).reshape(-1, K * O)                   # (B, K*O)
        dW = (x.reshape(-1, I).T @ dz_wide).reshape(I, K, O).transpose(1, 0, 2)
        dx = (dz_wide @ W.transpose(0, 2, 1).reshape(K * O, I)).reshape(np.shape(x))  # sum over k
        return dx, dW, db
    dx = _sum_to_shape(np.matmul(dz, np.swapaxes(W, -1, -2)), np.shape(x))
    dW = _sum_to_shape(np.matmul(np.swapaxes(x, -1, -2), dz), W.shape)
    return dx, dW, db


def relu_forward(z):
    """:math:`\\max(z, 0)`, any shape. The cache is the output (its sign is the mask)."""
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


def softmax_gate_forward(X, gate_kernel, gate_bias):
    r"""The paper's gates, all K at once: :math:`g^k(x) = \mathrm{softmax}(W_{gk} x + b_{gk})`.

    Shapes: ``X`` (B, D), ``gate_kernel`` (K, D, E), ``gate_bias`` (K, E)
    -> ``G`` (K, B, E), each row a distribution over the E experts.
    """
    logits, dense_cache = dense_forward(X, gate_kernel, gate_bias)   # (K, B, E)
    G = softmax(logits, axis=-1)
    return G, (dense_cache, G)


def softmax_gate_backward(dG, cache, need_dX=False):
    r"""Backward of the gates.

    Softmax Jacobian-vector product, per row:
    :math:`dl_e = g_e\,(dg_e - \sum_j g_j\,dg_j)`.

    Returns ``dX`` (B, D) or None, ``dgate_kernel`` (K, D, E), ``dgate_bias`` (K, E).
    """
    dense_cache, G = cache
    dlogits = G * (dG - (dG * G).sum(axis=-1, keepdims=True))        # (K, B, E)
    dX, dW, db = dense_backward(dlogits, dense_cache)                  # (B, D), (K, D, E), (K, E)
    return (dX if need_dX else None), dW, db


def towers_forward(F, tower_kernel, tower_bias, output_kernel, output_bias):
    r"""K task towers at once:

    .. math:: \hat y_k = h^k(f^k) = W_{ok}\,\mathrm{ReLU}(W_{tk} f^k + b_{tk}) + b_{ok}

    Shapes: ``F`` (K, B, U), or (1, B, U) / (B, U) when every tower reads the same input
    (Shared-Bottom); ``tower_kernel`` (K, U, T), ``tower_bias`` (K, T),
    ``output_kernel`` (K, T, O), ``output_bias`` (K, O) -> ``out`` (K, B, O).
    """
    z, hidden_cache = dense_forward(F, tower_kernel, tower_bias)       # (K, B, T)
    a, relu_cache = relu_forward(z)
    out, output_cache = dense_forward(a, output_kernel, output_bias)   # (K, B, O)
    return out, (hidden_cache, relu_cache, output_cache)


def towers_backward(dout, cache):
    """Backward of :func:`towers_forward`.

    Returns ``dF`` (shape of F) and a dict of gradients keyed like the tower parameters.
    """
    hidden_cache, relu_cache, output_cache = cache
    da, dWo, dbo = dense_backward(dout, output_cache)
    dz = relu_backward(da, relu_cache)
    dF, dWt, dbt = dense_backward(dz, hidden_cache)
    grads = {"tower_kernel": dWt, "tower_bias": dbt, "output_kernel": dWo, "output_bias": dbo}
    return dF, grads
