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
- ``db``: one thread per (run, column), summing the masked dH down the batch.
- The mixes: one thread per output cell, ``F[k,b,u]``, ``dH[b,u,e]``, ``dG[k,b,e]``.
- **Runs**: every array carries a leading run axis (R, ...) on the device; the products
  use the grid's z dimension for the run, the one-thread-per-cell kernels count runs in
  their cell index. R runs are one launch.

Where arrays live
-----------------
The backend decides, not the model. Every function takes NumPy or device arrays. The
experts' output ``H`` and its gradient ``dH`` -- the largest arrays, read only by kernels --
stay on the device; everything the NumPy code reads (F, dG, dW, db, dX, G) comes back to
the host. The fused steps keep the device copy of ``X`` in their cache, so per training step
the bus carries X, W, b, G, dF to the device and F, dG, dW, db back. Gates and towers are
the NumPy layers, on the host.

Like the other backends, every function checks its arguments with :mod:`.shapes` before a
kernel runs, and NaN propagates as in NumPy.
"""
from __future__ import annotations

import math
import os
from math import prod
from typing import NamedTuple

import numpy as np
from numba import cuda

from ..nn import layers
from . import reference, shapes

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
def _relu(v):
    return v if (v >= 0 or v != v) else 0.0         # NaN stays NaN, -inf becomes 0 (as np.maximum)


@cuda.jit(device=True, inline=True)
def _masked(H, dH, r, i, j):
    return dH[r, i, j] * (1.0 if H[r, i, j] > 0 else 0.0)


@cuda.jit(device=True, inline=True)
def _load_x(P, Q, R, r, i, k):          # forward A: X[i, k]
    return P[r, i, k]


@cuda.jit(device=True, inline=True)
def _load_w(P, Q, R, r, k, j):          # forward B: W2[k, j]
    return Q[r, k, j]


@cuda.jit(device=True, inline=True)
def _finish_bias_relu(P, Q, R, r, i, j, acc):
    return _relu(acc + R[r, j])


@cuda.jit(device=True, inline=True)
def _load_x_transposed(P, Q, R, r, i, k):   # dW A: X.T[i, k] = X[k, i]
    return P[r, k, i]


@cuda.jit(device=True, inline=True)
def _load_dz(P, Q, R, r, k, j):             # dW B: dZ[k, j], with Q = H, R = dH
    return _masked(Q, R, r, k, j)


@cuda.jit(device=True, inline=True)
def _load_dz_rows(P, Q, R, r, i, k):        # dX A: dZ[i, k], with P = H, Q = dH
    return _masked(P, Q, r, i, k)


@cuda.jit(device=True, inline=True)
def _load_w_transposed(P, Q, R, r, k, j):   # dX B: W2.T[k, j] = W2[j, k], with R = W2
    return R[r, j, k]


@cuda.jit(device=True, inline=True)
def _finish_plain(P, Q, R, r, i, j, acc):
    return acc


def _tiled_product(load_a, load_b, finish, dtype):
    """Build ``kernel(P, Q, R, C, K)``: ``C[r, i, j] = finish(sum_k load_a(r, i, k) * load_b(r, k, j))``.

    Loop nest of one block (TILE x TILE threads, thread (ty, tx) owns C[r, row, col], r = blockIdx.z)::

        for t in range(ceil(K / TILE)):
            sA[ty, tx] = load_a(r, row, t*TILE + tx)   # each input cell read once per block
            sB[ty, tx] = load_b(r, t*TILE + ty, col)
            syncthreads()
            acc += sum_i sA[ty, i] * sB[i, tx]         # from shared memory
            syncthreads()
        C[r, row, col] = finish(acc)                   # global memory written once
    """
    zero = dtype(0)

    @cuda.jit
    def kernel(P, Q, R, C, K):
        sA = cuda.shared.array((TILE, TILE), dtype)
        sB = cuda.shared.array((TILE, TILE), dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        r = cuda.blockIdx.z
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        M, N = C.shape[1], C.shape[2]
        acc = zero
        for t in range((K + TILE - 1) // TILE):
            k = t * TILE + tx
            sA[ty, tx] = load_a(P, Q, R, r, row, k) if (row < M and k < K) else zero
            k = t * TILE + ty
            sB[ty, tx] = load_b(P, Q, R, r, k, col) if (k < K and col < N) else zero
            cuda.syncthreads()
            for i in range(TILE):
                acc += sA[ty, i] * sB[i, tx]
            cuda.syncthreads()
        if row < M and col < N:
            C[r, row, col] = finish(P, Q, R, r, row, col, acc)

    return kernel


def _cell_kernels(dtype):
    """The one-thread-per-cell kernels for ``dtype``: bias gradient and the three mixes."""
    zero = dtype(0)

    @cuda.jit
    def bias_grad(H, dH, db):
        """One thread per (run, column j): ``db[r, j] = sum_b dH[r, b, j] * (H[r, b, j] > 0)``."""
        cell = cuda.grid(1)
        R, N = db.shape
        if cell < R * N:
            r, j = cell // N, cell % N
            acc = zero
            for i in range(H.shape[1]):
                acc += _masked(H, dH, r, i, j)
            db[r, j] = acc

    @cuda.jit
    def mix_forward(H, G, F):
        """One thread per (r, k, b, u): ``F[r,k,b,u] = sum_e G[r,k,b,e] H[r,b,u,e]``."""
        cell = cuda.grid(1)
        R, K, B, U = F.shape
        if cell < R * K * B * U:
            r, rest = cell // (K * B * U), cell % (K * B * U)
            k, rest = rest // (B * U), rest % (B * U)
            b, u = rest // U, rest % U
            acc = zero
            for e in range(H.shape[3]):
                acc += G[r, k, b, e] * H[r, b, u, e]
            F[r, k, b, u] = acc

    @cuda.jit
    def mix_backward_dH(G, dF, dH):
        """One thread per (r, b, u, e): ``dH[r,b,u,e] = sum_k dF[r,k,b,u] G[r,k,b,e]``."""
        cell = cuda.grid(1)
        R, B, U, E = dH.shape
        if cell < R * B * U * E:
            r, rest = cell // (B * U * E), cell % (B * U * E)
            b, rest = rest // (U * E), rest % (U * E)
            u, e = rest // E, rest % E
            acc = zero
            for k in range(G.shape[1]):
                acc += dF[r, k, b, u] * G[r, k, b, e]
            dH[r, b, u, e] = acc

    @cuda.jit
    def mix_backward_dG(H, dF, dG):
        """One thread per (r, k, b, e): ``dG[r,k,b,e] = sum_u dF[r,k,b,u] H[r,b,u,e]``."""
        cell = cuda.grid(1)
        R, K, B, E = dG.shape
        if cell < R * K * B * E:
            r, rest = cell // (K * B * E), cell % (K * B * E)
            k, rest = rest // (B * E), rest % (B * E)
            b, e = rest // E, rest % E
            acc = zero
            for u in range(H.shape[2]):
                acc += dF[r, k, b, u] * H[r, b, u, e]
            dG[r, k, b, e] = acc

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


def _runs_on_device(a, lead, core, dtype):
    """``a`` as a device array (R, *core): broadcast and uploaded from the host, or a device
    array of the full leading shape (reshaped, no copy)."""
    core = tuple(core)
    if _is_device(a):
        if a.dtype != dtype:
            raise TypeError(f"a device array has dtype {a.dtype}; the other inputs need {dtype}")
        if tuple(a.shape) != lead + core:
            raise ValueError(f"a device array must have the full shape {lead + core}, got {tuple(a.shape)}")
        return a.reshape((prod(lead),) + core)
    host = np.ascontiguousarray(np.broadcast_to(a, lead + core), dtype=dtype)
    return cuda.to_device(host.reshape((prod(lead),) + core))


def _host(a, shape):
    return a.copy_to_host().reshape(shape)


def _grid_2d(R, M, N):
    return (math.ceil(N / TILE), math.ceil(M / TILE), R), (TILE, TILE)


def _grid_1d(n):
    return max(1, math.ceil(n / THREADS)), THREADS


def to_host(A):
    """A device array copied back to the host (a NumPy array passes through)."""
    return A.copy_to_host() if _is_device(A) else np.asarray(A)


def experts_forward(X, W, b):
    """``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])`` -> (B, U, E), **on the device**."""
    X, W, b, dtype = shapes.experts_forward(X, W, b)
    lead = shapes.leading_shape("experts_forward", X=(X, 2), W=(W, 3), b=(b, 2))
    (B, D), (U, E) = X.shape[-2:], W.shape[-2:]
    R, N = prod(lead), U * E
    H = cuda.device_array((R, B, N), dtype=dtype)
    blocks, threads = _grid_2d(R, B, N)
    _kernel("forward", dtype)[blocks, threads](
        _runs_on_device(X, lead, (B, D), dtype), _runs_on_device(W, lead, (D, U, E), dtype).reshape(R, D, N),
        _runs_on_device(b, lead, (U, E), dtype).reshape(R, N), H, D)
    return H.reshape(lead + (B, U, E))


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`: dX (B, D) or None, dW (D, U, E), db (U, E), on the host."""
    X, W, H, dH, dtype = shapes.experts_backward(X, W, H, dH)
    lead = shapes.leading_shape("experts_backward", X=(X, 2), W=(W, 3), H=(H, 3))
    (B, D), (U, E) = X.shape[-2:], W.shape[-2:]
    R, N = prod(lead), U * E
    Xd = _runs_on_device(X, lead, (B, D), dtype)
    Hd = _runs_on_device(H, lead, (B, U, E), dtype).reshape(R, B, N)
    dHd = _runs_on_device(dH, lead, (B, U, E), dtype).reshape(R, B, N)

    dW = cuda.device_array((R, D, N), dtype=dtype)
    blocks, threads = _grid_2d(R, D, N)
    _kernel("dW", dtype)[blocks, threads](Xd, Hd, dHd, dW, B)
    db = cuda.device_array((R, N), dtype=dtype)
    blocks, threads = _grid_1d(R * N)
    _kernel("bias_grad", dtype)[blocks, threads](Hd, dHd, db)
    dX = None
    if need_dX:
        W2 = _runs_on_device(W, lead, (D, U, E), dtype).reshape(R, D, N)      # uploaded only when needed
        dXd = cuda.device_array((R, B, D), dtype=dtype)
        blocks, threads = _grid_2d(R, B, D)
        _kernel("dX", dtype)[blocks, threads](Hd, dHd, W2, dXd, N)
        dX = layers.sum_to_shape(_host(dXd, lead + (B, D)), X.shape)
    dW = layers.sum_to_shape(_host(dW, lead + (D, U, E)), W.shape)
    db = layers.sum_to_shape(_host(db, lead + (U, E)), W.shape[:-3] + (U, E))
    return dX, dW, db


