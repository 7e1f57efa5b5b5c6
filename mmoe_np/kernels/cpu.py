r"""The kernel contract compiled for the CPU with numba, and the fused steps of a training step.

Design (measured on a 2-core EPYC, see benchmarks/RESULTS.md):

- **Products go through NumPy's BLAS** (``np.matmul``), never ``np.dot`` inside jitted code:
  numba's ``np.dot`` calls SciPy's copy of OpenBLAS, a second thread pool whose spinning
  threads fought NumPy's for the two cores (a step at batch 1024 went from 2.3 to 13 ms).
  Jitted loops do everything between the products, in one pass over memory each.
- **Biases ride in the product.** A layer's kernels and biases are stored as one matrix
  ``[W; b]`` (D + 1, N) (:func:`mmoe_np.params.dense_block`); with a column of ones appended
  to the input, ``[X, 1] @ [W; b]`` is ``X W + b``, and its backward ``[X, 1]^T @ dZ`` gives
  ``dW`` and ``db`` together. MMoE's experts and gates are one such matrix, so the experts'
  tensordot and the gate logits are **one** BLAS call, forward and backward.
- **Fused epilogues**: ReLU on the experts' columns and a softmax on each gate's columns in
  one pass over the product; backward, the ReLU mask and the softmax's Jacobian product in
  one pass. All K tasks' mixtures in one pass over H. (The towers stay NumPy: batched BLAS
  beat compiled loops for two small layers at every size measured.)
- **Runs.** Every function takes leading run axes. Loops run over (run, row) pairs, so R
  runs cost one call, not R.
- **Deterministic loops.** Each output cell of a jitted loop is computed by one thread in a
  fixed order (sums over the batch run inside one thread), so the loops' results do not
  depend on the number of numba threads. The BLAS products may: OpenBLAS can split a
  product's sums differently with another thread count, which changes the last bits. That is
  why every experiment job pins its thread counts (:mod:`mmoe_np.experiments.jobs`).
  Loops run in parallel (``prange``) only above a size where that pays; for small batches
  the thread start-up costs more than it saves.

Every function checks its arguments with :mod:`.shapes` (the same checks as the NumPy
oracle) before a compiled loop touches memory, and propagates NaN as NumPy does.
"""
from __future__ import annotations

import types
from math import prod
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from ..params import find_dense_block, view_as
from . import numba_cache, reference, shapes
from .reference import _fill  # (copies gradients into the model's buffer)

NAME = "numba"
_PARALLEL_MIN_CELLS = 1 << 17   # cells per call above which loops run in parallel
_CACHE = numba_cache.cache_enabled(__file__)   # False only where no folder is writable (a read-only install)


def _compiled(fn):
    """``fn`` compiled twice: serial and with ``prange`` in parallel (chosen per call by size).

    ``error_model="numpy"``: a float division by zero gives inf/NaN as in NumPy instead of
    raising, which also lets LLVM vectorise the loops (Adam's runs 7x faster).
    The parallel variant is compiled from a copy of ``fn`` with its own name: numba's on-disk
    cache is keyed by the function's name, not by ``parallel``, so two variants of one
    function would overwrite each other's cache (and one would silently run the other's code).
    """
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__,
                              fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    return {False: njit(cache=_CACHE, error_model="numpy")(fn),
            True: njit(cache=_CACHE, parallel=True, error_model="numpy")(twin)}


def _parallel(cells):
    return cells >= _PARALLEL_MIN_CELLS and numba.get_num_threads() > 1


def _runs(a, lead, core, dtype, tail=None):
    """``a`` broadcast to ``lead`` (its last ``tail`` axes, default ``len(core)``, kept), contiguous,
    of ``dtype``, reshaped to (R, *core): the run axes merged into one."""
    tail = len(core) if tail is None else tail
    if a.shape[:a.ndim - tail] != lead:
        a = np.broadcast_to(a, lead + a.shape[a.ndim - tail:])
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape((prod(lead),) + tuple(core))


