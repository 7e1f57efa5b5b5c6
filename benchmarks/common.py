"""Timing helpers shared by the benchmark scripts (not tests: they print, never assert)."""
from __future__ import annotations

import os
import platform

import numpy as np

from mmoe_np.timing import seconds_per_call  # noqa: F401  (re-exported for the scripts)

PAPER = dict(D=100, U=16, E=8, K=2, T=8)   # d = 100, 8 experts x 16 units, 2 tasks, towers of 8


def machine_description() -> str:
    """CPU model, core count, thread settings and library versions, for RESULTS.md."""
    import numba
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    parts = [f"{cpu}, {os.cpu_count()} logical cores", f"Python {platform.python_version()}",
             f"NumPy {np.__version__}", f"Numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads)"]
    try:
        import torch
        parts.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        parts.append("PyTorch not installed")
    return "; ".join(parts)


def real_gpu_available() -> bool:
    """A real CUDA device (the simulator does not count: it is not a benchmark)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda
        return cuda.is_available()
    except Exception:
        return False


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
