"""benchmarks/gpu_check.py works before anyone has a GPU: a dry run of every part under the CUDA
simulator, and a clean one-line stop where there is no GPU."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def gpu_check(*args, simulator=None):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator is not None:
        env["NUMBA_ENABLE_CUDASIM"] = simulator
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.cuda
def test_dry_run_runs_every_part_and_writes_one_report(tmp_path):
    out = tmp_path / "report.md"
    done = gpu_check("--dry-run", "--out", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = out.read_text()
    assert report.startswith("# GPU check: CUDA simulator (dry run) (DRY RUN")
    assert "every part passed" in report and "FAILED" not in report
    for number, title in enumerate(["The device", "CUDA tests on the device", "Kernels against cuBLAS",
                                    "A training step against PyTorch", "A sweep chunk"], 1):
        assert f"## {number}. {title} (" in report, title
    assert "| adam | " in report                                        # ptxas's numbers, or 'no CUDA compiler'
    assert "2 passed" in report                                         # the CUDA tests it ran
    for kernel in ("experts forward", "[dW; db]", "dX = dZ W2.T", "gate mix forward", "gate mix backward"):
        assert f"| float64 | 8 | {kernel}" in report, kernel
    assert "| float64 | 4 | " in report                                 # a training step
    assert "moves (batch 4, counted on this device by `mmoe_np.kernels.cuda_traffic.record_traffic`): 0 " \
           "host-to-device copies (0 B), 1 device-to-host (16 B), 0 allocations" in report   # it stays on the device
    assert "| float64 | 2 x 3 x 1 | 2 | " in report                     # the sweep chunk
    assert report in done.stdout                                        # printed as well


def test_a_dry_run_never_writes_into_benchmarks():
    target = ROOT / "benchmarks" / "gpu" / "dry.md"
    done = gpu_check("--dry-run", "--out", str(target))
    assert done.returncode == 1
    assert done.stdout.strip().splitlines() == [
        f"gpu-check: --out {target}: a dry run never writes into benchmarks/ (its numbers mean nothing); choose "
        "another --out"]
    assert not target.exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_without_a_gpu_it_stops_with_one_line_and_writes_nothing():
    before = set((ROOT / "benchmarks").rglob("*"))
    for args in ((), ("--detect",)):
        done = gpu_check(*args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stdout.strip().splitlines() == [
            "gpu-check: no NVIDIA GPU here (no driver: nvidia-smi not found); nothing was checked"]
        assert done.stderr == ""
    assert set((ROOT / "benchmarks").rglob("*")) == before
