"""Count what crosses between host and GPU, what is allocated, and what is launched.

    with record_traffic() as traffic:
        trainer.step(X, targets)
    traffic.h2d, traffic.d2h, traffic.allocations, traffic.launches     # counts
    traffic.events                                                       # what each one was

A recording shim, for tests and benchmarks: it wraps the calls that move or allocate memory
for as long as the block runs, whoever makes them (this package or numba itself), and the
kernel launches of :mod:`.cuda`.

- On a GPU it wraps numba-cuda's driver layer: ``host_to_device``, ``device_to_host``,
  ``device_to_device`` and the context's allocations (device, pinned and managed memory). A
  NumPy array given to a kernel is copied in and out by numba there, and is counted so.
- Under the simulator (no driver) it wraps the same operations one level up: ``cuda.to_device``,
  ``cuda.device_array`` and its relatives, ``copy_to_host``/``copy_to_device`` of the simulated
  device arrays; a NumPy array given to a kernel counts as the two copies a GPU would make.

A call made inside another wrapped call (``to_device`` allocating, then copying) is one event:
the outer one. Not thread-safe; not for production use.
"""
from __future__ import annotations

import functools
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from unittest import mock

from . import cuda as cuda_host


@dataclass
class Traffic:
    """What happened inside :func:`record_traffic`: counts, bytes, and each event ``(kind, bytes, call)``."""

    h2d: int = 0                 # host-to-device copies
    d2h: int = 0                 # device-to-host copies
    d2d: int = 0                 # copies within the device
    allocations: int = 0         # device, pinned and managed allocations
    launches: int = 0            # kernel launches through mmoe_np.kernels.cuda
    h2d_bytes: int = 0
    d2h_bytes: int = 0
    events: list = field(default_factory=list)

    def add(self, kind, nbytes, call):
        setattr(self, kind, getattr(self, kind) + 1)
        if kind in ("h2d", "d2h"):
            setattr(self, f"{kind}_bytes", getattr(self, f"{kind}_bytes") + int(nbytes))
        self.events.append((kind, int(nbytes), call))

    def row(self):
        """``(h2d, d2h, allocations, launches)``: the numbers a traffic table shows."""
        return self.h2d, self.d2h, self.allocations, self.launches

    def __str__(self):
        return (f"{self.h2d} host-to-device copies ({self.h2d_bytes} B), {self.d2h} device-to-host ({self.d2h_bytes} "
                f"B), {self.allocations} allocations, {self.launches} launches")


class _Recorder:
    def __init__(self):
        self.traffic, self.depth = Traffic(), 0

    def wrap(self, fn, describe):
        """``fn`` counted as the events ``describe(*args, **kwargs)`` returns, unless inside another one."""
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            outer = self.depth == 0
            self.depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                if outer:
                    for kind, nbytes in describe(*args, **kwargs):
                        self.traffic.add(kind, nbytes, fn.__name__)
        return wrapped


def _nbytes(a):
    return getattr(a, "nbytes", 0)


def _simulator_patches(recorder):
    import numba.cuda as cuda
    from numba.cuda.simulator.cudadrv import devicearray as fake

    def allocation(*args, **kwargs):
        return [("allocations", 0)]

    def to_device(ary, stream=0, copy=True, to=None):
        return [("h2d", _nbytes(ary))] if to is not None else [("allocations", 0), ("h2d", _nbytes(ary))]

    def copy_to_device(self, ary, stream=0):
        return [("d2d" if isinstance(ary, fake.FakeCUDAArray) else "h2d", _nbytes(ary))]

    def copy_to_host(self, ary=None, stream=0):
        return [("d2h", self.nbytes)]

    patches = [mock.patch.object(fake.FakeCUDAArray, "copy_to_device",
                                 recorder.wrap(fake.FakeCUDAArray.copy_to_device, copy_to_device)),
               mock.patch.object(fake.FakeCUDAArray, "copy_to_host",
                                 recorder.wrap(fake.FakeCUDAArray.copy_to_host, copy_to_host))]
    for name in ("to_device", "device_array", "device_array_like", "pinned_array", "pinned_array_like",
                 "mapped_array", "managed_array"):
        original = getattr(fake, name)
        wrapped = recorder.wrap(original, to_device if name == "to_device" else allocation)
        patches += [mock.patch.object(module, name, wrapped) for module in (fake, cuda)
                    if getattr(module, name, None) is original]
    return patches


def _driver_patches(recorder):
    from numba.cuda.cudadrv import driver

    def copy(kind):
        return lambda dst, src, size, stream=0: [(kind, size)]

    def allocation(self, *args, **kwargs):
        return [("allocations", 0)]

    patches = [mock.patch.object(driver, name, recorder.wrap(getattr(driver, name), copy(kind)))
               for name, kind in (("host_to_device", "h2d"), ("device_to_host", "d2h"),
                                  ("device_to_device", "d2d"))]
    patches += [mock.patch.object(driver.Context, name, recorder.wrap(getattr(driver.Context, name), allocation))
                for name in ("memalloc", "memhostalloc", "memallocmanaged", "mempin")]
    return patches


@contextmanager
def record_traffic():
    """Count copies, allocations and launches inside the block (see the module); yields a :class:`Traffic`."""
    recorder = _Recorder()
    simulated = cuda_host.simulator_enabled()
    with ExitStack() as stack:
        for patch in (_simulator_patches if simulated else _driver_patches)(recorder):
            stack.enter_context(patch)
        launches = stack.enter_context(cuda_host.record_launches())
        try:
            yield recorder.traffic
        finally:
            recorder.traffic.launches = len(launches)
            if simulated:         # a NumPy argument: a GPU copies it in, and back out after the kernel
                for launch in launches:
                    for nbytes in launch.host_bytes:
                        recorder.traffic.add("h2d", nbytes, f"{launch.kernel} (a NumPy argument)")
                        recorder.traffic.add("d2h", nbytes, f"{launch.kernel} (a NumPy argument)")
