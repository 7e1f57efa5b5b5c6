r"""The kernel contract compiled for the CPU with numba.

Design (measured on a 2-core EPYC, see benchmarks/RESULTS.md):

- The experts' tensordot is one matrix product, ``X (B, D) @ W.reshape(D, U*E)``, because
  the (D, U, E) layout makes ``W`` a (D, U*E) matrix for free. It calls BLAS from inside
  the jitted function (``np.dot``), block of rows by block of rows, and applies bias + ReLU
  to each block while it is still in cache: the (B, U, E) pre-activation is never written
  and re-read from main memory.
- The backward pass computes ``dZ = dH * [H > 0]`` and ``db`` in one fused pass, then two
  BLAS products for dW and dX.
- The gate mixes are plain loops (all K tasks in one pass over H), compiled with and
  without ``parallel=True``; the parallel version is used only for large batches, because
  numba threads started right after a multi-threaded BLAS call compete with BLAS threads
  that are still spinning.

All functions take float32 or float64 arrays of any layout (they are made contiguous and
of one dtype first) and return NumPy arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

NAME = "numba"
_BLOCK = 256                  # rows per BLAS call in experts_forward: a (256, U*E) block fits L2
_PARALLEL_MIN_CELLS = 1 << 18  # B*U*E above which the gate mixes use prange


def _same_dtype(*arrays):
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64):
        dtype = np.float64
    return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]


# ----------------------------------------------------------------------------- experts
@njit(cache=True)
def _experts_forward(X, W2, b):
    """Loop nest (per block of rows)::

        Z[blk] = X[blk] @ W2                  # BLAS, (blk, N), N = U*E
        for i in blk: for j in N:             # fused epilogue, block still in cache
            H[i, j] = max(Z[i, j] + b[j], 0)
    """
    B, N = X.shape[0], W2.shape[1]
    H = np.empty((B, N), dtype=X.dtype)
    for start in range(0, B, _BLOCK):
        stop = min(B, start + _BLOCK)
        H[start:stop] = np.dot(X[start:stop], W2)
        for i in range(start, stop):
            for j in range(N):
                v = H[i, j] + b[j]
                H[i, j] = v if v > 0 else 0
    return H


def experts_forward(X, W, b):
    """``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])``.

    X (B, D), W (D, U, E), b (U, E) -> H (B, U, E).
    """
    X, W, b = _same_dtype(X, W, b)
    D, U, E = W.shape
    H = _experts_forward(X, W.reshape(D, U * E), b.reshape(U * E))
    return H.reshape(X.shape[0], U, E)


@njit(cache=True)
def _relu_mask_and_bias_grad(H, dH):
    """One pass: ``dZ = dH * [H > 0]`` and ``db = sum_b dZ``. H, dH: (B, N)."""
    B, N = H.shape
    dZ = np.empty_like(dH)
    db = np.zeros(N, dtype=dH.dtype)
    for i in range(B):
        for j in range(N):
            g = dH[i, j] if H[i, j] > 0 else 0
            dZ[i, j] = g
            db[j] += g
    return dZ, db


@njit(cache=True)
def _experts_backward(X, W2, H, dH, need_dX):
    """Loop nest::

        for i in B: for j in N:  dZ[i,j] = dH[i,j] * (H[i,j] > 0); db[j] += dZ[i,j]
        dW = X.T @ dZ            # BLAS, (D, N)
        dX = dZ @ W2.T           # BLAS, (B, D), only when asked
    """
    dZ, db = _relu_mask_and_bias_grad(H, dH)
    dW = np.dot(X.T, dZ)
    if need_dX:
        dX = np.dot(dZ, W2.T)
    else:
        dX = np.empty((0, 0), dtype=X.dtype)
    return dX, dW, db


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`.

    Returns dX (B, D) (None if not ``need_dX``), dW (D, U, E), db (U, E).
    """
    X, W, H, dH = _same_dtype(X, W, H, dH)
    B, (D, U, E) = X.shape[0], W.shape
    dX, dW, db = _experts_backward(X, W.reshape(D, U * E), H.reshape(B, U * E),
                                   dH.reshape(B, U * E), need_dX)
    return (dX if need_dX else None), dW.reshape(D, U, E), db.reshape(U, E)


# --------------------------------------------------------------------------- gate mixes
def _gate_mix_forward_loops(H, G, F):
    """Loop nest (all K tasks in one pass over H; H[b] is read once per b)::

        for b in B: for k in K: for u in U:
            F[k, b, u] = sum_e G[k, b, e] * H[b, u, e]
    """
    B, U, E = H.shape
    K = G.shape[0]
    for b in prange(B):
        for k in range(K):
            for u in range(U):
                acc = 0.0
                for e in range(E):
                    acc += G[k, b, e] * H[b, u, e]
                F[k, b, u] = acc


def _gate_mix_backward_loops(H, G, dF, dH, dG):
    """Loop nest (one pass over H and dH)::

        for b in B:
            for u in U: for e in E:   dH[b, u, e] = sum_k dF[k, b, u] * G[k, b, e]
            for k in K: for e in E:   dG[k, b, e] = sum_u dF[k, b, u] * H[b, u, e]
    """
    B, U, E = H.shape
    K = G.shape[0]
    for b in prange(B):
        for u in range(U):
            for e in range(E):
                acc = 0.0
                for k in range(K):
                    acc += dF[k, b, u] * G[k, b, e]
                dH[b, u, e] = acc
        for k in range(K):
            for e in range(E):
                dG[k, b, e] = 0.0
            for u in range(U):
                d = dF[k, b, u]
                for e in range(E):
                    dG[k, b, e] += d * H[b, u, e]


_mix_forward = {False: njit(cache=True)(_gate_mix_forward_loops),
                True: njit(cache=True, parallel=True)(_gate_mix_forward_loops)}
_mix_backward = {False: njit(cache=True)(_gate_mix_backward_loops),
                 True: njit(cache=True, parallel=True)(_gate_mix_backward_loops)}


def gate_mix_forward(H, G):
    """``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]``: H (B, U, E), G (K, B, E) -> F (K, B, U)."""
    H, G = _same_dtype(H, G)
    (B, U, _), K = H.shape, G.shape[0]
    F = np.empty((K, B, U), dtype=H.dtype)
    _mix_forward[H.size >= _PARALLEL_MIN_CELLS](H, G, F)
    return F


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: dH (B, U, E), dG (K, B, E)."""
    H, G, dF = _same_dtype(H, G, dF)
    dH = np.empty_like(H)
    dG = np.empty_like(G)
    _mix_backward[H.size >= _PARALLEL_MIN_CELLS](H, G, dF, dH, dG)
    return dH, dG


def to_kernel_array(A):
    """Arrays stay in host memory for this backend."""
    return A


def to_numpy(A):
    return A
