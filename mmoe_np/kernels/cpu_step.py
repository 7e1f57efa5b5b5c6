r"""A whole training step of the paper's models, fused: forward, losses, backward in two matrix
products and one compiled pass (numba backend).

The readable path computes a step as the models write it -- experts and gates, the gate mixes,
the towers, the losses, and their backward passes, each a call of its own (``model.forward``,
``losses.mse``, ``model.backward``). This module computes the same numbers with

::

    Z  = X @ W                        # BLAS: every expert's and gate's logits, (B, N)
    for each row of Z:                # one compiled pass (numba), no intermediate array in memory
        H = relu(Z_experts + b_e); G_k = softmax(Z_gate_k + b_g)      # experts, gates
        F_k = sum_e G_k[e] H[:, e]                                     # gate mixes
        out_k = W_o relu(W_t F_k + b_t) + b_o                          # towers
        loss_k, dout_k                                                 # MSE or BCE on logits
        the towers' gradients (summed over rows), dF_k, dH, dG_k       # backward, same row
        dZ = [dH * (H > 0) | G_k (dG_k - <G_k, dG_k>)]; db += dZ       # ReLU and softmax backward
    dW = X^T @ dZ                     # BLAS: the experts' and gates' kernel gradients, (D, N)

so the step reads X twice and Z once and writes dZ once; everything else stays in registers and
a few hundred bytes of scratch per row. Shared-Bottom (and the single-task net) is the same pass
with no gates: every tower reads the bottom H itself.

It applies to :class:`~mmoe_np.models.MMoE`, :class:`~mmoe_np.models.OMoE`,
:class:`~mmoe_np.models.SharedBottom` and :class:`~mmoe_np.models.SingleTask` trained on one
input array (not per-task inputs) with ``"mse"`` or ``"bce_with_logits"`` per task;
:class:`mmoe_np.train.Trainer` uses it automatically on the numba backend and falls back to the
readable path otherwise. Its results equal the readable path's within 1e-10 (float64;
``tests/test_cpu_step.py``), with leading run axes too.

**Determinism.** Rows are processed in fixed chunks of ``CHUNK`` rows; each chunk sums its rows
in order into its own partial sums, and the partial sums are added chunk by chunk in order. The
result does not depend on how many threads ran the chunks.
"""
from __future__ import annotations

from math import prod
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from ..nn import losses as losses_module
from ..params import find_dense_block
from .cpu import _compiled

CHUNK = 128                      # rows per partial sum (fixed: results do not depend on threads)
_PARALLEL_MIN_ROWS = 1024        # below this many rows (over all runs), one thread does all
LOSS_CODES = {losses_module.mse: 0, losses_module.bce_with_logits: 1}


# Floating-point reassociation lets LLVM turn the sums over a chunk's rows into SIMD sums; it never
# changes NaN/inf handling (no 'nnan'/'ninf'), and it is deterministic: the same code always adds
# in the same order.
_FAST = {"reassoc", "contract"}


# ------------------------------------------------------------------ vector helpers (inlined)
# Each is one loop over a chunk's rows that does four terms' work: a chunk's pass costs about 700
# such loops instead of 1,800 one-term loops (each loop's set-up costs about as much as 30 rows).
@njit(inline="always", fastmath=_FAST)
def _axpy4(y, a0, x0, a1, x1, a2, x2, a3, x3, w):
    """``y += a0 x0 + a1 x1 + a2 x2 + a3 x3`` over the first ``w`` rows (scalars a, vectors x)."""
    for c in range(w):
        y[c] += a0 * x0[c] + a1 * x1[c] + a2 * x2[c] + a3 * x3[c]


@njit(inline="always", fastmath=_FAST)
def _axpy(y, a, x, w):
    for c in range(w):
        y[c] += a * x[c]


