# %% [markdown]
# # Lesson 11 — Tasks with their own data: covariate shift and the covariance similarity
#
# **You will learn** how to train a multi-task model when every task has its *own* inputs,
# how to score how alike two tasks' inputs are before training anything, and what a
# growing difference between the inputs does to Shared-Bottom and MMoE.
#
# In the paper every task reads the same x. Often each task comes with its own data set
# (different users, different sources). mmoe-np takes **per-task inputs** everywhere: pass
# lists `[X_1, ..., X_K]` and `[Y_1, ..., Y_K]` to `fit`, `evaluate` and `forward`; each step
# draws a minibatch from every task's own data, and task k's loss only sees task k's rows.
#
# ## The covariance similarity score (Wu, Zhang & Ré 2020)
# Keep the top directions of each task's input covariance `X_iᵀX_i = U D Uᵀ` (99% of its
# singular values), `A_i = U_i D_i^½`, and compare:
#
# $$\mathrm{score} = \frac{\lVert A_1^\top A_2\rVert_F}{\left(\lVert A_1^\top A_1\rVert_F\,\lVert A_2^\top A_2\rVert_F\right)^{1/2}}$$
#
# 1 when the two covariances are proportional, 0 when the inputs live in orthogonal
# subspaces. (The paper's denominator is `‖A_1‖_F ‖A_2‖_F`, which gives identical inputs a
# score below 1; `mmoe_np.relatedness.covariance_similarity` explains the change.)

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np import findings, stats
from mmoe_np.experiments.jobs import run_jobs
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.relatedness import covariance_similarity

# %% [markdown]
# ## Inputs that drift apart
# `make_multitask(..., input_shift=s)` gives each task its own inputs. The features are cut
# into one block per task; as s grows from 0 to 1 task k's inputs concentrate on its own
# block (every covariance keeps trace d). The targets follow the paper's recipe with task
# weight vectors at cosine `p`.

# %%
SHIFTS = pick((0.0, 0.5, 0.8, 0.95, 1.0), (0.0, 1.0))
for s in SHIFTS:
    data = mn.make_multitask(n=2000, n_tasks=2, p=0.9, input_shift=s, seed=0)
    print(f"input_shift {s:4.2f}: covariance similarity {covariance_similarity(*data.X):.3f}")

fig, axes = plt.subplots(1, len(SHIFTS), figsize=(2.6 * len(SHIFTS), 2.6), sharey=True)
for ax, s in zip(np.atleast_1d(axes), SHIFTS):
    v = mn.make_multitask(n=10, n_tasks=2, input_shift=s, seed=0).input_variances
    ax.plot(v[0], label="task 1")
    ax.plot(v[1], label="task 2")
    ax.set(title=f"s = {s:g}", xlabel="feature")
np.atleast_1d(axes)[0].set_ylabel("input variance")
np.atleast_1d(axes)[0].legend()
savefig(fig, "11_input_variances.png")

# %% [markdown]
# The score is printed for each shift; the figure shows each task's input variance per
# feature. At s = 0 both tasks spread their variance over every feature alike; at s = 1
# each task's variance sits on its own block of features, by construction of the generator.
#
# ## Training with per-task inputs
# Shared-Bottom and MMoE against one single-task net per task, 2000 training rows per task,
# at correlation 0.9 -- tasks whose *targets* are closely related, so any change comes from
# the inputs. Transfer needs models of the same width (lesson 10). For Shared-Bottom and the
# single-task nets that is one number: a hidden layer of 32 units, which each tower reads.
# For MMoE it is two numbers, and we train both versions:
#
# - **MMoE 4×8**: 4 experts of 8 units, 32 units in all, like the Shared-Bottom's bottom --
#   but each tower reads a mixture of 8 units, a quarter of what the other models' towers read;
# - **MMoE 4×32**: 4 experts of 32 units, so each tower reads 32 units like the others --
#   with four times the hidden units (and parameters) of the Shared-Bottom's bottom.
#
# If MMoE 4×8 does worse only because its towers read so little, MMoE 4×32 will show it.
#
# Training is what costs here, so we train at three shifts only -- inputs alike (s = 0),
# mostly apart (0.8), fully apart (1) -- with 8 paired runs at each: enough runs to compare
# the first shift with the last, run by run.

