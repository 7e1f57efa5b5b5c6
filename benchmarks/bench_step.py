"""One whole training step (forward, two MSE losses, backward, Adam) of the paper-size MMoE, as
``fit``'s Trainer runs it, against the same step in jax.jit, PyTorch eager and torch.compile.

    python benchmarks/bench_step.py [--batches 128 1024 8192] [--dtypes float64 float32] [--rounds 5]
                                    [--profile] [--figure figures/bench_step_time.png]

Fair by construction:

- **every contender runs in a child process of its own**, started fresh for each round, with
  that framework's own defaults (threads, OpenMP policy: ``import mmoe_np`` asks OpenMP threads
  to sleep when idle, which would slow PyTorch's small steps 3x); the rounds alternate the
  contenders (A B C ... A B C ...), so a noisy machine slows them alike; each figure is the
  median over the rounds of each round's median time per step;
- **the same step everywhere**: the same initial parameters, batch, dtype and Adam settings;
  jax.jit compiles the whole step (gradients and Adam) into one XLA program with its buffers
  donated; PyTorch is written the fastest way we found (2-D products for the experts and gates,
  ``bmm`` for the mixtures and towers); mmoe-np is ``Trainer.step`` (the fused numba step, the
  divergence guard and Adam), and the readable path (``fused=False``) and the NumPy backend for
  reference.

``--profile`` adds where the fused numba step's time goes, piece by piece (in this process).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import PAPER, machine_description, markdown_table  # noqa: E402

PEERS = ("jax.jit", "pytorch eager", "pytorch compile")
OURS = ("mmoe-np numba (fused)", "mmoe-np numba (readable)", "mmoe-np numpy")


# ----------------------------------------------------------------------------- the problem
def initial_parameters(dtype):
    """The paper-size MMoE's initial parameters (seed 0), as plain arrays for every framework."""
    import mmoe_np as mn
    model = mn.MMoE(n_features=PAPER["D"], n_tasks=PAPER["K"], n_experts=PAPER["E"], expert_units=PAPER["U"],
                    tower_units=PAPER["T"], seed=0, dtype=dtype)
    return {k: np.ascontiguousarray(v) for k, v in model.params.items()}


def problem(B, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, PAPER["D"])).astype(dtype)
    Y = [rng.standard_normal((B, 1)).astype(dtype) for _ in range(PAPER["K"])]
    return X, Y


def _median_time(step, min_time):
    from mmoe_np.timing import seconds_per_call
    return seconds_per_call(step, min_time=min_time)


# ---------------------------------------------------------------------------- contenders
def ours(variant, B, dtype):
    """A step of this project's MMoE as ``fit``'s Trainer runs it (``variant``: one of OURS)."""
    import mmoe_np as mn
    backend = "numpy" if variant.endswith("numpy") else "numba"
    model = mn.MMoE(n_features=PAPER["D"], n_tasks=PAPER["K"], n_experts=PAPER["E"], expert_units=PAPER["U"],
                    tower_units=PAPER["T"], seed=0, backend=backend, dtype=dtype)
    trainer = mn.Trainer(model, mn.Adam(lr=1e-4), fused="readable" not in variant)
    X, Y = problem(B, dtype)
    return lambda: trainer.step(X, Y)


def jax_step(B, dtype):
    """The same step in JAX: gradients and Adam in one jitted XLA program, buffers donated."""
    import jax
    if np.dtype(dtype) == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    D, U, E, K = PAPER["D"], PAPER["U"], PAPER["E"], PAPER["K"]
    p0 = initial_parameters(dtype)
    p = {"We": p0["expert_kernel"].reshape(D, U * E), "be": p0["expert_bias"].reshape(U * E),
         "Wg": p0["gate_kernel"].transpose(1, 0, 2).reshape(D, K * E), "bg": p0["gate_bias"].reshape(K * E),
         "Wt": p0["tower_kernel"], "bt": p0["tower_bias"][:, None, :], "Wo": p0["output_kernel"],
         "bo": p0["output_bias"][:, None, :]}
    p = {k: jnp.asarray(v) for k, v in p.items()}
    X, Y = problem(B, dtype)
    X, Y = jnp.asarray(X), jnp.asarray(np.stack(Y))

    def loss(p, X, Y):
        H = jax.nn.relu(X @ p["We"] + p["be"]).reshape(B, U, E)
        G = jax.nn.softmax((X @ p["Wg"] + p["bg"]).reshape(B, K, E), axis=-1)           # (B, K, E)
        F = jnp.swapaxes(jnp.matmul(G, jnp.swapaxes(H, 1, 2)), 0, 1)                    # (K, B, U)
        out = jnp.matmul(jax.nn.relu(jnp.matmul(F, p["Wt"]) + p["bt"]), p["Wo"]) + p["bo"]   # (K, B, 1)
        return jnp.sum(jnp.mean((out - Y) ** 2, axis=(1, 2)))

    lr, b1, b2, eps = 1e-4, 0.9, 0.999, 1e-8

    def update(p, m, v, t, X, Y):
        g = jax.grad(loss)(p, X, Y)
        t = t + 1
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        p = jax.tree.map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), p, m, v)
        return p, m, v, t

    jitted = jax.jit(update, donate_argnums=(0, 1, 2))
    state = [p, jax.tree.map(jnp.zeros_like, p), jax.tree.map(jnp.zeros_like, p), jnp.zeros((), dtype)]

    def step():
        state[:] = jitted(*state, X, Y)
        jax.block_until_ready(state[0])
    return step


