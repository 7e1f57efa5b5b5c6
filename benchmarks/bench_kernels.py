"""Per-kernel times for each backend at the paper's sizes, and the experts' tensordot
against a plain BLAS matmul with the same FLOPs.

    python benchmarks/bench_kernels.py [--batches 128 1024 8192] [--dtype float64]

The CUDA backend is timed only on a real GPU (device arrays in, so only the kernels count).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PAPER, machine_description, markdown_table, real_gpu_available, seconds_per_call  # noqa: E402

from mmoe_np.kernels import get_kernels  # noqa: E402


def problem(B, dtype, seed=0):
    D, U, E, K = PAPER["D"], PAPER["U"], PAPER["E"], PAPER["K"]
    rng = np.random.default_rng(seed)
    a = lambda *s: rng.standard_normal(s).astype(dtype)
    X, W, b = a(B, D), a(D, U, E) * 0.1, a(U, E)
    G = rng.dirichlet(np.ones(E), size=(K, B)).astype(dtype)
    return dict(X=X, W=W, b=b, G=G, dF=a(K, B, U), dH=a(B, U, E))


def time_kernels(kern, p, on_device=False):
    X, W, b, G, dF, dH = (p[k] for k in ("X", "W", "b", "G", "dF", "dH"))
    if on_device:
        from numba import cuda
        X, W, b, G, dF, dH = (cuda.to_device(a) for a in (X, W, b, G, dF, dH))
    H = kern.experts_forward(X, W, b)
    sync = (lambda: __import__("numba").cuda.synchronize()) if on_device else (lambda: None)

    def timed(fn):
        return seconds_per_call(lambda: (fn(), sync()))
    return {
        "experts_forward": timed(lambda: kern.experts_forward(X, W, b)),
        "experts_backward": timed(lambda: kern.experts_backward(X, W, H, dH, need_dX=False)),
        "gate_mix_forward": timed(lambda: kern.gate_mix_forward(H, G)),
        "gate_mix_backward": timed(lambda: kern.gate_mix_backward(H, G, dF)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 1024, 8192])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    backends = ["numpy", "numba"] + (["cuda"] if real_gpu_available() else [])
    D, U, E = PAPER["D"], PAPER["U"], PAPER["E"]

    print(f"# Kernel benchmark ({args.dtype}; D={D}, U={U}, E={E}, K={PAPER['K']})\n")
    print(machine_description() + "\n")
    if "cuda" not in backends:
        print("cuda: not timed (no GPU here; the CUDA simulator is for correctness, not speed)\n")
    rows, blas_rows = [], []
    for B in args.batches:
        p = problem(B, dtype)
        times = {be: time_kernels(get_kernels(be), p, on_device=be == "cuda") for be in backends}
        for name in times["numpy"]:
            row = [B, name] + [f"{times[be][name] * 1e6:.1f}" for be in backends]
            row.append(f"{times['numpy'][name] / times['numba'][name]:.2f}x")
            rows.append(row)
        # the experts' tensordot is a (B, D) x (D, U*E) product: compare with plain BLAS
        W2 = p["W"].reshape(D, U * E)
        blas = seconds_per_call(lambda: p["X"] @ W2)
        flops = 2.0 * B * D * U * E
        numba_fwd = times["numba"]["experts_forward"]
        blas_rows.append([B, f"{flops / blas / 1e9:.1f}", f"{flops / numba_fwd / 1e9:.1f}",
                          f"{blas / numba_fwd:.2f}"])
    print(markdown_table(["batch", "kernel"] + [f"{be} (us)" for be in backends] + ["numba speed-up vs numpy"], rows))
    print("\nExperts' tensordot (numba: matmul + fused bias/ReLU) against the bare BLAS matmul "
          "X @ W.reshape(D, U*E), same FLOPs:\n")
    print(markdown_table(["batch", "BLAS GFLOP/s", "numba experts_forward GFLOP/s",
                          "ratio (numba / BLAS rate)"], blas_rows))


if __name__ == "__main__":
    main()
