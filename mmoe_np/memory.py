"""Keep freed memory in the process during training (glibc only; elsewhere a no-op).

A training step allocates its large arrays afresh -- at batch 8192, about 50 MB of
activations and gradients. glibc hands allocations this large out with ``mmap`` and gives
them back to the operating system on ``free``, so every step pays a page fault on the first
touch of every page: about 5 ms of an 18 ms step (measured, benchmarks/RESULTS.md). Telling
glibc to serve every allocation from its heap and to keep freed memory there removes that
cost; the price is that the process keeps its peak memory until it exits.

:func:`keep_freed_memory` is called when training starts (:class:`mmoe_np.train.Trainer`),
never at import.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_done = False


def keep_freed_memory() -> bool:
    """Ask glibc to stop returning freed memory to the OS; True when it applied (Linux/glibc)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**30))
    return _done
