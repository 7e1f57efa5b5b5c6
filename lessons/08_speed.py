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
# Two words first. **numba** compiles a Python function made of loops over arrays into
# machine code the first time it is called ("just in time", JIT); that first call is slow, the
# later ones run at the speed of C. **BLAS** is the optimised library that NumPy calls for a
# matrix product (`@`); it already runs at the machine's speed, so compiling gains nothing
# there. A "fused" loop does in one pass over memory what NumPy does in several (for example
# add the bias, then take the ReLU: two passes and a temporary array).
#
# Without a GPU, numba.cuda runs the *same kernel source* in its CUDA simulator: one Python
# thread per CUDA thread. That checks correctness, and is far too slow to say anything about
# GPU speed — this lesson says so when it happens.
#
# **Every time in this lesson is a measurement of the machine that ran it.** Your machine
# will print other numbers, and on a busy machine the same cell prints other numbers from one
# run to the next; the sentences under the tables are made from the numbers printed with them
# (by `mmoe_np.findings`, as in lessons 02-07), so they say what happened on that machine.

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
from mmoe_np import findings
from mmoe_np.kernels import get_kernels
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.timing import seconds_per_call  # warm-up call, loop, median of 5 repeats

print("CUDA:", "simulated on the CPU (no GPU found)" if SIMULATED else "real GPU")
print(f"this machine: {os.cpu_count()} CPU cores; load average over the last minute "
      f"{os.getloadavg()[0]:.1f} (other programs' work, which competes with the timings)")

# %% [markdown]
# The first line says whether the CUDA part below runs on a GPU or in the simulator. The
# second describes the machine the timings come from: how many cores it has, and how busy it
# was (a load average near the number of cores means other programs kept every core busy,
# and the timings below are then slower and noisier than on an idle machine).
#
# ## The three backends agree
# Before timing anything: same inputs, same outputs (float64, within 1e-10 relative).
# `problem` makes random inputs for the four kernels; the agreement check uses tiny sizes.

# %%
def problem(B, D=100, U=16, E=8, K=2, seed=0):
    """Random inputs for the four kernels: X (B, D), the experts' W (D, U, E) and b (U, E), K gates'
    weights G (K, B, E) (each row sums to 1, as a softmax's does), and upstream gradients dF, dH."""
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((B, D)), 0.1 * rng.standard_normal((D, U, E)), rng.standard_normal((U, E))
    G = rng.dirichlet(np.ones(E), size=(K, B))
    return X, W, b, G, rng.standard_normal((K, B, U)), rng.standard_normal((B, U, E))


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
# Each line is the largest difference between a backend's outputs and NumPy's. A float64
# number carries about 16 significant digits, so sums taken in another order differ by
# around 1e-16 times their size: differences of that order are rounding, far inside the
# 1e-10 that the tests require; a wrong kernel would differ by about the size of the outputs.
#
# ## Timing at the paper's sizes (D = 100, 8 experts × 16 units, 2 tasks)
# `seconds_per_call` calls the function once first (numba compiles there: compiling is not
# what we want to time), then calls it in a loop long enough to measure, five times over, and
# returns the median of the five: one slow repeat, when another program took the core, does
# not move a median. A burst of other work can last longer than five repeats, so the whole
# measurement is made three times, in rounds that alternate NumPy and numba, and the table
# shows the median round.

# %%
batches = pick([128, 1024, 8192], [128, 1024])
kernel_names = ["experts_forward", "experts_backward", "gate_mix_forward", "gate_mix_backward"]
rounds = {}                                           # (backend, batch) -> per round, seconds per call of each kernel
for _ in range(3):                                    # rounds alternate the backends: a burst of other work hits both
    for backend in ("numpy", "numba"):
        kern = get_kernels(backend)
        for B in batches:
            X, W, b, G, dF, dH = problem(B)
            H = kern.experts_forward(X, W, b)
            calls = [lambda: kern.experts_forward(X, W, b), lambda: kern.experts_backward(X, W, H, dH, need_dX=False),
                     lambda: kern.gate_mix_forward(H, G), lambda: kern.gate_mix_backward(H, G, dF)]
            rounds.setdefault((backend, B), []).append([seconds_per_call(c, min_time=0.1) for c in calls])
