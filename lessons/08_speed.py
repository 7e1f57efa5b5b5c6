# %% [markdown]
# # Lesson 08 — Speed: the same kernels in NumPy, Numba on the CPU, and numba.cuda
#
# **You will learn** why the experts and the gate mixes are the right pieces to compile,
# how the three backends implement the same contract (`mmoe_np/kernels/`), and how to time
# code fairly (warm-up for the JIT, repeats, the median: see `mmoe_np/timing.py`).
#
# | backend | file | how |
# |---|---|---|
# | numpy | `reference.py` | `np.tensordot` / `np.einsum`: the oracle |
# | numba | `cpu.py` | BLAS for the products, fused compiled loops for bias+ReLU, the ReLU mask, the mixes |
# | cuda | `cuda.py` | shared-memory tiled products with fused epilogues, one thread per output cell for the mixes |
#
# Without a GPU, numba.cuda runs the *same kernel source* in its CUDA simulator: one Python
# thread per CUDA thread. That checks correctness, and is far too slow to say anything about
# GPU speed — this lesson says so when it happens.

# %%
import os
import shutil

if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"      # must happen before numba is imported
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

import time

import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.kernels import get_kernels
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.timing import seconds_per_call  # warm-up call, loop, median of 5 repeats

print("CUDA:", "simulated on the CPU (no GPU found)" if SIMULATED else "real GPU")