# %%
STEPS, N_TRAIN, N_TEST, WIDTH = pick(1500, 150), 2000, 2000, 32
TRAIN_SHIFTS, SEEDS = pick((0.0, 0.8, 1.0), (0.0, 1.0)), range(pick(8, 1))
MODELS = {"Shared-Bottom": lambda seed: mn.SharedBottom(n_features=100, n_tasks=2, bottom_units=WIDTH, tower_units=8,
                                                        seed=seed, backend="numba"),
          "MMoE 4x8": lambda seed: mn.MMoE(n_features=100, n_tasks=2, n_experts=4, expert_units=WIDTH // 4,
                                           tower_units=8, seed=seed, backend="numba"),
          "MMoE 4x32": lambda seed: mn.MMoE(n_features=100, n_tasks=2, n_experts=4, expert_units=WIDTH,
                                            tower_units=8, seed=seed, backend="numba")}
NAMES = ["single-task", *MODELS]
COLORS = {"single-task": "C7", "Shared-Bottom": "C0", "MMoE 4x8": "C2", "MMoE 4x32": "C1"}   # the same in every panel
single_params = mn.SingleTask(n_features=100, hidden_units=WIDTH, tower_units=8).n_params
print(f"parameters: single-task {single_params:,} per task ({2 * single_params:,} for both), "
      + ", ".join(f"{name} {make(0).n_params:,}" for name, make in MODELS.items()))

# %% [markdown]
# Each job below draws one data set (two tasks, each with its own inputs) and trains every
# model on it: one Shared-Bottom or MMoE for both tasks, and one single-task net per task on
# that task's rows alone.

# %%
def train_and_test(model, train, test, seed):
    """Adam at 1e-2, minibatches of 128 rows of every task, STEPS steps; the test loss of each task (K,)."""
    mn.fit(model, *train, optimizer=mn.Adam(lr=1e-2), steps=STEPS, batch_size=128, seed=seed, eval_every=STEPS,
           progress=False)
    return mn.evaluate(model, *test)


def job(shift, seed):
    """One paired run: every model on the same per-task data; each model's test loss (mean of the tasks)."""
    data = mn.make_multitask(n=N_TRAIN + N_TEST, n_tasks=2, p=0.9, input_shift=shift, seed=seed)
    (X_train, Y_train), (X_test, Y_test) = data.split((N_TRAIN / (N_TRAIN + N_TEST), N_TEST / (N_TRAIN + N_TEST)))
    out = {"score": covariance_similarity(*X_train)}                          # lists: [X_1, X_2], [Y_1, Y_2]
    for name, make in MODELS.items():
        out[name] = train_and_test(make(seed), (X_train, Y_train), (X_test, Y_test), seed).mean()
    alone = [mn.SingleTask(n_features=100, hidden_units=WIDTH, tower_units=8, seed=seed + k, backend="numba")
             for k in range(2)]
    out["single-task"] = np.mean([train_and_test(alone[k], (X_train[k], Y_train[k]), (X_test[k], Y_test[k]), seed)[0]
                                  for k in range(2)])
    return out


results = run_jobs(job, [dict(shift=s, seed=k) for s in TRAIN_SHIFTS for k in SEEDS], n_jobs=pick(2, 1))
loss = {name: np.array([r[name] for r in results]).reshape(len(TRAIN_SHIFTS), len(SEEDS)) for name in NAMES}  # (shift, run)
score = np.array([r["score"] for r in results]).reshape(len(TRAIN_SHIFTS), len(SEEDS)).mean(1)

# %% [markdown]
# `run_jobs` runs the jobs on two processes (each seeded, with its own fixed thread counts, so
# the numbers are those of a serial run). Each job trains all four models on the same data:
# the runs are paired, and every comparison below is made within runs -- the geometric mean
# of the per-run ratios with a 95% t interval, as in lesson 10.

# %%
geo = {name: np.exp(np.log(v).mean(1)) for name, v in loss.items()}                   # (shift,)
print(f"{'shift':>5} {'score':>6} " + "".join(f"{n:>14s}" for n in NAMES) + "   ratio to single-task: "
      + " ".join(f"{n:>13s}" for n in MODELS))
for i, s in enumerate(TRAIN_SHIFTS):
    ratios = " ".join(f"{geo[n][i] / geo['single-task'][i]:>13.2f}" for n in MODELS)
    print(f"{s:5.2f} {score[i]:6.3f} " + "".join(f"{geo[n][i]:14.3f}" for n in NAMES) + f"                        {ratios}")
print(f"\nEvery shift together ({loss['single-task'].size} paired runs):")
for name in MODELS:
    print(findings.paired(f"{name}'s test loss", "the single-task nets'",
                          stats.paired_ratio(loss[name].ravel(), loss["single-task"].ravel()), ratio=f"{name.replace(' ', '-')}/single"))
print(findings.paired("MMoE 4x32's test loss", "MMoE 4x8's",
                      stats.paired_ratio(loss["MMoE 4x32"].ravel(), loss["MMoE 4x8"].ravel()), ratio="4x32/4x8"))