@njit(inline="always", fastmath=_FAST)
def _vfma4(y, a0, x0, a1, x1, a2, x2, a3, x3, w):
    """``y += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3`` over the first ``w`` rows (all vectors)."""
    for c in range(w):
        y[c] += a0[c] * x0[c] + a1[c] * x1[c] + a2[c] * x2[c] + a3[c] * x3[c]


@njit(inline="always", fastmath=_FAST)
def _vfma(y, a, x, w):
    for c in range(w):
        y[c] += a[c] * x[c]


@njit(inline="always", fastmath=_FAST)
def _dot4(x, y0, y1, y2, y3, w):
    """The four sums over the first ``w`` rows of ``x * y_i``."""
    s0 = s1 = s2 = s3 = x[0] * 0
    for c in range(w):
        xc = x[c]
        s0 += xc * y0[c]
        s1 += xc * y1[c]
        s2 += xc * y2[c]
        s3 += xc * y3[c]
    return s0, s1, s2, s3


@njit(inline="always", fastmath=_FAST)
def _dot(x, y, w):
    s = x[0] * 0
    for c in range(w):
        s += x[c] * y[c]
    return s


@njit(inline="always", fastmath=_FAST)
def _sum(x, w):
    s = x[0] * 0
    for c in range(w):
        s += x[c]
    return s


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def _chunk_pass(ZT, b, Wt, bt, Wo, bo, YT, loss_code, scale, mean_of, gate_of_task, n_gates, E, n_relu, mixed,
                backward, r, slot, i0, w, H, G, DG, DFG, M, S, F, A, DA, OUT, DOUT,
                dZT, db, dWt, dbt, dWo, dbo, loss):
    """Rows ``i0 .. i0 + w`` of run ``r``: forward, loss and (when ``backward``) backward. Every array
    is laid out (unit, row), so each innermost loop runs over the chunk's rows, contiguous in memory
    (SIMD). Adds the chunk's sums into the partial sums at ``slot``.

    Backward, the tasks meet in ``DFG[g]``, the sum of dF_k over the tasks that read gate g (MMoE:
    one task per gate; OMoE and Shared-Bottom: every task): then dH[u, e] = sum_g DFG[g][u] G_g[e]
    and dG_g[e] = sum_u DFG[g][u] H[u, e] are one pass each, whatever the number of tasks.
    """
    K, Ut, T, O = Wt.shape[1], Wt.shape[2], Wt.shape[3], Wo.shape[3]
    # constants in the arrays' own dtype: a float64 literal would turn float32 arithmetic into float64
    zero = ZT.dtype.type(0)
    one = ZT.dtype.type(1)
    n_groups = max(n_gates, 1)
    # ---- experts (or the bottom): H = relu(Z + b)
    for j in range(n_relu):
        z, h, bj = ZT[r, j, i0:i0 + w], H[j], b[r, j]
        for c in range(w):
            v = z[c] + bj
            h[c] = v if (v >= 0 or v != v) else zero
    # ---- gates: G_g = softmax(Z_g + b_g), each row's max subtracted first (as NumPy's softmax)
    for gi in range(n_gates):
        start = n_relu + gi * E
        z0, b0 = ZT[r, start, i0:i0 + w], b[r, start]
        for c in range(w):
            M[c] = z0[c] + b0
            S[c] = zero
        for e in range(1, E):
            z, be = ZT[r, start + e, i0:i0 + w], b[r, start + e]
            for c in range(w):
                v = z[c] + be
                M[c] = v if (v > M[c] or v != v) else M[c]
        for e in range(E):
            z, be, ge = ZT[r, start + e, i0:i0 + w], b[r, start + e], G[gi, e]
            for c in range(w):
                x = np.exp(z[c] + be - M[c])
                ge[c] = x
                S[c] += x
        for e in range(E):
            ge = G[gi, e]
            for c in range(w):
                ge[c] = ge[c] / S[c]
    if backward:
        for gi in range(n_groups):
            for u in range(Ut):
                dfg = DFG[gi, u]
                for c in range(w):
                    dfg[c] = zero
    E4, U4, T4 = E - E % 4, Ut - Ut % 4, T - T % 4
    for k in range(K):
        gk = gate_of_task[k]
        # ---- mixture F_k[u] = sum_e G_k[e] H[u, e]   (Shared-Bottom: F_k = H)
        for u in range(Ut):
            f = F[u]
            for c in range(w):
                f[c] = zero
            if mixed:
                base = u * E
                for e in range(0, E4, 4):
                    _vfma4(f, G[gk, e], H[base + e], G[gk, e + 1], H[base + e + 1], G[gk, e + 2], H[base + e + 2],
                           G[gk, e + 3], H[base + e + 3], w)
                for e in range(E4, E):
                    _vfma(f, G[gk, e], H[base + e], w)
            else:
                _axpy(f, one, H[u], w)
        # ---- tower: A = relu(W_t^T F_k + b_t), OUT = W_o^T A + b_o
        for t in range(T):
            a, bias = A[t], bt[r, k, t]
            for c in range(w):
                a[c] = bias
            for u in range(0, U4, 4):
                _axpy4(a, Wt[r, k, u, t], F[u], Wt[r, k, u + 1, t], F[u + 1], Wt[r, k, u + 2, t], F[u + 2],
                       Wt[r, k, u + 3, t], F[u + 3], w)
            for u in range(U4, Ut):
                _axpy(a, Wt[r, k, u, t], F[u], w)
            for c in range(w):
                v = a[c]
                a[c] = v if (v >= 0 or v != v) else zero
        for o in range(O):
            out, bias = OUT[o], bo[r, k, o]
            for c in range(w):
                out[c] = bias
            for t in range(0, T4, 4):
                _axpy4(out, Wo[r, k, t, o], A[t], Wo[r, k, t + 1, o], A[t + 1], Wo[r, k, t + 2, o], A[t + 2],
                       Wo[r, k, t + 3, o], A[t + 3], w)
            for t in range(T4, T):
                _axpy(out, Wo[r, k, t, o], A[t], w)
        # ---- the task's loss (its mean over B x O entries) and d loss / d out, times the task's weight
        for o in range(O):
            out, dout, y = OUT[o], DOUT[o], YT[r, k, o, i0:i0 + w]
            acc = zero                                        # scale[k]: the task's weight / (B x O)
            if loss_code[k] == 0:                             # MSE
                for c in range(w):
                    d = out[c] - y[c]
                    acc += d * d
                    dout[c] = scale[k] * (d + d)
            else:                                             # BCE on logits, stable form
                for c in range(w):
                    z, yc = out[c], y[c]
                    ez = np.exp(-abs(z))
                    acc += max(z, zero) - z * yc + np.log1p(ez)
                    sig = one / (one + ez) if z >= 0 else ez / (one + ez)
                    dout[c] = scale[k] * (sig - yc)
            loss[slot, k] += acc * mean_of[k]
        if not backward:
            continue
        # ---- tower backward: dW_o, db_o; dA = W_o dOUT masked by A > 0; db_t
        for o in range(O):
            dout = DOUT[o]
            dbo[slot, k, o] += _sum(dout, w)
            for t in range(0, T4, 4):
                s0, s1, s2, s3 = _dot4(dout, A[t], A[t + 1], A[t + 2], A[t + 3], w)
                dWo[slot, k, t, o] += s0
                dWo[slot, k, t + 1, o] += s1
                dWo[slot, k, t + 2, o] += s2
                dWo[slot, k, t + 3, o] += s3
            for t in range(T4, T):
                dWo[slot, k, t, o] += _dot(dout, A[t], w)
        for t in range(T):
            a, da = A[t], DA[t]
            for c in range(w):
                da[c] = zero
            for o in range(O):
                _axpy(da, Wo[r, k, t, o], DOUT[o], w)
            acc = zero
            for c in range(w):
                v = da[c] if a[c] > 0 else zero
                da[c] = v
                acc += v
            dbt[slot, k, t] += acc
        # ---- dW_t[u, t] = sum_rows F_k[u] dA[t];  dF_k[u] = sum_t W_t[u, t] dA[t], added into its gate's DFG
        dfg_k = DFG[gk]
        for u in range(Ut):
            f = F[u]
            for t in range(0, T4, 4):
                s0, s1, s2, s3 = _dot4(f, DA[t], DA[t + 1], DA[t + 2], DA[t + 3], w)
                dWt[slot, k, u, t] += s0
                dWt[slot, k, u, t + 1] += s1
                dWt[slot, k, u, t + 2] += s2
                dWt[slot, k, u, t + 3] += s3
            for t in range(T4, T):
                dWt[slot, k, u, t] += _dot(f, DA[t], w)
            df = dfg_k[u]
            for t in range(0, T4, 4):
                _axpy4(df, Wt[r, k, u, t], DA[t], Wt[r, k, u, t + 1], DA[t + 1], Wt[r, k, u, t + 2], DA[t + 2],
                       Wt[r, k, u, t + 3], DA[t + 3], w)
            for t in range(T4, T):
                _axpy(df, Wt[r, k, u, t], DA[t], w)
    if not backward:
        return
    # ---- the experts' (or the bottom's) gradient: dZ[u, e] = [H > 0] sum_g DFG[g][u] G_g[e], and db
    for u in range(Ut if mixed else n_relu):
        for e in range(E if mixed else 1):
            j = u * E + e if mixed else u
            h, dz = H[j], dZT[r, j, i0:i0 + w]
            acc = zero
            if not mixed:
                d0 = DFG[0, u]
                for c in range(w):
                    v = d0[c] if h[c] > 0 else zero
                    dz[c] = v
                    acc += v
            elif n_gates == 1:
                d0, g0 = DFG[0, u], G[0, e]
                for c in range(w):
                    v = d0[c] * g0[c] if h[c] > 0 else zero
                    dz[c] = v
                    acc += v
            elif n_gates == 2:
                d0, g0, d1, g1 = DFG[0, u], G[0, e], DFG[1, u], G[1, e]
                for c in range(w):
                    v = d0[c] * g0[c] + d1[c] * g1[c] if h[c] > 0 else zero
                    dz[c] = v
                    acc += v
            else:
                for c in range(w):
                    dz[c] = zero
                for gi in range(n_gates):
                    _vfma(dz, DFG[gi, u], G[gi, e], w)
                for c in range(w):
                    v = dz[c] if h[c] > 0 else zero
                    dz[c] = v
                    acc += v
            db[slot, j] += acc
    # ---- the gates: dG_g[e] = sum_u DFG[g][u] H[u, e]; softmax backward dZ_g = G_g (dG_g - <G_g, dG_g>)
    for gi in range(n_gates):
        for e in range(E):
            dg = DG[gi, e]
            for c in range(w):
                dg[c] = zero
            for u in range(0, U4, 4):
                _vfma4(dg, DFG[gi, u], H[u * E + e], DFG[gi, u + 1], H[(u + 1) * E + e], DFG[gi, u + 2],
                       H[(u + 2) * E + e], DFG[gi, u + 3], H[(u + 3) * E + e], w)
            for u in range(U4, Ut):
                _vfma(dg, DFG[gi, u], H[u * E + e], w)
        start = n_relu + gi * E
        for c in range(w):
            S[c] = zero
        for e in range(E):
            _vfma(S, G[gi, e], DG[gi, e], w)
        for e in range(E):
            ge, dge, dz = G[gi, e], DG[gi, e], dZT[r, start + e, i0:i0 + w]
            acc = zero
            for c in range(w):
                v = ge[c] * (dge[c] - S[c])
                dz[c] = v
                acc += v
            db[slot, start + e] += acc


