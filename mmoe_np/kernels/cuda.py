r"""The kernel contract on an NVIDIA GPU with numba.cuda (or Numba's CUDA simulator): the host side.

The kernels themselves are device code in :mod:`.cuda_device` (tiled products with fused
epilogues, a split-K weight gradient with the bias folded in, one thread per output cell for
the mixes, Adam). This module checks arguments, places arrays, sizes grids and launches.

Where arrays live
-----------------
The backend decides, not the model. Every function takes NumPy or device arrays. The
experts' output ``H`` and its gradient ``dH`` -- the largest arrays, read only by kernels --
stay on the device; everything the NumPy code reads (F, dG, dW, db, dX, G) comes back to
the host. The fused steps keep the device copy of ``X`` in their cache, so per training step
the bus carries X, W, b, G, dF to the device and F, dG, [dW; db] back. Gates and towers are
the NumPy layers, on the host. Device arrays given as inputs must be C-contiguous.

Launches
--------
Every launch goes through :func:`_launch`: a grid with an empty dimension (a batch of zero
rows) launches nothing -- CUDA rejects it -- and :func:`record_launches` can list the
launches with their argument types (the compile test compiles exactly those types).
Tile and block sizes are the GPU's (16 x 16, 256) on a GPU. In the simulator, which runs each
CUDA thread as a Python thread, the default is 4 x 4 and 32 (more tiles per product for the
same small shapes, so partial and multi-tile loops are covered cheaply); the tests also run
the GPU's sizes there with :func:`launch_sizes`.

Like the other backends, every function checks its arguments with :mod:`.shapes` before a
kernel runs, and NaN propagates as in NumPy.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from math import prod
from typing import NamedTuple

import numba
import numpy as np
from numba import cuda, types
from numba.np import numpy_support

from ..nn import layers
from . import cuda_device, reference, shapes

NAME = "cuda"


def simulator_enabled() -> bool:
    """True when numba.cuda runs kernels in Numba's CUDA simulator (no GPU)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


class LaunchSizes(NamedTuple):
    tile: int        # the products' tiles are tile x tile, one thread per cell
    threads: int     # most threads per block of the one-thread-per-cell kernels


GPU_SIZES = LaunchSizes(cuda_device.GPU_TILE, cuda_device.GPU_THREADS)
SIMULATOR_SIZES = LaunchSizes(4, 32)
_sizes = SIMULATOR_SIZES if simulator_enabled() else GPU_SIZES
TILE, THREADS = _sizes          # the sizes in use at import (kept for readers of older code)


@contextmanager
def launch_sizes(tile=cuda_device.GPU_TILE, threads=cuda_device.GPU_THREADS):
    """Launch with these tile and block sizes inside the block (default: the GPU's).

    For tests: the simulator's default sizes are smaller than a GPU's (see the module's
    docstring); ``with launch_sizes():`` runs the GPU's own sizes there. Not thread-safe.
    """
    global _sizes
    if int(tile) < 1 or int(threads) < 1:
        raise ValueError(f"tile and threads must be positive, got tile={tile}, threads={threads}")
    before, _sizes = _sizes, LaunchSizes(int(tile), int(threads))
    try:
        yield _sizes
    finally:
        _sizes = before


def _as_numpy_dtype(dtype):
    """A numba type (float64) or a NumPy type (np.float64) as a NumPy dtype."""
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


# ------------------------------------------------------------------------------------ launches
class Launch(NamedTuple):
    """One kernel launch, as :func:`record_launches` lists it."""

    kernel: str
    dtype: np.dtype
    grid: tuple
    block: tuple
    types: tuple       # the numba type of each argument, as the dispatcher types it
    host_bytes: tuple = ()   # the size of each NumPy (host) array argument: numba copies it in and out on a GPU


_recording: list | None = None
_running = True


@contextmanager
def record_launches(run=True):
    """List every kernel launch made inside the block (skipped empty launches are not listed).

    ``run=False`` lists the launches without running the kernels (their outputs keep whatever the
    buffers held): for tests of what is launched, with which argument types, not of what it computes
    -- under the simulator, where running a kernel costs a Python thread per CUDA thread.
    """
    global _recording, _running
    before, _recording = (_recording, _running), []
    _running = bool(run)
    try:
        yield _recording
    finally:
        _recording, _running = before


