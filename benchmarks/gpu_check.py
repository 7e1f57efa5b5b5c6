"""Validate and time the CUDA backend on this machine's NVIDIA GPU: one markdown report, under 8 minutes.

    python3 run.py gpu-check                        # installs what it needs, then runs every part
    python benchmarks/gpu_check.py [--out FILE] [--parts device tests kernels step sweep]
    python benchmarks/gpu_check.py --detect         # only say whether a GPU is usable (exit 0 or 2)
    python benchmarks/gpu_check.py --dry-run        # every part under the CUDA simulator, tiny sizes

Parts, in order:

1. **device**: the GPU's name, compute capability, memory, driver and CUDA versions, and each
   kernel's registers, shared memory and spills for that compute capability (ptxas).
2. **tests**: the CUDA tests (``pytest -m "cuda and not slow"``: all but the dry run of this script)
   on the device, simulator off.
3. **kernels**: each kernel against cuBLAS through CuPy on the same shapes (the paper's sizes),
   in GFLOP/s and as a fraction of cuBLAS; and the contract call (argument checks, allocations
   and copies back to the host included), as the models call it.
4. **step**: a training step of the paper's MMoE (forward, MSE, backward, Adam) at batch 128,
   1024 and 8192, through ``mn.fit`` -- whatever the training path does -- against the same
   MMoE in PyTorch on the GPU; and what one steady step moves between host and GPU (it fails
   when that is more than the step's losses).
5. **sweep**: a chunk of 200 runs x 3 models x 3 correlations through
   ``mmoe_np.experiments.sweep`` (streamed data, batch 128), in model-steps/s.

The report (markdown, named after the GPU) goes to ``benchmarks/gpu/<gpu>.md`` unless ``--out``
says otherwise, and to standard output; paste its tables into benchmarks/RESULTS.md. Exit
status: 0 every part ran and every test passed, 1 something failed (the report says what),
2 no usable GPU (one line, nothing checked).

``--dry-run`` runs every part under Numba's CUDA simulator at tiny sizes, with NumPy standing
in for CuPy and PyTorch on the CPU (when installed) for PyTorch on the GPU: it proves the
script works on a machine without a GPU (``tests/test_gpu_check.py``); its numbers mean
nothing, and it never writes into benchmarks/.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRY = "--dry-run" in sys.argv
os.environ["NUMBA_ENABLE_CUDASIM"] = "1" if DRY else "0"      # decided before numba is first imported

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PAPER, markdown_table  # noqa: E402

import mmoe_np as mn  # noqa: E402
from mmoe_np import outputs  # noqa: E402

NO_GPU = 2
PARTS = ("device", "tests", "kernels", "step", "sweep")
LIMIT_S = 7 * 60        # a part that would start later than this is skipped (the whole check stays < 8 min)
DEADLINE = math.inf     # set by main: 8 minutes after the start, less a margin for writing the report
SIZES = {   # what each part measures; the dry run's sizes only exercise the code
    "real": dict(model=PAPER, kernel_batches=(1024, 8192, 65536), kernel_dtypes=("float32", "float64"),
                 step_batches=(128, 1024, 8192), step_dtypes=("float32", "float64"),
                 sweep_runs=200, sweep_steps=(4, 20), sweep_batch=128, sweep_dtypes=("float32",),
                 sweep_correlations=(0.5, 0.9, 1.0),
                 min_time=0.5, tests=["-m", "cuda and not slow", "tests"], compile_kernels=None),
    "dry": dict(model=dict(D=6, U=2, E=2, K=2, T=2), kernel_batches=(8,), kernel_dtypes=("float32", "float64"),
                step_batches=(4,), step_dtypes=("float64",),
                sweep_runs=2, sweep_steps=(1, 2), sweep_batch=4, sweep_dtypes=("float64",),
                sweep_correlations=(0.5,),   # the simulator runs each CUDA thread as a Python thread
                min_time=0.01, tests=["tests/test_cuda.py", "-k", "zero_rows or launch_sizes_are"],
                compile_kernels=["adam"]),
}


# ----------------------------------------------------------------------------------- helpers
def device_seconds(fn, sync, min_time):
    """Median seconds per call of ``fn`` (launches only; one ``sync`` after each batch of calls)."""
    fn()
    sync()
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        sync()
        if time.perf_counter() - start >= min_time / 5 or loops >= 1 << 16:
            break
        loops *= 2
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        sync()
        samples.append((time.perf_counter() - start) / loops)
    return float(np.median(samples))


def per_step(run, steps, target, limit=2000):
    """Seconds per step of ``run(steps)`` (which returns the seconds it took), the steps raised until
    one timed call lasts about ``target`` seconds."""
    seconds = run(steps)
    if seconds < target and steps < limit:
        steps = min(limit, math.ceil(steps * target / max(seconds, 1e-9)))
        seconds = run(steps)
    return seconds / steps


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def synchronize():
    from numba import cuda
    cuda.synchronize()


# ------------------------------------------------------------------------------ 1. the device
def detect():
    """``(usable, one line)``: is there a GPU numba-cuda can use?"""
    if DRY:
        return True, "Numba's CUDA simulator (dry run: no GPU, numbers mean nothing)"
    if shutil.which("nvidia-smi") is None and not Path("/proc/driver/nvidia").exists():
        return False, "gpu-check: no NVIDIA GPU here (no driver: nvidia-smi not found); nothing was checked"
    try:
        from numba import cuda
        if not cuda.is_available():
            raise RuntimeError("numba.cuda.is_available() is False")
        return True, device_name()
    except Exception as error:                     # no numba-cuda, a driver too old, ...
        message = " ".join(str(error).split())[:200]
        return False, (f"gpu-check: the NVIDIA GPU cannot be used ({type(error).__name__}: {message}); "
                       "nothing was checked")


def device_name():
    if DRY:
        return "CUDA simulator (dry run)"
    from numba import cuda
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def device_part(sizes):
    """The device's facts, and the kernels' resources for its compute capability."""
    from numba import cuda
    rows = [["GPU", device_name()]]
    cc = (9, 0)
    if not DRY:
        device = cuda.get_current_device()
        cc = tuple(device.compute_capability)
        free, total = cuda.current_context().get_memory_info()
        rows += [["compute capability", f"{cc[0]}.{cc[1]}"],
                 ["memory", f"{total / 2**30:.1f} GiB ({free / 2**30:.1f} free)"],
                 ["multiprocessors", str(getattr(device, "MULTIPROCESSOR_COUNT", "?"))]]
        for label, read in (("driver (CUDA version)", lambda: cuda.cudadrv.driver.driver.get_version()),
                            ("CUDA runtime", lambda: cuda.runtime.get_version())):
            try:
                rows.append([label, ".".join(str(v) for v in read())])
            except Exception as error:
                rows.append([label, f"unknown ({type(error).__name__})"])
    rows += [["versions", versions()]]
    text = markdown_table(["", ""], rows)
    arch = f"{cc[0]}.{cc[1]}"
    command = [sys.executable, "-m", "mmoe_np.kernels.cuda_compile", "--cc", arch]
    if sizes["compile_kernels"]:
        command += ["--kernels", *sizes["compile_kernels"]]
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    if done.returncode == 0:
        text += f"\n\nThe kernels compiled for sm_{cc[0]}{cc[1]} (`ptxas -v`):\n\n" + done.stdout.strip()
    else:
        text += f"\n\nCompiling the kernels for sm_{cc[0]}{cc[1]} failed (exit {done.returncode}):\n\n```\n" \
                f"{done.stderr.strip()[-3000:]}\n```"
    return text, done.returncode == 0 or (DRY and done.returncode == 3)      # 3: no compiler installed


def versions():
    import numba
    parts = [f"mmoe-np {mn.__version__}", f"NumPy {np.__version__}", f"Numba {numba.__version__}"]
    for module, label in (("numba_cuda", "numba-cuda"), ("cupy", "CuPy"), ("torch", "PyTorch")):
        try:
            parts.append(f"{label} {__import__(module).__version__}")
        except Exception:
            parts.append(f"{label} not installed")
    return ", ".join(parts)


# ------------------------------------------------------------------------------- 2. the tests
def tests_part(sizes):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1" if DRY else "0")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sizes["tests"]]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=360)
    seconds = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = next((line.strip("= ") for line in reversed(lines) if re.search(r"\d+ (passed|failed|error)", line)),
                   "no summary line")
    text = f"`pytest -q {' '.join(sizes['tests'])}` with the simulator {'on' if DRY else 'off'}: **{summary}** " \
           f"({seconds:.0f} s)."
    if done.returncode:
        failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))] or lines[-30:]
        text += "\n\n```\n" + "\n".join(failures[:40]) + "\n```"
    return text, done.returncode == 0


# ----------------------------------------------------------------------- 3. kernels vs cuBLAS
class Yardstick:
    """cuBLAS through CuPy on a GPU; NumPy in a dry run (CuPy mirrors NumPy's calls)."""

    def __init__(self):
        if DRY:
            self.xp, self.name, self.sync = np, "NumPy (dry run)", lambda: None
        else:
            import cupy
            self.xp, self.name = cupy, f"cuBLAS (CuPy {cupy.__version__})"
            self.sync = cupy.cuda.Device().synchronize

    def to_host(self, a):
        return a if self.xp is np else self.xp.asnumpy(a)


def kernel_problem(B, dtype, model):
    D, U, E, K = model["D"], model["U"], model["E"], model["K"]
    rng = np.random.default_rng(0)
    a = lambda *s: rng.standard_normal(s).astype(dtype)     # noqa: E731
    X, W, b = a(B, D), 0.1 * a(D, U, E), a(U, E)
    G = rng.dirichlet(np.ones(E), size=(K, B)).astype(dtype)
    H = np.maximum(X @ W.reshape(D, U * E) + b.reshape(-1), 0).reshape(B, U, E)
    return dict(X=X, W=W, b=b, G=G, dF=a(K, B, U), dH=a(B, U, E), H=H)


def kernels_part(sizes):
    from numba import cuda

    from mmoe_np.kernels import cuda as ck
    from mmoe_np.kernels import get_backend
    from mmoe_np.kernels.cuda_device import batch_splits
    yard, model, min_time = Yardstick(), sizes["model"], sizes["min_time"]
    D, U, E, K = model["D"], model["U"], model["E"], model["K"]
    N = U * E
    rows, contract_rows, worst = [], [], 0.0
    for dtype_name in sizes["kernel_dtypes"]:
        dtype = np.dtype(dtype_name)
        for B in sizes["kernel_batches"]:
            p = kernel_problem(B, dtype, model)
            dZ = p["dH"] * (p["H"] > 0)
            d = {k: cuda.to_device(np.ascontiguousarray(v)) for k, v in p.items()}
            X3, H3, dH3 = d["X"].reshape(1, B, D), d["H"].reshape(1, B, N), d["dH"].reshape(1, B, N)
            W3, b2 = d["W"].reshape(1, D, N), d["b"].reshape(1, N)
            H_out, dX_out = cuda.device_array((1, B, N), dtype), cuda.device_array((1, B, D), dtype)
            splits, chunk = batch_splits(1, D + 1, N, B, ck._sizes.tile)
            partial, grads = cuda.device_array((splits, D + 1, N), dtype), cuda.device_array((1, D + 1, N), dtype)
            F, dHm, dG = (cuda.device_array(s, dtype) for s in ((1, K, B, U), (1, B, U, E), (1, K, B, E)))
            H4, G4, dF4 = d["H"].reshape(1, B, U, E), d["G"].reshape(1, K, B, E), d["dF"].reshape(1, K, B, U)

            def grads_launch():
                ck.launch_product("grads", dtype, X3, H3, dH3, partial, K=B, splits=splits, chunk=chunk)
                if splits > 1:
                    ck.launch_cells("sum_splits", dtype, (D + 1) * N, partial.reshape(1, splits, (D + 1) * N),
                                    grads.reshape(1, (D + 1) * N))

            xp = yard.xp
            y = {k: xp.asarray(np.ascontiguousarray(v)) for k, v in dict(p, dZ=dZ).items()}
            yW2, yGt = y["W"].reshape(D, N), xp.ascontiguousarray(y["G"].transpose(1, 2, 0))     # G as (B, E, K)
            ydFt = xp.ascontiguousarray(y["dF"].transpose(1, 2, 0))                               # dF as (B, U, K)
            ydFb = xp.ascontiguousarray(y["dF"].transpose(1, 0, 2))                               # dF as (B, K, U)
            yGb = xp.ascontiguousarray(y["G"].transpose(1, 0, 2))                                 # G as (B, K, E)
            gemm, mix = 2.0 * B * D * N, 2.0 * K * B * U * E
            cases = [   # name, FLOPs, ours, yardstick, (our result, the yardstick's, how to compare)
                ("experts forward (X W + b, ReLU)", gemm,
                 lambda: ck.launch_product("forward", dtype, X3, W3, b2, H_out, K=D),
                 lambda: xp.matmul(y["X"], yW2),
                 lambda: (H_out.copy_to_host().reshape(B, N), p["H"].reshape(B, N))),
                (f"[dW; db] = [X, 1].T dZ (split {splits})", gemm, grads_launch,
                 lambda: xp.matmul(y["X"].T, y["dZ"].reshape(B, N)),
                 lambda: ((grads if splits > 1 else partial).copy_to_host()[0, :D],
                          yard.to_host(xp.matmul(y["X"].T, y["dZ"].reshape(B, N))))),
                ("dX = dZ W2.T", gemm, lambda: ck.launch_product("dX", dtype, H3, dH3, W3, dX_out, K=N),
                 lambda: xp.matmul(y["dZ"].reshape(B, N), yW2.T),
                 lambda: (dX_out.copy_to_host()[0], dZ.reshape(B, N) @ p["W"].reshape(D, N).T)),
                ("gate mix forward", mix, lambda: ck.launch_cells("mix_forward", dtype, K * B * U, H4, G4, F),
                 lambda: xp.matmul(y["H"], yGt),
                 lambda: (F.copy_to_host()[0], np.einsum("kbe,bue->kbu", p["G"], p["H"]))),
                ("gate mix backward (dH, dG)", 2 * mix,
                 lambda: (ck.launch_cells("mix_backward_dH", dtype, B * U * E, G4, dF4, dHm),
                          ck.launch_cells("mix_backward_dG", dtype, K * B * E, H4, dF4, dG)),
                 lambda: (xp.matmul(ydFt, yGb), xp.matmul(ydFb, y["H"])),
                 lambda: (dG.copy_to_host()[0], np.einsum("kbu,bue->kbe", p["dF"], p["H"]))),
            ]
            for name, flops, ours, theirs, results in cases:
                t_ours = device_seconds(ours, synchronize, min_time)
                t_theirs = device_seconds(theirs, yard.sync, min_time)
                got, want = results()
                err = mn.gradcheck.rel_error(got, want)
                worst = max(worst, err) if dtype == np.float64 else worst
                rows.append([dtype_name, B, name, f"{t_ours * 1e6:.1f}", f"{flops / t_ours / 1e9:.1f}",
                             f"{t_theirs * 1e6:.1f}", f"{flops / t_theirs / 1e9:.1f}", f"{t_theirs / t_ours:.2f}",
                             f"{err:.0e}"])
            kern = get_backend("cuda")
            calls = {"experts_forward": lambda: kern.experts_forward(d["X"], d["W"], d["b"]),
                     "experts_backward (no dX)": lambda: kern.experts_backward(d["X"], d["W"], d["H"], d["dH"],
                                                                               need_dX=False),
                     "gate_mix_forward": lambda: kern.gate_mix_forward(d["H"], d["G"]),
                     "gate_mix_backward": lambda: kern.gate_mix_backward(d["H"], d["G"], d["dF"])}
            for name, call in calls.items():
                contract_rows.append([dtype_name, B, name, f"{device_seconds(call, synchronize, min_time) * 1e6:.1f}"])
    text = (f"Shapes: D = {D}, {E} experts x {U} units, K = {K}; inputs already on the device. *Ours*: the "
            f"kernel launches alone, into buffers made beforehand. *{yard.name}*: the same product as one "
            "matrix multiplication (batched over rows for the mixes), inputs laid out the way it likes best, "
            "without our fused bias, ReLU and mask. Fraction = its time / ours (1.00: as fast as cuBLAS). "
            "rel. error: our result against the NumPy oracle.\n\n")
    short = "NumPy" if DRY else "cuBLAS"
    text += markdown_table(["dtype", "batch", "kernel", "ours (us)", "ours GFLOP/s", f"{short} (us)",
                            f"{short} GFLOP/s", f"fraction of {short}", "rel. error"], rows)
    text += ("\n\nThe contract functions as the models call them (argument checks, output allocation, and the "
             "copies back to the host of F, dG, dW, db), device inputs:\n\n")
    text += markdown_table(["dtype", "batch", "call", "us per call"], contract_rows)
    return text, worst <= 1e-10


# -------------------------------------------------------------------- 4. a training step
def make_model(backend, dtype, model):
    return mn.MMoE(n_features=model["D"], n_tasks=model["K"], n_experts=model["E"], expert_units=model["U"],
                   tower_units=model["T"], seed=0, backend=backend, dtype=dtype)


def step_data(B, dtype, model, batches=8):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batches * B, model["D"])).astype(dtype)
    Y = rng.standard_normal((batches * B, model["K"])).astype(dtype)
    return X, Y