def gate_mix_forward(H, G):
    """``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]`` -> F (K, B, U) on the host."""
    H, G, dtype = shapes.gate_mix_forward(H, G)
    lead = shapes.leading_shape("gate_mix_forward", H=(H, 3), G=(G, 3))
    (B, U, E), K = H.shape[-3:], G.shape[-3]
    R = prod(lead)
    F = cuda.device_array((R, K, B, U), dtype=dtype)
    blocks, threads = _grid_1d(R * K * B * U)
    _kernel("mix_forward", dtype)[blocks, threads](
        _runs_on_device(H, lead, (B, U, E), dtype), _runs_on_device(G, lead, (K, B, E), dtype), F)
    return _host(F, lead + (K, B, U))


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: dH (B, U, E) on the device, dG (K, B, E) on the host."""
    H, G, dF, dtype = shapes.gate_mix_backward(H, G, dF)
    lead = shapes.leading_shape("gate_mix_backward", H=(H, 3), G=(G, 3), dF=(dF, 3))
    (B, U, E), K = H.shape[-3:], G.shape[-3]
    R = prod(lead)
    Hd, Gd = _runs_on_device(H, lead, (B, U, E), dtype), _runs_on_device(G, lead, (K, B, E), dtype)
    dFd = _runs_on_device(dF, lead, (K, B, U), dtype)
    dH = cuda.device_array((R, B, U, E), dtype=dtype)
    dG = cuda.device_array((R, K, B, E), dtype=dtype)
    blocks, threads = _grid_1d(R * B * U * E)
    _kernel("mix_backward_dH", dtype)[blocks, threads](Gd, dFd, dH)
    blocks, threads = _grid_1d(R * K * B * E)
    _kernel("mix_backward_dG", dtype)[blocks, threads](Hd, dFd, dG)
    dH = dH.reshape(lead + (B, U, E))
    if not _is_device(H):           # H came from the host: so does its gradient
        dH = layers.sum_to_shape(dH.copy_to_host(), H.shape)
    return dH, layers.sum_to_shape(_host(dG, lead + (K, B, E)), G.shape)


# ------------------------------------------------------------ fused steps, composed from kernels
class ExpertsGatesCache(NamedTuple):
    X: object            # the input, on the device
    expert_kernel: np.ndarray
    H: object            # the experts' output, on the device
    gates: layers.GateCache


def experts_and_gates_forward(X, expert_kernel, expert_bias, gate_kernel, gate_bias):
    """The experts on the GPU (H stays there), the gates with NumPy on the host."""
    X, W, b, dtype = shapes.experts_forward(X, expert_kernel, expert_bias)
    _, Wg, bg, _ = shapes.softmax_gates(X, gate_kernel, gate_bias, "experts_and_gates_forward")
    lead = shapes.leading_shape("experts_and_gates_forward", X=(X, 2), W=(W, 3))
    Xd = _runs_on_device(X, lead, X.shape[-2:], dtype).reshape(lead + X.shape[-2:])
    H = experts_forward(Xd, W, b)
    G, gate_cache = layers.softmax_gate_forward(X, Wg, bg)
    return H, G, ExpertsGatesCache(Xd, W, H, gate_cache)


def experts_and_gates_backward(cache, dH, dG, out=None):
    """``(dexpert_kernel, dexpert_bias, dgate_kernel, dgate_bias)``; the experts' part on the GPU."""
    dG = shapes.gradient("experts_and_gates_backward", "dG", dG, cache.gates.G.shape)
    dH = shapes.gradient("experts_and_gates_backward", "dH", dH, cache.H.shape)
    _, dW, db = experts_backward(cache.X, cache.expert_kernel, cache.H, dH, need_dX=False)
    _, dWg, dbg = layers.softmax_gate_backward(dG, cache.gates)
    return reference._fill(out, (dW, db, dWg, dbg))