def _numba_type(a):
    """The type the kernel dispatcher gives argument ``a`` (device arrays of the built-in simulator
    have no ``_numba_type_``: their type is made the way numba-cuda's simulator makes it)."""
    if hasattr(a, "_numba_type_"):
        return a._numba_type_
    if _is_device(a):
        layout = "C" if a.is_c_contiguous() else "A"
        return types.Array(numpy_support.from_dtype(a.dtype), a.ndim, layout)
    return numba.typeof(a)


def _launch(name, dtype, grid, block, *args):
    """Launch kernel ``name`` of ``dtype``; nothing is launched when the grid is empty (zero rows)."""
    if min(grid) == 0:
        return
    if _recording is not None:
        _recording.append(Launch(name, np.dtype(dtype), tuple(grid), tuple(block),
                                 tuple(_numba_type(a) for a in args),
                                 tuple(a.nbytes for a in args if isinstance(a, np.ndarray))))
    kernel = cuda_device.build(dtype, _sizes.tile)[name]
    if _running:
        kernel[grid, block](*args)


MAX_GRID_YZ = 65535      # CUDA's limit on a grid's y and z dimensions (x allows 2^31 - 1)


def launch_product(name, dtype, P, Q, V, C, K, splits=1, chunk=None):
    """Launch tiled product ``name`` ('forward', 'grads', 'dX'; see :mod:`.cuda_device`) into the device
    array ``C`` (R * splits, M, N), summing over K (in ``splits`` chunks of ``chunk`` rows).

    No checks and no copies: every argument is a C-contiguous device array of ``dtype`` (for
    benchmarks and callers that keep their own device buffers; the contract functions check first).
    """
    tile = _sizes.tile
    M, N = C.shape[1], C.shape[2]
    grid = (math.ceil(M / tile), math.ceil(N / tile), C.shape[0])
    if max(grid[1:]) > MAX_GRID_YZ:
        raise ValueError(f"{name}: {C.shape[0]} runs (x batch splits) and {N} columns make a grid of {grid}; CUDA "
                         f"allows at most {MAX_GRID_YZ} blocks in y and z: train fewer runs per model")
    _launch(name, dtype, grid, (tile, tile), P, Q, V, C, K, splits, K if chunk is None else chunk)


def launch_cells(name, dtype, cells, *args):
    """Launch one-thread-per-cell kernel ``name`` over ``cells`` cells: blocks of at most ``threads``
    threads, and no more warps than the cells fill (tiny problems launch one small block).
    No checks and no copies, like :func:`launch_product`."""
    warp = 1 if simulator_enabled() else cuda_device.WARP        # the simulator pays for every thread it runs
    threads = min(_sizes.threads, warp * math.ceil(cells / warp))
    _launch(name, dtype, (math.ceil(cells / max(threads, 1)),), (threads,), *args)


# ---------------------------------------------------------------------------- host side
def _is_device(a):
    # device arrays (real or simulated) have copy_to_host; the simulator lacks is_cuda_array
    return hasattr(a, "copy_to_host") or hasattr(a, "__cuda_array_interface__")


def _runs_on_device(name, a, lead, core, dtype):
    """``a`` as a device array (R, *core): broadcast and uploaded from the host, or a C-contiguous
    device array of the full leading shape (reshaped, no copy)."""
    core = tuple(core)
    if _is_device(a):
        if a.dtype != dtype:
            raise TypeError(f"device array {name} has dtype {a.dtype}; the other inputs need {dtype}")
        if tuple(a.shape) != lead + core:
            raise ValueError(f"device array {name} must have the full shape {lead + core}, got {tuple(a.shape)}")
        if not a.is_c_contiguous():
            raise ValueError(f"device array {name} must be C-contiguous (the kernels read it as such), got "
                             f"strides {tuple(a.strides)}")
        return a.reshape((prod(lead),) + core)
    host = np.ascontiguousarray(np.broadcast_to(a, lead + core), dtype=dtype)
    return cuda.to_device(host.reshape((prod(lead),) + core))


def _host(a, shape):
    return a.copy_to_host().reshape(shape)


def to_host(A):
    """A device array copied back to the host (a NumPy array passes through)."""
    return A.copy_to_host() if _is_device(A) else np.asarray(A)