def _step_loops(ZT, b, Wt, bt, Wo, bo, YT, loss_code, scale, mean_of, gate_of_task, n_gates, E, n_relu, mixed,
                backward, dZT, db, dWt, dbt, dWo, dbo, loss, chunk):
    """Every row of every run, in chunks of ``chunk`` rows with partial sums of their own, then the
    partial sums added chunk by chunk (see the module docstring). Writes the losses (R, K) and, when
    ``backward``, dZ^T, db and the towers' gradients."""
    R, N, B = ZT.shape
    K, Ut, T, O = Wt.shape[1], Wt.shape[2], Wt.shape[3], Wo.shape[3]
    n_chunks = (B + chunk - 1) // chunk
    G_rows = max(n_gates, 1)
    pdb = np.zeros((R * n_chunks, N), ZT.dtype)
    pdWt = np.zeros((R * n_chunks, K, Ut, T), ZT.dtype)
    pdbt = np.zeros((R * n_chunks, K, T), ZT.dtype)
    pdWo = np.zeros((R * n_chunks, K, T, O), ZT.dtype)
    pdbo = np.zeros((R * n_chunks, K, O), ZT.dtype)
    ploss = np.zeros((R * n_chunks, K), np.float64)
    for task in prange(R * n_chunks):
        r = task // n_chunks
        i0 = (task % n_chunks) * chunk
        w = min(chunk, B - i0)
        H = np.empty((n_relu, chunk), ZT.dtype)
        G, DG = np.empty((G_rows, E, chunk), ZT.dtype), np.empty((G_rows, E, chunk), ZT.dtype)
        DFG = np.empty((G_rows, Ut, chunk), ZT.dtype)
        M, S = np.empty(chunk, ZT.dtype), np.empty(chunk, ZT.dtype)
        F = np.empty((Ut, chunk), ZT.dtype)
        A, DA = np.empty((T, chunk), ZT.dtype), np.empty((T, chunk), ZT.dtype)
        OUT, DOUT = np.empty((O, chunk), ZT.dtype), np.empty((O, chunk), ZT.dtype)
        _chunk_pass(ZT, b, Wt, bt, Wo, bo, YT, loss_code, scale, mean_of, gate_of_task, n_gates, E, n_relu, mixed,
                    backward, r, task, i0, w, H, G, DG, DFG, M, S, F, A, DA, OUT, DOUT,
                    dZT, pdb, pdWt, pdbt, pdWo, pdbo, ploss)
    for r in range(R):                       # the chunks' partial sums, added in order
        loss[r] = 0.0
        for c in range(n_chunks):
            loss[r] += ploss[r * n_chunks + c]
        if not backward:
            continue
        db[r] = 0.0
        dWt[r] = 0.0
        dbt[r] = 0.0
        dWo[r] = 0.0
        dbo[r] = 0.0
        for c in range(n_chunks):
            p = r * n_chunks + c
            db[r] += pdb[p]
            dWt[r] += pdWt[p]
            dbt[r] += pdbt[p]
            dWo[r] += pdWo[p]
            dbo[r] += pdbo[p]


