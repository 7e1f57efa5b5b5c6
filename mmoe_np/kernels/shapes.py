"""The kernel contract's argument checks, shared by all three backends.

Every backend calls the same check before it computes, so a wrong shape or dtype gets the
same error whichever backend runs -- and a compiled loop never reads past an array's end.

Rules (every kernel):

- inputs are arrays of real numbers; bool and integer arrays are converted, complex,
  object and string arrays are a TypeError naming the argument;
- the computation dtype is float32 when every input is float32, float64 otherwise;
- every shape is (..., core): the core shapes must agree (a ValueError names the argument,
  the expected and the received shape) and the leading run axes broadcast like NumPy's;
- every axis but the batch has size >= 1 (no experts, units, tasks or runs is a ValueError);
  zero rows give empty outputs;
- values are not checked: NaN and inf propagate as NumPy propagates them.
"""
from __future__ import annotations

import numpy as np


def real_arrays(kernel, **arrays):
    """The arrays as ndarrays of real numbers (unchanged dtype), checked one by one."""
    out = []
    for name, a in arrays.items():
        if a is None or isinstance(a, (str, bytes)):
            raise TypeError(f"{kernel}: {name} must be an array of real numbers, got {type(a).__name__}")
        if not hasattr(a, "dtype"):
            a = np.asarray(a)
        kind = np.dtype(a.dtype).kind
        if kind not in "biuf":
            raise TypeError(f"{kernel}: {name} must hold real numbers (float32 or float64), got dtype {a.dtype}")
        out.append(a)
    return out


def common_dtype(*arrays):
    """float32 if every array is float32, else float64."""
    return np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays) else np.dtype(np.float64)


def _fail(kernel, name, want, got, why=""):
    want = "(..., " + ", ".join(str(w) for w in want) + ")"
    raise ValueError(f"{kernel}: {name} must have shape {want}{why}, got {tuple(got)}")


def _core(kernel, name, a, ndim):
    if np.ndim(a) < ndim:
        raise ValueError(f"{kernel}: {name} must have at least {ndim} dimensions, got shape {np.shape(a)}")
    batch = a.ndim - ndim + _BATCH_AXIS[name] if name in _BATCH_AXIS else None
    if any(n == 0 for i, n in enumerate(a.shape) if i != batch):
        raise ValueError(f"{kernel}: every axis of {name} but the batch must have size >= 1, got shape {a.shape}")
    return a.shape[-ndim:]


# where the batch axis sits in each array's core shape: the only axis that may be empty (zero rows)
_BATCH_AXIS = {"X": 0, "H": 0, "G": 1, "dF": 1, "F": 1}


def leading_shape(kernel, **named):
    """The broadcast of the arrays' leading (run) axes; ``named``: {name: (array, core ndim)}."""
    shapes = {name: a.shape[:a.ndim - ndim] for name, (a, ndim) in named.items()}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        listing = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ValueError(f"{kernel}: the leading (run) axes do not broadcast: {listing}") from None


def experts_forward(X, W, b):
    """Check ``X`` (..., B, D), ``W`` (..., D, U, E), ``b`` (..., U, E). Returns (X, W, b, dtype)."""
    k = "experts_forward"
    X, W, b = real_arrays(k, X=X, W=W, b=b)
    (_, D), (D2, U, E) = _core(k, "X", X, 2), _core(k, "W", W, 3)
    if D2 != D:
        _fail(k, "W", ("D", "U", "E"), W.shape, f" with D = {D} (the width of X)")
    if _core(k, "b", b, 2) != (U, E):
        _fail(k, "b", (U, E), b.shape, " (one bias per expert unit, like W's last two axes)")
    leading_shape(k, X=(X, 2), W=(W, 3), b=(b, 2))
    return X, W, b, common_dtype(X, W, b)


def experts_backward(X, W, H, dH):
    """Check ``X`` (..., B, D), ``W`` (..., D, U, E), ``H`` and ``dH`` (..., B, U, E)."""
    k = "experts_backward"
    X, W, H, dH = real_arrays(k, X=X, W=W, H=H, dH=dH)
    (B, D), (D2, U, E) = _core(k, "X", X, 2), _core(k, "W", W, 3)
    if D2 != D:
        _fail(k, "W", ("D", "U", "E"), W.shape, f" with D = {D} (the width of X)")
    if _core(k, "H", H, 3) != (B, U, E):
        _fail(k, "H", (B, U, E), H.shape)
    if dH.shape != H.shape:
        raise ValueError(f"{k}: dH must have the shape of H {H.shape}, got {dH.shape}")
    leading_shape(k, X=(X, 2), W=(W, 3), H=(H, 3))
    return X, W, H, dH, common_dtype(X, W, H, dH)


