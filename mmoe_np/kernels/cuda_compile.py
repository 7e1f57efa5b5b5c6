"""Compile every CUDA kernel for real GPUs, without one: PTX from NVVM, machine code from ptxas.

    python -m mmoe_np.kernels.cuda_compile              # sm_90 and sm_80, float32 and float64
    python -m mmoe_np.kernels.cuda_compile --cc 8.6 --json

The simulator accepts code that a real compilation rejects (``np.zeros`` in a kernel, a shared
array sized at run time, float64 literals in float32 code), so this is the check that the
kernels of :mod:`.cuda_device` build for a GPU. Each kernel is compiled with the argument
types the host side launches it with (:func:`.cuda_device.signatures`) and the GPU's tile
size, assembled with ``ptxas -v``, and reported: registers, shared memory, stack, spills, and
the float64 instructions in its PTX (a float32 kernel must have none).

Needs numba-cuda with its CUDA toolkit wheels (``pip install 'mmoe-np[cuda]'``: NVVM and
ptxas come from ``nvidia-cuda-nvcc-cu12``; nothing is downloaded here) and the simulator off:
``NUMBA_ENABLE_CUDASIM`` must be unset or 0 before numba is imported, so run it in a process
of its own (the test suite does). No GPU or driver is needed.
Exit codes: 0 all kernels built, 1 a kernel failed to build, 3 no compiler (nothing tested).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

CCS = ((9, 0), (8, 0))           # H100/H200 and A100
DTYPES = (np.float32, np.float64)
MISSING_COMPILER = 3


class CompilerMissing(RuntimeError):
    """numba-cuda's NVVM or ptxas is not installed (or the simulator is on)."""


class Resources(NamedTuple):
    """What ptxas reports for one kernel, and the float64 instructions in its PTX."""

    kernel: str
    dtype: str
    cc: str            # "sm_90"
    registers: int
    shared_bytes: int
    stack_bytes: int
    spill_stores: int
    spill_loads: int
    f64_instructions: int


def find_ptxas() -> str:
    """The ptxas of the CUDA toolkit wheels (or of a CUDA install on PATH / CUDA_HOME)."""
    try:
        from cuda.pathfinder import find_nvidia_binary_utility
        found = find_nvidia_binary_utility("ptxas")
    except Exception:            # an older cuda-pathfinder, or none
        found = None
    found = found or shutil.which("ptxas")
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if not found and home and (Path(home) / "bin" / "ptxas").exists():
        found = str(Path(home) / "bin" / "ptxas")
    if not found:
        raise CompilerMissing("ptxas not found: pip install 'mmoe-np[cuda]' (it brings nvidia-cuda-nvcc-cu12)")
    return found


def _require_compiler():
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1":
        raise CompilerMissing("NUMBA_ENABLE_CUDASIM=1: the simulator has no compiler; run this in a process "
                              "without it")
    from numba import cuda
    if getattr(cuda, "implementation", "") != "NVIDIA":
        raise CompilerMissing("numba's built-in CUDA target is in use: pip install 'mmoe-np[cuda]' (numba-cuda "
                              "with its CUDA toolkit wheels)")
    try:
        from numba.cuda.cudadrv import nvvm
        nvvm.NVVM()
    except Exception as error:
        raise CompilerMissing(f"NVVM is not available ({type(error).__name__}: {error}): pip install "
                              f"'mmoe-np[cuda]'") from None


_PTXAS_PATTERNS = {
    "registers": r"Used (\d+) registers",
    "shared_bytes": r"(\d+) bytes smem",
    "stack_bytes": r"(\d+) bytes stack frame",
    "spill_stores": r"(\d+) bytes spill stores",
    "spill_loads": r"(\d+) bytes spill loads",
}


def parse_ptxas(report: str) -> dict:
    """The numbers of one kernel's ``ptxas -v`` report (0 where ptxas prints none, e.g. no smem)."""
    found = {}
    for key, pattern in _PTXAS_PATTERNS.items():
        match = re.search(pattern, report)
        found[key] = int(match.group(1)) if match else 0
    if not re.search(_PTXAS_PATTERNS["registers"], report):
        raise ValueError(f"ptxas printed no register count:\n{report}")
    return found


