r"""Device code for a training step that stays on the GPU: everything but the products and the mixes.

:mod:`.cuda_device` holds the tiled products and the gate mixes; a whole step
(:mod:`.cuda_train`) also needs its minibatch, the activations of the first layer, the towers,
the losses and the divergence guard's run masks. Each is one thread per output cell, as below
(``cell`` runs over the cells in C order; arrays carry the run axis first).

==========================  =================================================================
kernel                      one thread computes
==========================  =================================================================
gather_rows                 ``out[m, g, b, c] = data[source[m, g], order[order_row[m, g], start + b], c]``
take                        ``out[q] = src[index[q]]`` (a fixed permutation or selection)
relu_columns                ``H[r, g, b, c] = relu(Z[r, b, col0 + g * stride + c])``
relu_columns_backward       ``dZ[r, b, col0 + g * stride + c] = dH[r, g, b, c] * (H > 0)``
softmax_columns             row (r, g, b): ``G[r, g, b, :] = softmax(Z[r, b, col0 + g * stride + :E])``
softmax_columns_backward    row (r, g, b): ``dZ[...] = G (dG - <G, dG>)``
tower_hidden                ``A[r,k,b,t] = relu(sum_u F[r,k',b,u] Wt[r,k,u,t] + bt[r,k,t])``
tower_output                ``OUT[r,k,b,o] = sum_t A[r,k,b,t] Wo[r,k,t,o] + bo[r,k,o]``
loss_terms                  each prediction's loss term (MSE or BCE on logits) and ``dOUT``,
                            times the task's weight
mean_terms                  one *block* per (r, k): task k's mean loss, a tree sum in shared memory
tower_output_backward       ``dWo[r,k,t,o] = sum_b A dOUT`` (and ``dbo`` in the extra row t = T)
tower_hidden_delta          ``dZt[r,k,b,t] = (sum_o dOUT Wo) * (A > 0)``
tower_hidden_backward       ``dWt[r,k,u,t] = sum_b F dZt`` (and ``dbt`` in the extra row u = U)
tower_input_grad            ``dF[r,k',b,u] = sum over the towers that read F[k'] of sum_t dZt Wt``
combine_level               PLE: a level's outputs from its mixtures (``t_k' = own + shared``)
split_level_grad            PLE: the mixtures' gradients from the outputs' (its transpose)
fill_runs, copy_runs        the guard: ``a[r] = value`` / ``dst[r] = src[r]`` for the runs marked
==========================  =================================================================

(F has K groups -- one per tower -- or 1 read by every tower: Shared-Bottom, OMoE; k' is k or 0.)

Sums over the batch run in order inside one thread and the losses' tree sum has a fixed shape,
so a step gives the same bits every time on a given GPU. Every literal is a constant of the
kernel's dtype (float32 kernels hold no float64 arithmetic), and :func:`signatures` lists the
argument types the host side launches each kernel with (compiled by ``tests/test_cuda_compile.py``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, types
from numba.np import numpy_support

REDUCE_THREADS = 256          # mean_terms: the shared array of its tree sum (a block uses <= 256 threads)

KERNEL_NAMES = ("gather_rows", "take", "relu_columns", "relu_columns_backward", "softmax_columns",
                "softmax_columns_backward", "tower_hidden", "tower_output", "loss_terms", "mean_terms",
                "tower_output_backward", "tower_hidden_delta", "tower_hidden_backward", "tower_input_grad",
                "combine_level", "split_level_grad", "fill_runs", "copy_runs")


def build(dtype):
    """The kernels of this module for the NumPy scalar type ``dtype`` (np.float32 or np.float64)."""
    zero, one = dtype(0), dtype(1)

    @cuda.jit
    def gather_rows(data, order, source, order_row, start, out):
        """The minibatch: rows ``order[.., start:start + B]`` of each run's source, into out (M, G, B, C)."""
        cell = cuda.grid(1)
        M, G, B, C = out.shape
        if cell < M * G * B * C:
            m, rest = cell // (G * B * C), cell % (G * B * C)
            g, rest = rest // (B * C), rest % (B * C)
            b, c = rest // C, rest % C
            out[m, g, b, c] = data[source[m, g], order[order_row[m, g], start + b], c]

    @cuda.jit
    def take(src, index, out):
        """``out[q] = src[index[q]]``: parameters into the layout the step reads, gradients back, gates
        into the layout the mixes read."""
        q = cuda.grid(1)
        if q < out.shape[0]:
            out[q] = src[index[q]]

    @cuda.jit
    def relu_columns(Z, col0, stride, H):
        cell = cuda.grid(1)
        R, G, B, C = H.shape
        if cell < R * G * B * C:
            r, rest = cell // (G * B * C), cell % (G * B * C)
            g, rest = rest // (B * C), rest % (B * C)
            b, c = rest // C, rest % C
            v = Z[r, b, col0 + g * stride + c]
            H[r, g, b, c] = v if (v >= zero or v != v) else zero      # NaN stays NaN (as np.maximum)

    @cuda.jit
    def relu_columns_backward(H, dH, col0, stride, dZ):
        cell = cuda.grid(1)
        R, G, B, C = H.shape
        if cell < R * G * B * C:
            r, rest = cell // (G * B * C), cell % (G * B * C)
            g, rest = rest // (B * C), rest % (B * C)
            b, c = rest // C, rest % C
            dZ[r, b, col0 + g * stride + c] = dH[r, g, b, c] * (one if H[r, g, b, c] > zero else zero)

    @cuda.jit
    def softmax_columns(Z, col0, stride, G):
        """One thread per row (r, g, b): the largest logit first (NaN wins, as np.max), then exp and sum."""
        cell = cuda.grid(1)
        R, Gn, B, E = G.shape
        if cell < R * Gn * B:
            r, rest = cell // (Gn * B), cell % (Gn * B)
            g, b = rest // B, rest % B
            first = col0 + g * stride
            top = Z[r, b, first]
            for e in range(1, E):
                v = Z[r, b, first + e]
                top = v if (v > top or v != v) else top
            total = zero
            for e in range(E):
                x = math.exp(Z[r, b, first + e] - top)
                G[r, g, b, e] = x
                total += x
            for e in range(E):
                G[r, g, b, e] = G[r, g, b, e] / total

    @cuda.jit
    def softmax_columns_backward(G, dG, col0, stride, dZ):
        cell = cuda.grid(1)
        R, Gn, B, E = G.shape
        if cell < R * Gn * B:
            r, rest = cell // (Gn * B), cell % (Gn * B)
            g, b = rest // B, rest % B
            first = col0 + g * stride
            dot = zero
            for e in range(E):
                dot += dG[r, g, b, e] * G[r, g, b, e]
            for e in range(E):
                dZ[r, b, first + e] = G[r, g, b, e] * (dG[r, g, b, e] - dot)

    @cuda.jit
    def tower_hidden(F, Wt, bt, A):
        cell = cuda.grid(1)
        R, K, B, T = A.shape
        if cell < R * K * B * T:
            r, rest = cell // (K * B * T), cell % (K * B * T)
            k, rest = rest // (B * T), rest % (B * T)
            b, t = rest // T, rest % T
            kf = k if F.shape[1] > 1 else 0
            acc = zero
            for u in range(F.shape[3]):
                acc += F[r, kf, b, u] * Wt[r, k, u, t]
            v = acc + bt[r, k, t]
            A[r, k, b, t] = v if (v >= zero or v != v) else zero

    @cuda.jit
    def tower_output(A, Wo, bo, OUT):
        cell = cuda.grid(1)
        R, K, B, O = OUT.shape
        if cell < R * K * B * O:
            r, rest = cell // (K * B * O), cell % (K * B * O)
            k, rest = rest // (B * O), rest % (B * O)
            b, o = rest // O, rest % O
            acc = zero
            for t in range(A.shape[3]):
                acc += A[r, k, b, t] * Wo[r, k, t, o]
            OUT[r, k, b, o] = acc + bo[r, k, o]

    @cuda.jit
    def loss_terms(OUT, Y, codes, weights, TERMS, dOUT):
        """Each prediction's loss term -- MSE (code 0) or BCE on logits (code 1, the stable form) -- and
        ``dOUT = weight_k * d (mean over B x O) / d OUT``."""
        cell = cuda.grid(1)
        R, K, B, O = OUT.shape
        if cell < R * K * B * O:
            r, rest = cell // (K * B * O), cell % (K * B * O)
            k, rest = rest // (B * O), rest % (B * O)
            b, o = rest // O, rest % O
            z, y = OUT[r, k, b, o], Y[r, k, b, o]
            scale = weights[k] / dtype(B * O)
            if codes[k] == 0:
                d = z - y
                TERMS[r, k, b, o] = d * d
                dOUT[r, k, b, o] = scale * (d + d)
            else:
                ez = math.exp(-abs(z))
                TERMS[r, k, b, o] = (z if z > zero else zero) - z * y + math.log1p(ez)
                sig = one / (one + ez) if z >= zero else ez / (one + ez)
                dOUT[r, k, b, o] = scale * (sig - y)

    @cuda.jit
    def mean_terms(TERMS, LOSS):
        """One block per (r, k): ``LOSS[r, k]`` = the mean of ``TERMS[r, k]``, each thread summing a stride
        of it in order, then a tree sum in shared memory (``blockDim.x`` a power of two)."""
        partial = cuda.shared.array(REDUCE_THREADS, dtype)
        R, K, B, O = TERMS.shape
        r, k = cuda.blockIdx.x // K, cuda.blockIdx.x % K
        tid, threads = cuda.threadIdx.x, cuda.blockDim.x
        acc = zero
        for b in range(tid, B, threads):
            for o in range(O):
                acc += TERMS[r, k, b, o]
        partial[tid] = acc
        cuda.syncthreads()
        half = threads // 2
        while half > 0:
            if tid < half:
                partial[tid] += partial[tid + half]
            cuda.syncthreads()
            half //= 2
        if tid == 0:
            LOSS[r, k] = partial[0] / dtype(B * O)

    @cuda.jit
    def tower_output_backward(A, dOUT, dWo, dbo):
        cell = cuda.grid(1)
        R, K, T, O = dWo.shape
        if cell < R * K * (T + 1) * O:
            r, rest = cell // (K * (T + 1) * O), cell % (K * (T + 1) * O)
            k, rest = rest // ((T + 1) * O), rest % ((T + 1) * O)
            t, o = rest // O, rest % O
            acc = zero
            if t < T:
                for b in range(A.shape[2]):
                    acc += A[r, k, b, t] * dOUT[r, k, b, o]
                dWo[r, k, t, o] = acc
            else:
                for b in range(A.shape[2]):
                    acc += dOUT[r, k, b, o]
                dbo[r, k, o] = acc

    @cuda.jit
    def tower_hidden_delta(A, dOUT, Wo, dZt):
        cell = cuda.grid(1)
        R, K, B, T = A.shape
        if cell < R * K * B * T:
            r, rest = cell // (K * B * T), cell % (K * B * T)
            k, rest = rest // (B * T), rest % (B * T)
            b, t = rest // T, rest % T
            acc = zero
            for o in range(dOUT.shape[3]):
                acc += dOUT[r, k, b, o] * Wo[r, k, t, o]
            dZt[r, k, b, t] = acc * (one if A[r, k, b, t] > zero else zero)

    @cuda.jit
    def tower_hidden_backward(F, dZt, dWt, dbt):
        cell = cuda.grid(1)
        R, K, U, T = dWt.shape
        if cell < R * K * (U + 1) * T:
            r, rest = cell // (K * (U + 1) * T), cell % (K * (U + 1) * T)
            k, rest = rest // ((U + 1) * T), rest % ((U + 1) * T)
            u, t = rest // T, rest % T
            kf = k if F.shape[1] > 1 else 0
            acc = zero
            if u < U:
                for b in range(dZt.shape[2]):
                    acc += F[r, kf, b, u] * dZt[r, k, b, t]
                dWt[r, k, u, t] = acc
            else:
                for b in range(dZt.shape[2]):
                    acc += dZt[r, k, b, t]
                dbt[r, k, t] = acc

    @cuda.jit
    def tower_input_grad(dZt, Wt, dF):
        cell = cuda.grid(1)
        R, Kf, B, U = dF.shape
        K, T = dZt.shape[1], dZt.shape[3]
        if cell < R * Kf * B * U:
            r, rest = cell // (Kf * B * U), cell % (Kf * B * U)
            kf, rest = rest // (B * U), rest % (B * U)
            b, u = rest // U, rest % U
            first, last = (kf, kf + 1) if Kf > 1 else (0, K)         # one group read by every tower: sum them
            acc = zero
            for k in range(first, last):
                for t in range(T):
                    acc += dZt[r, k, b, t] * Wt[r, k, u, t]
            dF[r, kf, b, u] = acc

    @cuda.jit
    def combine_level(F_task, F_shared, task_out, shared_out):
        """PLE: ``task_out[r,k] = F_task[r*K+k, 0] + F_shared[r, k]`` and, below the top (F_task has a
        second reader, the shared gate), ``shared_out[r] = sum_k F_task[r*K+k, 1] + F_shared[r, K]``."""
        cell = cuda.grid(1)
        R, K, B, U = task_out.shape
        outputs = K + 1 if F_task.shape[1] > 1 else K
        if cell < R * outputs * B * U:
            r, rest = cell // (outputs * B * U), cell % (outputs * B * U)
            k, rest = rest // (B * U), rest % (B * U)
            b, u = rest // U, rest % U
            if k < K:
                task_out[r, k, b, u] = F_task[r * K + k, 0, b, u] + F_shared[r, k, b, u]
            else:
                acc = zero
                for j in range(K):
                    acc += F_task[r * K + j, 1, b, u]
                shared_out[r, b, u] = acc + F_shared[r, K, b, u]

    @cuda.jit
    def split_level_grad(d_task, d_shared, dF_task, dF_shared):
        """The transpose of combine_level: each mixture's gradient is its output's."""
        cell = cuda.grid(1)
        R, K, B, U = d_task.shape
        second = dF_task.shape[1] > 1
        outputs = K + 1 if second else K
        if cell < R * outputs * B * U:
            r, rest = cell // (outputs * B * U), cell % (outputs * B * U)
            k, rest = rest // (B * U), rest % (B * U)
            b, u = rest // U, rest % U
            if k < K:
                g = d_task[r, k, b, u]
                dF_task[r * K + k, 0, b, u] = g
                dF_shared[r, k, b, u] = g
                if second:
                    dF_task[r * K + k, 1, b, u] = d_shared[r, b, u]
            else:
                dF_shared[r, K, b, u] = d_shared[r, b, u]

    @cuda.jit
    def fill_runs(a, value, runs):
        """``a[r, :] = value`` for the runs with ``runs[r] != 0`` (a frozen run's gradient, its moments)."""
        cell = cuda.grid(1)
        R, P = a.shape
        if cell < R * P and runs[cell // P] != 0:
            a[cell // P, cell % P] = value

    @cuda.jit
    def copy_runs(src, dst, runs):
        """``dst[r, :] = src[r, :]`` for the runs with ``runs[r] != 0`` (a diverged run back to its snapshot)."""
        cell = cuda.grid(1)
        R, P = dst.shape
        if cell < R * P and runs[cell // P] != 0:
            dst[cell // P, cell % P] = src[cell // P, cell % P]

    return {name: fn for name, fn in locals().items() if name in KERNEL_NAMES}


def signatures(dtype):
    """The argument types :mod:`.cuda_train` launches each kernel with: C-contiguous arrays of ``dtype``,
    int64 index arrays, Python ints (int64) and scalars of ``dtype``."""
    f = numpy_support.from_dtype(np.dtype(dtype))
    i = types.int64

    def a(ndim):
        return types.Array(f, ndim, "C")

    def ia(ndim):
        return types.Array(i, ndim, "C")

    return {
        "gather_rows": (a(3), ia(2), ia(2), ia(2), i, a(4)),
        "take": (a(1), ia(1), a(1)),
        "relu_columns": (a(3), i, i, a(4)),
        "relu_columns_backward": (a(4), a(4), i, i, a(3)),
        "softmax_columns": (a(3), i, i, a(4)),
        "softmax_columns_backward": (a(4), a(4), i, i, a(3)),
        "tower_hidden": (a(4), a(4), a(3), a(4)),
        "tower_output": (a(4), a(4), a(3), a(4)),
        "loss_terms": (a(4), a(4), ia(1), a(1), a(4), a(4)),
        "mean_terms": (a(4), a(2)),
        "tower_output_backward": (a(4), a(4), a(4), a(3)),
        "tower_hidden_delta": (a(4), a(4), a(4), a(4)),
        "tower_hidden_backward": (a(4), a(4), a(4), a(3)),
        "tower_input_grad": (a(4), a(4), a(4)),
        "combine_level": (a(4), a(4), a(4), a(3)),
        "split_level_grad": (a(4), a(3), a(4), a(4)),
        "fill_runs": (a(2), f, ia(1)),
        "copy_runs": (a(2), a(2), ia(1)),
    }
