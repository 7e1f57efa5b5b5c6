r"""The kernel contract on an NVIDIA GPU with numba.cuda (or Numba's CUDA simulator).

Kernels
-------
- The experts' tensordot and both of its backward products are one tiled matrix product
  ``C = A @ B`` with TILE x TILE blocks of A and B staged in shared memory; each thread
  owns one cell of C. Three instances differ only in how a tile is loaded and how a cell
  is finished:

  ========================  ==================  ==========================  ====================
  instance                  A[i, k]             B[k, j]                     C[i, j] =
  ========================  ==================  ==========================  ====================
  forward (B x N)           X[i, k]             W2[k, j]                    relu(acc + b[j])
  dW (D x N)                X[k, i]             dH[k, j] * (H[k, j] > 0)    acc
  dX (B x D)                dH[i,k]*(H[i,k]>0)  W2[j, k]                    acc
  ========================  ==================  ==========================  ====================

  (N = U*E, W2 = W.reshape(D, N)). Bias + ReLU live in the epilogue and the ReLU mask in
  the tile loads, so neither Z nor dZ is ever written to global memory.
- ``db``: one thread per column j, summing the masked dH down the batch (coalesced).
- The mixes: one thread per output cell, ``F[k,b,u]``, ``dH[b,u,e]``, ``dG[k,b,e]``.

Where arrays live
-----------------
Every wrapper takes NumPy or device arrays. The two arrays that only kernels read, the
experts' output ``H`` and its gradient ``dH``, are returned where ``X`` (respectively
``H``) lives; everything the NumPy code reads (F, dG, dW, db, dX) comes back to the host.
A model hands ``X`` over with :func:`to_kernel_array` once per step, so per training step
the bus carries X, W, b, G, dF to the device and F, dG, dW, db back -- never the
(B, U, E) tensors H and dH, which are the largest.
"""
from __future__ import annotations

import math
import os

import numpy as np
from numba import cuda

NAME = "cuda"