def f64_instructions(ptx: str) -> int:
    """Lines of ``ptx`` that declare or use a float64 type (``.f64``; the register ``%f64`` does not count)."""
    return sum(1 for line in ptx.splitlines() if re.search(r"\.f64\b", line))


def compile_kernel(name, dtype, cc, ptxas, tile=None):
    """Compile kernel ``name`` for ``dtype`` and compute capability ``cc``; assemble it with ptxas.

    Returns ``(ptx, Resources)``; raises RuntimeError with ptxas's message when it fails.
    """
    from numba import cuda

    from . import cuda_device
    tile = cuda_device.GPU_TILE if tile is None else tile
    kernel = cuda_device.build(dtype, tile)[name]
    options = {k: v for k, v in getattr(kernel, "targetoptions", {}).items() if k in ("fastmath", "lineinfo", "opt")}
    ptx, _ = cuda.compile_ptx(kernel.py_func, cuda_device.signatures(dtype)[name], cc=cc, **options)
    arch = f"sm_{cc[0]}{cc[1]}"
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"{name}.ptx"
        source.write_text(ptx)
        done = subprocess.run([ptxas, f"-arch={arch}", "-v", str(source), "-o", str(Path(folder) / "out.cubin")],
                              capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"ptxas failed on {name} ({np.dtype(dtype).name}, {arch}):\n{done.stderr}")
    return ptx, Resources(name, np.dtype(dtype).name, arch, f64_instructions=f64_instructions(ptx),
                          **parse_ptxas(done.stderr))


def compile_all(ccs=CCS, dtypes=DTYPES, names=None):
    """Every kernel for every (cc, dtype): a list of :class:`Resources`. Raises CompilerMissing first
    when there is no compiler, RuntimeError on the first kernel that does not build."""
    _require_compiler()
    ptxas = find_ptxas()
    from . import cuda_device
    names = cuda_device.KERNEL_NAMES if names is None else names
    return [compile_kernel(name, dtype, cc, ptxas)[1] for cc in ccs for dtype in dtypes for name in names]


def table(resources) -> str:
    """A markdown table: one row per kernel, one column per (cc, dtype): registers / shared bytes / spills."""
    columns = sorted({(r.cc, r.dtype) for r in resources}, key=lambda c: (-int(c[0][3:]), c[1]))   # sm_90 first
    cells = {(r.kernel, r.cc, r.dtype): r for r in resources}
    names = list(dict.fromkeys(r.kernel for r in resources))
    lines = ["| kernel | " + " | ".join(f"{cc} {dt}" for cc, dt in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name in names:
        row = []
        for cc, dt in columns:
            r = cells.get((name, cc, dt))
            row.append("" if r is None else f"{r.registers} reg, {r.shared_bytes} B smem, "
                                             f"{r.spill_stores + r.spill_loads} B spill")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cc", nargs="+", default=[f"{a}.{b}" for a, b in CCS],
                        help="compute capabilities, e.g. 9.0 8.0 (default: %(default)s)")
    parser.add_argument("--kernels", nargs="+", default=None, metavar="NAME",
                        help="only these kernels (default: every one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per kernel instead of a table")
    args = parser.parse_args(argv)
    try:
        ccs = [tuple(int(p) for p in cc.split(".")) for cc in args.cc]
    except ValueError:
        parser.error(f"--cc takes compute capabilities like 9.0 or 8.6, got {args.cc}")
    from .cuda_device import KERNEL_NAMES
    unknown = sorted(set(args.kernels or ()) - set(KERNEL_NAMES))
    if unknown:
        parser.error(f"--kernels: unknown {unknown}; the kernels are {list(KERNEL_NAMES)}")
    try:
        resources = compile_all(ccs, names=args.kernels)
    except CompilerMissing as error:
        print(f"no CUDA compiler: {error}", file=sys.stderr)
        return MISSING_COMPILER
    except Exception as error:             # a typing error, an NVVM error, a ptxas error: the kernel does not build
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if args.json:
        for r in resources:
            print(json.dumps(r._asdict()))
    else:
        print(table(resources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