_step = _compiled(_step_loops)


# ---------------------------------------------------------------------------------------- the step
class _Shape(NamedTuple):
    """What the compiled pass needs to know about a model (fixed for its life)."""

    mixed: bool                 # True: MoE (towers read gate mixtures); False: every tower reads the bottom
    n_relu: int                 # columns of Z through ReLU: U*E experts' units, or the bottom's S units
    n_gates: int                # softmax groups of E columns after them (MMoE: K, OMoE: 1, Shared-Bottom: 0)
    E: int
    gate_of_task: np.ndarray    # (K,) which gate task k reads (MMoE: k, OMoE: 0)
    kernels: tuple              # names of the kernels and biases stored as the dense block [W; b]
    biases: tuple


def _model_shape(model):
    from ..models.moe import MMoE
    from ..models.shared_bottom import SharedBottom
    if isinstance(model, MMoE):
        U, E, K = model.expert_units, model.n_experts, model.n_tasks
        gate_of_task = np.zeros(K, np.int64) if model.one_gate else np.arange(K, dtype=np.int64)
        return _Shape(True, U * E, model.n_gates, E, gate_of_task, ("expert_kernel", "gate_kernel"),
                      ("expert_bias", "gate_bias"))
    if isinstance(model, SharedBottom):
        return _Shape(False, model.bottom_units, 0, 1, np.zeros(model.n_tasks, np.int64), ("bottom_kernel",),
                      ("bottom_bias",))
    return None