def gate_mix_forward(H, G):
    """Check ``H`` (..., B, U, E) and ``G`` (..., K, B, E)."""
    k = "gate_mix_forward"
    H, G = real_arrays(k, H=H, G=G)
    B, U, E = _core(k, "H", H, 3)
    if _core(k, "G", G, 3)[1:] != (B, E):
        _fail(k, "G", ("K", B, E), G.shape, f" to match H {H.shape} (batch B = {B}, experts E = {E})")
    leading_shape(k, H=(H, 3), G=(G, 3))
    return H, G, common_dtype(H, G)


def gate_mix_backward(H, G, dF):
    """Check ``H`` (..., B, U, E), ``G`` (..., K, B, E) and ``dF`` (..., K, B, U)."""
    k = "gate_mix_backward"
    H, G, dF = real_arrays(k, H=H, G=G, dF=dF)
    B, U, E = _core(k, "H", H, 3)
    K = _core(k, "G", G, 3)[0]
    if G.shape[-2:] != (B, E):
        _fail(k, "G", ("K", B, E), G.shape, f" to match H {H.shape} (batch B = {B}, experts E = {E})")
    if _core(k, "dF", dF, 3) != (K, B, U):
        _fail(k, "dF", (K, B, U), dF.shape, f" (K = {K} gates of G, B and U of H)")
    leading_shape(k, H=(H, 3), G=(G, 3), dF=(dF, 3))
    return H, G, dF, common_dtype(H, G, dF)


def dense(X, W, b, kernel="dense_forward"):
    """Check ``X`` (..., B, D), ``W`` (..., D, S), ``b`` (..., S)."""
    X, W, b = real_arrays(kernel, X=X, W=W, b=b)
    (_, D), (D2, S) = _core(kernel, "X", X, 2), _core(kernel, "W", W, 2)
    if D2 != D:
        _fail(kernel, "W", (D, "S"), W.shape, f" with D = {D} (the width of X)")
    if _core(kernel, "b", b, 1) != (S,):
        _fail(kernel, "b", (S,), b.shape)
    leading_shape(kernel, X=(X, 2), W=(W, 2), b=(b, 1))
    return X, W, b, common_dtype(X, W, b)


def softmax_gates(X, gate_kernel, gate_bias, kernel="softmax_gate_forward"):
    """Check ``X`` (..., B, D), ``gate_kernel`` (..., K, D, E), ``gate_bias`` (..., K, E)."""
    X, Wg, bg = real_arrays(kernel, X=X, gate_kernel=gate_kernel, gate_bias=gate_bias)
    (_, D), (K, D2, E) = _core(kernel, "X", X, 2), _core(kernel, "gate_kernel", Wg, 3)
    if D2 != D:
        _fail(kernel, "gate_kernel", ("K", D, "E"), Wg.shape, f" with D = {D} (the width of X)")
    if _core(kernel, "gate_bias", bg, 2) != (K, E):
        _fail(kernel, "gate_bias", (K, E), bg.shape)
    leading_shape(kernel, X=(X, 2), gate_kernel=(Wg, 3), gate_bias=(bg, 2))
    return X, Wg, bg, common_dtype(X, Wg, bg)


def towers(F, tower_kernel, tower_bias, output_kernel, output_bias, kernel="towers_forward"):
    """Check ``F`` (..., K or 1, B, U) and the towers' (..., K, U, T), (..., K, T), (..., K, T, O), (..., K, O)."""
    F, Wt, bt, Wo, bo = real_arrays(kernel, F=F, tower_kernel=tower_kernel, tower_bias=tower_bias,
                                    output_kernel=output_kernel, output_bias=output_bias)
    K, U, T = _core(kernel, "tower_kernel", Wt, 3)
    KF, B, U2 = _core(kernel, "F", F, 3)
    if U2 != U or KF not in (1, K):
        _fail(kernel, "F", (f"K = {K} or 1", "B", U), F.shape, " (one input per tower, or one for all)")
    if _core(kernel, "tower_bias", bt, 2) != (K, T):
        _fail(kernel, "tower_bias", (K, T), bt.shape)
    K2, T2, O = _core(kernel, "output_kernel", Wo, 3)
    if (K2, T2) != (K, T):
        _fail(kernel, "output_kernel", (K, T, "O"), Wo.shape)
    if _core(kernel, "output_bias", bo, 2) != (K, O):
        _fail(kernel, "output_bias", (K, O), bo.shape)
    leading_shape(kernel, F=(F, 3), tower_kernel=(Wt, 3), tower_bias=(bt, 2), output_kernel=(Wo, 3),
                  output_bias=(bo, 2))
    return F, Wt, bt, Wo, bo, common_dtype(F, Wt, bt, Wo, bo)


def gradient(kernel, name, grad, shape):
    """Check that the incoming gradient ``grad`` has exactly ``shape`` (that of the forward output)."""
    (grad,) = real_arrays(kernel, **{name: grad})
    if grad.shape != tuple(shape):
        raise ValueError(f"{kernel}: {name} must have the shape of the forward output {tuple(shape)}, "
                         f"got {grad.shape}")
    return grad