times = {key: np.median(r, axis=0) for key, r in rounds.items()}   # the median round, kernel by kernel
print("microseconds per call (median of 3 rounds)")
print(f"{'batch':>5}  {'kernel':<18} {'numpy':>8} {'numba':>8}")
for B in batches:
    for i, name in enumerate(kernel_names):
        print(f"{B:5d}  {name:<18} {times['numpy', B][i] * 1e6:8.0f} {times['numba', B][i] * 1e6:8.0f}")

# %% [markdown]
# The table: each kernel's time per call, with NumPy and with numba, at each batch size.
# Time grows with the batch, since the work does; what matters is how the two columns compare
# at each size. On a busy machine (the load average above) expect surprises: numba's loops
# and BLAS split large problems over the cores and wait for the slowest part, so when another
# program holds a core the whole call waits for it, and one kernel can come out slower than
# NumPy's. At the largest batch, in sentences made from those numbers (in milliseconds:
# 1 ms = 1,000 us), with the **speed-up** from compiling, NumPy's time divided by numba's:

# %%
B = batches[-1]
numpy_ms, numba_ms = np.array(times["numpy", B]) * 1e3, np.array(times["numba", B]) * 1e3
for i, name in enumerate(kernel_names):
    print(findings.versus(f"NumPy's {name} at batch {B}, in milliseconds", numpy_ms[i], "numba's", numba_ms[i]))
gain = {part: numpy_ms[s].sum() / numba_ms[s].sum() for part, s in (("experts", slice(0, 2)), ("mixes", slice(2, 4)))}
print(findings.versus(f"at batch {B}, the gate mixes' speed-up from compiling, forward and backward together",
                      gain["mixes"], "the experts'", gain["experts"]))

# %% [markdown]
# The first four sentences compare the two backends kernel by kernel ("N times numba's" is a
# speed-up of N; "lower than numba's" means numba was the slower); the last compares the
# speed-ups: did the gate mixes gain more from compiling
# than the experts, on this machine? Why one would expect them to: the gate mixes compute a
# short sum over E = 8 experts for every output cell, a poor fit for NumPy's broadcasting,
# which builds a large temporary array (B, U, E) on the way; a compiled loop does it in one
# pass with no temporary. The experts' tensordot is a matrix product either way (BLAS in
# both backends); numba's version saves only the passes over memory for bias and ReLU, so its
# speed-up is bounded by how much of the time those passes took.
#
# And the CUDA kernels: on a GPU, timed like the others (after a synchronisation, since a
# kernel launch returns before the kernel ends); without one, in the simulator, timed only to
# show why a simulated run says nothing about a GPU's speed.

# %%
if SIMULATED:
    X, W, b, G, dF, dH = problem(B=4, D=8, U=4, E=2)
    kern = get_kernels("cuda")
    kern.module.speed_up_simulator()    # shorter Python thread switches while the simulator runs; results unchanged
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

# %% [markdown]
# In the simulator (the notebook says which ran), a problem of 4 rows and 8 features, about a
# thousand times smaller than the batch-128 one above, takes milliseconds: every CUDA thread
# is a Python thread. On a GPU the lines are real timings of the experts' product with the
# data already on the device.
#
# The CPU timings as a figure, one panel per batch size, with numba's speed-up over each pair
# of bars:

