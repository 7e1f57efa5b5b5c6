r"""The kernel contract in plain NumPy: the oracle the numba and CUDA kernels are tested against.

Four functions compute everything that touches the experts (DESIGN.md, "Kernel contract"):

- ``experts_forward(X, W, b)``: :math:`H_{bue} = \mathrm{relu}(\sum_d X_{bd} W_{due} + b_{ue})`
- ``experts_backward(X, W, H, dH)``: :math:`dZ = dH \cdot [H > 0]`, then dX, dW, db
- ``gate_mix_forward(H, G)``: :math:`F_{kbu} = \sum_e G_{kbe} H_{bue}`
- ``gate_mix_backward(H, G, dF)``: :math:`dH_{bue} = \sum_k dF_{kbu} G_{kbe}`,
  :math:`dG_{kbe} = \sum_u dF_{kbu} H_{bue}`

Shapes: X (B, D), W (D, U, E), b (U, E), H (B, U, E), G (K, B, E), F (K, B, U). Every array
may carry leading run axes (``...``) that broadcast like NumPy's. Each function is written the
most obvious way: a matrix product for the experts (BLAS underneath), ``np.einsum`` for the
mixes. Arguments are checked by :mod:`.shapes`, the same checks every backend runs.

Below the contract: the NumPy versions of the steps a fast backend may fuse (experts and gates
in one product, the Shared-Bottom layer, the towers). They compose the layers of
:mod:`mmoe_np.nn.layers` and are the oracles of the fused kernels.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..nn import layers
from . import shapes

NAME = "numpy"


def experts_forward(X, W, b):
    """All E experts at once: ``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])`` -> (B, U, E)."""
    X, W, b, dtype = shapes.experts_forward(X, W, b)
    D, U, E = W.shape[-3:]
    Z = np.matmul(X.astype(dtype, copy=False), W.astype(dtype, copy=False).reshape(W.shape[:-2] + (U * E,)))
    Z = Z.reshape(Z.shape[:-1] + (U, E)) + b.astype(dtype, copy=False)[..., None, :, :]   # (B, U, E)
    return np.maximum(Z, 0)


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`; ReLU's mask is read from ``H``.

    Returns ``dX`` (B, D) (None when ``need_dX`` is False: the model's input needs none),
    ``dW`` (D, U, E), ``db`` (U, E).
    """
    X, W, H, dH, dtype = shapes.experts_backward(X, W, H, dH)
    X, W, dH = X.astype(dtype, copy=False), W.astype(dtype, copy=False), dH.astype(dtype, copy=False)
    D, U, E = W.shape[-3:]
    dZ = dH * (H > 0)                                                   # (B, U, E)
    dZ2 = dZ.reshape(dZ.shape[:-2] + (U * E,))                         # (B, U*E)
    dW = np.matmul(np.swapaxes(X, -1, -2), dZ2)                        # sum over b: (D, U*E)
    dW = layers.sum_to_shape(dW.reshape(dW.shape[:-1] + (U, E)), W.shape)
    db = layers.sum_to_shape(dZ.sum(axis=-3), W.shape[:-3] + (U, E))
    dX = None
    if need_dX:                                                         # sum over u, e: (B, D)
        dX = np.matmul(dZ2, np.swapaxes(W.reshape(W.shape[:-2] + (U * E,)), -1, -2))
        dX = layers.sum_to_shape(dX, X.shape)
    return dX, dW, db