def pytorch_step(B, dtype, compile=False):
    """The same MMoE in PyTorch, the fastest formulation we found (2-D matmuls, bmm)."""
    import torch
    D, U, E, K = PAPER["D"], PAPER["U"], PAPER["E"], PAPER["K"]
    p = {k: torch.tensor(v) for k, v in initial_parameters(dtype).items()}
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


def _child(contender, batches, dtype, min_time):
    """Run in a child process: seconds per step of ``contender`` at each batch (NaN if it cannot run)."""
    times = []
    for B in batches:
        try:
            if contender == "jax.jit":
                step = jax_step(B, dtype)
            elif contender.startswith("pytorch"):
                step = pytorch_step(B, dtype, compile=contender.endswith("compile"))
            else:
                step = ours(contender, B, dtype)
            times.append(_median_time(step, min_time))
        except Exception as err:             # not installed, no compiler toolchain, ...
            print(f"{contender} at batch {B}: {type(err).__name__}: {str(err)[:160]}", file=sys.stderr)
            times.append(float("nan"))
    return times


def time_in_child(contender, batches, dtype, min_time):
    """Seconds per step at each batch, measured in a fresh child process with the framework's own
    defaults: a peer is imported before anything sets OpenMP's wait policy."""
    env = dict(os.environ)
    if contender in PEERS and "MMOE_BENCH_OMP_WAIT_POLICY" not in env:
        env.pop("OMP_WAIT_POLICY", None)
    # a peer's framework is imported first: importing bench_step imports mmoe_np, which sets OpenMP's wait
    # policy to PASSIVE, and libgomp reads it once, when it is loaded (PyTorch's step is 3-7x slower under it)
    first = {"jax.jit": "import jax; ", "pytorch eager": "import torch; ", "pytorch compile": "import torch; "}
    code = (f"{first.get(contender, '')}import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_step; "
            f"print(json.dumps(bench_step._child({contender!r}, {list(batches)!r}, {np.dtype(dtype).name!r}, "
            f"{min_time})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if " at batch " in line:
            print(line, file=sys.stderr)
    if out.returncode != 0:
        print(f"{contender}: the child process failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return [float("nan")] * len(batches)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(contenders, batches, dtype, rounds, min_time):
    """``{contender: [median over rounds of seconds per step, per batch]}``, rounds alternating."""
    samples = {c: [] for c in contenders}
    for _ in range(rounds):
        for c in contenders:
            samples[c].append(time_in_child(c, batches, dtype, min_time))
    return {c: np.nanmedian(np.array(s, dtype=float), axis=0) if not np.isnan(s).all() else np.full(len(batches),
            np.nan) for c, s in samples.items()}


# ------------------------------------------------------------------------------- profile
def profile(B, dtype):
    """Microseconds per piece of the fused numba step, each piece timed alone (in this process)."""
    import mmoe_np as mn
    model = mn.MMoE(n_features=PAPER["D"], n_tasks=PAPER["K"], n_experts=PAPER["E"], expert_units=PAPER["U"],
                    tower_units=PAPER["T"], seed=0, backend="numba", dtype=dtype)
    trainer = mn.Trainer(model, mn.Adam(lr=1e-4))
    X, Y = problem(B, dtype)
    trainer.step(X, Y)
    fused = trainer.fused
    bind = fused._binding
    import numba

    from mmoe_np.kernels import cpu_step
    parallel = bind.parallel and numba.get_num_threads() > 1
    losses = fused.step(X, Y)
    adam, params, grads = mn.Adam(lr=1e-4, fused=True), model.params.copy(), fused.grads.copy()  # as fit runs it
    pieces = {
        "Z^T = W^T X^T (BLAS)": lambda: np.matmul(bind.W_T, X.T, out=bind.ZT),
        # the pass overwrites Z^T in place (activations), so it is timed after a fresh product and the
        # product's time taken off: run alone on its own output it would read denormals and mislead
        "Z^T product, then the fused pass": lambda: (np.matmul(bind.W_T, X.T, out=bind.ZT),
                                                     cpu_step._step[parallel](*bind.args)),
        "dW = X^T dZ (BLAS)": lambda: np.matmul(X.T, bind.dZ, out=bind.dW),
        "whole fused step (the three above, targets copied)": lambda: fused.step(X, Y),
        "divergence guard and running loss": lambda: (trainer._guard(losses), trainer.running.__iadd__(losses)),
        "Adam (one fused pass over 14,834 numbers)": lambda: adam.step(params, grads),
        "Trainer.step (everything)": lambda: trainer.step(X, Y),
    }
    times = {name: _median_time(fn, 0.3) for name, fn in pieces.items()}
    both = times.pop("Z^T product, then the fused pass")
    pass_name = "fused pass: experts, gates, mixes, towers, losses and their backward (numba; by difference)"
    out = {}
    for name, value in times.items():
        out[name] = value
        if name.startswith("Z^T"):
            out[pass_name] = both - value
    return out


def plot(batches, times, path, dtype):
    from mmoe_np.experiments.plots import pyplot, save
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for name, values in times.items():
        if not np.isnan(values).all():
            ax.loglog(batches, np.asarray(values) * 1e3, "o-", label=name)
    ax.set_xlabel("batch size")
    ax.set_ylabel("training step (ms)")
    ax.set_title(f"MMoE training step (paper sizes, {dtype}): forward + backward + Adam")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 1024, 8192])
    parser.add_argument("--dtypes", nargs="+", choices=["float64", "float32"], default=["float64", "float32"])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; each contender once per round")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of stepping per measurement")
    parser.add_argument("--contenders", nargs="+", default=list(OURS + PEERS), choices=list(OURS + PEERS))
    parser.add_argument("--figure", default=None, help="save a figure of the float64 step times here")
    parser.add_argument("--profile", action="store_true", help="also time each piece of the fused numba step")
    parser.add_argument("--force", action="store_true", help="let other settings overwrite a committed figure")
    args = parser.parse_args(argv)
    from mmoe_np import outputs
    if args.figure:                              # checked before any timing
        full = (args.batches == parser.get_default("batches") and args.rounds >= 5
                and args.contenders == parser.get_default("contenders"))
        outputs.check_protected("--figure", args.figure, full_run=full, force=args.force,
                                what="benchmarks/bench_step.py with its default batches, contenders and >= 5 rounds")
        outputs.prepare_file("--figure", args.figure, suffixes=(".png", ".pdf", ".svg"))
    print(f"# Training-step benchmark (MMoE, D={PAPER['D']}, {PAPER['E']} experts x {PAPER['U']} units, "
          f"{PAPER['K']} tasks, towers of {PAPER['T']}; {args.rounds} alternating rounds, each contender in its "
          "own process)\n")
    print(machine_description() + "\n")
    ours_name, peers = OURS[0], [c for c in args.contenders if c in PEERS]
    for dtype in args.dtypes:
        times = measure(args.contenders, args.batches, dtype, args.rounds, args.min_time)
        rows = []
        for i, B in enumerate(args.batches):
            row = [B] + [f"{times[c][i] * 1e6:,.0f}" for c in args.contenders]
            peer_times = [times[c][i] for c in peers if not np.isnan(times[c][i])]
            if ours_name in times and peer_times:
                fastest = min(peer_times)
                name = next(c for c in peers if times[c][i] == fastest)
                row += [name, f"{fastest / times[ours_name][i]:.2f}x"]
            rows.append(row)
        header = ["batch"] + [f"{c} (us)" for c in args.contenders]
        header += ["fastest peer", "speed-up of the fused step over it"] if peers and ours_name in times else []
        print(f"## {dtype}\n")
        print(markdown_table(header, rows))
        print()
        if args.figure and dtype == "float64":
            plot(args.batches, times, args.figure, dtype)
    print("(speed-up: how many times faster the fused numba step is than the fastest peer; > 1 means mmoe-np wins)")
    if args.profile:
        for dtype in args.dtypes:
            for B in args.batches:
                pieces = profile(B, np.dtype(dtype))
                print(f"\nWhere the fused numba step's time goes at batch {B}, {dtype} (each piece timed alone, us):\n")
                print(markdown_table(["piece", "us"], [[name, f"{t * 1e6:,.0f}"] for name, t in pieces.items()]))


if __name__ == "__main__":
    main()
