r"""The kernel contract in plain NumPy: the oracle the numba and CUDA kernels are tested against.

Four functions compute everything that touches the experts (DESIGN.md, "Kernel contract"):

- ``experts_forward(X, W, b)``: :math:`H_{bue} = \mathrm{relu}(\sum_d X_{bd} W_{due} + b_{ue})`
- ``experts_backward(X, W, H, dH)``: :math:`dZ = dH \cdot [H > 0]`, then dX, dW, db
- ``gate_mix_forward(H, G)``: :math:`F_{kbu} = \sum_e G_{kbe} H_{bue}`
- ``gate_mix_backward(H, G, dF)``: :math:`dH_{bue} = \sum_k dF_{kbu} G_{kbe}`,
  :math:`dG_{kbe} = \sum_u dF_{kbu} H_{bue}`

Shapes: X (B, D), W (D, U, E), b (U, E), H (B, U, E), G (K, B, E), F (K, B, U).
Each function is written the most obvious way: ``np.tensordot`` (a BLAS matrix product
underneath) for the experts, ``np.einsum`` for the mixes.
"""
from __future__ import annotations

import numpy as np

NAME = "numpy"


def experts_forward(X, W, b):
    """All E experts at once: ``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])`` -> (B, U, E)."""
    Z = np.tensordot(X, W, axes=(1, 0)) + b          # sum over d: (B, U, E)
    return np.maximum(Z, 0)


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`; ReLU's mask is read from ``H``.

    Returns ``dX`` (B, D) (None when ``need_dX`` is False: the model's input needs none),
    ``dW`` (D, U, E), ``db`` (U, E).
    """
    dZ = dH * (H > 0)                                # (B, U, E)
    dW = np.tensordot(X, dZ, axes=(0, 0))            # sum over b: (D, U, E)
    db = dZ.sum(axis=0)
    dX = np.tensordot(dZ, W, axes=([1, 2], [1, 2])) if need_dX else None   # sum over u, e: (B, D)
    return dX, dW, db


def gate_mix_forward(H, G):
    """The K gate-weighted sums: ``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]`` -> (K, B, U)."""
    return np.einsum("kbe,bue->kbu", G, H)


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: ``dH`` (B, U, E) and ``dG`` (K, B, E)."""
    dH = np.einsum("kbu,kbe->bue", dF, G)
    dG = np.einsum("kbu,bue->kbe", dF, H)
    return dH, dG


def to_kernel_array(A):
    """Put an array where this backend's kernels read it (NumPy: a no-op)."""
    return A


def to_numpy(A):
    """Bring a kernel array back as a NumPy array (NumPy: a no-op)."""
    return A