print(findings.paired("MMoE 4x32's test loss", "Shared-Bottom's",
                      stats.paired_ratio(loss["MMoE 4x32"].ravel(), loss["Shared-Bottom"].ravel()), ratio="4x32/SB"))

# %% [markdown]
# The table gives the test losses (geometric means of the runs) and each model's ratio to
# the single-task nets at every shift (below 1: positive transfer). The findings pool the
# shifts. The last two answer the question about MMoE's width: how much of MMoE 4×8's
# result comes from towers that read 8 units, and whether an MMoE whose towers read as much
# as the Shared-Bottom's does better than it. A wider MMoE also has more parameters (printed
# above), so a gain of MMoE 4×32 is not the gating's alone either.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.0))
for j, name in enumerate(MODELS):
    r = [stats.paired_ratio(loss[name][i], loss["single-task"][i]).ratio for i in range(len(TRAIN_SHIFTS))]
    x = score + 0.012 * (j - 1)                                                # side by side, not on top
    axes[0].errorbar(x, [v.estimate for v in r], yerr=[[v.estimate - v.low for v in r], [v.high - v.estimate for v in r]],
                     fmt="o-", capsize=3, label=name, color=COLORS[name])
axes[0].axhline(1, color="k", lw=0.8)
axes[0].set(xlabel="covariance similarity of the two tasks' inputs", ylabel="L_model / L_single-task (paired, 95%)",
            yscale="log", title="Transfer as the inputs drift apart (below 1: positive)")
axes[0].invert_xaxis()
for name in NAMES:
    axes[1].plot(TRAIN_SHIFTS, geo[name], "o-", label=name, color=COLORS[name])
    axes[1].scatter(np.repeat(TRAIN_SHIFTS, len(SEEDS)), loss[name].ravel(), s=8, alpha=0.3, color=COLORS[name])
axes[1].set(xlabel="input_shift s", ylabel="test loss (line: geometric mean; dots: runs)", yscale="log",
            title="The losses behind it")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.yaxis.set_major_locator(plt.LogLocator(subs=(1, 2, 3, 5)))           # log axis, plain numbers
    ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
fig.tight_layout()
savefig(fig, "11_covariate_shift.png")

# %% [markdown]
# ## Which side of the transfer moves?
# Transfer compares two losses, so a change in transfer has two possible causes: the
# multi-task model getting *worse* as the inputs drift apart (the story of misaligned
# covariances, Wu et al.), or the single-task baseline getting *better*. The findings below
# separate them: each model's loss at the last shift against the first (paired by run: the
# same seed draws the same tasks), then each model's transfer ratio at the last shift
# against the first.

# %%
first, last = 0, len(TRAIN_SHIFTS) - 1
for name in NAMES:
    whose, own = ("the single-task nets'", "their") if name == "single-task" else (f"{name}'s", "its")
    print(findings.paired(f"{whose} test loss at s = {TRAIN_SHIFTS[last]:g}",
                          f"{own} loss at s = {TRAIN_SHIFTS[first]:g}",
                          stats.paired_ratio(loss[name][last], loss[name][first]), ratio="last/first"))
for name in MODELS:
    transfer_ratio = {i: loss[name][i] / loss["single-task"][i] for i in (first, last)}   # (run,) each
    print(findings.paired(f"{name}'s ratio to the single-task nets at s = {TRAIN_SHIFTS[last]:g}",
                          f"its ratio at s = {TRAIN_SHIFTS[first]:g}",
                          stats.paired_ratio(transfer_ratio[last], transfer_ratio[first]), ratio="last/first"))

# %% [markdown]
# **Reading the printout.** As s grows each task's inputs vary along fewer directions. If
# every loss, the single-task baseline's included, falls from the first shift to the last,
# then every model, shared or not, got an easier problem -- and a transfer that moves little
# means that inputs sharing fewer directions did not make sharing measurably worse here. The
# last findings say whether each model's transfer changed at all. Wu et al. make the
# misalignment story precise for linear models (and propose to align the inputs, exercise
# 3); this experiment shows why one must look at both losses, at the sizes of the models
# compared, and at the noise, before crediting it.
#
# ## Exercises
# 1. Checkable: implement the score from its formula in
#    `lessons/exercises/ex11_covariance_similarity.py`, then run
#    `python -m mmoe_np.check lessons/exercises/ex11_covariance_similarity.py`.
# 2. Give task 2 half as many training rows as task 1 (lists can have different lengths).
#    Which task gains more from sharing?
# 3. Alignment: before training, rotate task 2's inputs by the orthogonal matrix that maps
#    its block of features onto task 1's (a permutation of the features). What happens to
#    the score and to the transfer?