def simulator_enabled() -> bool:
    """True when numba.cuda runs kernels in Numba's CUDA simulator (no GPU)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


# On a GPU: 16 x 16 = 256 threads per block for the products, 256 for the one-thread-per-cell
# kernels. The simulator runs every CUDA thread as a Python thread, so there the same kernels
# are built with 4 x 4 tiles and 32-thread blocks (more tiles per product, so the tests still
# cover partial tiles and multi-tile loops).
TILE = 4 if simulator_enabled() else 16
THREADS = 32 if simulator_enabled() else 256


def _as_numpy_dtype(dtype):
    """A numba type (float64) or a NumPy type (np.float64) as a NumPy dtype."""
    from numba import types
    from numba.np import numpy_support
    return numpy_support.as_dtype(dtype) if isinstance(dtype, types.Type) else np.dtype(dtype)


def speed_up_simulator(interval=5e-5):
    """Shorten Python's thread switch interval (default 5 ms) while the simulator runs.

    The simulator runs each CUDA thread as a Python thread and polls them at every
    ``syncthreads``; with the default interval each barrier costs milliseconds. This is a
    process-wide setting, so it is never changed on import: tests and lessons call it.
    Does nothing on a real GPU.

    It also closes a race in the simulator that shorter switches expose: its
    ``cuda.shared.array`` looks the block's array up and creates it without a lock, so two
    threads of one block can end up with different "shared" arrays. The lookup is wrapped
    in a lock (simulator only).
    """
    if not simulator_enabled():
        return
    import sys
    import threading

    from numba.cuda.simulator import kernelapi

    shared = kernelapi.FakeCUDAShared
    if not getattr(shared.array, "_mmoe_np_locked", False):
        lock, unlocked = threading.Lock(), shared.array

        def array(self, shape, dtype, alignment=None):
            if shape == 0 or alignment is not None:     # dynamic shared memory: no lookup
                return unlocked(self, shape, dtype, alignment)
            caller = sys._getframe(1)                   # the simulator keys arrays by call site
            key = (caller.f_code.co_filename, caller.f_lineno)
            with lock:
                if key not in self._allocations:
                    self._allocations[key] = np.empty(shape, _as_numpy_dtype(dtype))
                return self._allocations[key]

        array._mmoe_np_locked = True
        shared.array = array
    sys.setswitchinterval(interval)


def require_device():
    """Raise a clear error when neither a GPU nor the simulator can run the kernels."""
    if not cuda.is_available():
        raise ValueError(
            "backend='cuda' needs an NVIDIA GPU with a working driver and numba-cuda "
            "(pip install 'mmoe-np[cuda]'), or Numba's CUDA simulator: set the environment "
            "variable NUMBA_ENABLE_CUDASIM=1 before numba is first imported. "
            "Use backend='numba' or 'numpy' on a machine without a GPU.")


# ------------------------------------------------------------------ tile loads, epilogues
@cuda.jit(device=True, inline=True)
def _masked(H, dH, i, j):
    return dH[i, j] * (H[i, j] > 0)


@cuda.jit(device=True, inline=True)
def _load_x(P, Q, R, i, k):          # forward A: X[i, k]
    return P[i, k]


@cuda.jit(device=True, inline=True)
def _load_w(P, Q, R, k, j):          # forward B: W2[k, j]
    return Q[k, j]


@cuda.jit(device=True, inline=True)
def _finish_bias_relu(P, Q, R, i, j, acc):
    v = acc + R[j]
    return v * (v > 0)


@cuda.jit(device=True, inline=True)
def _load_x_transposed(P, Q, R, i, k):   # dW A: X.T[i, k] = X[k, i]
    return P[k, i]


@cuda.jit(device=True, inline=True)
def _load_dz(P, Q, R, k, j):             # dW B: dZ[k, j], with Q = H, R = dH
    return _masked(Q, R, k, j)


@cuda.jit(device=True, inline=True)
def _load_dz_rows(P, Q, R, i, k):        # dX A: dZ[i, k], with P = H, Q = dH
    return _masked(P, Q, i, k)


@cuda.jit(device=True, inline=True)
def _load_w_transposed(P, Q, R, k, j):   # dX B: W2.T[k, j] = W2[j, k], with R = W2
    return R[j, k]


@cuda.jit(device=True, inline=True)
def _finish_plain(P, Q, R, i, j, acc):
    return acc


def _tiled_product(load_a, load_b, finish, dtype):
    """Build ``kernel(P, Q, R, C, K)``: ``C[i, j] = finish(sum_k load_a(i, k) * load_b(k, j))``.

    Loop nest of one block (TILE x TILE threads, thread (ty, tx) owns C[row, col])::

        for t in range(ceil(K / TILE)):
            sA[ty, tx] = load_a(row, t*TILE + tx)     # each input cell read once per block
            sB[ty, tx] = load_b(t*TILE + ty, col)
            syncthreads()
            acc += sum_i sA[ty, i] * sB[i, tx]        # from shared memory
            syncthreads()
        C[row, col] = finish(acc)                     # global memory written once
    """
    zero = dtype(0)

    @cuda.jit
    def kernel(P, Q, R, C, K):
        sA = cuda.shared.array((TILE, TILE), dtype)
        sB = cuda.shared.array((TILE, TILE), dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        M, N = C.shape
        acc = zero
        for t in range((K + TILE - 1) // TILE):
            k = t * TILE + tx
            sA[ty, tx] = load_a(P, Q, R, row, k) if (row < M and k < K) else zero
            k = t * TILE + ty
            sB[ty, tx] = load_b(P, Q, R, k, col) if (k < K and col < N) else zero
            cuda.syncthreads()
            for i in range(TILE):
                acc += sA[ty, i] * sB[i, tx]
            cuda.syncthreads()
        if row < M and col < N:
            C[row, col] = finish(P, Q, R, row, col, acc)

    return kernel


def _cell_kernels(dtype):
    """The one-thread-per-cell kernels for ``dtype``: bias gradient and the three mixes."""
    zero = dtype(0)

    @cuda.jit
    def bias_grad(H, dH, db):
        """One thread per column j: ``db[j] = sum_b dH[b, j] * (H[b, j] > 0)``."""
        j = cuda.grid(1)
        if j < db.shape[0]:
            acc = zero
            for i in range(H.shape[0]):
                acc += _masked(H, dH, i, j)
            db[j] = acc

    @cuda.jit
    def mix_forward(H, G, F):
        """One thread per (k, b, u): ``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]``."""
        cell = cuda.grid(1)
        K, B, U = F.shape
        if cell < K * B * U:
            k, rest = cell // (B * U), cell % (B * U)
            b, u = rest // U, rest % U
            acc = zero
            for e in range(H.shape[2]):
                acc += G[k, b, e] * H[b, u, e]
            F[k, b, u] = acc

    @cuda.jit
    def mix_backward_dH(G, dF, dH):
        """One thread per (b, u, e): ``dH[b,u,e] = sum_k dF[k,b,u] G[k,b,e]``."""
        cell = cuda.grid(1)
        B, U, E = dH.shape
        if cell < B * U * E:
            b, rest = cell // (U * E), cell % (U * E)
            u, e = rest // E, rest % E
            acc = zero
            for k in range(G.shape[0]):
                acc += dF[k, b, u] * G[k, b, e]
            dH[b, u, e] = acc

    @cuda.jit
    def mix_backward_dG(H, dF, dG):
        """One thread per (k, b, e): ``dG[k,b,e] = sum_u dF[k,b,u] H[b,u,e]``."""
        cell = cuda.grid(1)
        K, B, E = dG.shape
        if cell < K * B * E:
            k, rest = cell // (B * E), cell % (B * E)
            b, e = rest // E, rest % E
            acc = zero
            for u in range(H.shape[1]):
                acc += dF[k, b, u] * H[b, u, e]
            dG[k, b, e] = acc

    return {"bias_grad": bias_grad, "mix_forward": mix_forward,
            "mix_backward_dH": mix_backward_dH, "mix_backward_dG": mix_backward_dG}


_compiled: dict = {}


def _kernel(name, dtype):
    """Kernel ``name`` built for ``dtype`` on first use (numba compiles it at first launch)."""
    dtype = np.dtype(dtype)
    if dtype not in _compiled:
        kernels = _cell_kernels(dtype.type)
        kernels["forward"] = _tiled_product(_load_x, _load_w, _finish_bias_relu, dtype.type)
        kernels["dW"] = _tiled_product(_load_x_transposed, _load_dz, _finish_plain, dtype.type)
        kernels["dX"] = _tiled_product(_load_dz_rows, _load_w_transposed, _finish_plain, dtype.type)
        _compiled[dtype] = kernels
    return _compiled[dtype][name]


# ---------------------------------------------------------------------------- host side
def _is_device(a):
    # device arrays (real or simulated) have copy_to_host; the simulator lacks is_cuda_array
    return hasattr(a, "copy_to_host") or hasattr(a, "__cuda_array_interface__")


def _common_dtype(*arrays):
    dtype = np.result_type(*[a.dtype for a in arrays])
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _on_device(a, dtype):
    if _is_device(a):
        if a.dtype != dtype:
            raise TypeError(f"device array has dtype {a.dtype}, the other inputs need {dtype}")
        return a
    return cuda.to_device(np.ascontiguousarray(a, dtype=dtype))


def _grid_2d(M, N):
    return (math.ceil(N / TILE), math.ceil(M / TILE)), (TILE, TILE)


def _grid_1d(n):
    return max(1, math.ceil(n / THREADS)), THREADS


def to_kernel_array(A):
    """Copy a NumPy array to the device (a device array passes through)."""
    return A if _is_device(A) else cuda.to_device(np.ascontiguousarray(A))


def to_numpy(A):
    """Copy a device array back to the host (a NumPy array passes through)."""
    return A.copy_to_host() if _is_device(A) else np.asarray(A)


def experts_forward(X, W, b):
    """``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])`` -> (B, U, E); H lives where X lives."""
    dtype = _common_dtype(X, W, b)
    D, U, E = W.shape
    B = X.shape[0]
    dX = _on_device(X, dtype)
    dW2 = _on_device(W, dtype).reshape(D, U * E)
    db = _on_device(b, dtype).reshape(U * E)
    H = cuda.device_array((B, U * E), dtype=dtype)
    blocks, threads = _grid_2d(B, U * E)
    _kernel("forward", dtype)[blocks, threads](dX, dW2, db, H, D)
    H = H.reshape(B, U, E)
    return H if _is_device(X) else H.copy_to_host()


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`: dX (B, D) or None, dW (D, U, E), db (U, E), on the host."""
    dtype = _common_dtype(X, W, H, dH)
    D, U, E = W.shape
    B, N = X.shape[0], U * E
    Xd = _on_device(X, dtype)
    Hd = _on_device(H, dtype).reshape(B, N)
    dHd = _on_device(dH, dtype).reshape(B, N)
    W2 = _on_device(W, dtype).reshape(D, N)

    dW = cuda.device_array((D, N), dtype=dtype)
    blocks, threads = _grid_2d(D, N)
    _kernel("dW", dtype)[blocks, threads](Xd, Hd, dHd, dW, B)
    db = cuda.device_array(N, dtype=dtype)
    blocks, threads = _grid_1d(N)
    _kernel("bias_grad", dtype)[blocks, threads](Hd, dHd, db)
    dX = None
    if need_dX:
        dXd = cuda.device_array((B, D), dtype=dtype)
        blocks, threads = _grid_2d(B, D)
        _kernel("dX", dtype)[blocks, threads](Hd, dHd, W2, dXd, N)
        dX = dXd.copy_to_host()
    return dX, dW.copy_to_host().reshape(D, U, E), db.copy_to_host().reshape(U, E)


