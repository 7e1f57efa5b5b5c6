r"""Model parameters: named arrays that are views into one flat buffer.

A model keeps every trainable number in one contiguous array, ``params.flat``, and
``params["expert_kernel"]`` is a view into it. Nothing about MMoE depends on this: read
``params[name]`` as an ordinary array of the documented shape. What the single buffer buys
is speed where a step touches every parameter: Adam updates the whole model in one compiled
pass, and ``fit``'s divergence snapshot is one copy.

**Dense blocks.** Kernels that multiply the same input, and their biases, can be stored as
one matrix ``[W_1 ... W_m; b_1 ... b_m]`` of shape (D + 1, N): the kernels side by side in the
first D rows, the biases in the last row. Then ``[x, 1] @ block`` computes every
``x W_i + b_i`` in one matrix product, and its backward gives every kernel's and bias's
gradient in one product too. MMoE stores its experts and its gates this way (see
:func:`dense_block`); a fast backend finds the block with :func:`find_dense_block`.

**Runs.** With a run axis (R independent runs trained as one model, see
``mmoe_np/models/base.py``) the buffer is (\*run_shape, P) and every parameter carries the same
leading axes: ``params["expert_kernel"]`` is then (\*run_shape, D, U, E).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from . import _checks


@dataclass(frozen=True)
class _Entry:
    """Where one named parameter lives in a run's flat vector."""

    name: str
    shape: tuple              # the parameter's shape (one run)
    offset: int               # first element of its region of the flat vector
    stored: tuple             # shape of that region
    columns: tuple | None = None  # dense blocks: the parameter's columns (start, stop) of the region ...
    split: tuple | None = None    # ... reshaped to this
    axes: tuple | None = None     # ... and transposed like this (None: no transpose)


def dense_block(n_inputs, members):
    """Layout of kernels and biases that read the same input, stored as one (D + 1, N) matrix.

    ``members``: list of ``(kernel_name, kernel_shape, input_axis, bias_name, bias_shape)``;
    the kernel multiplies the input along ``input_axis`` (of length ``n_inputs`` = D), and the
    bias has one entry per remaining kernel entry. E.g. MMoE::

        dense_block(D, [("expert_kernel", (D, U, E), 0, "expert_bias", (U, E)),
                        ("gate_kernel", (K, D, E), 1, "gate_bias", (K, E))])

    stores ``[W_experts | W_gates]`` in rows 0..D-1 and ``[b_experts | b_gates]`` in row D.
    Returns an item for :class:`Layout`.
    """
    return ("block", int(n_inputs), tuple(members))


