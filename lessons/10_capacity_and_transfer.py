# %% [markdown]
# # Lesson 10 — When does sharing help? Capacity and transfer
#
# **You will learn** to *measure* whether multi-task learning helped a task, how the answer
# depends on the capacity of the shared module — the central message of Wu, Zhang & Ré,
# "Understanding and Improving Information Transfer in Multi-Task Learning" (ICLR 2020) —
# and why the answer also depends on which single-task baseline you measure against.
#
# A task's **transfer** compares it trained with the other tasks (multi-task, MTL) against
# trained alone (single-task, STL), on the same data, with the same hidden width:
#
# $$\mathrm{transfer}_k = \frac{L_k^{\text{STL}} - L_k^{\text{MTL}}}{L_k^{\text{STL}}}
#   = 1 - \frac{L_k^{\text{MTL}}}{L_k^{\text{STL}}}$$
#
# Positive: the other task helped (**positive transfer**); negative: it hurt (**negative
# transfer**). Wu et al. show, for linear and ReLU models, that the shared module's
# capacity decides a lot: too small and the tasks compete for it; large enough and each
# task can keep its own directions, so transfer fades.
#
# We use the paper's synthetic tasks (lesson 01) at several correlations, a Shared-Bottom
# whose bottom width S is the capacity, and single-task networks with the same width S.
# Only 2000 training rows per task: with plenty of data a task needs no help.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np import findings, stats
from mmoe_np.experiments.jobs import run_jobs
from mmoe_np.lesson_utils import pick, savefig

WIDTHS = pick((2, 4, 8, 16, 32, 64), (2, 16))
CORRELATIONS = pick((0.0, 0.5, 1.0), (0.0, 1.0))
SEEDS = range(pick(6, 1))
STEPS, N_TRAIN, N_TEST, N_VAL = pick(1500, 150), 2000, 2000, 1000

# %% [markdown]
# ## One paired run
# One job draws one data set and trains on it a Shared-Bottom of width S (both tasks) and two
# single-task nets of width S (one per task), so the three models see the same rows: the run
# is **paired**. Every model trains the same way (Adam at 1e-2, batches of 128, `STEPS`
# steps) and is scored on held-out test rows; a separate validation set will let us pick widths
# without looking at the test rows. `run_jobs` runs the jobs on two processes; every job is
# seeded and fixes its own thread counts, so the numbers are the same run serially.

# %%
def train_and_score(model, data, columns, seed):
    """Train ``model`` on the first N_TRAIN rows (targets: ``columns`` of Y); return its test and
    validation losses per task, two arrays (K,)."""
    X, Y = data.X, data.Y[:, columns]
    train, test, val = slice(0, N_TRAIN), slice(N_TRAIN, N_TRAIN + N_TEST), slice(N_TRAIN + N_TEST, None)
    mn.fit(model, X[train], Y[train], optimizer=mn.Adam(lr=1e-2), steps=STEPS, batch_size=128, seed=seed,
           eval_every=STEPS, progress=False)
    return mn.evaluate(model, X[test], Y[test]), mn.evaluate(model, X[val], Y[val])


def job(p, width, seed):
    """Shared-Bottom of width S vs two single-task nets of width S: (test, validation) losses (2,) of each."""
    data = mn.make_synthetic(n=N_TRAIN + N_TEST + N_VAL, p=p, seed=seed)
    shared = mn.SharedBottom(n_features=100, n_tasks=2, bottom_units=width, tower_units=8, seed=seed, backend="numba")
    multi = train_and_score(shared, data, [0, 1], seed)
    alone = [train_and_score(mn.SingleTask(n_features=100, hidden_units=width, tower_units=8, seed=seed + k,
                                           backend="numba"), data, [k], seed) for k in range(2)]
    return multi, tuple(np.concatenate([a[i] for a in alone]) for i in range(2))


jobs = [dict(p=p, width=w, seed=s) for p in CORRELATIONS for w in WIDTHS for s in SEEDS]
results = run_jobs(job, jobs, n_jobs=pick(2, 1))
shape = (len(CORRELATIONS), len(WIDTHS), len(SEEDS), 2)                      # (correlation, width, run, task)
multi, multi_val = (np.array([r[0][i] for r in results]).reshape(shape) for i in range(2))
single, single_val = (np.array([r[1][i] for r in results]).reshape(shape) for i in range(2))

# %% [markdown]
# ## Transfer, run by run
# Losses differ a lot from one run to the next (each run draws its own tasks), so we compare
# the models *within* each run, as lessons 04 and 07 did: the ratio $L^{\text{MTL}}/L^{\text{STL}}$
# of each run (its two tasks' mean losses), averaged on a log scale -- a geometric mean --
# over the runs, with a 95% t interval (`mmoe_np.stats.paired_ratio`). A ratio below 1 is
# positive transfer (transfer = 1 − ratio); an interval that includes 1 means these runs
# cannot tell.

