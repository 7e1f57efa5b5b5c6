r"""The numba.cuda kernels of the CUDA backend: device code only (the host side is :mod:`.cuda`).

Kernels (each built per dtype and tile size by :func:`build`)
-------------------------------------------------------------
- **Tiled products** ``C = A @ B`` (one instance per row of the table): TILE x TILE blocks of
  A and B are staged in shared memory, each thread owns one cell of C. The ReLU mask lives
  in the tile loads and bias + ReLU in the epilogue, so neither Z nor dZ is ever written to
  global memory.

  =========  ===============  ======================  ========================  ==================
  kernel     C                A[i, k]                 B[k, j]                   C[i, j] =
  =========  ===============  ======================  ========================  ==================
  forward    H   (B, N)       X[i, k]                 W2[k, j]                  relu(acc + b[j])
  grads      [dW; db] (D+1,N) X[k, i], 1 for i = D    dH[k, j] * (H[k, j] > 0)  acc
  dX         dX  (B, D)       dH[i,k] * (H[i,k] > 0)  W2[j, k]                  acc
  linear     Z   (B, N)       X[i, k]                 W2[k, j]                  acc + b[j]
  grads_lin  [dW; db] (D+1,N) X[k, i], 1 for i = D    dZ[k, j]                  acc
  dX_lin     dX  (B, D)       dZ[i, k]                W2[j, k]                  acc
  (``grads_lin``, ``dX_lin``: the kernels ``grads_linear``, ``dX_linear``)
  =========  ===============  ======================  ========================  ==================

  (N = U*E, W2 = W.reshape(D, N).) The last three (``linear``, ``grads_linear``, ``dX_linear``)
  are the same products without the ReLU: the device-resident training step
  (:mod:`.cuda_train`) multiplies an input by every kernel that reads it at once -- experts and
  gates side by side -- and applies ReLU and softmax to their columns afterwards. ``grads`` (and
  ``grads_linear``) fold the bias gradient into the weight gradient: a row of ones under X.T makes
  row D of its output ``db = sum_b dZ[b]``.
- **Coalesced loads.** A warp runs along threadIdx.x, so neighbouring threads must read
  neighbouring addresses. Where A or B is a transposed view of memory (X.T in ``grads``,
  W2.T in ``dX``), the block reads the tile along memory's contiguous axis and stores it
  transposed into shared memory. Tiles are padded to TILE x (TILE + 1) so that transposed
  stores hit 32 different banks.
- **Split-K** (``grads``): the sum over the batch is cut into ``splits`` chunks of ``chunk``
  rows (whole tiles); the grid's z dimension is (run, split) and each block writes its
  partial sum to ``C[r * splits + s]``. :func:`batch_splits` picks the split from the shapes
  alone, and ``sum_splits`` adds the partials in a fixed order: no atomics, so every run
  gives the same bits.
- **One thread per output cell**: ``sum_splits``, the three mixes (``F[k,b,u]``,
  ``dH[b,u,e]``, ``dG[k,b,e]``) and ``adam`` (one parameter entry of one run).
- **The rest of a training step** on the device (batches, activations, towers, losses, the
  guard's run masks): :mod:`.cuda_train_device`, built here with the others.
- **Runs**: every array carries a leading run axis (R, ...); the products use the grid's z
  dimension for it, the one-thread-per-cell kernels count runs in their cell index.
- **Typed constants**: every literal is a constant of the kernel's dtype, so the float32
  kernels hold no float64 arithmetic (the compile test greps their PTX for ``.f64``).

:func:`signatures` lists the argument types :mod:`.cuda` launches each kernel with; the
compile test (``tests/test_cuda_compile.py``) compiles exactly these for real GPUs, and a
simulator test checks that the launches match them.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, types
from numba.np import numpy_support

from . import cuda_train_device

# The sizes a GPU runs with: 16 x 16 = 256 threads per block for the products, at most 256
# for the one-thread-per-cell kernels.
GPU_TILE, GPU_THREADS = 16, 256
WARP = 32

# grads: aim for this many blocks in all (enough for 4 blocks on each of a large GPU's
# ~132 SMs); a constant, not the device's SM count, so the numbers do not depend on the GPU
SPLIT_TARGET_BLOCKS = 512
SPLIT_MIN_TILES = 4          # a split sums at least 4 tiles of rows (64 on a GPU): at the paper's
                             # sizes its partial sums, (D + 1) x N, are then no more numbers than
                             # the rows it reads, 64 x (D + N); fewer rows and they would dominate


def batch_splits(runs, rows, cols, batch, tile):
    """``(splits, chunk)`` for the split-K ``grads`` product: C (rows, cols) per run, summed over ``batch``.

    ``chunk`` is a whole number of tiles and ``splits * chunk >= batch > (splits - 1) * chunk``,
    so every split has rows to sum (``splits = 1, chunk = tile`` for an empty batch). The
    choice depends on the shapes only, never on the device: the same shapes always add in
    the same order.
    """
    blocks = runs * math.ceil(rows / tile) * math.ceil(cols / tile)
    most = max(1, batch // (SPLIT_MIN_TILES * tile))
    splits = max(1, min(most, math.ceil(SPLIT_TARGET_BLOCKS / blocks)))
    chunk = max(1, math.ceil(math.ceil(batch / splits) / tile)) * tile
    return max(1, math.ceil(batch / chunk)), chunk


# ---------------------------------------------------------------------------- device functions
def _device_functions(dtype):
    """Tile loads and epilogues for ``dtype`` (a NumPy scalar type); inlined into the kernels.

    A load is ``load(P, Q, V, r, i, k)``: the cell (i, k) of run r of an operand, read from the
    kernel's three inputs P, Q, V. An epilogue is ``finish(P, Q, V, r, i, j, acc)``.
    """
    zero, one = dtype(0), dtype(1)
    device = cuda.jit(device=True, inline="always")

    @device
    def relu(v):
        return v if (v >= zero or v != v) else zero      # NaN stays NaN, -inf becomes 0 (as np.maximum)

    @device
    def masked(H, dH, r, i, j):                          # dZ = dH * (H > 0), NaN * 0 = NaN as in NumPy
        return dH[r, i, j] * (one if H[r, i, j] > zero else zero)

    @device
    def x(P, Q, V, r, i, k):                             # forward A: X[i, k]
        return P[r, i, k]

    @device
    def w(P, Q, V, r, k, j):                             # forward B: W2[k, j]
        return Q[r, k, j]

    @device
    def bias_relu(P, Q, V, r, i, j, acc):                # forward: relu(acc + b[j]), V = b
        return relu(acc + V[r, j])

    @device
    def x_transposed_and_ones(P, Q, V, r, i, k):         # grads A: X.T[i, k] = X[k, i]; row D is ones
        return P[r, k, i] if i < P.shape[2] else one

    @device
    def dz(P, Q, V, r, k, j):                            # grads B: dZ[k, j], with Q = H, V = dH
        return masked(Q, V, r, k, j)

    @device
    def dz_rows(P, Q, V, r, i, k):                       # dX A: dZ[i, k], with P = H, Q = dH
        return masked(P, Q, r, i, k)

    @device
    def w_transposed(P, Q, V, r, k, j):                  # dX B: W2.T[k, j] = W2[j, k], with V = W2
        return V[r, j, k]

    @device
    def plain(P, Q, V, r, i, j, acc):
        return acc

    @device
    def bias(P, Q, V, r, i, j, acc):                     # linear: acc + b[j], V = b
        return acc + V[r, j]

    @device
    def dz_given(P, Q, V, r, k, j):                      # grads_linear B: dZ[k, j], with Q = dZ
        return Q[r, k, j]

    @device
    def dz_given_rows(P, Q, V, r, i, k):                 # dX_linear A: dZ[i, k], with P = dZ
        return P[r, i, k]

    return dict(relu=relu, masked=masked, x=x, w=w, bias_relu=bias_relu,
                x_transposed_and_ones=x_transposed_and_ones, dz=dz, dz_rows=dz_rows,
                w_transposed=w_transposed, plain=plain, bias=bias, dz_given=dz_given,
                dz_given_rows=dz_given_rows)


# ---------------------------------------------------------------------------- tiled products
def _tiled_product(load_a, a_transposed, load_b, b_transposed, finish, dtype, tile):
    """Build ``kernel(P, Q, V, C, K, splits, chunk)``:
    ``C[r*splits + s, i, j] = finish(sum over split s's k of load_a(r, i, k) * load_b(r, k, j))``.

    ``a_transposed``: A[i, k] is contiguous along i in memory (a transposed view), so the block
    reads the tile along i and stores it transposed; likewise ``b_transposed`` along k.
    Grid: (row blocks, column blocks, runs x splits) -- the rows (a batch can be long) on x, whose
    limit is 2^31 - 1 blocks; y and z allow 65535. Loop nest of one block (tile x tile threads;
    thread (ty, tx) owns C[z, row, col])::

        r, s = blockIdx.z // splits, blockIdx.z % splits
        for k0 in range(s * chunk, min(K, (s + 1) * chunk), tile):
            sA[ty, tx] = A[row0 + ty, k0 + tx]     # or sA[tx, ty] = A[row0 + tx, k0 + ty]: along memory
            sB[ty, tx] = B[k0 + ty, col0 + tx]     # or sB[tx, ty] = B[k0 + tx, col0 + ty]
            syncthreads()
            acc += sum_t sA[ty, t] * sB[t, tx]     # from shared memory
            syncthreads()
        C[z, row, col] = finish(acc)               # global memory written once

    Each input cell is read from global memory once per block, by neighbouring threads at
    neighbouring addresses.
    """
    zero = dtype(0)
    padded = (tile, tile + 1)       # +1: transposed stores avoid bank conflicts; a constant, as CUDA needs

    @cuda.jit
    def kernel(P, Q, V, C, K, splits, chunk):
        sA = cuda.shared.array(padded, dtype)
        sB = cuda.shared.array(padded, dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        z = cuda.blockIdx.z
        r, s = z // splits, z % splits
        row0, col0 = cuda.blockIdx.x * tile, cuda.blockIdx.y * tile     # rows on x: up to 2^31 - 1 blocks
        M, N = C.shape[1], C.shape[2]
        k_begin = s * chunk
        k_end = min(K, k_begin + chunk)
        acc = zero
        for k0 in range(k_begin, k_end, tile):
            if a_transposed:
                i, k = row0 + tx, k0 + ty
                sA[tx, ty] = load_a(P, Q, V, r, i, k) if (i < M and k < k_end) else zero
            else:
                i, k = row0 + ty, k0 + tx
                sA[ty, tx] = load_a(P, Q, V, r, i, k) if (i < M and k < k_end) else zero
            if b_transposed:
                k, j = k0 + tx, col0 + ty
                sB[tx, ty] = load_b(P, Q, V, r, k, j) if (k < k_end and j < N) else zero
            else:
                k, j = k0 + ty, col0 + tx
                sB[ty, tx] = load_b(P, Q, V, r, k, j) if (k < k_end and j < N) else zero
            cuda.syncthreads()
            for t in range(tile):
                acc += sA[ty, t] * sB[t, tx]
            cuda.syncthreads()
        row, col = row0 + ty, col0 + tx
        if row < M and col < N:
            C[z, row, col] = finish(P, Q, V, r, row, col, acc)

    return kernel


# ---------------------------------------------------------------------- one thread per cell
def _cell_kernels(dtype):
    """The one-thread-per-cell kernels for ``dtype``: the split-K sum, the three mixes, Adam."""
    zero, one = dtype(0), dtype(1)

    @cuda.jit
    def sum_splits(partial, out):
        """One thread per (run, cell m): ``out[r, m] = sum_s partial[r, s, m]``, s in order."""
        cell = cuda.grid(1)
        R, M = out.shape
        if cell < R * M:
            r, m = cell // M, cell % M
            acc = zero
            for s in range(partial.shape[1]):
                acc += partial[r, s, m]
            out[r, m] = acc

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

    @cuda.jit
    def adam(p, g, m, v, lr, beta1, beta2, eps, correction1, inv_sqrt_correction2):
        """One thread per entry (r, i) of the flat (R, P) buffers; the arithmetic of
        :func:`mmoe_np.kernels.cpu.adam_update`::

            m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
            p -= (lr[r] / c1) * m / (sqrt(v) / sqrt(c2) + eps)
        """
        cell = cuda.grid(1)
        R, P = p.shape
        if cell < R * P:
            r, i = cell // P, cell % P
            gi = g[r, i]
            mi = beta1 * m[r, i] + (one - beta1) * gi
            vi = beta2 * v[r, i] + (one - beta2) * gi * gi
            m[r, i] = mi
            v[r, i] = vi
            p[r, i] -= (lr[r] / correction1) * mi / (math.sqrt(vi) * inv_sqrt_correction2 + eps)

    return {"sum_splits": sum_splits, "mix_forward": mix_forward, "mix_backward_dH": mix_backward_dH,
            "mix_backward_dG": mix_backward_dG, "adam": adam}


# ------------------------------------------------------------------------------ the kernel set
PRODUCT_NAMES = ("forward", "grads", "dX", "linear", "grads_linear", "dX_linear")
KERNEL_NAMES = (PRODUCT_NAMES + ("sum_splits", "mix_forward", "mix_backward_dH", "mix_backward_dG", "adam")
                + cuda_train_device.KERNEL_NAMES)
_built: dict = {}


def build(dtype, tile):
    """Every kernel for ``dtype`` (float32 or float64) and ``tile``, as ``{name: kernel}`` (those of
    :mod:`.cuda_train_device` included).

    Built once per (dtype, tile); numba compiles a kernel at its first launch (on a GPU) or
    runs it as Python (in the simulator).
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"the CUDA kernels are built for float32 or float64, got {dtype}")
    key = (dtype, int(tile))
    if key not in _built:
        scalar, f = dtype.type, _device_functions(dtype.type)
        kernels = _cell_kernels(scalar)
        kernels["forward"] = _tiled_product(f["x"], False, f["w"], False, f["bias_relu"], scalar, tile)
        kernels["grads"] = _tiled_product(f["x_transposed_and_ones"], True, f["dz"], False, f["plain"], scalar, tile)
        kernels["dX"] = _tiled_product(f["dz_rows"], False, f["w_transposed"], True, f["plain"], scalar, tile)
        kernels["linear"] = _tiled_product(f["x"], False, f["w"], False, f["bias"], scalar, tile)
        kernels["grads_linear"] = _tiled_product(f["x_transposed_and_ones"], True, f["dz_given"], False, f["plain"],
                                                 scalar, tile)
        kernels["dX_linear"] = _tiled_product(f["dz_given_rows"], False, f["w_transposed"], True, f["plain"],
                                              scalar, tile)
        kernels.update(cuda_train_device.build(scalar))
        _built[key] = kernels
    return _built[key]


