"""Timing helpers shared by the benchmark scripts (not tests: they print, never assert)."""
from __future__ import annotations

import os
import platform
import time

import numpy as np

PAPER = dict(D=100, U=16, E=8, K=2, T=8)   # d = 100, 8 experts x 16 units, 2 tasks, towers of 8


def seconds_per_call(fn, min_time=0.3, repeats=5):
    """Median over ``repeats`` of the mean time per call in a loop of at least ``min_time`` s."""
    fn()                                  # warm-up (JIT compilation, caches)
    n, elapsed = 1, 0.0
    while True:                           # find a loop length that runs for min_time
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / repeats:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return float(np.median(samples))


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
