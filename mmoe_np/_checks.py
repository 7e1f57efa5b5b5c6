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


def seed_value(name: str, value) -> int:
    """``value`` as an int seed, or raise if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, a numpy Generator, or (for a model) a "
                        f"sequence of non-negative integers, one per run; got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


def generator(name: str, seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``seed``: a Generator (used as is) or an integer >= 0."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_value(name, seed))


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


def real_array(name: str, value, *, dtype=None) -> np.ndarray:
    """``value`` as an ndarray of real numbers (bool, integer or float), converted to ``dtype``.

    A TypeError names ``name`` for None, strings, complex numbers, datetimes or objects, and a
    ValueError for ragged nested lists. Values are not checked (see :func:`finite_array`).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be a rectangular array of numbers (equal-length rows), got "
                         f"{type(value).__name__}: {err}") from None
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise TypeError(f"{name} must hold real numbers, got objects such as {arr.flat[0]!r}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        dtype = np.dtype(dtype)
        if dtype.kind == "f" and arr.size and arr.dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize:
            big = np.abs(arr) > np.finfo(dtype).max
            if big.any() and np.isfinite(arr[big]).any():
                first = tuple(int(i) for i in np.argwhere(big & np.isfinite(arr))[0])
                raise ValueError(f"{name} overflows {dtype}: {arr[first]} at index {first} is larger than "
                                 f"{dtype}'s largest number {np.finfo(dtype).max:.3g} (scale the data, or "
                                 f"use dtype=np.float64)")
        arr = arr.astype(dtype)
    return arr


def finite_array(name: str, value, *, ndim: int | None = None, min_ndim: int | None = None, dtype=None,
                 shape=None) -> np.ndarray:
    """Convert to an ndarray of real numbers and check its dimensions, trailing shape and values.

    ``shape`` gives the last ``len(shape)`` axes; ``None`` marks a free one, e.g. ``(None, 100)``
    for a batch of 100 features. NaN and inf are a ValueError naming the first bad index; so
    is a finite value that overflows ``dtype``. The NaN/inf test is one reduction on the fast path.
    """
    arr = real_array(name, value)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    if shape is not None:
        tail = arr.shape[arr.ndim - len(shape):]
        for axis, (want, got) in enumerate(zip(shape, tail)):
            if want is not None and want != got:
                expected = ("...",) * (arr.ndim > len(shape)) + tuple("*" if s is None else s for s in shape)
                raise ValueError(f"{name} must have shape {expected} (axis {axis - len(shape)} = {want}), "
                                 f"got {arr.shape}")
    if arr.size and arr.dtype.kind == "f" and not np.isfinite(arr.sum()):
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):  # a sum can overflow on huge but finite values; only real NaN/inf fail
            first = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"{name} contains NaN or inf ({len(bad)} entries, first at index {first}: {arr[first]})")
    return real_array(name, arr, dtype=dtype) if dtype is not None else arr


def choice(name: str, value, options):
    try:
        known = value in options and not isinstance(value, bool)
    except TypeError:                     # unhashable, e.g. a list
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value