def _block(params, shape):
    """The (..., D + 1, N) dense block ``[W; b]`` of ``params`` (a view into its flat buffer)."""
    if shape.mixed:
        W, Wg = params[shape.kernels[0]], params[shape.kernels[1]]
        kernels = [W.reshape(W.shape[:-2] + (-1,)), np.swapaxes(Wg, -3, -2).reshape(Wg.shape[:-3] + (Wg.shape[-2], -1))]
        b, bg = params[shape.biases[0]], params[shape.biases[1]]
        biases = [b.reshape(b.shape[:-2] + (-1,)), bg.reshape(bg.shape[:-2] + (-1,))]
    else:
        kernels, biases = [params[shape.kernels[0]]], [params[shape.biases[0]]]
    return find_dense_block(kernels, biases)


class _Binding(NamedTuple):
    """Every array one step touches, made once for a parameter buffer and a batch size (views and
    reused buffers), so that a step costs two products and one compiled call, not their set-up."""

    flat: np.ndarray            # the parameter buffer these views belong to (checked each step)
    W_T: np.ndarray             # (..., N, D): the block's kernels, transposed (a view)
    ZT: np.ndarray              # (..., N, B): Z^T
    dZ: np.ndarray              # (..., B, N): dZ, a transposed view of the dZ^T the pass writes
    dW: np.ndarray              # (..., D, N): where dW goes (a view into the gradients' block)
    YT: np.ndarray              # (..., K, O, B): the targets, transposed
    losses: np.ndarray          # (R, K)
    loss_shape: tuple           # (*run_shape, K)
    args: tuple                 # the compiled pass's arguments
    parallel: bool