def problem(B, D=100, U=16, E=8, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((B, D)), 0.1 * rng.standard_normal((D, U, E)), rng.standard_normal((U, E))
    G = rng.dirichlet(np.ones(E), size=(K, B))
    return X, W, b, G, rng.standard_normal((K, B, U)), rng.standard_normal((B, U, E))


# %% [markdown]
# ## The three backends agree
# Before timing anything: same inputs, same outputs (float64, within 1e-10 relative).

# %%
X, W, b, G, dF, dH = problem(B=8, D=6, U=4, E=3)
oracle = get_kernels("numpy")
for name in ("numba", "cuda"):
    kern = get_kernels(name)
    H = kern.experts_forward(X, W, b)
    err = np.abs(H - oracle.experts_forward(X, W, b)).max()
    F = kern.gate_mix_forward(H, G)
    err = max(err, np.abs(F - oracle.gate_mix_forward(H, G)).max())
    print(f"{name}: max abs difference from the NumPy oracle {err:.1e}")

# %% [markdown]
# ## Timing at the paper's sizes (D = 100, 8 experts × 16 units, 2 tasks)

# %%
batches = pick([128, 1024, 8192], [128, 1024])
kernel_names = ["experts_forward", "experts_backward", "gate_mix_forward", "gate_mix_backward"]
times = {}
for backend in ("numpy", "numba"):
    kern = get_kernels(backend)
    for B in batches:
        X, W, b, G, dF, dH = problem(B)
        H = kern.experts_forward(X, W, b)
        calls = [lambda: kern.experts_forward(X, W, b), lambda: kern.experts_backward(X, W, H, dH, need_dX=False),
                 lambda: kern.gate_mix_forward(H, G), lambda: kern.gate_mix_backward(H, G, dF)]
        times[backend, B] = [seconds_per_call(c, min_time=0.1) for c in calls]
for B in batches:
    row = "  ".join(f"{n}: {times['numpy', B][i] * 1e6:7.0f} -> {times['numba', B][i] * 1e6:6.0f} us"
                    for i, n in enumerate(kernel_names))
    print(f"batch {B:5d}  numpy -> numba   {row}")

if SIMULATED:
    X, W, b, G, dF, dH = problem(B=4, D=8, U=4, E=2)
    kern = get_kernels("cuda")
    kern.module.speed_up_simulator()
    t = seconds_per_call(lambda: kern.experts_forward(X, W, b), min_time=0.05, repeats=3)
    print(f"cuda (SIMULATED, batch 4, tiny sizes): experts_forward {t * 1e3:.1f} ms -- "
          "a correctness check, not a GPU timing")
else:
    kern = get_kernels("cuda")
    from numba import cuda
    for B in batches:
        X, W, b, G, dF, dH = (cuda.to_device(a) for a in problem(B))
        H = kern.experts_forward(X, W, b)
        t = seconds_per_call(lambda: (kern.experts_forward(X, W, b), cuda.synchronize()))
        print(f"cuda (GPU) batch {B}: experts_forward {t * 1e6:.0f} us")

fig, axes = plt.subplots(1, len(batches), figsize=(4.8 * len(batches), 3.8), sharey=False)
for ax, B in zip(np.atleast_1d(axes), batches):
    x = np.arange(len(kernel_names))
    ax.bar(x - 0.2, np.array(times["numpy", B]) * 1e6, width=0.4, label="numpy")
    ax.bar(x + 0.2, np.array(times["numba", B]) * 1e6, width=0.4, label="numba")
    ax.set_xticks(x, [n.replace("_", "\n") for n in kernel_names], fontsize=8)
    ax.set_title(f"batch {B}")
    ax.set_ylabel("microseconds per call")
np.atleast_1d(axes)[0].legend()
fig.suptitle("Kernel times on this machine's CPU (median of 5)")
fig.tight_layout()
savefig(fig, "08_speed.png")

# %% [markdown]
# ## Many runs as one model: the run axis
# The paper's figures average 200 independent runs. Trained one by one, a run at batch 128 is
# a string of small products, and the Python around them costs as much as the arithmetic.
# Give a model a *sequence* of seeds and it holds one run per seed on a leading **run axis**:
# every parameter gains a leading axis (R, ...), the data may too (R, B, D), and every kernel
# computes all runs in one call. Each run's loss depends only on its own parameters, and Adam
# is elementwise, so minimising the *sum* of the R losses is exactly R separate trainings --
# the check below compares them number for number. (To learn MMoE, read the one-run code: the
# run axis is only ever a leading `...` in the shapes.)

# %%
R, steps = pick(16, 4), pick(300, 20)
sets = [mn.make_synthetic(n=2000, d=100, p=0.5, seed=r) for r in range(R)]
X_runs, Y_runs = np.stack([s.X for s in sets]), np.stack([s.Y for s in sets])     # (R, n, 100), (R, n, 2)

start = time.perf_counter()
many = mn.MMoE(n_features=100, seed=list(range(R)), backend="numba")              # params: (R, ...)
mn.fit(many, X_runs, Y_runs, steps=steps, seed=list(range(R)), progress=False)   # one minibatch order per run
t_many = time.perf_counter() - start

start = time.perf_counter()
singles = []
for r in range(R):
    one = mn.MMoE(n_features=100, seed=r, backend="numba")
    mn.fit(one, X_runs[r], Y_runs[r], steps=steps, seed=r, progress=False)
    singles.append(one)
t_one_by_one = time.perf_counter() - start

worst = max(np.abs(many.run(r).params.flat - singles[r].params.flat).max() for r in range(R))
print(f"{R} runs of {steps} Adam steps: one by one {t_one_by_one:.2f} s, as one model {t_many:.2f} s "
      f"({t_one_by_one / t_many:.1f}x); largest difference between the two ways' parameters {worst:.1e}")

# %% [markdown]
# The parameters agree to rounding: a batched product may add in another order than R
# single ones. The time saved grows with R, up to the point where the products themselves
# dominate; `benchmarks/bench_sweep.py` measures a whole sweep against that floor.

# %% [markdown]
# **Reading the numbers.** The gate mixes gain most from compiling (a loop over E = 8 per
# output cell is a poor fit for NumPy's broadcasting). The experts' tensordot is a matrix
# product either way; numba's version saves the passes over memory for bias and ReLU. The
# whole-step picture — where the NumPy code around the kernels starts to dominate — is in
# `benchmarks/RESULTS.md`.
#
# ## Exercises
# 1. Time `experts_forward` against a bare `X @ W.reshape(D, U*E)` at batch 8192. How close
#    to BLAS does the fused kernel get?
# 2. Set `NUMBA_NUM_THREADS=1` before running this lesson. Which kernels slow down?
# 3. Read `_tiled_product` in `mmoe_np/kernels/cuda.py` and count how many times each
#    element of X is read from global memory for one output tile.
# 4. Checkable: write the gate-weighted sum and its backward pass as your own numba kernels in
#    `lessons/exercises/ex08_gate_mix_kernels.py` (explicit loops under `@numba.njit`), then
#    `python -m mmoe_np.check lessons/exercises/ex08_gate_mix_kernels.py`: it compares them with
#    the NumPy oracle, also on strided views.