# %%
fig, axes = plt.subplots(1, len(batches), figsize=(4.8 * len(batches), 4.0), sharey=False)
for ax, B in zip(np.atleast_1d(axes), batches):
    x = np.arange(len(kernel_names))
    numpy_us, numba_us = np.array(times["numpy", B]) * 1e6, np.array(times["numba", B]) * 1e6
    ax.bar(x - 0.2, numpy_us, width=0.4, label="numpy")
    ax.bar(x + 0.2, numba_us, width=0.4, label="numba")
    for xi, top, speedup in zip(x, np.maximum(numpy_us, numba_us), numpy_us / numba_us):
        ax.annotate(f"×{speedup:.1f}", (xi, top), ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")                      # small and large times both visible
    ax.set_ylim(0.5 * min(numpy_us.min(), numba_us.min()), 3 * max(numpy_us.max(), numba_us.max()))
    ax.set_xticks(x, [n.replace("_", "\n") for n in kernel_names], fontsize=8)
    ax.set_title(f"batch {B}")
    ax.set_ylabel("microseconds per call")
fig.legend(*np.atleast_1d(axes)[0].get_legend_handles_labels(), loc="lower center", ncol=2)
fig.suptitle("Kernel times on the CPU of the machine that ran this notebook (median of 3 rounds)")
fig.tight_layout(rect=(0, 0.07, 1, 1))         # room below the panels for the legend
savefig(fig, "08_speed.png")

# %% [markdown]
# The figure draws the table: blue NumPy, orange numba, and above each pair NumPy's time over
# numba's (×2.0: numba took half the time; below ×1.0, numba was slower). The scale is
# logarithmic, so that the short gate mixes show next to the experts' products: equal heights
# of the gap between two bars mean equal speed-ups. Each panel has its own scale, since the
# times grow with the batch.

# %% [markdown]
# ## Many runs as one model: the run axis
# The paper's figures average 200 independent runs. Trained one by one, a run at batch 128 is
# a string of small products, and the Python around them costs as much as the arithmetic.
# Give a model a *sequence* of seeds and it holds one run per seed on a leading **run axis**:
# every parameter gains a leading axis (R, ...), the data may too (R, B, D), and every kernel
# computes all runs in one call. Each run's loss depends only on its own parameters, and Adam
# is elementwise, so minimising the *sum* of the R losses is exactly R separate trainings --
# the check below compares them number for number. (To learn MMoE, read the one-run code: the
# run axis is only ever a leading `...` in the shapes.) Lessons 04 and 07 already trained
# many runs at once this way; here we time it. First, R runs as one model:

# %%
R, steps, n_rounds = pick(16, 4), pick(100, 20), 3
sets = [mn.make_synthetic(n=2000, d=100, p=0.5, seed=r) for r in range(R)]
X_runs, Y_runs = np.stack([s.X for s in sets]), np.stack([s.Y for s in sets])     # (R, n, 100), (R, n, 2)


def train(seed, X, Y, n_steps, fused=True):
    """An MMoE trained with Adam; ``seed`` a list of R seeds -> R runs on the run axis, X (R, n, 100)."""
    model = mn.MMoE(n_features=100, seed=seed, backend="numba")
    mn.fit(model, X, Y, steps=n_steps, seed=seed, progress=False, fused=fused)   # seed: each run's minibatch order
    return model


def timed(fn):
    """``fn()``'s result, and the seconds the call took."""
    start = time.perf_counter()
    return fn(), time.perf_counter() - start


# %% [markdown]
# `train` trains R runs on the run axis when given a list of seeds, one run when given one
# seed; `timed` times one call. numba compiles its kernels anew for arrays with one more axis,
# so both shapes are trained for two steps first, untimed (the warm-up `seconds_per_call`
# did for us above). Then the R runs as one model and one by one, each run with the same seed
# both ways, in three rounds that alternate the two ways, and the median round of each:

# %%
train([0, 1], X_runs[:2], Y_runs[:2], 2)                  # warm-up, untimed: numba compiles for the run axis,
train(0, X_runs[0], Y_runs[0], 2)                         # and for one run
seconds = {"one model": [], "one by one": []}
for _ in range(n_rounds):
    many, t = timed(lambda: train(list(range(R)), X_runs, Y_runs, steps))
    seconds["one model"].append(t)
    singles, t = timed(lambda: [train(r, X_runs[r], Y_runs[r], steps) for r in range(R)])
    seconds["one by one"].append(t)
t_many, t_one_by_one = np.median(seconds["one model"]), np.median(seconds["one by one"])

# many.run(r): run r as a one-run model; .params.flat: all of a model's parameters as one flat array
worst = max(np.abs(many.run(r).params.flat - singles[r].params.flat).max() for r in range(R))
print(f"{R} runs of {steps} Adam steps, median of {n_rounds} rounds: as one model {t_many:.2f} s, one by one "
      f"{t_one_by_one:.2f} s (expert_kernel's shape on the run axis {many.params['expert_kernel'].shape})")
print(f"largest difference between the two ways' parameters {worst:.1e}")
print(findings.versus(f"the time of {R} runs one by one, in seconds", t_one_by_one, "the time as one model", t_many))

# %% [markdown]
# The first line gives the two times, and one parameter's shape on the run axis: R runs of
# the (100, 16, 8) expert kernel. The second gives the largest difference between any
# parameter of a run trained on the run axis and the same parameter trained alone. A batched
# product may add in another order than R single ones, so the two ways may differ by rounding
# (the design promises float64 agreement within 1e-10 relative); 0 means they agree to the
# last bit here. The sentence says which way was faster on this machine. What to expect: one
# model pays Python's overhead (the function calls, the checks, the loop) once per step
# instead of R times, so it saves most where that overhead is a large share of a step (small
# batches, many runs, a busy machine where every call waits for a core), and little once the
# products themselves dominate. Neither way is faster by rule. `fit` runs these models with
# the fused step (next section), whose overhead per step is already small; and one model's
# step works on R times the data at once, which may no longer fit in the CPU's caches. So on
# an idle machine one by one can be as fast, or faster: compare the sentence with the load
# printed at the top. `benchmarks/bench_sweep.py` measures a whole sweep against the floor
# set by the arithmetic.
#
# ## The whole step, fused
# The four kernels above are the pieces that the models' readable code (`forward`, the
# losses, `backward`) calls, one after another. On the numba backend `fit` goes further: for
# the paper's models it computes a whole training step -- forward, losses and backward -- in
# two matrix products and one compiled pass over the rows (`mmoe_np/kernels/cpu_step.py`),
# and that is what the run-axis timings above used. `fit(..., fused=False)` takes the
# readable path instead. One run, both ways, in alternating rounds as above:

# %%
train(0, X_runs[0], Y_runs[0], 2, fused=False)                                  # warm-up: the readable path
models, seconds = {}, {False: [], True: []}
for _ in range(n_rounds):                                                       # alternating rounds, as above
    for fused in (False, True):
        models[fused], t = timed(lambda: train(0, X_runs[0], Y_runs[0], steps, fused=fused))
        seconds[fused].append(t)
seconds = {fused: np.median(t) for fused, t in seconds.items()}
diff = np.abs(models[True].params.flat - models[False].params.flat).max()
print(f"one run of {steps} steps, median of {n_rounds} rounds: readable path {seconds[False]:.2f} s, fused step "
      f"{seconds[True]:.2f} s; largest difference between the two paths' parameters {diff:.1e}")
print(findings.versus(f"the time of {steps} steps on the readable path, in seconds", seconds[False],
                      "the fused step's", seconds[True]))

# %% [markdown]
# The two paths compute the same numbers in another order, so their parameters may differ by
# rounding (the tests hold them within 1e-10); the line shows by how much here. The sentence
# says how much time the fused step saved on this machine. Why one would expect it to: the
# readable path calls a dozen functions per step, each making new arrays and passing over
# memory again; the fused pass reads the inputs twice and keeps the rest in a few hundred bytes
# per row.
#
# **Reading the numbers.** What this lesson expects, and why: compiling pays where NumPy
# wastes passes over memory (the gate mixes, a whole step), and little where NumPy already
# calls BLAS (the experts' products); one model for many runs pays Python's overhead once.
# The sentences above say what happened on the machine that ran this notebook, and they need
# not agree with the expectation. Where they do not, look first at the load average printed
# at the top: on a machine whose cores are busy with other programs, times scatter by more
# than the differences between kernels (a sign of it in the table: times that do not grow
# with the batch). Run the lesson on an idle machine to see the kernels' own speeds.
# `benchmarks/RESULTS.md` compares whole steps with PyTorch and JAX on one machine, measured
# with the care a benchmark needs (fresh processes, alternating rounds).
#
# ## Exercises
# 1. Time `experts_forward` against a bare `X @ W.reshape(D, U*E)` at batch 8192. How close
#    to BLAS does the fused kernel get?
# 2. Set `NUMBA_NUM_THREADS=1` before running this lesson. Which kernels slow down?
# 3. Read `_tiled_product` in `mmoe_np/kernels/cuda_device.py` and count how many times each
#    element of X is read from global memory for one output tile.
# 4. Checkable: write the gate-weighted sum and its backward pass as your own numba kernels in
#    `lessons/exercises/ex08_gate_mix_kernels.py` (explicit loops under `@numba.njit`), then
#    `python -m mmoe_np.check lessons/exercises/ex08_gate_mix_kernels.py`: it compares them with
#    the NumPy oracle, also on strided views.