def signatures(dtype):
    """The argument types :mod:`.cuda` launches each kernel with, ``{name: tuple of numba types}``.

    Every array is C-contiguous (the host side makes sure); sizes are Python ints (int64) and
    Adam's scalars are of the buffers' dtype.
    """
    f = numpy_support.from_dtype(np.dtype(dtype))

    def a(ndim):
        return types.Array(f, ndim, "C")

    i = types.int64
    product = (a(3), a(3), None, a(3), i, i, i)
    return {
        "forward": product[:2] + (a(2),) + product[3:],          # X, W2, b, H, K, splits, chunk
        "grads": product[:2] + (a(3),) + product[3:],            # X, H, dH, [dW; db], ...
        "dX": product[:2] + (a(3),) + product[3:],               # H, dH, W2, dX, ...
        "linear": product[:2] + (a(2),) + product[3:],           # X, W2, b, Z, ...
        "grads_linear": product[:2] + (a(3),) + product[3:],     # X, dZ, dZ (unused), [dW; db], ...
        "dX_linear": product[:2] + (a(3),) + product[3:],        # dZ, dZ (unused), W2, dX, ...
        "sum_splits": (a(3), a(2)),
        "mix_forward": (a(4), a(4), a(4)),
        "mix_backward_dH": (a(4), a(4), a(4)),
        "mix_backward_dG": (a(4), a(4), a(4)),
        "adam": (a(2),) * 4 + (a(1),) + (f,) * 5,
        **cuda_train_device.signatures(dtype),
    }
