r"""Numerical gradients and the relative error used by tests, lessons and exercise checkers.

Central differences: :math:`\partial f/\partial x_i \approx (f(x + h e_i) - f(x - h e_i)) / 2h`,
error :math:`O(h^2)`; in float64 with ``h = 1e-6`` that is ~1e-10 relative.
"""
from __future__ import annotations

import numpy as np


def rel_error(a, b) -> float:
    r"""Relative error of two arrays, scaled by their size:

    .. math:: \frac{\max_i |a_i - b_i|}{\max(\max_i |a_i|, \max_i |b_i|, 10^{-12})}

    Scaling by the whole array (not entry by entry) keeps tiny entries, whose numerical
    estimate is mostly rounding, from dominating the verdict.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-12)
    return float(np.abs(a - b).max() / scale)


def numerical_gradient(f, x, h=1e-6, indices=None):
    """Gradient of the scalar function ``f()`` with respect to the array ``x``, changed in place.

    ``f`` takes no argument and reads ``x``; each entry is nudged by +-h and restored.
    Returns an array of the shape of ``x``; with ``indices`` (a list of index tuples) only
    those entries are estimated and the others are NaN.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    if indices is None:
        indices = list(np.ndindex(x.shape))
    else:
        grad[...] = np.nan
    for i in indices:
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-6):
    """Gradient of ``sum(f() * dout)`` with respect to ``x`` (f returns an array): the
    vector-Jacobian product a backward function should compute."""
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


class GradientError(AssertionError):
    """A gradient disagrees with its numerical estimate."""


def compare(name, analytic, numeric, tol=1e-6, labels=("analytic", "numerical")):
    """Raise :class:`GradientError` naming ``name``, the worst index and both numbers.

    NaN entries of ``numeric`` mean "not estimated" and are left out of the comparison.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise GradientError(f"{name}: gradient has shape {analytic.shape}, expected {numeric.shape}")
    skipped = np.isnan(numeric)
    if skipped.any():
        numeric = np.where(skipped, analytic, numeric)
    err = rel_error(analytic, numeric)
    if not err <= tol:  # also catches NaN
        worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), analytic.shape)
        raise GradientError(
            f"{name}: relative error {err:.2e} > {tol:.0e}; worst at index {tuple(int(i) for i in worst)}: "
            f"{labels[0]} {analytic[worst]:.10g}, {labels[1]} {numeric[worst]:.10g}")
    return err


def model_loss_and_grads(model, X, targets, loss):
    """Loss summed over tasks and the model's analytic gradients."""
    preds, cache = model.forward(X)
    total, dpreds = 0.0, []
    for pred, y in zip(preds, targets):
        value, d = loss(pred, y)
        total += value
        dpreds.append(d)
    return total, model.backward(cache, dpreds)


def check_model(model, X, targets, loss=None, h=1e-6, tol=1e-6, max_entries=None, seed=0, differences_on=None):
    """Check every parameter of ``model`` against central differences.

    ``targets``: list of K arrays (B, out_units); ``loss`` defaults to a random linear
    projection of the outputs (no kinks, every output matters). ``max_entries``: check at
    most this many random entries of each parameter (a sparse check for slow backends).
    ``differences_on``: another model with the same parameters (e.g. the same model on the
    NumPy backend) whose forward gives the central differences, when ``model``'s own forward
    is too slow to run twice per entry (the CUDA simulator): ``model``'s loss must first equal
    its loss within 1e-10 relative, so both compute one function; ``model``'s gradients are
    then checked, every entry, against that function's differences.
    Returns ``{param name: relative error}``; raises GradientError on the first failure.
    """
    if loss is None:
        rng = np.random.default_rng(1)
        weights = [rng.standard_normal(np.shape(t)) for t in targets]

        def loss_fn(pred, w):
            return float(np.sum(pred * w)), w.astype(pred.dtype)
        targets = weights
    else:
        loss_fn = loss
    value, grads = model_loss_and_grads(model, X, targets, loss_fn)
    numeric_model = model if differences_on is None else differences_on
    if differences_on is not None:
        for name, p in model.params.items():
            if not np.array_equal(differences_on.params[name], p):
                raise ValueError(f"differences_on must hold the parameters of model; {name!r} differs")
        other = model_loss_and_grads(differences_on, X, targets, loss_fn)[0]
        compare("loss (model against differences_on)", np.float64(value), np.float64(other), 1e-10,
                labels=("model", "differences_on"))
    errors = {}
    pick = np.random.default_rng(seed)
    for name, p in numeric_model.params.items():
        indices = None
        if max_entries is not None and p.size > max_entries:
            flat = pick.choice(p.size, size=max_entries, replace=False)
            indices = [np.unravel_index(i, p.shape) for i in flat]
        numeric = numerical_gradient(lambda: model_loss_and_grads(numeric_model, X, targets, loss_fn)[0],
                                     p, h, indices)
        errors[name] = compare(name, grads[name], numeric, tol)
    return errors
