"""Run every benchmark: the kernels, the whole training step, the sweep (see RESULTS.md)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kernels  # noqa: E402
import bench_step  # noqa: E402
import bench_sweep  # noqa: E402

if __name__ == "__main__":
    bench_kernels.main([])
    print()
    bench_step.main(["--profile"])
    print()
    bench_sweep.main([])