# ----------------------------------------------------------------------------- loop bodies
def _bias_relu_loops(Z, b):
    """In place: ``Z[r, i, j] = max(Z[r, i, j] + b[r, j], 0)``, NaN kept as NumPy's maximum keeps it."""
    R, B, N = Z.shape
    for t in prange(R * B):
        r, i = t // B, t % B
        for j in range(N):
            v = Z[r, i, j] + b[r, j]
            Z[r, i, j] = v if (v >= 0 or v != v) else 0.0


def _mask_and_bias_grad_loops(H, dH, dZ, db):
    """``dZ = dH * [H > 0]`` and ``db[r] = sum_i dZ[r, i]``; one run per thread, rows in order."""
    R, B, N = H.shape
    for r in prange(R):
        for j in range(N):
            db[r, j] = 0.0
        for i in range(B):
            for j in range(N):
                g = dH[r, i, j] * (1.0 if H[r, i, j] > 0 else 0.0)
                dZ[r, i, j] = g
                db[r, j] += g


def _gate_mix_forward_loops(H, G, F):
    """All K tasks in one pass over H (H[r, b] read once per row)::

        for r, b: for k in K: for u in U:
            F[r, k, b, u] = sum_e G[r, k, b, e] * H[r, b, u, e]
    """
    R, B, U, E = H.shape
    K = G.shape[1]
    for t in prange(R * B):
        r, b = t // B, t % B
        for k in range(K):
            for u in range(U):
                acc = 0.0
                for e in range(E):
                    acc += G[r, k, b, e] * H[r, b, u, e]
                F[r, k, b, u] = acc


def _gate_mix_backward_loops(H, G, dF, dH, dG):
    """One pass over each row; every cell of dH and dG written once::

        for r, b:
            for u in U: for k in K:   dH[r, b, u, :] += dF[r, k, b, u] * G[r, k, b, :]
            for k in K: for u in U:   dG[r, k, b, :] += dF[r, k, b, u] * H[r, b, u, :]
    """
    R, B, U, E = H.shape
    K = G.shape[1]
    for t in prange(R * B):
        r, b = t // B, t % B
        for u in range(U):                       # E innermost and contiguous: vectorised
            d = dF[r, 0, b, u]
            for e in range(E):
                dH[r, b, u, e] = d * G[r, 0, b, e]
            for k in range(1, K):
                d = dF[r, k, b, u]
                for e in range(E):
                    dH[r, b, u, e] += d * G[r, k, b, e]
        for k in range(K):
            for e in range(E):
                dG[r, k, b, e] = 0.0
            for u in range(U):
                d = dF[r, k, b, u]
                for e in range(E):
                    dG[r, k, b, e] += d * H[r, b, u, e]


def _relu_softmax_loops(Z, H, G):
    """One pass over each row of ``Z`` (R, B, n_relu + K E) (the product, biases included):
    ReLU on the first n_relu columns into ``H`` (R, B, n_relu), a softmax on each of the K
    groups of E columns into ``G`` (R, K, B, E) (the max subtracted first, as NumPy's).

    Writing H and G as arrays of their own (not views into Z) keeps them contiguous for the
    mixes that read them next (twice as fast as strided views, measured).
    """
    R, B, N = Z.shape
    n_relu, K, E = H.shape[2], G.shape[1], G.shape[3]
    for t in prange(R * B):
        r, i = t // B, t % B
        for j in range(n_relu):
            v = Z[r, i, j]
            H[r, i, j] = v if (v >= 0 or v != v) else 0.0
        for k in range(K):
            start = n_relu + k * E
            m = Z[r, i, start]
            for e in range(1, E):
                v = Z[r, i, start + e]
                if v > m or v != v:
                    m = v
            s = 0.0
            for e in range(E):
                x = np.exp(Z[r, i, start + e] - m)
                G[r, k, i, e] = x
                s += x
            for e in range(E):
                G[r, k, i, e] /= s


