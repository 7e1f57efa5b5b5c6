"""Argument checks used once, at the public boundary.

Every message names the argument, what was expected and what was received, so a
student can act on it without reading a traceback.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (>= 0), got {value}")
    return int(value)


def real(name: str, value, *, low=None, high=None, low_open=False) -> float:
    """Return ``value`` as a finite float inside [low, high] (or (low, high] with low_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        bracket = "(" if low_open else "["
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in {bracket}{low}, {hi}], got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def float_dtype(name: str, dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}") from err
    if dt.type not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dt}")
    return dt


def finite_array(name: str, value, *, ndim: int, dtype=None, shape=None) -> np.ndarray:
    """Convert to an ndarray of ``ndim`` dims and check it is finite and matches ``shape``.

    ``shape`` may hold ``None`` for a free dimension, e.g. ``(None, 100)`` for a batch
    of 100 features. The NaN/inf test is one reduction on the fast path.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array, got {type(value).__name__}")
    arr = np.asarray(value, dtype=dtype)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if shape is not None:
        for axis, (want, got) in enumerate(zip(shape, arr.shape)):
            if want is not None and want != got:
                expected = tuple("*" if s is None else s for s in shape)
                raise ValueError(
                    f"{name} must have shape {expected} (axis {axis} = {want}), got {arr.shape}"
                )
    if arr.size and np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr.sum()):
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):  # a sum can overflow on huge but finite values; only real NaN/inf fail
            first = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"{name} contains NaN or inf ({len(bad)} entries, first at index {first}: {arr[first]})"
            )
    return arr


def choice(name: str, value, options) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value