class Layout:
    """The names, shapes and places of a model's parameters in one run's flat vector.

    ``items``: ``(name, shape)`` pairs, stored one after another, and :func:`dense_block` items.
    """

    def __init__(self, items):
        entries, offset = [], 0
        for item in items:
            if item[0] == "block":
                block_entries, size = self._block(item[1], item[2], offset)
                entries += block_entries
            else:
                name, shape = item[0], tuple(int(s) for s in item[1])
                entries.append(_Entry(name, shape, offset, shape))
                size = prod(shape)
            offset += size
        self.entries = {e.name: e for e in entries}
        if len(self.entries) != len(entries):
            raise ValueError("parameter names must be unique")
        self.size = offset

    @staticmethod
    def _block(D, members, offset):
        N = sum(prod(kshape) // D for _, kshape, _, _, _ in members)
        entries, start = [], 0
        for kname, kshape, axis, bname, bshape in members:
            n = prod(kshape) // D
            if kshape[axis] != D or prod(bshape) != n:
                raise ValueError(f"{kname}: axis {axis} of {kshape} must be {D}, and {bname} needs {n} entries")
            rest = tuple(kshape[:axis] + kshape[axis + 1:])       # the kernel's shape without its input axis
            order = list(range(1, len(kshape)))
            order.insert(axis, 0)                                  # (D, *rest) -> the kernel's axis order
            cols = (start, start + n)
            entries.append(_Entry(kname, tuple(kshape), offset, (D, N), cols, (D,) + rest,
                                  None if axis == 0 else tuple(order)))
            entries.append(_Entry(bname, tuple(bshape), offset + D * N, (N,), cols, tuple(bshape)))
            start += n
        return entries, (D + 1) * N

    def __eq__(self, other):
        return isinstance(other, Layout) and self.entries == other.entries

    def __hash__(self):
        return hash(tuple(self.entries.values()))

    @property
    def names(self):
        return tuple(self.entries)

    def views(self, flat):
        """``{name: view}`` into ``flat`` of shape (*run_shape, size); every view shares its memory."""
        lead = flat.shape[:-1]
        out = {}
        for e in self.entries.values():
            view = _view(flat[..., e.offset:e.offset + prod(e.stored)], lead + e.stored)
            if e.columns is not None:                              # part of a dense block
                view = _view(view[..., e.columns[0]:e.columns[1]], lead + e.split)
            if e.axes is not None:
                n = len(lead)
                view = view.transpose(tuple(range(n)) + tuple(n + a for a in e.axes))
            out[e.name] = view
        return out


def view_as(a, shape):
    """``a`` reshaped to ``shape`` without a copy; a ValueError where that would need one (never a
    silent copy). NumPy >= 2.1 says so with ``reshape(copy=False)``; setting ``.shape`` (the older
    way) is deprecated there, so it is used only on NumPy versions without that argument."""
    try:
        return np.reshape(a, shape, copy=False)
    except TypeError:                                   # NumPy < 2.1: no copy argument
        v = a.view()
        try:
            v.shape = shape
        except AttributeError as err:
            raise ValueError(str(err)) from None
        return v


_view = view_as


class Params(dict):
    """``{name: array}`` of a model's parameters, all views into ``self.flat``.

    Assigning ``params[name] = value`` copies ``value`` into the existing array (the shape
    must match), so the link to the flat buffer is never lost.
    """

    def __init__(self, layout: Layout, flat: np.ndarray):
        if flat.shape[-1:] != (layout.size,) or not flat.flags.c_contiguous:
            raise ValueError(f"flat must be a C-contiguous (..., {layout.size}) array, got {flat.shape}")
        super().__init__(layout.views(flat))
        self.layout, self.flat = layout, flat

    @classmethod
    def zeros(cls, layout, run_shape=(), dtype=np.float64):
        return cls(layout, np.zeros(tuple(run_shape) + (layout.size,), dtype=dtype))

    @property
    def run_shape(self):
        return self.flat.shape[:-1]

    def zeros_like(self):
        """A fresh, zero-filled set with the same layout (e.g. for gradients)."""
        return Params(self.layout, np.zeros_like(self.flat))

    def copy(self):
        return Params(self.layout, self.flat.copy())

    def run(self, index):
        """One run's parameters (views, not copies) as a Params without a run axis."""
        index = index if isinstance(index, tuple) else (index,)
        return Params(self.layout, self.flat[index])

    def __setitem__(self, name, value):
        if name not in self:
            raise KeyError(f"{name!r} is not a parameter of this model; parameters: {sorted(self)}")
        target = dict.__getitem__(self, name)
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"params[{name!r}] must keep its shape {target.shape}, got an array of shape "
                             f"{value.shape}")
        value = _checks.real_array(f"params[{name!r}]", value, dtype=target.dtype)    # no silent overflow
        np.copyto(target, value, casting="same_kind")

    def update(self, *args, **kwargs):
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def _fixed(self, *args, **kwargs):
        raise TypeError("a model's parameters are fixed: assign into them (params[name] = value), do not "
                        "add or remove names")

    __delitem__ = pop = popitem = clear = setdefault = _fixed

    def __reduce__(self):
        return (Params, (self.layout, self.flat))

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()


def find_dense_block(kernels, biases):
    """The (..., D + 1, N) matrix ``[K_1 ... K_m; b_1 ... b_m]`` if these arrays are laid out as one.

    ``kernels``: arrays already arranged as (..., D, n_i) (input axis second to last);
    ``biases``: arrays (..., n_i). Returns a view when they sit in memory exactly as
    :func:`dense_block` stores them (same dtype, same run strides, adjacent columns, biases in
    the row after the kernels), else None -- the caller then assembles a copy.
    """
    first = kernels[0]
    dtype, item = first.dtype, first.itemsize
    lead, D = first.shape[:-2], first.shape[-2]
    N = sum(k.shape[-1] for k in kernels)
    run_strides = _run_strides(first.shape, first.strides[:-2])
    base = _data(first)
    column = 0
    for k, b in zip(kernels, biases):
        n = k.shape[-1]
        if (k.dtype != dtype or b.dtype != dtype or k.shape[:-2] != lead or b.shape != lead + (n,)
                or k.shape[-2] != D or _run_strides(k.shape, k.strides[:-2]) != run_strides
                or k.strides[-2:] != (N * item, item)
                or _run_strides(b.shape, b.strides[:-1]) != run_strides or (n > 1 and b.strides[-1] != item)
                or _data(k) != base + column * item or _data(b) != base + (D * N + column) * item):
            return None
        column += n
    owner = first.base if first.base is not None else first
    if not isinstance(owner, np.ndarray) or not owner.flags.c_contiguous:
        return None
    low = _data(owner)
    strides = tuple(0 if st is None else st for st in run_strides)         # a length-1 axis: any stride
    span = sum((s - 1) * st for s, st in zip(lead, strides)) + ((D + 1) * N) * item
    if base < low or base + span > low + owner.nbytes:
        return None
    return np.ndarray(lead + (D + 1, N), dtype, buffer=owner, offset=base - low, strides=strides + (N * item, item))


def _run_strides(shape, strides):
    """Strides of the leading (run) axes, None for axes of length 1 (their stride means nothing)."""
    return tuple(None if size == 1 else st for size, st in zip(shape, strides))


def _data(a):
    """The address of an array's first element."""
    return a.ctypes.data