def our_step(B, dtype, sizes):
    """Seconds per step of ``mn.fit`` on the CUDA backend (minibatches drawn as fit draws them)."""
    model, X, Y = make_model("cuda", dtype, sizes["model"]), *step_data(B, dtype, sizes["model"])
    optimizer = mn.Adam(lr=1e-4)

    def run(steps):
        start = time.perf_counter()
        mn.fit(model, X, Y, steps=steps, batch_size=B, optimizer=optimizer, eval_every=steps, progress=False)
        synchronize()
        return time.perf_counter() - start
    if not DRY:
        run(2)                                                        # compiles the kernels (none in a dry run)
    return per_step(run, 5 if not DRY else 2, target=sizes["min_time"] * 4)


def torch_step(B, dtype, sizes):
    """Seconds per step of the same MMoE in PyTorch (2-D matmuls and bmm, as benchmarks/bench_step.py),
    minibatches drawn on the device; on the GPU (on the CPU in a dry run)."""
    import torch
    device = "cpu" if DRY else "cuda"
    model = sizes["model"]
    D, U, E, K = model["D"], model["U"], model["E"], model["K"]
    p = {k: torch.tensor(np.ascontiguousarray(v), device=device)
         for k, v in make_model("numpy", dtype, model).params.items()}
    leaves = [p["expert_kernel"].reshape(D, U * E), p["expert_bias"].reshape(U * E),
              p["gate_kernel"].permute(1, 0, 2).reshape(D, K * E), p["gate_bias"].reshape(K * E),
              p["tower_kernel"], p["tower_bias"][:, None, :], p["output_kernel"], p["output_bias"][:, None, :]]
    We, be, Wg, bg, Wt, bt, Wo, bo = [t.clone().requires_grad_() for t in leaves]
    X, Y = step_data(B, dtype, model)
    X, Y = torch.tensor(X, device=device), torch.tensor(Y.T[..., None].copy(), device=device)   # (n, D), (K, n, 1)
    opt = torch.optim.Adam([We, be, Wg, bg, Wt, bt, Wo, bo], lr=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    sync = (lambda: None) if DRY else torch.cuda.synchronize

    def step():
        rows = torch.randint(0, X.shape[0], (B,), device=device, generator=generator)
        x, y = X[rows], Y[:, rows]
        H = torch.relu(x @ We + be).view(B, U, E)
        G = torch.softmax((x @ Wg + bg).view(B, K, E), dim=-1)                # (B, K, E)
        F = torch.bmm(G, H.transpose(1, 2)).transpose(0, 1)                   # (K, B, U)
        out = torch.bmm(torch.relu(torch.bmm(F, Wt) + bt), Wo) + bo           # (K, B, 1)
        loss = ((out - y) ** 2).mean(dim=(1, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def run(steps):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        return time.perf_counter() - start
    run(3)
    return per_step(run, 10, target=sizes["min_time"] * 4)


def step_part(sizes):
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    rows = []
    for dtype_name in sizes["step_dtypes"]:
        for B in sizes["step_batches"]:
            ours = our_step(B, np.dtype(dtype_name), sizes)
            theirs = torch_step(B, np.dtype(dtype_name), sizes) if have_torch else float("nan")
            rows.append([dtype_name, B, f"{ours * 1e3:.2f}", f"{theirs * 1e3:.2f}" if have_torch else "-",
                         f"{theirs / ours:.2f}" if have_torch else "-", f"{B / ours:,.0f}"])
    from cuda_traffic import steady_step
    first = np.dtype(sizes["step_dtypes"][0])
    traffic = steady_step(make_model("cuda", first, sizes["model"]), sizes["step_batches"][0])
    model = sizes["model"]
    where = "the CPU (dry run)" if DRY else "the GPU"
    text = (f"MMoE, D = {model['D']}, {model['E']} experts x {model['U']} units, {model['K']} tasks, towers of "
            f"{model['T']}: one training step (minibatch, forward, MSE, backward, Adam). *Ours*: `mn.fit` on the "
            f"cuda backend, whatever its training path does. *PyTorch*: the same model eagerly on {where}"
            + ("" if have_torch else " -- not installed, left out (pip install 'mmoe-np[gpucheck]')") + ". "
            "Ratio = PyTorch's time / ours (above 1: ours is faster).\n\n")
    text += markdown_table(["dtype", "batch", "ours (ms/step)", "PyTorch (ms/step)", "ratio", "ours samples/s"], rows)
    steady = traffic.h2d == 0 and traffic.allocations == 0 and traffic.d2h <= 1
    text += (f"\n\nWhat one steady step moves (batch {sizes['step_batches'][0]}, counted on this device by "
             f"`mmoe_np.kernels.cuda_traffic.record_traffic`): {traffic}"
             + ("." if steady else " -- MORE THAN ITS LOSSES: training does not stay on the device."))
    return text, steady


# ------------------------------------------------------------------------------ 5. a sweep
def sweep_part(sizes):
    from mmoe_np.experiments.sweep import SweepConfig, run_sweep
    runs, (short, long), B = sizes["sweep_runs"], sizes["sweep_steps"], sizes["sweep_batch"]
    C = len(sizes["sweep_correlations"])
    base = dict(runs=runs, models=("shared_bottom", "omoe", "mmoe"), correlations=sizes["sweep_correlations"],
                lrs=(1e-3,), n_train=None, batch_size=B, backend="cuda", runs_per_job=runs)
    if DRY:
        base.update(d=sizes["model"]["D"], n_val=8, n_test=8,
                    sizes={"shared_bottom": dict(bottom_units=3, tower_units=2),
                           "omoe": dict(n_experts=2, expert_units=2, tower_units=2),
                           "mmoe": dict(n_experts=2, expert_units=2, tower_units=2)})
    rows = []
    for dtype_name in sizes["sweep_dtypes"]:
        def sweep(steps, runs=runs):
            config = SweepConfig(**{**base, "runs": runs, "runs_per_job": runs, "steps": steps, "eval_every": steps,
                                    "dtype": dtype_name})
            start = time.perf_counter()
            run_sweep(config, executor="serial", progress=False)
            synchronize()
            return time.perf_counter() - start
        if not DRY:
            sweep(1, runs=min(runs, 2))                               # compiles the kernels (none in a dry run)
        per_step_models = runs * 3 * C
        t_short = sweep(short)
        if time.perf_counter() + t_short * long / short > DEADLINE:    # the long sweep would not fit in 8 min
            rows.append([dtype_name, f"{runs} x 3 x {C}", f"{short}", f"{t_short:.1f}",
                         f"{per_step_models * short / t_short:,.0f}", f"- (no time for the {long}-step sweep)"])
            continue
        t_long = sweep(long)
        steady = per_step_models * (long - short) / max(t_long - t_short, 1e-9)
        rows.append([dtype_name, f"{runs} x 3 x {C}", f"{long}", f"{t_long:.1f}",
                     f"{per_step_models * long / t_long:,.0f}", f"{steady:,.0f}"])
    text = (f"One sweep chunk: {runs} runs x 3 models (Shared-Bottom, OMoE, MMoE) x {C} correlation(s), trained as "
            f"one model per kind on the cuda backend, streamed data, batch {B}, through "
            "`mmoe_np.experiments.sweep.run_sweep` (serial). A model-step is one Adam step of one model of one run. "
            f"*End to end*: the {long}-step sweep's model-steps over its whole time (data, evaluations and set-up "
            f"included); *per step*: the difference between it and a {short}-step sweep, which leaves the fixed "
            "costs out.\n\n")
    text += markdown_table(["dtype", "runs x models x correlations", "steps", "seconds", "model-steps/s end to end",
                            "model-steps/s per step"], rows)
    return text, True


# --------------------------------------------------------------------------------- the report
def report_path(args, name):
    if args.out:
        path = Path(args.out)
        if DRY and not args.force and (ROOT / "benchmarks").resolve() in path.resolve().parents:
            raise outputs.OutputError(f"--out {path}: a dry run never writes into benchmarks/ (its numbers mean "
                                      "nothing); choose another --out")
        return outputs.prepare_file("--out", path, suffixes=(".md",))
    if DRY:
        return outputs.prepare_file("--out", outputs.scratch_dir("gpu-check-dry") / "gpu-check.md")
    return outputs.prepare_file("--out", outputs.default(f"benchmarks/gpu/{slug(name)}.md"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="the report's path (default: benchmarks/gpu/<gpu>.md)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="the parts to run")
    parser.add_argument("--detect", action="store_true", help="only say whether a GPU is usable")
    parser.add_argument("--dry-run", action="store_true", help="under the CUDA simulator, tiny sizes")
    parser.add_argument("--force", action="store_true", help="let a dry run write into benchmarks/")
    args = parser.parse_args(argv)
    usable, line = detect()
    if not usable or args.detect:
        print(line if not usable else f"gpu-check: {line}")
        return 0 if usable else NO_GPU
    name = device_name()
    try:
        path = report_path(args, name)
    except outputs.OutputError as error:
        print(f"gpu-check: {error}")
        return 1
    from mmoe_np.kernels import cuda as ck
    ck.speed_up_simulator()                                          # a dry run only
    sizes = SIZES["dry" if DRY else "real"]
    titles = {"device": "The device", "tests": "CUDA tests on the device", "kernels": "Kernels against cuBLAS",
              "step": "A training step against PyTorch", "sweep": "A sweep chunk"}
    functions = {"device": device_part, "tests": tests_part, "kernels": kernels_part, "step": step_part,
                 "sweep": sweep_part}
    started, sections, ok = time.perf_counter(), [], True
    global DEADLINE
    DEADLINE = started + 7.5 * 60
    for number, part in enumerate(args.parts, 1):
        print(f"gpu-check: {part} ...", flush=True)
        start = time.perf_counter()
        if start - started > LIMIT_S:
            text = f"Skipped: the parts before it took {start - started:.0f} s (the budget is {LIMIT_S} s)."
            passed = False
        else:
            try:
                text, passed = functions[part](sizes)
            except Exception:                                        # the report says what broke; the rest runs
                text, passed = "This part failed:\n\n```\n" + traceback.format_exc()[-4000:] + "\n```", False
        ok &= passed
        sections.append(f"## {number}. {titles[part]} ({time.perf_counter() - start:.0f} s)"
                        f"{'' if passed else ' -- FAILED'}\n\n{text}\n")
    total = time.perf_counter() - started
    head = (f"# GPU check: {name}{' (DRY RUN: simulated, tiny sizes; the numbers mean nothing)' if DRY else ''}\n\n"
            f"`python3 run.py gpu-check`, {time.strftime('%Y-%m-%d')}, {total:.0f} s in all; "
            f"{'every part passed' if ok else 'SOMETHING FAILED (see the parts marked FAILED)'}.\n\n")
    report = head + "\n".join(sections)
    path.write_text(report)
    print(report)
    print(f"gpu-check: report written to {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
