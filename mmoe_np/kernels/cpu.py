r"""The kernel contract compiled for the CPU with numba.

Design (measured on a 2-core EPYC, see benchmarks/RESULTS.md):

- The experts' tensordot is one matrix product, ``X (B, D) @ W.reshape(D, U*E)``, because
  the (D, U, E) layout makes ``W`` a (D, U*E) matrix for free. BLAS computes it block of
  rows by block of rows, and a jitted epilogue applies bias + ReLU to each block while it
  is still in cache: the (B, U, E) pre-activation is never re-read from main memory.
- The products go through NumPy's BLAS (``np.matmul``), not ``np.dot`` inside the jitted
  code: numba's ``np.dot`` calls SciPy's copy of OpenBLAS, a second thread pool. Its threads
  spin after each call and fought NumPy's over the 2 cores of our benchmark machine,
  making a whole training step 25x slower at batch 1024 (13 ms instead of 0.5 ms).
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
_BLOCK = 1024                 # rows per BLAS call in experts_forward (a block stays in L2)
_PARALLEL_MIN_CELLS = 1 << 18  # B*U*E above which the gate mixes use prange


def _same_dtype(*arrays):
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64):
        dtype = np.float64
    return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]


# ----------------------------------------------------------------------------- experts
@njit(cache=True)
def _add_bias_relu(Z, b):
    """In place, one pass: ``Z[i, j] = max(Z[i, j] + b[j], 0)``. Z: (rows, N), b: (N,)."""
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            v = Z[i, j] + b[j]
            Z[i, j] = v if v > 0 else 0


def experts_forward(X, W, b):
    """``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])``: X (B, D), W (D, U, E), b (U, E) -> H (B, U, E).

    Loop nest, per block of rows (the block is still in cache for the epilogue)::

        H[blk] = X[blk] @ W2                   # BLAS, (blk, N), N = U*E
        for i in blk: for j in N:              # fused epilogue (numba)
            H[i, j] = max(H[i, j] + b[j], 0)
    """
    X, W, b = _same_dtype(X, W, b)
    (B, D), (_, U, E) = X.shape, W.shape
    W2, b2 = W.reshape(D, U * E), b.reshape(U * E)
    H = np.empty((B, U * E), dtype=X.dtype)
    for start in range(0, B, _BLOCK):
        block = slice(start, start + _BLOCK)
        np.matmul(X[block], W2, out=H[block])
        _add_bias_relu(H[block], b2)
    return H.reshape(B, U, E)


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


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`: dX (B, D) (None if not ``need_dX``), dW (D, U, E), db (U, E).

    Loop nest::

        for i in B: for j in N:   dZ[i,j] = dH[i,j] * (H[i,j] > 0); db[j] += dZ[i,j]   # numba, one pass
        dW = X.T @ dZ             # BLAS, (D, N)
        dX = dZ @ W2.T            # BLAS, (B, D), only when asked
    """
    X, W, H, dH = _same_dtype(X, W, H, dH)
    (B, D), (_, U, E) = X.shape, W.shape
    dZ, db = _relu_mask_and_bias_grad(H.reshape(B, U * E), dH.reshape(B, U * E))
    dW = X.T @ dZ
    dX = dZ @ W.reshape(D, U * E).T if need_dX else None
    return dX, dW.reshape(D, U, E), db.reshape(U, E)


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
    """Loop nest (one pass over H and dH, the contiguous E axis innermost)::

        for b in B: for k in K: for u in U:
            d = dF[k, b, u]
            for e in E:
                dH[b, u, e] += d * G[k, b, e]      # sum over k
                dG[k, b, e] += d * H[b, u, e]      # sum over u
    """
    B, U, E = H.shape
    K = G.shape[0]
    for b in prange(B):
        for u in range(U):
            for e in range(E):
                dH[b, u, e] = 0.0
        for k in range(K):
            for e in range(E):
                dG[k, b, e] = 0.0
            for u in range(U):
                d = dF[k, b, u]
                for e in range(E):
                    dH[b, u, e] += d * G[k, b, e]
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