# %%
run_multi, run_single = multi.mean(-1), single.mean(-1)                   # (correlation, width, run)
ratio = {(i, j): stats.paired_ratio(run_multi[i, j], run_single[i, j]).ratio
         for i in range(len(CORRELATIONS)) for j in range(len(WIDTHS))}
cell = lambda r: f"{r.estimate:.2f} [{r.low:.2f}, {r.high:.2f}]" if not r.too_few else f"{r.estimate:.2f} (no interval)"
print("ratio Shared-Bottom / single-task test loss, geometric mean of the runs [95% t interval]")
print("width S   " + "".join(f"{w:>19d}" for w in WIDTHS))
for i, p in enumerate(CORRELATIONS):
    print(f"corr {p:3.1f}  " + "".join(f"{cell(ratio[i, j]):>19s}" for j in range(len(WIDTHS))))
print(f"\nEvery correlation together ({len(CORRELATIONS) * len(SEEDS)} paired runs per width):")
for j, w in enumerate(WIDTHS):
    pooled = stats.paired_ratio(run_multi[:, j].ravel(), run_single[:, j].ravel())
    print(findings.paired("Shared-Bottom's test loss", "the single-task nets'", pooled, ratio="SB/single",
                          where=f" at width {w}"))

# %% [markdown]
# The table shows each correlation on its own (with a few runs per cell its intervals are
# wide; with fewer than 3 runs there is none); the lines below it pool the correlations, one
# finding per width, each with its own interval. Read them against Wu et al.'s three regimes:
# negative transfer when the shared module is too small, positive transfer in between,
# fading transfer when it is large enough to hold both tasks' solutions side by side. Compare
# also the rows of the table: does the task correlation move the ratio as much as the width?
#
# ## The losses behind the ratio
# A ratio has two sides. Here are the losses themselves (geometric mean over every run and
# correlation, with a 95% band), and the number of parameters of each model: one single-task
# net against the 2000 training targets of its task, the Shared-Bottom against the 4000
# targets of both tasks.

# %%
def by_width(losses):
    """Geometric mean over correlations and runs, for each width, with its 95% t band: three arrays (W,)."""
    return stats.geometric_band(losses.transpose(1, 0, 2).reshape(len(WIDTHS), -1), axis=1)


single_curve, multi_curve = by_width(run_single), by_width(run_multi)
n_single = [mn.SingleTask(n_features=100, hidden_units=w, tower_units=8).n_params for w in WIDTHS]
n_multi = [mn.SharedBottom(n_features=100, n_tasks=2, bottom_units=w, tower_units=8).n_params for w in WIDTHS]
print(f"{'width':>5} {'single-task: parameters':>24} {'test loss':>10} {'Shared-Bottom: parameters':>27} {'test loss':>10}")
for j, w in enumerate(WIDTHS):
    print(f"{w:5d} {n_single[j]:24d} {single_curve[0][j]:10.3f} {n_multi[j]:27d} {multi_curve[0][j]:10.3f}")