def gate_mix_forward(H, G):
    """``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]`` -> F (K, B, U) on the host."""
    dtype = _common_dtype(H, G)
    B, U, E = H.shape
    K = G.shape[0]
    F = cuda.device_array((K, B, U), dtype=dtype)
    blocks, threads = _grid_1d(K * B * U)
    _kernel("mix_forward", dtype)[blocks, threads](_on_device(H, dtype), _on_device(G, dtype), F)
    return F.copy_to_host()


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: dH (B, U, E) where H lives, dG (K, B, E) on the host."""
    dtype = _common_dtype(H, G, dF)
    B, U, E = H.shape
    K = G.shape[0]
    Hd, Gd, dFd = _on_device(H, dtype), _on_device(G, dtype), _on_device(dF, dtype)
    dH = cuda.device_array((B, U, E), dtype=dtype)
    dG = cuda.device_array((K, B, E), dtype=dtype)
    blocks, threads = _grid_1d(B * U * E)
    _kernel("mix_backward_dH", dtype)[blocks, threads](Gd, dFd, dH)
    blocks, threads = _grid_1d(K * B * E)
    _kernel("mix_backward_dG", dtype)[blocks, threads](Hd, dFd, dG)
    return (dH if _is_device(H) else dH.copy_to_host()), dG.copy_to_host()
