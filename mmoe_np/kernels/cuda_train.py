r"""Training that stays on the GPU: parameters, gradients, Adam's moments and the divergence guard's
snapshot live in device memory, and a steady step copies one small array back -- its losses.

:class:`ResidentStep` is what the CUDA backend offers :class:`mmoe_np.train.Trainer` (through
``Backend.resident_training``) for the paper's models trained with Adam and MSE/BCE losses. Per step:

::

    gather the minibatch (its rows, from data already on the device)       gather_rows x 2
    unpack the parameters into the layouts the program reads                take
    forward, losses, backward (the model's program, cuda_programs.py)      ~20-40 launches
    pack the gradients into the flat (R, P) buffer                          take
    copy the losses, (*run_shape, K), to the host                           the one copy
    -- the Trainer's guard checks them, then --
    Adam on the flat buffers (a frozen run's gradient zeroed first)         [fill_runs], adam

The Trainer keeps the guard's logic and asks this object to act on the device: ``snapshot``
(a copy within the device), ``restore`` and ``freeze`` (run masks, uploaded when a run diverges).

**The host copy.** While it trains a model, the step holds the authoritative parameters: it
*borrows* them (``model.lend_params``), and reading ``model.params`` calls :meth:`to_host`, which
brings the host arrays -- and the optimizer's moments -- up to date. What the reader may have
changed there is uploaded before the next step. :meth:`release` gives the parameters back (the
Trainer does so when training ends).

Data: batches come as :class:`~.cuda_rows.DeviceRows` (from :meth:`batches`, :meth:`stream`,
:meth:`rows`); NumPy arrays work too, copied to reused device buffers at every step.
"""
from __future__ import annotations

from math import prod

import numpy as np
from numba import cuda

from ..params import Params
from . import cuda as device
from . import cuda_programs, cuda_rows