class FusedStep:
    """Losses and gradients of one training step of ``model`` in one fused pass (see the module).

    ``step(X, targets) -> losses`` computes each task's loss with the current parameters,
    (*run_shape, K), and writes the gradient of the (``weights``-weighted) sum of the task
    losses into ``self.grads``, a :class:`~mmoe_np.params.Params` like ``model.params`` that is
    reused from step to step. ``X``: (..., B, D) checked inputs whose leading axes broadcast to
    the model's runs; ``targets``: K arrays (..., B, O).
    """

    def __init__(self, model, shape, loss_codes, weights):
        self.model, self.shape = model, shape
        self.loss_codes = np.asarray(loss_codes, np.int64)
        self.weights = np.ones(model.n_tasks) if weights is None else np.asarray(weights, np.float64)
        self.grads = model.params.zeros_like()
        self._binding = self._eval_binding = None

    def _bind(self, B, backward=True):
        """The :class:`_Binding` of the current parameters for batches of ``B`` rows (``backward``: a
        training step; else losses only)."""
        model, shape, params = self.model, self.shape, self.model.params
        if self.grads.flat.shape != params.flat.shape or self.grads.layout != params.layout:
            self.grads = params.zeros_like()
        grads = self.grads
        block, gblock = _block(params, shape), _block(grads, shape)
        if block is None or gblock is None:          # pragma: no cover - the models store their blocks this way
            raise RuntimeError("the fused step needs the model's dense block; use the readable path")
        lead, D, N = params.run_shape, block.shape[-2] - 1, block.shape[-1]
        K, O, dtype, R = model.n_tasks, model.out_units, params.flat.dtype, prod(params.run_shape)
        ZT, dZT = np.empty((R, N, B), dtype), np.empty((R, N, B) if backward else (R, N, 0), dtype)
        YT, losses = np.empty(lead + (K, O, B), dtype), np.empty((R, K), np.float64)
        runs = lambda a: a.reshape((R,) + a.shape[len(lead):])                  # noqa: E731
        scale, mean_of = (self.weights / (B * O)).astype(dtype), np.full(K, 1.0 / (B * O))
        args = (ZT, runs(block[..., D, :]), runs(params["tower_kernel"]), runs(params["tower_bias"]),
                runs(params["output_kernel"]), runs(params["output_bias"]), YT.reshape(R, K, O, B),
                self.loss_codes, scale, mean_of, shape.gate_of_task, shape.n_gates, shape.E, shape.n_relu,
                shape.mixed, backward, dZT, runs(gblock[..., D, :]), runs(grads["tower_kernel"]),
                runs(grads["tower_bias"]), runs(grads["output_kernel"]), runs(grads["output_bias"]), losses, CHUNK)
        return _Binding(params.flat, np.swapaxes(block[..., :D, :], -1, -2), ZT.reshape(lead + (N, B)),
                        np.swapaxes(dZT.reshape(lead + dZT.shape[1:]), -1, -2), gblock[..., :D, :], YT, losses,
                        lead + (K,), args, R * B >= _PARALLEL_MIN_ROWS)

    def losses(self, X, targets, batch_size=512):
        """Each task's loss on (X, targets) with the current parameters, (*run_shape, K) -- the forward
        half of the pass, ``batch_size`` rows at a time (a mean over all rows, as :func:`mmoe_np.train.evaluate`)."""
        n, total = X.shape[-2], None
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            B = stop - start
            bind = self._eval_binding
            if bind is None or bind.flat is not self.model.params.flat or bind.ZT.shape[-1] != B:
                bind = self._eval_binding = self._bind(B, backward=False)
            np.matmul(bind.W_T, np.swapaxes(X[..., start:stop, :], -1, -2), out=bind.ZT)
            for k, y in enumerate(targets):
                bind.YT[..., k, :, :] = np.swapaxes(y[..., start:stop, :], -1, -2)
            _step[bind.parallel and numba.get_num_threads() > 1](*bind.args)
            part = bind.losses * (B / n)                 # this part's mean, weighted by its share of the rows
            total = part if total is None else total + part
        return total.reshape(self.model.params.run_shape + (self.model.n_tasks,))

    def step(self, X, targets):
        bind = self._binding
        B = X.shape[-2]
        if bind is None or bind.flat is not self.model.params.flat or bind.ZT.shape[-1] != B:
            bind = self._binding = self._bind(B)
        XT = X.swapaxes(-1, -2)
        # Z^T = W^T X^T (..., N, B): one product, laid out (unit, row) as the compiled pass reads it
        np.matmul(bind.W_T, XT, out=bind.ZT)
        for k, y in enumerate(targets):
            bind.YT[..., k, :, :] = y.swapaxes(-1, -2)
        _step[bind.parallel and numba.get_num_threads() > 1](*bind.args)
        # dW = X^T dZ (..., D, N): the second product, written into the gradients' block
        np.matmul(XT, bind.dZ, out=bind.dW)
        return bind.losses.reshape(bind.loss_shape).copy()          # the caller may keep it


def fused_training(model, loss_fns, weights=None):
    """A :class:`FusedStep` for ``model`` trained with ``loss_fns`` (one per task), or None where the
    fused step does not apply (another model, a custom loss)."""
    shape = _model_shape(model)
    if shape is None or any(fn not in LOSS_CODES for fn in loss_fns):
        return None
    if _block(model.params, shape) is None:
        return None
    return FusedStep(model, shape, [LOSS_CODES[fn] for fn in loss_fns], weights)