def _relu_softmax_backward_loops(H, G, dH, dG, dZ):
    """Backward of :func:`_relu_softmax_loops`, one pass per row into ``dZ`` (R, B, n_relu + K E)::

        dZ[:n_relu] = dH * [H > 0]
        dZ[group k] = g * (dg - sum_e g_e dg_e)       # softmax's Jacobian product
    """
    R, B, n_relu = H.shape
    K, E = G.shape[1], G.shape[3]
    for t in prange(R * B):
        r, i = t // B, t % B
        for j in range(n_relu):
            dZ[r, i, j] = dH[r, i, j] * (1.0 if H[r, i, j] > 0 else 0.0)
        for k in range(K):
            start = n_relu + k * E
            s = 0.0
            for e in range(E):
                s += dG[r, k, i, e] * G[r, k, i, e]
            for e in range(E):
                dZ[r, i, start + e] = G[r, k, i, e] * (dG[r, k, i, e] - s)


def _adam_loops(p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """One Adam step on (R, P) flat buffers, one pass over memory; ``lr`` (R,) per run.

    ``m_hat / (sqrt(v_hat) + eps)`` is computed as ``(m / c1) / (sqrt(v) / sqrt(c2) + eps)``
    with ``lr / c1`` and ``1 / sqrt(c2)`` taken out of the loop: the same number, two fewer
    divisions per entry.
    """
    R, P = p.shape
    inv_sqrt_c2 = 1.0 / np.sqrt(correction2)
    for r in prange(R):
        step = lr[r] / correction1
        pr, gr, mr, vr = p[r], g[r], m[r], v[r]           # one run's rows: a loop LLVM vectorises
        for i in range(P):
            gi = gr[i]
            mi = beta1 * mr[i] + (1.0 - beta1) * gi
            vi = beta2 * vr[i] + (1.0 - beta2) * gi * gi
            mr[i] = mi
            vr[i] = vi
            pr[i] -= step * mi / (np.sqrt(vi) * inv_sqrt_c2 + eps)


_bias_relu = _compiled(_bias_relu_loops)
_mask_and_bias_grad = _compiled(_mask_and_bias_grad_loops)
_mix_forward = _compiled(_gate_mix_forward_loops)
_mix_backward = _compiled(_gate_mix_backward_loops)
_relu_softmax = _compiled(_relu_softmax_loops)
_relu_softmax_backward = _compiled(_relu_softmax_backward_loops)
_adam = _compiled(_adam_loops)


# ---------------------------------------------------------------------------- the contract
def experts_forward(X, W, b):
    """``H[b,u,e] = relu(sum_d X[b,d] W[d,u,e] + b[u,e])``: X (B, D), W (D, U, E), b (U, E) -> H (B, U, E).

    Loop nest (the product is one BLAS call per run; the epilogue one pass)::

        Z = X @ W.reshape(D, U*E)               # BLAS, (B, U*E)
        for r, i: for j in U*E:                  # fused epilogue (numba)
            H[r, i, j] = max(Z[r, i, j] + b[r, j], 0)
    """
    X, W, b, dtype = shapes.experts_forward(X, W, b)
    B, (U, E) = X.shape[-2], W.shape[-2:]
    Z = np.matmul(X.astype(dtype, copy=False), W.astype(dtype, copy=False).reshape(W.shape[:-2] + (U * E,)))
    lead = shapes.leading_shape("experts_forward", X=(X, 2), W=(W, 3), b=(b, 2))
    if Z.shape[:-2] != lead:  # only b has these run axes: every run gets its own copy of X @ W
        Z = np.ascontiguousarray(np.broadcast_to(Z, lead + Z.shape[-2:]))
    Zr = Z.reshape((prod(lead), B, U * E))
    _bias_relu[_parallel(Z.size)](Zr, _runs(b, lead, (U * E,), dtype, tail=2))
    return Z.reshape(lead + (B, U, E))


def experts_backward(X, W, H, dH, need_dX=True):
    """Gradients of :func:`experts_forward`: dX (B, D) (None if not ``need_dX``), dW (D, U, E), db (U, E).

    Loop nest::

        for r: for i in B: for j in U*E:   dZ = dH * [H > 0]; db[r, j] += dZ     # numba, one pass
        dW = X.T @ dZ             # BLAS, (D, U*E)
        dX = dZ @ W2.T            # BLAS, (B, D), only when asked
    """
    X, W, H, dH, dtype = shapes.experts_backward(X, W, H, dH)
    B, (D, U, E) = X.shape[-2], W.shape[-3:]
    lead = shapes.leading_shape("experts_backward", X=(X, 2), W=(W, 3), H=(H, 3))
    Hr, dHr = _runs(H, lead, (B, U * E), dtype, tail=3), _runs(dH, lead, (B, U * E), dtype, tail=3)
    dZ, db = np.empty_like(Hr), np.empty((Hr.shape[0], U * E), dtype)
    _mask_and_bias_grad[_parallel(dZ.size) and len(dZ) > 1](Hr, dHr, dZ, db)
    dZ = dZ.reshape(lead + (B, U * E))
    W = W.astype(dtype, copy=False)
    dW = np.matmul(np.swapaxes(X.astype(dtype, copy=False), -1, -2), dZ)
    dW = _sum_to(dW.reshape(lead + (D, U, E)), W.shape)
    db = _sum_to(db.reshape(lead + (U, E)), W.shape[:-3] + (U, E))
    dX = None
    if need_dX:
        dX = _sum_to(np.matmul(dZ, np.swapaxes(W.reshape(W.shape[:-2] + (U * E,)), -1, -2)), X.shape)
    return dX, dW, db


def gate_mix_forward(H, G):
    """``F[k,b,u] = sum_e G[k,b,e] H[b,u,e]``: H (B, U, E), G (K, B, E) -> F (K, B, U)."""
    H, G, dtype = shapes.gate_mix_forward(H, G)
    lead = shapes.leading_shape("gate_mix_forward", H=(H, 3), G=(G, 3))
    (B, U, _), K = H.shape[-3:], G.shape[-3]
    Hr, Gr = _strided_runs(H, lead, dtype), _strided_runs(G, lead, dtype)
    F = np.empty((Hr.shape[0], K, B, U), dtype)
    _mix_forward[_parallel(H.size * K)](Hr, Gr, F)
    return F.reshape(lead + (K, B, U))


def gate_mix_backward(H, G, dF):
    """Gradients of :func:`gate_mix_forward`: dH (B, U, E), dG (K, B, E)."""
    H, G, dF, dtype = shapes.gate_mix_backward(H, G, dF)
    lead = shapes.leading_shape("gate_mix_backward", H=(H, 3), G=(G, 3), dF=(dF, 3))
    (B, U, E), K = H.shape[-3:], G.shape[-3]
    Hr, Gr, dFr = _strided_runs(H, lead, dtype), _strided_runs(G, lead, dtype), _strided_runs(dF, lead, dtype)
    dH, dG = np.empty((Hr.shape[0], B, U, E), dtype), np.empty((Hr.shape[0], K, B, E), dtype)
    _mix_backward[_parallel(H.size * K)](Hr, Gr, dFr, dH, dG)
    return _sum_to(dH.reshape(lead + (B, U, E)), H.shape), _sum_to(dG.reshape(lead + (K, B, E)), G.shape)


def _strided_runs(a, lead, dtype):
    """Like :func:`_runs`, but keeps a strided view (e.g. H inside the product's output) when it can."""
    if a.shape[:-3] == lead and a.dtype == dtype:
        try:
            return view_as(a, (prod(lead),) + a.shape[-3:])
        except ValueError:                       # not expressible as a view: copy below
            pass
    return _runs(a, lead, a.shape[-3:], dtype)


def _sum_to(grad, shape):
    """Sum over broadcast leading axes (only when an input was shared by several runs)."""
    if grad.shape == tuple(shape):
        return grad
    from ..nn.layers import sum_to_shape
    return sum_to_shape(grad, shape)


# ------------------------------------------------------------------------------ fused steps
class InputLayerCache(NamedTuple):
    """What the backward of a fused input layer needs: ``[X, 1]`` and the epilogue's outputs."""

    Xa: np.ndarray     # (..., B, D + 1): the input with a column of ones
    H: np.ndarray      # (R, B, n_relu): the ReLU columns' output
    G: np.ndarray      # (R, K, B, E): the softmax groups' output
    lead: tuple        # the leading (run) axes R stands for


def _with_ones(X, dtype):
    """``[X, 1]``: (..., B, D) -> (..., B, D + 1)."""
    Xa = np.empty(X.shape[:-1] + (X.shape[-1] + 1,), dtype)
    Xa[..., :-1] = X
    Xa[..., -1] = 1.0
    return Xa


def _block(kernels, biases, dtype):
    """``[W_1 ... W_m; b_1 ... b_m]`` (..., D + 1, N): a view when the parameters are stored as one
    (the model's dense block), else a copy."""
    block = find_dense_block(kernels, biases)
    if block is not None and block.dtype == dtype:
        return block
    lead = np.broadcast_shapes(*[k.shape[:-2] for k in kernels], *[b.shape[:-1] for b in biases])
    rows = [np.broadcast_to(k, lead + k.shape[-2:]) for k in kernels]
    last = [np.broadcast_to(b, lead + b.shape[-1:])[..., None, :] for b in biases]
    return np.concatenate([np.concatenate(rows, axis=-1), np.concatenate(last, axis=-1)], axis=-2).astype(dtype)


def _input_layer_forward(X, kernels, biases, n_relu, K, E, dtype):
    """``Z = [X, 1] @ [W; b]`` (one BLAS call), then ReLU/softmax in one pass into H and G."""
    Xa = _with_ones(X.astype(dtype, copy=False), dtype)
    Z = np.matmul(Xa, _block(kernels, biases, dtype))                  # (..., B, N)
    lead, B = Z.shape[:-2], Z.shape[-2]
    R = prod(lead)
    H, G = np.empty((R, B, n_relu), dtype), np.empty((R, K, B, E), dtype)
    # serial: a parallel loop right next to a multi-threaded BLAS call made both spin-wait for
    # each other (2x slower, benchmarks/RESULTS.md)
    _relu_softmax[False](Z.reshape(R, B, Z.shape[-1]), H, G)
    return H, G, InputLayerCache(Xa, H, G, lead)


def _input_layer_backward(cache, dH, dG, out_kernels, out_biases):
    """``dZ`` in one pass, then ``[dW; db] = [X, 1]^T @ dZ`` (one BLAS call), written into the
    model's gradient block when ``out_*`` are laid out as one."""
    H, G, lead = cache.H, cache.G, cache.lead
    (R, B, n_relu), (K, E) = H.shape, (G.shape[1], G.shape[3])
    N = n_relu + K * E
    dZ = np.empty((R, B, N), H.dtype)
    dH = _runs(dH, lead, (B, n_relu), H.dtype) if n_relu else H
    dG = _runs(dG, lead, (K, B, E), H.dtype, tail=3) if K else G
    _relu_softmax_backward[False](H, G, dH, dG, dZ)                     # serial, as in the forward
    XaT = np.swapaxes(cache.Xa, -1, -2)
    dZ = dZ.reshape(lead + (B, N))
    target = None if out_kernels is None else find_dense_block(out_kernels, out_biases)
    if target is not None and target.dtype == H.dtype and target.shape == lead + (XaT.shape[-2], N):
        np.matmul(XaT, dZ, out=target)
        return None
    return np.matmul(XaT, dZ)                                           # (..., D + 1, N)


def experts_and_gates_forward(X, expert_kernel, expert_bias, gate_kernel, gate_bias):
    """MMoE's experts and gates from **one** product ``[X, 1] @ [W_experts | W_gates; b]``.

    Returns ``H`` (B, U, E), ``G`` (K, B, E) -- two arrays of their own, written by the epilogue
    (G laid out task-major, as the gate mix reads it) -- and the cache. Loop nest::

        Z = [X, 1] @ [W_e | W_g; b_e | b_g]                 # BLAS, (B, U*E + K*E)
        for r, i:                                           # one pass (numba)
            H[r, i, :] = max(Z[r, i, :U*E], 0)              # experts: ReLU
            for k: G[r, k, i, :] = softmax(Z[r, i, group k])   # gates
    """
    X, W, b, dtype = shapes.experts_forward(X, expert_kernel, expert_bias)
    _, Wg, bg, dtype_g = shapes.softmax_gates(X, gate_kernel, gate_bias, "experts_and_gates_forward")
    dtype = np.result_type(dtype, dtype_g)                  # float32 only if both are
    D, U, E = W.shape[-3:]
    K = Wg.shape[-3]
    kernels = [_merge_last(W, 3, (D, U * E)), _merge_last(np.swapaxes(Wg, -3, -2), 3, (D, K * E))]
    biases = [_merge_last(b, 2, (U * E,)), _merge_last(bg, 2, (K * E,))]
    H, G, cache = _input_layer_forward(X, kernels, biases, U * E, K, E, dtype)
    lead, B = cache.lead, H.shape[1]
    return H.reshape(lead + (B, U, E)), G.reshape(lead + (K, B, E)), cache


def experts_and_gates_backward(cache, dH, dG, out=None):
    """Gradients ``(dexpert_kernel, dexpert_bias, dgate_kernel, dgate_bias)``; one pass, one product.

    ``out``: four arrays to write them into; when they are the model's dense block, the
    product writes there directly.
    """
    (_, B, U_E), (K, E) = cache.H.shape, (cache.G.shape[1], cache.G.shape[3])
    U = U_E // E
    dH = shapes.gradient("experts_and_gates_backward", "dH", dH, cache.lead + (B, U, E))
    dG = shapes.gradient("experts_and_gates_backward", "dG", dG, cache.lead + (K, B, E))
    out_k = out_b = None
    if out is not None:
        D = out[0].shape[-3]
        out_k = [_merge_last(out[0], 3, (D, U_E)), _merge_last(np.swapaxes(out[2], -3, -2), 3, (D, K * E))]
        out_b = [_merge_last(out[1], 2, (U_E,)), _merge_last(out[3], 2, (K * E,))]
    full = _input_layer_backward(cache, dH.reshape(dH.shape[:-2] + (U_E,)), dG, out_k, out_b)
    if full is None:
        return tuple(out)
    lead, D = full.shape[:-2], full.shape[-2] - 1
    grads = (full[..., :D, :U_E].reshape(lead + (D, U, E)), full[..., D, :U_E].reshape(lead + (U, E)),
             np.swapaxes(full[..., :D, U_E:].reshape(lead + (D, K, E)), -3, -2),
             full[..., D, U_E:].reshape(lead + (K, E)))
    return _fill(out, grads)


def dense_relu_forward(X, W, b):
    """Shared-Bottom's layer ``A = relu(X W + b)`` as one product ``[X, 1] @ [W; b]`` and one ReLU pass."""
    X, W, b, dtype = shapes.dense(X, W, b, "dense_relu_forward")
    A, _, cache = _input_layer_forward(X, [W], [b], W.shape[-1], 0, 1, dtype)
    return A.reshape(cache.lead + A.shape[1:]), cache


def dense_relu_backward(cache, dA, out=None):
    """Gradients ``(dW, db)`` of :func:`dense_relu_forward`."""
    dA = shapes.gradient("dense_relu_backward", "dA", dA, cache.lead + cache.H.shape[1:])
    full = _input_layer_backward(cache, dA, None, None if out is None else [out[0]],
                                 None if out is None else [out[1]])
    if full is None:
        return tuple(out)
    return _fill(out, (full[..., :-1, :], full[..., -1, :]))


# The towers are two small dense layers per task: NumPy's batched matmul beat a compiled loop
# at every size measured (benchmarks/RESULTS.md), so this backend uses the NumPy towers.
towers_forward, towers_backward = reference.towers_forward, reference.towers_backward


class FusedGateCache(NamedTuple):
    """What the fused softmax gate keeps for its backward."""

    X: np.ndarray
    gate_kernel: np.ndarray
    G: np.ndarray


def softmax_gate_forward(X, gate_kernel, gate_bias):
    """Gates ``softmax(X W_gk + b_gk)``: the logits by BLAS, the softmax in one compiled pass."""
    X, Wg, bg, dtype = shapes.softmax_gates(X, gate_kernel, gate_bias)
    K, D, E = Wg.shape[-3:]
    logits = np.matmul(X.astype(dtype, copy=False)[..., None, :, :], Wg.astype(dtype, copy=False))
    logits += bg.astype(dtype, copy=False)[..., None, :]                # (..., K, B, E)
    lead, B = logits.shape[:-3], logits.shape[-2]
    R = prod(lead)
    G = np.empty((R, 1, K * B, E), dtype)
    _relu_softmax[_parallel(logits.size)](logits.reshape(R, K * B, E), np.empty((R, K * B, 0), dtype), G)
    G = G.reshape(lead + (K, B, E))
    return G, FusedGateCache(X, Wg, G)


def softmax_gate_backward(dG, cache, need_dX=False, out=None):
    """``dX`` (or None) and ``(dgate_kernel, dgate_bias)`` of :func:`softmax_gate_forward`."""
    G = cache.G
    dG = shapes.gradient("softmax_gate_backward", "dG", dG, G.shape)
    lead, (K, B, E) = G.shape[:-3], G.shape[-3:]
    R = prod(lead)
    dlogits = np.empty((R, K * B, E), G.dtype)
    dGr = _runs(dG, lead, (1, K * B, E), G.dtype, tail=3)
    no_relu = np.empty((R, K * B, 0), G.dtype)
    _relu_softmax_backward[_parallel(G.size)](no_relu, G.reshape(R, 1, K * B, E), no_relu, dGr, dlogits)
    dlogits = dlogits.reshape(lead + (K, B, E))
    X, Wg = cache.X.astype(G.dtype, copy=False), cache.gate_kernel.astype(G.dtype, copy=False)
    dW = _sum_to(np.matmul(np.swapaxes(X, -1, -2)[..., None, :, :], dlogits), Wg.shape)
    db = _sum_to(dlogits.sum(axis=-2), Wg.shape[:-3] + (K, E))
    dX = _sum_to(np.matmul(dlogits, np.swapaxes(Wg, -1, -2)).sum(axis=-3), X.shape) if need_dX else None
    return dX, _fill(out, (dW, db))


def adam_update(p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """One fused Adam step on flat (R, P) float buffers (``lr``: (R,) per run); updates p, m, v in place."""
    _adam[_parallel(p.size) and p.shape[0] > 1](p, g, m, v, lr, beta1, beta2, eps, correction1, correction2)


def _merge_last(a, n_axes, core):
    """``a``'s last ``n_axes`` axes reshaped to ``core`` (a view when ``a``'s strides allow one)."""
    return a.reshape(a.shape[:a.ndim - n_axes] + tuple(core))




def fused_training(model, loss_fns, weights=None):
    """A whole training step of ``model`` fused (:mod:`.cpu_step`), or None where it does not apply."""
    from .cpu_step import fused_training as make  # imported on first use (it imports this module)
    return make(model, loss_fns, weights)
