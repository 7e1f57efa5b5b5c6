"""Fair timing of small functions: warm up (JIT compilation), loop long enough, take a median.

Used by the benchmarks and lesson 08. Timings are for reports, never for test assertions.
"""
from __future__ import annotations

import time

import numpy as np


def seconds_per_call(fn, min_time=0.3, repeats=5):
    """Median over ``repeats`` of the mean time per call of ``fn()``.

    One warm-up call first (numba compiles there); then the loop length doubles until one
    repeat lasts ``min_time / repeats`` seconds, so short calls are timed in bulk.
    """
    fn()
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - start >= min_time / repeats:
            break
        loops *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return float(np.median(samples))
