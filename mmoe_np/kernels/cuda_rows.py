r"""Training data that lives on the GPU: uploaded once, minibatches drawn there.

A training step on the device (:mod:`.cuda_train`) reads its minibatch from device memory. The
data get there once -- the arrays given to ``fit``, a sweep's training set, a validation set --
and each step only says *which rows* to read: a window ``start : start + rows`` of an order of
the rows (an epoch's permutation, uploaded once per epoch, or the rows in order).

:class:`DeviceRows` is what a batch source hands out instead of a NumPy array: the rows of a data
set on the device, ``data`` (S, n, C) -- S source arrays of n rows -- with, for every position of
its leading (run) axes, which source array it reads (``sources``) and which row order
(``order_rows``). It looks like the array it stands for (``shape``, ``dtype``) and takes the few
operations that arrange a batch's leading axes for a model -- indexing the leading axes
(``X[:, :, None]``) and ``np.stack`` along them -- by applying them to its two small index
arrays, on the host, for free. Rows and columns never move.

Sources:

- :class:`ArrayBatches`: arrays held in memory, as ``fit`` gets them, drawn epoch by epoch with
  :class:`~mmoe_np.data.sampling.EpochSampler` (the host path's sampler, so the same rows);
- :class:`SyntheticStream`: :class:`~mmoe_np.data.SyntheticRuns` -- its fixed training set uploaded
  once and drawn by its own sampler, or its fresh samples drawn on the host in blocks of steps and
  uploaded once per block; its validation and test sets uploaded once;
- :func:`upload_rows`: one data set (a validation set), all rows in order.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ..data.sampling import EpochSampler

BLOCK_BYTES = 64 * 2**20       # SyntheticStream: fresh samples for this many bytes are uploaded at once


class DeviceRows:
    """Rows ``start : start + rows`` (of each position's row order) of device data, shaped ``(*lead, rows, C)``.

    ``data``: device (S, n, C); ``order``: device (O, n) int64 row orders; ``sources`` and ``order_rows``:
    host integer arrays of the leading shape -- which of the S arrays, which of the O orders.
    """

    def __init__(self, data, order, sources, order_rows, start, rows):
        self.data, self.order = data, order
        self.sources, self.order_rows = np.broadcast_arrays(np.asarray(sources), np.asarray(order_rows))
        self.start, self.rows = int(start), int(rows)

    @property
    def shape(self):
        return self.sources.shape + (self.rows, self.data.shape[2])

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def dtype(self):
        return np.dtype(self.data.dtype)

    def part(self, start, rows):
        """Rows ``start : start + rows`` of these rows (an evaluation in parts)."""
        return DeviceRows(self.data, self.order, self.sources, self.order_rows, self.start + start, rows)

    def window(self, order, start, rows):
        """The same data and positions, rows ``start : start + rows`` of ``order`` (the next minibatch)."""
        return DeviceRows(self.data, order, self.sources, self.order_rows, start, rows)

    def same_rows(self, other):
        """True when ``other`` reads the same rows (same orders, same window) -- of its own data."""
        return other.order is self.order and other.start == self.start and other.rows == self.rows

    def __getitem__(self, key):
        """Index the leading axes only (``X[:, :, None]``); rows and columns stay as they are."""
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key) or sum(k is not None for k in key) > self.sources.ndim:
            raise IndexError(f"device rows {self.shape}: only the leading (run) axes can be indexed, got {key}")
        return DeviceRows(self.data, self.order, self.sources[key], self.order_rows[key], self.start, self.rows)

    def __array_function__(self, func, types, args, kwargs):
        """``np.stack`` of device rows along a leading axis (e.g. tasks becoming a run axis)."""
        if func is not np.stack:
            return NotImplemented
        arrays, axis = args[0], kwargs.get("axis", args[1] if len(args) > 1 else 0)
        first = arrays[0]
        if not all(isinstance(a, DeviceRows) and a.data is first.data and a.same_rows(first) for a in arrays):
            raise TypeError("np.stack of device rows needs rows of one data set, drawn alike")
        ndim = first.ndim + 1
        axis = axis + ndim if axis < 0 else axis
        if axis > ndim - 3:
            raise ValueError(f"device rows can be stacked along their leading axes only, got axis {axis - ndim}")
        return DeviceRows(first.data, first.order, np.stack([a.sources for a in arrays], axis=axis),
                          np.stack([a.order_rows for a in arrays], axis=axis), first.start, first.rows)

    def __repr__(self):
        return f"DeviceRows(shape={self.shape}, dtype={self.dtype}, rows {self.start}:{self.start + self.rows})"


# ----------------------------------------------------------------------------------- uploads
def _sources(lead):
    """Source indices of a C-contiguous (*lead, n, C) array read as (S, n, C)."""
    return np.arange(math.prod(lead), dtype=np.int64).reshape(lead)


def _stacked_targets(targets):
    """K target arrays (*lead_k, n, O) as one (*lead, K, n, O) array (leads broadcast)."""
    lead = np.broadcast_shapes(*[y.shape[:-2] for y in targets])
    return np.stack([np.broadcast_to(y, lead + y.shape[-2:]) for y in targets], axis=-3)


class Uploads:
    """Device copies of host arrays of one data set (X and its targets), re-filled in place.

    ``rows(X, targets, order, order_rows, start, rows)`` uploads ``X`` (*lead, n, D) and the K
    ``targets`` (*lead_k, n, O) into device buffers made at the first call and reused while the
    shapes stay (a fresh block of samples, a host batch per step), and returns the device rows.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.buffers = {}

    def _device(self, key, host):
        host = np.ascontiguousarray(host, dtype=self.dtype)
        flat = host.reshape((-1,) + host.shape[-2:])
        buffer = self.buffers.get(key)
        if buffer is None or buffer.shape != flat.shape:
            buffer = self.buffers[key] = cuda.to_device(flat)
        else:
            buffer.copy_to_device(flat)
        return buffer

    def rows(self, X, targets, order, order_rows=0, start=0, rows=None):
        """Device rows for ``X`` and each target; ``order_rows`` broadcasts against the data's leading axes."""
        data_x = self._device("X", X)
        stacked = _stacked_targets(targets)
        data_y = self._device("Y", stacked)
        rows = X.shape[-2] if rows is None else rows
        x = DeviceRows(data_x, order, _sources(X.shape[:-2]), order_rows, start, rows)
        index = _sources(stacked.shape[:-2])                               # (*lead, K)
        ys = [DeviceRows(data_y, order, index[..., k], order_rows, start, rows) for k in range(len(targets))]
        return x, ys


def identity_order(n):
    """The rows in order, (1, n) on the device."""
    return cuda.to_device(np.arange(n, dtype=np.int64)[None])


def upload_rows(X, targets, dtype):
    """One data set (X (*lead, n, D), K targets (*lead_k, n, O)) on the device, all its rows in order."""
    return Uploads(dtype).rows(X, targets, identity_order(X.shape[-2]))


class _Orders:
    """An epoch sampler's orders on the device: uploaded when the sampler starts an epoch."""

    def __init__(self, sampler):
        self.sampler, self.uploaded, self.device = sampler, None, None

    def next(self, batch_size):
        """The next minibatch's ``(start, rows)`` in the device order (the sampler advanced as on the host)."""
        idx = self.sampler.next(batch_size)
        if self.sampler.order is not self.uploaded:              # a new epoch: its order, uploaded once
            order = np.ascontiguousarray(self.sampler.order, dtype=np.int64).reshape(-1, self.sampler.n)
            if self.device is None or self.device.shape != order.shape:
                self.device = cuda.to_device(order)
            else:
                self.device.copy_to_device(order)
            self.uploaded = self.sampler.order
        rows = idx.shape[-1]
        return self.sampler.cursor - rows, rows


class ArrayBatches:
    """Minibatches of arrays uploaded once (``fit``'s data: one input for all tasks), drawn on the device.

    ``X`` (*lead_x, n, D), ``targets`` K arrays (*lead_k, n, O), ``rngs`` one Generator or an array of
    them (one per run): the order of :class:`~mmoe_np.data.sampling.EpochSampler`, as on the host.
    """

    def __init__(self, X, targets, batch_size, rngs, dtype):
        self.batch_size = batch_size
        self.orders = _Orders(EpochSampler(X.shape[-2], rngs))
        self.orders.next(0)                                      # the first epoch's order, on the device
        lead = () if isinstance(rngs, np.random.Generator) else np.shape(rngs)
        self.order_rows = np.arange(math.prod(lead), dtype=np.int64).reshape(lead)
        self.X, self.targets = Uploads(dtype).rows(X, targets, self.orders.device, self.order_rows)

    def next_batch(self, batch_size=None):
        start, rows = self.orders.next(batch_size or self.batch_size)
        order = self.orders.device
        return self.X.window(order, start, rows), [y.window(order, start, rows) for y in self.targets]


class SyntheticStream:
    """:class:`~mmoe_np.data.SyntheticRuns` with its data on the device: the same batches, drawn there.

    A fixed training set (``n_train``) is uploaded once and drawn by the stream's own sampler (its
    epoch orders uploaded once per epoch). Fresh samples are drawn on the host by the stream itself,
    ``block`` steps at a time, and uploaded once per block (at most :data:`BLOCK_BYTES`; ``steps``,
    when given, stops the last block at the last step). ``validation`` and ``test`` are uploaded once.
    """

    def __init__(self, stream, steps=None):
        self.stream, self.steps_left = stream, steps
        dtype = stream.dtype
        self.validation = upload_rows(*stream.validation, dtype)
        self.test = upload_rows(*stream.test, dtype)
        self.uploads = Uploads(dtype)
        R = stream.n_runs
        self.order_rows = np.arange(R, dtype=np.int64).reshape(R, 1)        # (R, 1): run r's own order
        self.fixed = stream.training_set is not None
        if self.fixed:
            self.orders = _Orders(stream.sampler)
            self.orders.next(0)
            X, Y = stream.training_set
            self.X, self.targets = self.uploads.rows(X.astype(dtype), Y, self.orders.device, self.order_rows)
        self.block = None                                        # fresh samples: (X, targets, batch, steps, used)

    def next_batch(self, batch_size):
        if self.fixed:
            start, rows = self.orders.next(batch_size)
            order = self.orders.device
            return self.X.window(order, start, rows), [y.window(order, start, rows) for y in self.targets]
        if self.block is None or self.block[2] != batch_size or self.block[4] == self.block[3]:
            self._draw_block(batch_size)
        X, targets, B, steps, used = self.block
        self.block = (X, targets, B, steps, used + 1)
        return X.part(used * B, B), [y.part(used * B, B) for y in targets]

    def _draw_block(self, batch_size):
        """The stream's next ``steps`` batches, drawn on the host as ``next_batch`` draws them, side by side
        along the rows, uploaded at once."""
        s = self.stream
        per_step = s.n_runs * batch_size * (s.d + 2 * len(s.correlations)) * np.dtype(s.dtype).itemsize
        steps = max(1, BLOCK_BYTES // max(per_step, 1))
        if self.steps_left is not None:
            steps = max(1, min(steps, self.steps_left))
            self.steps_left -= steps
        batches = [s.next_batch(batch_size) for _ in range(steps)]
        X = np.concatenate([b[0] for b in batches], axis=-2)
        Y = [np.concatenate([b[1][k] for b in batches], axis=-2) for k in range(len(batches[0][1]))]
        order = self.uploads.buffers.get("order")
        if order is None or order.shape[1] != X.shape[-2]:
            order = self.uploads.buffers["order"] = identity_order(X.shape[-2])
        x, ys = self.uploads.rows(X, Y, order)
        self.block = (x, ys, batch_size, steps, 0)
