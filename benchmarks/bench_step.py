"""Whole training step (forward + MSE + backward + Adam) of the paper-size MMoE, per backend,
and the same model in PyTorch eager on the CPU (same batch, dtype and thread count).

    python benchmarks/bench_step.py [--batches 128 1024 8192] [--dtype float64]
                                    [--figure figures/bench_step_time.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PAPER, machine_description, markdown_table, real_gpu_available, seconds_per_call  # noqa: E402

import mmoe_np as mn  # noqa: E402


def make_model(backend, dtype):
    return mn.MMoE(n_features=PAPER["D"], n_tasks=PAPER["K"], n_experts=PAPER["E"],
                   expert_units=PAPER["U"], tower_units=PAPER["T"], seed=0, backend=backend, dtype=dtype)


def ours(backend, B, dtype):
    """A step function for this project's MMoE on ``backend``."""
    model, opt = make_model(backend, dtype), mn.Adam(lr=1e-4)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, PAPER["D"])).astype(dtype)
    Y = [rng.standard_normal((B, 1)).astype(dtype) for _ in range(PAPER["K"])]

    def step():
        preds, cache = model.forward(X)
        dpreds = [mn.losses.mse(p, y)[1] for p, y in zip(preds, Y)]
        opt.step(model.params, model.backward(cache, dpreds))
    return step


def pytorch(B, dtype, threads):
    """The same MMoE written the way a PyTorch user would, eager mode, CPU."""
    import torch
    torch.set_num_threads(threads)
    D, U, E = PAPER["D"], PAPER["U"], PAPER["E"]
    params = {k: torch.tensor(v, requires_grad=True) for k, v in make_model("numpy", dtype).params.items()}
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((B, D)).astype(dtype))
    Y = torch.tensor(rng.standard_normal((PAPER["K"], B, 1)).astype(dtype))
    opt = torch.optim.Adam(params.values(), lr=1e-4)
    p = params

    def step():
        opt.zero_grad(set_to_none=True)
        H = torch.relu((X @ p["expert_kernel"].view(D, U * E)).view(B, U, E) + p["expert_bias"])
        G = torch.softmax(torch.matmul(X, p["gate_kernel"]) + p["gate_bias"][:, None, :], dim=-1)
        F = torch.einsum("kbe,bue->kbu", G, H)
        Z = torch.relu(torch.matmul(F, p["tower_kernel"]) + p["tower_bias"][:, None, :])
        out = torch.matmul(Z, p["output_kernel"]) + p["output_bias"][:, None, :]
        loss = ((out - Y) ** 2).mean(dim=(1, 2)).sum()
        loss.backward()
        opt.step()
    return step


def plot(batches, times, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in times.items():
        ax.loglog(batches, np.asarray(values) * 1e3, "o-", label=name)
    ax.set_xlabel("batch size")
    ax.set_ylabel("training step (ms)")
    ax.set_title("MMoE training step (paper sizes), forward + backward + Adam")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 1024, 8192])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--figure", default="figures/bench_step_time.png")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    import numba
    threads = numba.config.NUMBA_NUM_THREADS
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    backends = ["numpy", "numba"] + (["cuda"] if real_gpu_available() else [])

    print(f"# Training-step benchmark (MMoE, {args.dtype}, D={PAPER['D']}, {PAPER['E']} experts x "
          f"{PAPER['U']} units, {PAPER['K']} tasks, towers of {PAPER['T']})\n")
    print(machine_description() + "\n")
    if not have_torch:
        print("PyTorch is not installed: its column is left out (pip install torch)\n")
    times = {name: [] for name in backends + (["pytorch eager"] if have_torch else [])}
    rows = []
    for B in args.batches:
        for be in backends:
            times[be].append(seconds_per_call(ours(be, B, dtype), min_time=1.0))
        if have_torch:
            times["pytorch eager"].append(seconds_per_call(pytorch(B, dtype, threads), min_time=1.0))
        row = [B] + [f"{times[name][-1] * 1e6:.0f}" for name in times]
        row.append(f"{times['numpy'][-1] / times['numba'][-1]:.2f}x")
        if have_torch:
            row.append(f"{times['pytorch eager'][-1] / times['numba'][-1]:.2f}x")
        rows.append(row)
    header = ["batch"] + [f"{name} (us)" for name in times] + ["numba vs numpy"]
    header += ["numba vs pytorch"] if have_torch else []
    print(markdown_table(header, rows))
    print("\n(speed-ups: how many times faster the numba step is; > 1 means numba wins)")
    plot(args.batches, times, args.figure)
    print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
