"""One whole training step (forward + MSE + backward + Adam) of the paper-size MMoE, per backend,
against the same model in PyTorch on the CPU (same batch, dtype and thread count).

    python benchmarks/bench_step.py [--batches 128 1024 8192] [--dtype float64] [--profile]
                                    [--figure figures/bench_step_time.png]

PyTorch is written the fastest way we found: the experts and the gates as 2-D matrix
products, the mixtures and the towers as ``bmm``; eager mode and ``torch.compile`` (when it
works here). ``--profile`` adds where the numba step's time goes, piece by piece.

PyTorch is timed in a child process with its own OpenMP settings: ``import mmoe_np`` asks
OpenMP threads to sleep when idle (``OMP_WAIT_POLICY=PASSIVE``, good for numba next to
OpenBLAS), which makes PyTorch's small steps 3x slower; PyTorch gets its default instead,
unless you set ``OMP_WAIT_POLICY`` yourself.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")   # before mmoe_np sets its default

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PAPER, machine_description, markdown_table, real_gpu_available, seconds_per_call  # noqa: E402

import mmoe_np as mn  # noqa: E402
from mmoe_np import outputs  # noqa: E402
from mmoe_np.memory import keep_freed_memory  # noqa: E402


def make_model(backend, dtype):
    return mn.MMoE(n_features=PAPER["D"], n_tasks=PAPER["K"], n_experts=PAPER["E"],
                   expert_units=PAPER["U"], tower_units=PAPER["T"], seed=0, backend=backend, dtype=dtype)


def problem(B, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, PAPER["D"])).astype(dtype)
    Y = [rng.standard_normal((B, 1)).astype(dtype) for _ in range(PAPER["K"])]
    return X, Y


def ours(backend, B, dtype):
    """A step of this project's MMoE on ``backend``, as fit's Trainer runs it."""
    model, opt = make_model(backend, dtype), mn.Adam(lr=1e-4)
    X, Y = problem(B, dtype)

    def step():
        preds, cache = model.forward(X, checked=True)
        dpreds = [mn.losses.mse(p, y)[1] for p, y in zip(preds, Y)]
        opt.step(model.params, model.backward(cache, dpreds, checked=True))
    return step


def pytorch(B, dtype, threads, compile=False):
    """The same MMoE in PyTorch, the fastest formulation we found (2-D matmuls, bmm)."""
    import torch
    torch.set_num_threads(threads)
    D, U, E, K = PAPER["D"], PAPER["U"], PAPER["E"], PAPER["K"]
    p = {k: torch.tensor(np.ascontiguousarray(v)) for k, v in make_model("numpy", dtype).params.items()}
    We = p["expert_kernel"].reshape(D, U * E).clone().requires_grad_()
    be = p["expert_bias"].reshape(U * E).clone().requires_grad_()
    Wg = p["gate_kernel"].permute(1, 0, 2).reshape(D, K * E).clone().requires_grad_()
    bg = p["gate_bias"].reshape(K * E).clone().requires_grad_()
    Wt, bt = p["tower_kernel"].clone().requires_grad_(), p["tower_bias"][:, None, :].clone().requires_grad_()
    Wo, bo = p["output_kernel"].clone().requires_grad_(), p["output_bias"][:, None, :].clone().requires_grad_()
    X, Y = problem(B, dtype)
    X, Y = torch.tensor(X), torch.tensor(np.stack(Y))
    opt = torch.optim.Adam([We, be, Wg, bg, Wt, bt, Wo, bo], lr=1e-4)

    def loss_fn():
        H = torch.relu(X @ We + be).view(B, U, E)
        G = torch.softmax((X @ Wg + bg).view(B, K, E), dim=-1)                # (B, K, E)
        F = torch.bmm(G, H.transpose(1, 2)).transpose(0, 1)                   # (K, B, U)
        out = torch.bmm(torch.relu(torch.bmm(F, Wt) + bt), Wo) + bo           # (K, B, 1)
        return ((out - Y) ** 2).mean(dim=(1, 2)).sum()
    forward = torch.compile(loss_fn) if compile else loss_fn

    def step():
        opt.zero_grad(set_to_none=True)
        forward().backward()
        opt.step()
    step()
    return step


def pytorch_times(batches, dtype, threads):
    """Seconds per PyTorch step, ``{"pytorch eager": [...], "pytorch compile": [...]}``, timed in a
    child process that imports torch before anything sets OpenMP's wait policy."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if USER_OMP_WAIT_POLICY is not None:
        env["OMP_WAIT_POLICY"] = USER_OMP_WAIT_POLICY
    code = (f"import sys, json; import torch; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import bench_step; print(json.dumps(bench_step._pytorch_child({list(batches)!r}, "
            f"{np.dtype(dtype).name!r}, {threads})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        if line.startswith("torch.compile failed"):
            print(line)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pytorch_child(batches, dtype, threads):
    times = {"pytorch eager": [], "pytorch compile": []}
    for B in batches:
        times["pytorch eager"].append(seconds_per_call(pytorch(B, dtype, threads), min_time=1.0))
        try:
            times["pytorch compile"].append(seconds_per_call(pytorch(B, dtype, threads, compile=True),
                                                             min_time=1.0))
        except Exception as err:                 # no compiler toolchain, say
            print(f"torch.compile failed at batch {B}: {type(err).__name__}: {str(err)[:120]}", file=sys.stderr)
            times["pytorch compile"].append(float("nan"))
    return times


def profile(B, dtype):
    """Microseconds per piece of the numba step (each piece timed on its own)."""
    model, opt = make_model("numba", dtype), mn.Adam(lr=1e-4)
    X, Y = problem(B, dtype)
    p, k = model.params, model.kernels
    H, G, first = k.experts_and_gates_forward(X, p["expert_kernel"], p["expert_bias"], p["gate_kernel"], p["gate_bias"])
    F = k.gate_mix_forward(H, G)
    out, towers = k.towers_forward(F, p["tower_kernel"], p["tower_bias"], p["output_kernel"], p["output_bias"])
    dout = np.ones_like(out)
    dF, _ = k.towers_backward(dout, towers)
    dH, dG = k.gate_mix_backward(H, G, dF)
    grads = p.zeros_like()
    preds, cache = model.forward(X, checked=True)
    pieces = {
        "experts + gates, forward (one product + ReLU/softmax pass)": lambda: k.experts_and_gates_forward(
            X, p["expert_kernel"], p["expert_bias"], p["gate_kernel"], p["gate_bias"]),
        "gate mixes, forward": lambda: k.gate_mix_forward(H, G),
        "towers, forward (NumPy)": lambda: k.towers_forward(F, p["tower_kernel"], p["tower_bias"],
                                                            p["output_kernel"], p["output_bias"]),
        "losses (2 x MSE)": lambda: [mn.losses.mse(a, y) for a, y in zip(preds, Y)],
        "towers, backward (NumPy)": lambda: k.towers_backward(dout, towers),
        "gate mixes, backward": lambda: k.gate_mix_backward(H, G, dF),
        "experts + gates, backward (one pass + one product)": lambda: k.experts_and_gates_backward(first, dH, dG),
        "gradient buffer": lambda: p.zeros_like(),
        "Adam (one fused pass over 14,834 numbers)": lambda: opt.step(p, grads),
        "whole step": ours("numba", B, dtype),
    }
    return {name: seconds_per_call(fn, min_time=0.3) for name, fn in pieces.items()}


def plot(batches, times, path):
    from mmoe_np.experiments.plots import pyplot, save
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for name, values in times.items():
        ax.loglog(batches, np.asarray(values) * 1e3, "o-", label=name)
    ax.set_xlabel("batch size")
    ax.set_ylabel("training step (ms)")
    ax.set_title("MMoE training step (paper sizes), forward + backward + Adam")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    save(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 1024, 8192])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--figure", default=None, help="save a figure of the step times here")
    parser.add_argument("--profile", action="store_true", help="also time each piece of the numba step")
    parser.add_argument("--force", action="store_true", help="let other settings overwrite a committed figure")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    if args.figure:                              # checked before any timing
        full = args.batches == parser.get_default("batches") and args.dtype == parser.get_default("dtype")
        outputs.check_protected("--figure", args.figure, full_run=full, force=args.force,
                                what="benchmarks/bench_step.py with its default batches and dtype")
        outputs.prepare_file("--figure", args.figure, suffixes=(".png", ".pdf", ".svg"))
    keep_freed_memory()                          # as fit does: no page faults on the step's big arrays
    import numba
    threads = numba.config.NUMBA_NUM_THREADS
    import importlib.util
    have_torch = importlib.util.find_spec("torch") is not None
    backends = ["numpy", "numba"] + (["cuda"] if real_gpu_available() else [])

    print(f"# Training-step benchmark (MMoE, {args.dtype}, D={PAPER['D']}, {PAPER['E']} experts x "
          f"{PAPER['U']} units, {PAPER['K']} tasks, towers of {PAPER['T']})\n")
    print(machine_description() + "\n")
    if not have_torch:
        print("PyTorch is not installed: its columns are left out (pip install torch)\n")
    names = backends + (["pytorch eager", "pytorch compile"] if have_torch else [])
    times = {name: [] for name in names}
    for B in args.batches:
        for be in backends:
            times[be].append(seconds_per_call(ours(be, B, dtype), min_time=1.0))
    if have_torch:
        times.update(pytorch_times(args.batches, dtype, threads))
    rows = []
    for i, B in enumerate(args.batches):
        row = [B] + [f"{times[name][i] * 1e6:.0f}" for name in names]
        row.append(f"{times['numpy'][i] / times['numba'][i]:.2f}x")
        if have_torch:
            fastest = np.nanmin([times["pytorch eager"][i], times["pytorch compile"][i]])
            row.append(f"{fastest / times['numba'][i]:.2f}x")
        rows.append(row)
    header = ["batch"] + [f"{name} (us)" for name in names] + ["numba vs numpy"]
    header += ["numba vs fastest pytorch"] if have_torch else []
    print(markdown_table(header, rows))
    print("\n(speed-ups: how many times faster the numba step is; > 1 means numba wins)")
    if args.profile:
        for B in args.batches:
            pieces = profile(B, dtype)
            print(f"\nWhere the numba step's time goes at batch {B} (each piece timed alone, us):\n")
            print(markdown_table(["piece", "us"], [[name, f"{t * 1e6:.0f}"] for name, t in pieces.items()]))
    if args.figure:
        plot(args.batches, {k: v for k, v in times.items() if not np.isnan(v).all()}, args.figure)


if __name__ == "__main__":
    main()
