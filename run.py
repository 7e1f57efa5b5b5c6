#!/usr/bin/env python3
"""One entry point for a fresh machine: makes ./.venv, installs mmoe-np into it, runs a job.

    python3 run.py compare      # set up, then train Shared-Bottom / OMoE / MMoE (table + figure)
    python3 run.py test         # set up with test extras, then lint (ruff) and run the test suite
    python3 run.py lessons      # run every lesson in order and regenerate figures/
    python3 run.py bench        # kernel, training-step and sweep benchmarks
    python3 run.py notebooks    # execute every lesson as notebooks/NN_topic.ipynb (full settings)
    python3 run.py lab          # a student's start: JupyterLab on notebooks/ (installs it into .venv)
    python3 run.py check FILE   # check an exercise: python3 run.py check lessons/exercises/ex02_dense_backward.py
    python3 run.py site         # the course as a static site in site/ (prints the path of its index.html)
    python3 run.py gpu-check    # on an NVIDIA GPU: CUDA tests, kernels vs cuBLAS, steps vs PyTorch (< 8 min)
    python3 run.py student-release DIR   # the copy to hand out: blank exercises, no solutions

Extra arguments go to the job: ``python3 run.py compare --runs 5``, ``python3 run.py test -k gate``.
Needs only Python >= 3.10 with the standard library (venv, pip) and access to PyPI.
"""
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

JOBS = {     # job: (commands, extras); extra arguments go to the last command
    "compare": ([[str(PYTHON), "-m", "mmoe_np", "compare"]], ""),
    "test": ([[str(PYTHON), "-m", "ruff", "check", "."], [str(PYTHON), "-m", "pytest", "-q"]], "[test]"),
    "lessons": ([[str(PYTHON), "lessons/run_all.py"]], ""),
    "bench": ([[str(PYTHON), "benchmarks/bench_all.py"]], "[bench]"),
    "notebooks": ([[str(PYTHON), "lessons/make_notebooks.py"]], "[notebooks]"),
    # JupyterLab at the repository's root (the exercises are in lessons/), its file browser on notebooks/;
    # jupytext's server extension off, so saving a notebook does not write a paired .py beside it
    "lab": ([[str(PYTHON), "-m", "jupyter", "lab", "--LabApp.default_url=/lab/tree/notebooks",
              "--ServerApp.jpserver_extensions=jupyterlab_jupytext=False"]], "[lab]"),
    "check": ([[str(PYTHON), "-m", "mmoe_np.check"]], ""),
    "site": ([[str(PYTHON), "docs/build_site.py"]], "[site]"),
    # gpu-check: CuPy and PyTorch's CUDA build (gigabytes) are installed only once a GPU is seen
    "gpu-check": ([[str(PYTHON), "benchmarks/gpu_check.py", "--detect"],
                   [str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[gpucheck]"],
                   [str(PYTHON), "benchmarks/gpu_check.py"]], "[test,cuda]"),
    "student-release": ([[str(PYTHON), "lessons/exercises/make_release.py"]], ""),
}


def setup(extras):
    if sys.version_info < (3, 10):
        sys.exit(f"mmoe-np needs Python >= 3.10, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{extras or '[base]'}"
    pyproject = ROOT / "pyproject.toml"
    if not stamp.exists() or stamp.stat().st_mtime < pyproject.stat().st_mtime:
        print(f"installing mmoe-np{extras} into {VENV} ...", flush=True)
        subprocess.check_call([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        subprocess.check_call([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}{extras}"])
        stamp.touch()


def main(argv):
    if not argv or argv[0] not in JOBS:
        sys.exit(__doc__)
    commands, extras = JOBS[argv[0]]
    setup(extras)
    for command in commands[:-1]:
        code = subprocess.call(command, cwd=ROOT)
        if code:
            return code
    return subprocess.call(commands[-1] + argv[1:], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