class DenseReluCache(NamedTuple):
    X: object
    W: np.ndarray
    H: object


def dense_relu_forward(X, W, b):
    """Shared-Bottom's layer as one expert of S units on the GPU; the activations come back to the host."""
    X, W, b, dtype = shapes.dense(X, W, b, "dense_relu_forward")
    lead = shapes.leading_shape("dense_relu_forward", X=(X, 2), W=(W, 2))
    Xd = _runs_on_device(X, lead, X.shape[-2:], dtype).reshape(lead + X.shape[-2:])
    H = experts_forward(Xd, W[..., None], b[..., None])                 # (B, S, 1) on the device
    return _host(H, H.shape)[..., 0], DenseReluCache(Xd, W, H)


def dense_relu_backward(cache, dA, out=None):
    """Gradients ``(dW, db)`` of :func:`dense_relu_forward`; the product on the GPU."""
    dA = shapes.gradient("dense_relu_backward", "dA", dA, cache.H.shape[:-1])
    _, dW, db = experts_backward(cache.X, cache.W[..., None], cache.H, np.asarray(dA)[..., None], need_dX=False)
    return reference._fill(out, (dW[..., 0], db[..., 0]))


towers_forward, towers_backward = reference.towers_forward, reference.towers_backward
softmax_gate_forward, softmax_gate_backward = reference.softmax_gate_forward, reference.softmax_gate_backward