def experts_forward(X, W, b):
    """``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])`` -> (B, U, E), **on the device**.

    One launch of the ``forward`` product (grid: B/TILE x N/TILE x runs).
    """
    X, W, b, dtype = shapes.experts_forward(X, W, b)
    lead = shapes.leading_shape("experts_forward", X=(X, 2), W=(W, 3), b=(b, 2))
    (B, D), (U, E) = X.shape[-2:], W.shape[-2:]
    R, N = prod(lead), U * E
    H = cuda.device_array((R, B, N), dtype=dtype)
    launch_product("forward", dtype, _runs_on_device("X", X, lead, (B, D), dtype),
                    _runs_on_device("W", W, lead, (D, U, E), dtype).reshape(R, D, N),
                    _runs_on_device("b", b, lead, (U, E), dtype).reshape(R, N), H, K=D)
    return H.reshape(lead + (B, U, E))


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`: dX (B, D) or None, dW (D, U, E), db (U, E), on the host.

    ``[dW; db] = [X, 1].T @ dZ`` is one split-K product (plus the fixed-order sum of its
    partials when the batch is split, :func:`cuda_device.batch_splits`) and one copy back;
    ``dX = dZ @ W2.T`` one more product when asked for.
    """
    X, W, H, dH, dtype = shapes.experts_backward(X, W, H, dH)
    lead = shapes.leading_shape("experts_backward", X=(X, 2), W=(W, 3), H=(H, 3))
    (B, D), (U, E) = X.shape[-2:], W.shape[-2:]
    R, N = prod(lead), U * E
    Xd = _runs_on_device("X", X, lead, (B, D), dtype)
    Hd = _runs_on_device("H", H, lead, (B, U, E), dtype).reshape(R, B, N)
    dHd = _runs_on_device("dH", dH, lead, (B, U, E), dtype).reshape(R, B, N)

    splits, chunk = cuda_device.batch_splits(R, D + 1, N, B, _sizes.tile)
    grads = cuda.device_array((R * splits, D + 1, N), dtype=dtype)         # [dW; db], per split
    launch_product("grads", dtype, Xd, Hd, dHd, grads, K=B, splits=splits, chunk=chunk)
    if splits > 1:
        summed = cuda.device_array((R, D + 1, N), dtype=dtype)
        launch_cells("sum_splits", dtype, R * (D + 1) * N, grads.reshape(R, splits, (D + 1) * N),
                      summed.reshape(R, (D + 1) * N))
        grads = summed
    dX = None
    if need_dX:
        W2 = _runs_on_device("W", W, lead, (D, U, E), dtype).reshape(R, D, N)  # uploaded only when needed
        dXd = cuda.device_array((R, B, D), dtype=dtype)
        launch_product("dX", dtype, Hd, dHd, W2, dXd, K=N)
        dX = layers.sum_to_shape(_host(dXd, lead + (B, D)), X.shape)
    grads = _host(grads, (R, D + 1, N))                                    # one copy: dW and db
    dW = layers.sum_to_shape(grads[:, :D].reshape(lead + (D, U, E)), W.shape)
    db = layers.sum_to_shape(grads[:, D].reshape(lead + (U, E)), W.shape[:-3] + (U, E))
    return dX, dW, db


def gate_mix_forward(H, G):
    """``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]`` -> F (K, B, U) on the host."""
    H, G, dtype = shapes.gate_mix_forward(H, G)
    lead = shapes.leading_shape("gate_mix_forward", H=(H, 3), G=(G, 3))
    (B, U, E), K = H.shape[-3:], G.shape[G.ndim - 3]       # (a simulated device shape takes no index < 0)
    R = prod(lead)
    F = cuda.device_array((R, K, B, U), dtype=dtype)
    launch_cells("mix_forward", dtype, R * K * B * U, _runs_on_device("H", H, lead, (B, U, E), dtype),
                  _runs_on_device("G", G, lead, (K, B, E), dtype), F)
    return _host(F, lead + (K, B, U))


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: dH (B, U, E) on the device, dG (K, B, E) on the host."""
    H, G, dF, dtype = shapes.gate_mix_backward(H, G, dF)
    lead = shapes.leading_shape("gate_mix_backward", H=(H, 3), G=(G, 3), dF=(dF, 3))
    (B, U, E), K = H.shape[-3:], G.shape[G.ndim - 3]       # (a simulated device shape takes no index < 0)
    R = prod(lead)
    Hd, Gd = _runs_on_device("H", H, lead, (B, U, E), dtype), _runs_on_device("G", G, lead, (K, B, E), dtype)
    dFd = _runs_on_device("dF", dF, lead, (K, B, U), dtype)
    dH = cuda.device_array((R, B, U, E), dtype=dtype)
    dG = cuda.device_array((R, K, B, E), dtype=dtype)
    launch_cells("mix_backward_dH", dtype, R * B * U * E, Gd, dFd, dH)
    launch_cells("mix_backward_dG", dtype, R * K * B * E, Hd, dFd, dG)
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
    Xd = _runs_on_device("X", X, lead, X.shape[-2:], dtype).reshape(lead + X.shape[-2:])
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
    Xd = _runs_on_device("X", X, lead, X.shape[-2:], dtype).reshape(lead + X.shape[-2:])
    H = experts_forward(Xd, W[..., None], b[..., None])                 # (B, S, 1) on the device
    return _host(H, H.shape)[..., 0], DenseReluCache(Xd, W, H)


def dense_relu_backward(cache, dA, out=None):
    """Gradients ``(dW, db)`` of :func:`dense_relu_forward`; the product on the GPU."""
    dA = shapes.gradient("dense_relu_backward", "dA", dA, cache.H.shape[:-1])
    _, dW, db = experts_backward(cache.X, cache.W[..., None], cache.H, np.asarray(dA)[..., None], need_dX=False)
    return reference._fill(out, (dW[..., 0], db[..., 0]))


towers_forward, towers_backward = reference.towers_forward, reference.towers_backward
softmax_gate_forward, softmax_gate_backward = reference.softmax_gate_forward, reference.softmax_gate_backward


# ------------------------------------------------------------------------------------ Adam
def adam_update(p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """One Adam step on flat (R, P) buffers on the GPU: the arithmetic of :func:`.cpu.adam_update`.

    ``p, g, m, v``: (R, P) arrays of one dtype (float32 or float64), ``lr`` (R,) one learning
    rate per run (0 for a frozen run), ``correction1/2`` = ``1 - beta^t``. Device arrays are
    updated in place with no copy between host and device (``lr`` included: keep a device copy
    of it); NumPy arrays are uploaded, updated and copied back into place. One launch, one
    thread per entry; the scalars travel as launch arguments, in the buffers' dtype.
    """
    arrays = {"p": p, "g": g, "m": m, "v": v}
    for name, a in arrays.items():
        if not hasattr(a, "dtype"):
            raise TypeError(f"adam_update: {name} must be a NumPy or device array (it is updated in place), "
                            f"got {type(a).__name__}")
    shape, dtype = tuple(p.shape), np.dtype(p.dtype)
    if len(shape) != 2 or 0 in shape:
        raise ValueError(f"adam_update: p must be a flat (R, P) buffer with R, P >= 1, got shape {shape}")
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"adam_update: p must hold float32 or float64, got dtype {dtype}")
    for name, a in arrays.items():
        if tuple(a.shape) != shape or np.dtype(a.dtype) != dtype:
            raise ValueError(f"adam_update: {name} must have p's shape {shape} and dtype {dtype}, got "
                             f"{tuple(a.shape)} {a.dtype}")
    if tuple(np.shape(lr)) != shape[:1]:
        raise ValueError(f"adam_update: lr must hold one learning rate per run, shape {shape[:1]}, "
                         f"got {tuple(np.shape(lr))}")
    on_device = {name: _runs_on_device(name, a, shape[:1], shape[1:], dtype) for name, a in arrays.items()}
    lr_device = _runs_on_device("lr", lr if _is_device(lr) else np.asarray(lr, dtype), (), shape[:1], dtype)
    scalar = dtype.type
    launch_cells("adam", dtype, shape[0] * shape[1], *on_device.values(), lr_device.reshape(shape[:1]),
                  scalar(beta1), scalar(beta2), scalar(eps), scalar(correction1),
                  scalar(1.0 / np.sqrt(correction2)))
    for name, a in arrays.items():
        if not _is_device(a):                   # uploaded from the host: bring the update back
            a[...] = on_device[name].copy_to_host()


# ------------------------------------------------------------------------ training on the device
def resident_training(model, loss_fns, weights, adam):
    """A training step that keeps the whole training state on the GPU (:mod:`.cuda_train`), or None where
    it does not apply; :class:`mmoe_np.train.Trainer` asks for it."""
    from .cuda_train import resident_training as make
    return make(model, loss_fns, weights, adam)