def gate_mix_forward(H, G):
    """The K gate-weighted sums: ``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]`` -> (K, B, U)."""
    H, G, dtype = shapes.gate_mix_forward(H, G)
    H, G = H.astype(dtype, copy=False), G.astype(dtype, copy=False)
    return np.einsum("...kbe,...bue->...kbu", G, H)


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: ``dH`` (B, U, E) and ``dG`` (K, B, E)."""
    H, G, dF, dtype = shapes.gate_mix_backward(H, G, dF)
    H, G, dF = H.astype(dtype, copy=False), G.astype(dtype, copy=False), dF.astype(dtype, copy=False)
    dH = layers.sum_to_shape(np.einsum("...kbu,...kbe->...bue", dF, G), H.shape)
    dG = layers.sum_to_shape(np.einsum("...kbu,...bue->...kbe", dF, H), G.shape)
    return dH, dG


# --------------------------------------------------------------------------------- fused steps
class ExpertsGatesCache(NamedTuple):
    X: np.ndarray
    expert_kernel: np.ndarray
    H: np.ndarray
    gates: layers.GateCache


def experts_and_gates_forward(X, expert_kernel, expert_bias, gate_kernel, gate_bias):
    """The experts and the gates of MMoE, both products with X.

    Returns ``H`` (B, U, E), ``G`` (K, B, E) and the cache for
    :func:`experts_and_gates_backward`.
    """
    H = experts_forward(X, expert_kernel, expert_bias)
    X, gate_kernel, gate_bias, dtype = shapes.softmax_gates(X, gate_kernel, gate_bias, "experts_and_gates_forward")
    X, gate_kernel, gate_bias = (a.astype(dtype, copy=False) for a in (X, gate_kernel, gate_bias))
    G, gate_cache = layers.softmax_gate_forward(X, gate_kernel, gate_bias)
    return H, G, ExpertsGatesCache(X, expert_kernel, H, gate_cache)


def experts_and_gates_backward(cache, dH, dG, out=None):
    """Gradients of the experts and the gates: ``(dexpert_kernel, dexpert_bias, dgate_kernel, dgate_bias)``.

    ``out``: optional four arrays to write them into (the model's gradient buffer).
    """
    dG = shapes.gradient("experts_and_gates_backward", "dG", dG, cache.gates.G.shape)
    _, dW, db = experts_backward(cache.X, cache.expert_kernel, cache.H, dH, need_dX=False)
    _, dWg, dbg = layers.softmax_gate_backward(dG, cache.gates)
    return _fill(out, (dW, db, dWg, dbg))


class DenseReluCache(NamedTuple):
    dense: layers.DenseCache
    A: np.ndarray


def dense_relu_forward(X, W, b):
    """Shared-Bottom's layer ``A = relu(X W + b)``: X (B, D), W (D, S), b (S,) -> A (B, S)."""
    X, W, b, dtype = shapes.dense(X, W, b, "dense_relu_forward")
    Z, dense_cache = layers.dense_forward(X, W, b)
    A, _ = layers.relu_forward(Z)
    return A, DenseReluCache(dense_cache, A)


def dense_relu_backward(cache, dA, out=None):
    """Gradients ``(dW, db)`` of :func:`dense_relu_forward` (the input needs none)."""
    dA = shapes.gradient("dense_relu_backward", "dA", dA, cache.A.shape)
    _, dW, db = layers.dense_backward(layers.relu_backward(dA, cache.A), cache.dense)
    return _fill(out, (dW, db))


def towers_forward(F, tower_kernel, tower_bias, output_kernel, output_bias):
    """The K towers (:func:`mmoe_np.nn.layers.towers_forward`), checked like a kernel."""
    shapes.towers(F, tower_kernel, tower_bias, output_kernel, output_bias)
    return layers.towers_forward(F, tower_kernel, tower_bias, output_kernel, output_bias)


def towers_backward(dout, cache, out=None):
    """``dF`` and the towers' gradients ``(dtower_kernel, dtower_bias, doutput_kernel, doutput_bias)``."""
    dF, grads = layers.towers_backward(dout, cache)
    return dF, _fill(out, grads)


def softmax_gate_forward(X, gate_kernel, gate_bias):
    """The gates (:func:`mmoe_np.nn.layers.softmax_gate_forward`), checked like a kernel."""
    shapes.softmax_gates(X, gate_kernel, gate_bias)
    return layers.softmax_gate_forward(X, gate_kernel, gate_bias)


def softmax_gate_backward(dG, cache, need_dX=False, out=None):
    """``dX`` (or None) and the gates' gradients ``(dgate_kernel, dgate_bias)``."""
    dG = shapes.gradient("softmax_gate_backward", "dG", dG, cache.G.shape)
    dX, dW, db = layers.softmax_gate_backward(dG, cache, need_dX)
    return dX, _fill(out, (dW, db))


def _fill(out, grads):
    """Copy ``grads`` into ``out`` (when given) and return what holds them."""
    if out is None:
        return tuple(grads)
    for target, g in zip(out, grads):
        np.copyto(target, layers.sum_to_shape(g, target.shape), casting="same_kind")
    return tuple(out)