class ResidentStep:
    """Forward, losses, backward and Adam of ``model`` on the GPU, its state kept there (see the module).

    ``loss_codes``: per task, 0 for MSE and 1 for BCE on logits; ``weights``: (K,) task weights or
    None; ``adam``: the :class:`mmoe_np.optim.Adam` whose hyper-parameters, learning rates, step
    count and frozen runs it follows (and whose moments it keeps on the device).
    """

    def __init__(self, model, program, loss_codes, weights, adam):
        self.model, self.program, self.adam = model, program, adam
        self.attached = self.device_newer = self.host_may_change = False
        self._attach()                    # first: a step that held the parameters before gives them back
        self.host_may_change = False      # (they are uploaded just below)
        host = model.stored_params
        self.run_shape, self.dtype = host.run_shape, host.flat.dtype
        self.R, self.P, self.K = prod(self.run_shape), host.layout.size, model.n_tasks
        self._check_adam(host)
        R, P = self.R, self.P
        self.params = cuda.to_device(host.flat.reshape(R, P))
        self.grads = cuda.device_array((R, P), self.dtype)
        self.m, self.v = (cuda.to_device(self._moment(name, host)) for name in ("m", "v"))
        self.snapshot_of = cuda.device_array((R, P), self.dtype)
        self.snapshot_of.copy_to_device(self.params)
        self.runs_mask = cuda.to_device(np.zeros(R, np.int64))           # restore/freeze: which runs
        self.frozen = cuda.to_device(np.zeros(R, np.int64))
        self.lr_host, self.lr = None, cuda.device_array(R, self.dtype)
        self.codes = cuda.to_device(np.asarray(loss_codes, np.int64))
        w = np.ones(self.K) if weights is None else np.asarray(weights, np.float64)
        self.weights = cuda.to_device(w.astype(self.dtype))
        self.p, self.unpack = self._layout(program.params, gather=True)
        self.g, self.pack = self._layout(program.grads, gather=False)
        self.bindings, self.maps, self.staging = {}, {}, {}
        self.unpacked = False

    # ------------------------------------------------------------------------------- set-up
    def _check_adam(self, host):
        m = self.adam.m
        if m and not (isinstance(m, Params) and m.layout == host.layout and m.flat.shape == host.flat.shape):
            raise ValueError("this optimizer was made for other parameters (its moments do not match this model's); "
                             "use one optimizer per model")

    def _moment(self, name, host):
        state = getattr(self.adam, name)
        return (np.ascontiguousarray(state.flat.reshape(self.R, self.P)) if state else
                np.zeros((self.R, self.P), self.dtype))

    def _layout(self, regions, gather):
        """Device views ``{name: array}`` of one buffer holding ``regions`` (positions in the flat (R, P)
        buffer) one after another, and the device map between the two: for the parameters, the position
        of each entry (``take`` gathers them); for the gradients, where each flat entry sits in the
        buffer (``take`` puts them back), which needs the regions to cover the flat buffer once."""
        positions = np.concatenate([np.asarray(r, np.int64).ravel() for r in regions.values()])
        work = cuda.device_array(len(positions), self.dtype)
        views, start = {}, 0
        for name, region in regions.items():
            views[name] = work[start:start + region.size].reshape(region.shape)
            start += region.size
        if not gather:
            if len(positions) != self.R * self.P or np.any(np.bincount(positions, minlength=len(positions)) != 1):
                raise RuntimeError("a program's gradient regions must cover every parameter once")
            inverse = np.empty_like(positions)
            inverse[positions] = np.arange(len(positions))
            positions = inverse
        views["_buffer"] = work
        return views, cuda.to_device(positions)

    def _binding(self, B):
        """The buffers of one batch size (and launch sizes), made once."""
        key = (B, device._sizes)
        if key not in self.bindings:
            buf = cuda_programs.Buffers(self.dtype)
            model = self.model
            buf.add("X", (self.R, 1, B, model.n_features))
            buf.add("Y", (self.R, self.K, B, model.out_units))
            buf.add("LOSS", (self.R, self.K))
            buf.loss_host = cuda.pinned_array((self.R, self.K), self.dtype)
            self.program.bind(buf, B)
            self.bindings[key] = buf
        return self.bindings[key]

    # ------------------------------------------------------------------------------ the host copy
    def _attach(self):
        """Borrow the model's parameters (again): the device copy is the one that counts from now on."""
        if not self.attached:
            self.model.lend_params(self)
            self.attached, self.host_may_change = True, True

    def _upload_if_changed(self):
        """The host copy counts (it was read, or the parameters were given back): upload it, and the moments."""
        if self.host_may_change or not self.attached:
            host = self.model.stored_params
            self.params.copy_to_device(host.flat.reshape(self.R, self.P))
            self.m.copy_to_device(self._moment("m", host))
            self.v.copy_to_device(self._moment("v", host))
            self.host_may_change, self.unpacked = False, False

    def to_host(self):
        """Bring ``model.params`` and the optimizer's moments up to date (called when they are read)."""
        if not self.device_newer:
            return
        host = self.model.stored_params
        self.params.copy_to_host(host.flat.reshape(self.R, self.P))
        for name, state in (("m", self.m), ("v", self.v)):
            if not getattr(self.adam, name):
                setattr(self.adam, name, host.zeros_like())
            state.copy_to_host(getattr(self.adam, name).flat.reshape(self.R, self.P))
        self.device_newer, self.host_may_change = False, True

    def release(self):
        """Give the parameters back to the model (its host copy up to date); a later step borrows them again."""
        if self.attached:
            self.to_host()
            self.model.params_returned(self)
            self.attached = False

    # ------------------------------------------------------------------------------ data
    def batches(self, X, targets, batch_size, rngs):
        """``fit``'s arrays on the device, uploaded once: a batch source drawing their minibatches there."""
        return cuda_rows.ArrayBatches(X, targets, batch_size, rngs, self.dtype)

    def rows(self, X, targets):
        """A data set (e.g. the validation set) on the device, uploaded once, all rows in order."""
        return cuda_rows.upload_rows(X, targets, self.dtype)

    def stream(self, source, steps=None):
        """A :class:`~mmoe_np.data.SyntheticRuns` with its data on the device (:class:`.cuda_rows.SyntheticStream`)."""
        return cuda_rows.SyntheticStream(source, steps)

    def _device_rows(self, X, targets):
        """``X`` and the K targets as device rows; NumPy arrays are copied into reused device buffers."""
        if isinstance(X, cuda_rows.DeviceRows):
            return X, list(targets)
        B = X.shape[-2]
        uploads = self.staging.setdefault(("uploads", B), cuda_rows.Uploads(self.dtype))
        order = self.staging.get(("order", B))
        if order is None:
            order = self.staging[("order", B)] = cuda_rows.identity_order(B)
        return uploads.rows(X, targets, order)

    def _gather(self, buf, X, targets):
        """The minibatch into ``buf.X`` (R, 1, B, D) and ``buf.Y`` (R, K, B, O)."""
        if not all(y.same_rows(X) for y in targets) or len({id(y.data) for y in targets}) != 1:
            raise ValueError("the inputs and the K targets must be rows of one batch (drawn alike, targets from one "
                             "data set)")
        for rows, out, name in ((X, buf.X, "X"), (targets, buf.Y, "Y")):
            group = rows if isinstance(rows, list) else [rows]
            source, order_row = self._maps(group, name)
            device.launch_cells("gather_rows", self.dtype, out.size, group[0].data, group[0].order, source, order_row,
                                group[0].start, out)

    def _maps(self, group, name):
        """Which source array and row order each run (and group) reads: (R, G) int64 on the device, made once
        per arrangement of a batch's leading axes."""
        data = group[0].data
        key = (name, id(data)) + tuple((r.sources.shape, r.sources.tobytes(), r.order_rows.tobytes()) for r in group)
        if key not in self.maps:
            try:
                maps = [[np.broadcast_to(getattr(r, part), self.run_shape).reshape(self.R) for r in group]
                        for part in ("sources", "order_rows")]
            except ValueError:
                raise ValueError(f"{name} has leading (run) axes {group[0].sources.shape}, which do not fit this "
                                 f"model's runs {self.run_shape}") from None
            self.maps[key] = (data,) + tuple(cuda.to_device(np.ascontiguousarray(np.stack(m, axis=1), np.int64))
                                             for m in maps)
        return self.maps[key][1:]

    def _check(self, X, targets):
        model = self.model
        if X.shape[-1] != model.n_features or X.dtype != self.dtype:
            raise ValueError(f"X must have {model.n_features} features in {self.dtype}, got shape {X.shape} {X.dtype}")
        if len(targets) != self.K or any(y.shape[-1] != model.out_units or y.dtype != self.dtype for y in targets):
            raise ValueError(f"the targets must be {self.K} arrays of {model.out_units} outputs in {self.dtype}, got "
                             f"{[(y.shape, y.dtype) for y in targets]}")

    # ------------------------------------------------------------------------------ the step
    def _forward(self, X, targets, training=True):
        """Gather, unpack, forward and the losses' kernels; returns the buffers. A training step borrows the
        parameters (again); an evaluation after :meth:`release` reads the host copy as it is."""
        if training:
            self._attach()
        self._upload_if_changed()
        X, targets = self._device_rows(X, targets)
        self._check(X, targets)
        buf = self._binding(X.rows)
        self._gather(buf, X, targets)
        if not self.unpacked:
            unpacked = self.p["_buffer"]
            device.launch_cells("take", self.dtype, unpacked.size, self.params.reshape(-1), self.unpack, unpacked)
            self.unpacked = True
        self.program.forward(buf, self.p)
        device.launch_cells("loss_terms", self.dtype, buf.OUT.size, buf.OUT, buf.Y, self.codes, self.weights,
                            buf.TERMS, buf.dOUT)
        threads = 1 << (min(device._sizes.threads, 256).bit_length() - 1)    # a power of two, for the tree sum
        device._launch("mean_terms", self.dtype, (self.R * self.K,), (threads,), buf.TERMS, buf.LOSS)
        return buf

    def _losses_to_host(self, buf):
        buf.LOSS.copy_to_host(buf.loss_host)                                 # the one copy of a steady step
        return buf.loss_host.astype(np.float64).reshape(self.run_shape + (self.K,))

    def step(self, X, targets):
        """Losses (*run_shape, K) of the current parameters on this batch, copied to the host; the gradients
        stay on the device for :meth:`update`. ``X``: device rows or an array (..., B, D); ``targets``: K."""
        buf = self._forward(X, targets)
        self.program.backward(buf, self.p, self.g)
        packed = self.grads.reshape(-1)
        device.launch_cells("take", self.dtype, packed.size, self.g["_buffer"], self.pack, packed)
        return self._losses_to_host(buf)

    def update(self, frozen):
        """Adam on the device (the host ``Adam``'s arithmetic, :func:`.cuda.adam_update`); ``frozen`` (host,
        bool over the runs): runs whose gradient is zeroed first, as the Trainer does on the host."""
        adam = self.adam
        if np.any(frozen):
            device.launch_cells("fill_runs", self.dtype, self.grads.size, self.grads, self.dtype.type(0), self.frozen)
        adam.t += 1
        lr = np.ascontiguousarray(adam._run_lr(self.run_shape), dtype=self.dtype).reshape(self.R)
        if self.lr_host is None or not np.array_equal(lr, self.lr_host):     # uploaded only when it changes
            self.lr.copy_to_device(lr)
            self.lr_host = lr
        # the schedule's scale (Optimizer.lr_scale) folded into the bias correction, as the host Adam does
        device.adam_update(self.params, self.grads, self.m, self.v, self.lr, adam.beta1, adam.beta2, adam.eps,
                           (1.0 - adam.beta1 ** adam.t) / adam.lr_scale, 1.0 - adam.beta2 ** adam.t)
        self.unpacked, self.device_newer = False, True

    def losses(self, X, targets, batch_size=512):
        """Each task's loss on (X, targets), (*run_shape, K), ``batch_size`` rows at a time (a mean over all
        rows, as :func:`mmoe_np.train.evaluate`). ``X``: device rows (see :meth:`rows`) or an array."""
        X, targets = self._device_rows(X, targets)
        n, total = X.rows, 0.0
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            buf = self._forward(X.part(start, rows), [y.part(start, rows) for y in targets], training=False)
            total = total + self._losses_to_host(buf) * (rows / n)
        return total

    # ------------------------------------------------------------------------------ the guard
    def _mark(self, runs):
        self.runs_mask.copy_to_device(np.asarray(runs, bool).reshape(self.R).astype(np.int64))

    def snapshot(self):
        """Keep the current parameters (a copy within the device)."""
        self.snapshot_of.copy_to_device(self.params)

    def snapshot_on_host(self):
        return self.snapshot_of.copy_to_host().reshape(self.run_shape + (self.P,))

    def restore(self, runs):
        """Runs ``runs`` (bool over the runs) back to the snapshot."""
        self._mark(runs)
        device.launch_cells("copy_runs", self.dtype, self.params.size, self.snapshot_of, self.params, self.runs_mask)
        self.unpacked, self.device_newer = False, True

    def freeze(self, runs):
        """Stop the runs ``runs``: the optimizer freezes them (learning rate 0 from now on) and their moments
        are cleared, as :meth:`mmoe_np.optim.Optimizer.freeze` does on the host."""
        self.adam.freeze(runs)
        self._mark(runs)
        for state in (self.m, self.v):
            device.launch_cells("fill_runs", self.dtype, state.size, state, self.dtype.type(0), self.runs_mask)
        self.frozen.copy_to_device(np.asarray(self.adam._frozen, bool).reshape(self.R).astype(np.int64))


def resident_training(model, loss_fns, weights, optimizer):
    """A :class:`ResidentStep` for ``model`` trained with ``loss_fns`` (one per task) and Adam ``optimizer``,
    or None where it does not apply (a model without a device program, a custom loss)."""
    from ..nn import losses
    codes = {losses.mse: 0, losses.bce_with_logits: 1}
    if any(fn not in codes for fn in loss_fns):
        return None
    flat = model.stored_params.flat
    R, P = prod(flat.shape[:-1]), flat.shape[-1]
    where = Params(model.stored_params.layout, np.arange(R * P, dtype=np.int64).reshape(R, P))
    program = cuda_programs.program(model, where)
    if program is None:
        return None
    return ResidentStep(model, program, [codes[fn] for fn in loss_fns], weights, optimizer)