threshold = {}                                  # the width at which parameters = training targets (linear in S)
for name, curve, params, targets in (("single-task", single_curve, n_single, N_TRAIN),
                                     ("Shared-Bottom", multi_curve, n_multi, 2 * N_TRAIN)):
    per_unit = (params[-1] - params[0]) / (WIDTHS[-1] - WIDTHS[0])
    threshold[name] = WIDTHS[0] + (targets - params[0]) / per_unit
    peak = int(np.argmax(curve[0]))
    print(f"{name}: highest test loss at width {WIDTHS[peak]} ({params[peak]:,} parameters); as many parameters as "
          f"training targets ({targets:,}) at width {threshold[name]:.0f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for i, p in enumerate(CORRELATIONS):
    r = [ratio[i, j] for j in range(len(WIDTHS))]
    x = np.array(WIDTHS) * 1.06 ** (i - 1)                                     # side by side, not on top
    axes[0].errorbar(x, [v.estimate for v in r], yerr=[[v.estimate - v.low for v in r], [v.high - v.estimate for v in r]],
                     fmt="o-", capsize=3, label=f"correlation {p:g}", color=f"C{i}")
    axes[0].scatter(np.repeat(x, len(SEEDS)), (run_multi[i] / run_single[i]).ravel(), s=8, alpha=0.3, color=f"C{i}")
axes[0].axhline(1, color="k", lw=0.8)
axes[0].set(ylabel="L_MTL / L_STL (below 1: positive transfer)", title="Transfer vs capacity (dots: single runs)")
for name, curve, color in (("single-task", single_curve, "C7"), ("Shared-Bottom", multi_curve, "C3")):
    axes[1].plot(WIDTHS, curve[0], "o-", label=name, color=color)
    axes[1].fill_between(WIDTHS, curve[1], curve[2], color=color, alpha=0.15)
    axes[1].axvline(threshold[name], color=color, ls=":", lw=1.2, label=f"{name}: parameters = targets")
axes[1].set(ylabel="test loss (geometric mean, 95% band)", title="The losses behind it")
for ax in axes:
    ax.set(xscale="log", yscale="log", xlabel="width S (shared bottom = each single-task net)")
    ax.set_xticks(WIDTHS, [str(w) for w in WIDTHS], minor=False)
    ax.set_xticks([], minor=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
savefig(fig, "10_capacity_and_transfer.png")

# %% [markdown]
# **A loss that rises, then falls.** Look at the single-task curve (grey). A test loss that
# rises with the width and falls again is the shape of *double descent* (Belkin et al., PNAS
# 2019; Nakkiran et al., ICLR 2020): the test loss of a network peaks around the size at
# which it has about as many parameters as training targets -- just enough to fit every
# training target exactly, in essentially one way -- and falls again beyond it, where many
# exact fits exist and gradient descent tends to find smoother ones. The dotted lines mark
# where each model has as many parameters as targets (printed above): the Shared-Bottom
# fits two targets per row, so its line sits at about twice the width. Compare them with
# where each curve is highest; on a grid of widths that double, a peak can only be located
# to within a step. At widths where the single-task nets are near their threshold and the
# Shared-Bottom is still well below its own, a positive transfer is at least partly the
# *regularisation* of training one bottom on twice the targets, not knowledge passed from
# one task to the other.
#
# ## Against the best single-task net
# So the same-width baseline can be a poor one: a single-task net at its peak is the worst
# single-task net of all. A practitioner would tune each model's width. We pick, at each
# correlation, the width with the lowest validation loss -- once for the single-task nets,
# once for the Shared-Bottom -- and compare the two on the test rows, paired by run. (When the
# chosen width is the smallest of the grid, a still smaller net might do better still: the
# comparison then, if anything, flatters the Shared-Bottom.)

# %%
def best_width(val):
    """Index of the width with the lowest validation loss (geometric mean over runs), per correlation: (C,)."""
    return np.log(val).mean(axis=-1).argmin(axis=-1)


rows = np.arange(len(CORRELATIONS))
best_single, best_multi = best_width(single_val.mean(-1)), best_width(multi_val.mean(-1))
for i, p in enumerate(CORRELATIONS):
    print(f"correlation {p:g}: chosen on validation, single-task width {WIDTHS[best_single[i]]}, "
          f"Shared-Bottom width {WIDTHS[best_multi[i]]}")
tuned = stats.paired_ratio(run_multi[rows, best_multi].ravel(), run_single[rows, best_single].ravel())
print(findings.paired("the tuned Shared-Bottom's test loss", "the tuned single-task nets'", tuned,
                      ratio="SB/single", where=" (each at its own best width)"))

# %% [markdown]
# ## Reading it
# The transfer a study reports depends on its baseline. Against single-task nets of the
# *same* width -- Wu et al.'s definition, which isolates what sharing a module of that
# capacity does -- the findings above show how transfer moves with the width. Against the
# *best* single-task nets, the last finding says whether sharing beats what a tuned
# single-task model reaches on its own; with 2000 rows per task, that is the question a
# practitioner asks. When the two answers differ, the same-width transfer was measured
# against over-fitting baselines.
#
# Wu et al.'s advice carries over: pick the shared module's size deliberately (smaller than
# the sum of the single-task models is often right), and measure transfer -- against a
# baseline that is itself tuned -- instead of assuming it.
#
# ## Exercises
# 1. Repeat with `N_TRAIN = 8000`. Does positive transfer survive when every task has
#    enough data of its own?
# 2. Replace the Shared-Bottom by an MMoE with a varying number of experts
#    (`n_experts` in 1, 2, 4, 8, 16; `expert_units=4`). Is the number of experts a
#    capacity knob in the same way?
# 3. Compute the transfer of each task separately (do not average over the last axis).
#    Is the transfer symmetric between the two tasks?
# 4. Checkable: measure transfer, for losses and for AUC (with your `roc_auc` of ex09), in
#    `lessons/exercises/ex10_transfer.py`, then
#    `python -m mmoe_np.check lessons/exercises/ex10_transfer.py`.
