# %% [markdown]
# # Lesson 13 — After MMoE: CGC and PLE (Tang et al., RecSys 2020)
#
# **You will learn** the two models that followed MMoE in industry, how they differ from it
# in one line each, and how they compare with it on the paper's synthetic tasks.
#
# In MMoE every gate may use every expert, so every expert is pulled by every task's
# gradient. When tasks conflict this "seesaw" can make one task better only by making the
# other worse. **Customized Gate Control (CGC)** gives each task experts of its own and
# keeps a group of shared experts; task k's gate chooses among *its own and the shared*
# experts only:
#
# $$g^k(x) = \mathrm{softmax}(W_{gk}x)\in\mathbb{R}^{m_t+m_s},\qquad
#   f^k(x) = \sum_i g^k(x)_i\,[E_{k,1}(x)\dots E_{k,m_t}(x), E_{s,1}(x)\dots E_{s,m_s}(x)]_i$$
#
# **Progressive Layered Extraction (PLE)** stacks CGC levels; below the top one a *shared*
# gate mixes all experts into a shared representation that feeds the next level's shared
# experts, while each task's output feeds its own experts above. The code is
# `mmoe_np/models/ple.py`: every expert group goes through the same experts kernel and
# every mixture through the same gate-mix kernel as MMoE, so CGC and PLE run on the numpy,
# numba and cuda backends and are gradient-checked like the others (`tests/test_models.py`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np import findings, stats
from mmoe_np.experiments.jobs import run_jobs
from mmoe_np.lesson_utils import pick, savefig

# About the same number of parameters in each model (printed below with each model's experts):
SIZES = {"MMoE": lambda seed: mn.MMoE(n_features=100, n_tasks=2, n_experts=8, seed=seed, backend="numba"),
         "CGC": lambda seed: mn.CGC(n_features=100, n_tasks=2, n_task_experts=3, n_shared_experts=2,
                                    seed=seed, backend="numba"),
         "PLE (2 levels)": lambda seed: mn.PLE(n_features=100, n_tasks=2, n_task_experts=2, n_shared_experts=2,
                                               n_levels=2, seed=seed, backend="numba")}

# %% [markdown]
# Each entry makes one model from a seed. How big is each? CGC's experts are task k's own
# ($m_t$ per task) and the shared ones ($m_s$); PLE has that many per level.

# %%
def n_experts(model):
    """Experts of 16 units a model holds: MMoE's E; CGC's K m_t + m_s; PLE's that, per level."""
    if isinstance(model, mn.PLE):
        return model.n_levels * (model.n_tasks * model.n_task_experts + model.n_shared_experts)
    return model.n_experts


mmoe_params = SIZES["MMoE"](0).n_params
for name, make in SIZES.items():
    model = make(0)
    print(f"{name:15s} {model.n_params:6d} parameters ({model.n_params / mmoe_params:.2f} of MMoE's), "
          f"{n_experts(model):2d} experts of {model.expert_units} units")

# %% [markdown]
# The parameter counts are close (each printed as a share of MMoE's), but the experts are
# not the same: PLE spreads its parameters over more experts in smaller groups, in two
# levels, the second reading the first.
#
# ## Training the three, paired
# One job draws one data set at one correlation and trains the three models on it from the
# same seed (the same minibatches): the runs are **paired**. Every model trains with Adam at
# 1e-2 for 1500 steps. `mn.fit` scores the validation rows `X_val, Y_val` every
# `eval_every` steps -- here three times, to see whether the loss was still falling at the
# end -- and returns a history: `history.as_arrays()` gives the steps, the training losses
# and the validation losses (one row per evaluation, one column per task). `mn.evaluate`
# gives the test losses (one per task), once, at the end. For CGC we also keep how much
# weight each task's gate puts on the shared experts: `model.gates(X)` returns, per level,
# task k's gate weights (K, B, m_t + m_s), task k's own experts first, then the shared ones.

# %%
CORRELATIONS = pick((0.0, 0.5, 0.9, 1.0), (0.0, 1.0))
SEEDS = range(pick(4, 1))
STEPS, N_TRAIN, N_TEST, N_VAL = pick(1500, 150), 8000, 2000, 1000


def job(p, seed):
    """Each model's test loss (mean of the tasks), its validation loss at each evaluation, and CGC's weight on
    the shared experts per task (K,)."""
    data = mn.make_synthetic(n=N_TRAIN + N_TEST + N_VAL, p=p, seed=seed)
    train = data.X[:N_TRAIN], data.Y[:N_TRAIN]
    test = data.X[N_TRAIN:N_TRAIN + N_TEST], data.Y[N_TRAIN:N_TRAIN + N_TEST]
    val = data.X[N_TRAIN + N_TEST:], data.Y[N_TRAIN + N_TEST:]
    out = {}
    for name, make in SIZES.items():
        model = make(seed)
        history = mn.fit(model, *train, optimizer=mn.Adam(lr=1e-2), steps=STEPS, batch_size=128, seed=seed,
                         X_val=val[0], Y_val=val[1], eval_every=STEPS // 3, progress=False)
        out["steps"], _, val_loss = history.as_arrays()                  # steps (3,), val_loss (3, K)
        out[name] = mn.evaluate(model, *test).mean()
        out[name, "val"] = val_loss.mean(-1)                              # (3,): mean of the tasks
        if name == "CGC":
            gates = model.gates(test[0])[0]["task"]                       # (K, B, m_t + m_s)
            out["shared share"] = gates[:, :, model.n_task_experts:].sum(-1).mean(-1)   # (K,)
    return out

# %% [markdown]
# `job` trains the three models of one (correlation, seed) pair and returns plain numbers.
# With the same seed, `make_synthetic` draws the same inputs and the same first task
# direction at every correlation (only task 2's direction turns), so runs of one seed are
# also paired *across* correlations.
#
# `run_jobs` (from `mmoe_np.experiments.jobs`, the library's job runner) calls `job` once
# for every keyword set in the list, on two processes; each job fixes its own thread counts,
# so the numbers are those of a serial run. Then the results are gathered into arrays.

# %%
results = run_jobs(job, [dict(p=p, seed=s) for p in CORRELATIONS for s in SEEDS], n_jobs=pick(2, 1))
grid = np.array(results, dtype=object).reshape(len(CORRELATIONS), len(SEEDS))
loss = {name: np.array([[r[name] for r in row] for row in grid]) for name in SIZES}         # (corr, run)
val = {name: np.array([[r[name, "val"] for r in row] for row in grid]) for name in SIZES}   # (corr, run, 3)
share = np.array([[r["shared share"] for r in row] for row in grid])                      # (corr, run, K)
evaluated = results[0]["steps"]                                                           # the steps scored
print("validation scored after steps", ", ".join(str(s) for s in evaluated))

# %% [markdown]
# `loss[name][i, r]` is a model's test loss at correlation i in run r; `val` adds the three
# evaluations, `share` CGC's two tasks.
#
# ## Which model ends lower?
# First the test losses: at each correlation the geometric mean of the runs (the mean of the
# logs, exponentiated: a loss twice as high counts as much as one half as high).
#
# Then the comparison, as in lesson 12: for each run, the ratio of a model's loss to MMoE's
# in the *same* run; the geometric mean of those ratios, with a 95% interval from Student's
# t distribution for the number of runs (`stats.paired_ratio`). Below 1: lower than MMoE.
# Every correlation counts: 4 correlations of 4 runs give 16 pairs. Each line starting with → is
# written by `mmoe_np.findings` from the numbers in its brackets: lower, higher, or "cannot
# tell" when the interval includes 1.

# %%
print(f"{'corr':>5} " + "".join(f"{name:>16s}" for name in SIZES) + "   (test loss, geometric mean of the runs)")
for i, p in enumerate(CORRELATIONS):
    print(f"{p:5.1f} " + "".join(f"{np.exp(np.log(loss[name][i]).mean()):16.4f}" for name in SIZES))
for name in ("CGC", "PLE (2 levels)"):
    print(findings.paired(f"{name}'s test loss", "MMoE's", stats.paired_ratio(loss[name].ravel(), loss["MMoE"].ravel()),
                          ratio=f"{name.split()[0]}/MMoE"))

# %% [markdown]
# The two findings answer "which ends lower than MMoE after 1500 steps" on these tasks,
# with how sure the runs are. They do not say *why*: PLE is also *deeper* (two levels of
# experts), and all three stopped after a fixed number of steps.
#
# ## Were they still learning?
# The validation loss at the last evaluation against the one before it, paired by run. A
# loss still falling means the model has not converged: a comparison at this budget then
# says which model gets there *faster*, which need not be which ends lower.

# %%
for name in SIZES:
    print(findings.paired(f"{name}'s validation loss after {evaluated[-1]} steps", f"its loss after {evaluated[-2]}",
                          stats.paired_ratio(val[name][..., -1].ravel(), val[name][..., -2].ravel()), ratio="end/earlier"))

# %% [markdown]
# So does the ranking depend on when training stops? The same paired comparison with MMoE
# on the validation rows, at each of the three evaluations. A verdict that holds at every
# budget is one about the models on these tasks; one that changes is about their speed.

# %%
for j, step in enumerate(evaluated):
    for name in ("CGC", "PLE (2 levels)"):
        print(findings.paired(f"{name}'s validation loss", "MMoE's",
                              stats.paired_ratio(val[name][..., j].ravel(), val["MMoE"][..., j].ravel()),
                              ratio=f"{name.split()[0]}/MMoE", where=f" after {step} steps"))

# %% [markdown]
# Read the lines in order of the steps: each pair says, at that budget, whether CGC and PLE
# are below MMoE, above it, or cannot be told from it.
#
# ## A look inside CGC's gates
# Task k's gate weights are split between its own experts and the shared ones. A gate
# choosing uniformly among 3 own and 2 shared experts would put 2/5 = 0.4 on the shared
# ones. The table gives, per correlation, each task's weight on the shared experts
# (geometric mean of the runs); the findings compare it with a uniform gate's 0.4, at
# correlation 0 and 1, with a t interval over the runs (`stats.log_interval`: the
# geometric mean with its interval, from the logs of the values).

# %%
print(f"{'corr':>5}  weight on the shared experts: task 1, task 2 (geometric mean of the runs)")
for i, p in enumerate(CORRELATIONS):
    print(f"{p:5.1f}  " + ", ".join(f"{np.exp(np.log(share[i, :, k]).mean()):.3f}" for k in range(2)))
hi, lo = CORRELATIONS.index(1.0), CORRELATIONS.index(0.0)
for i in (lo, hi):
    for k in range(2):
        print(findings.interval(f"task {k + 1}'s weight on the shared experts at correlation {CORRELATIONS[i]:g}",
                                stats.log_interval(np.log(share[i, :, k])), reference=0.4, statistic="weight",
                                above="is above a uniform gate's 0.4", below="is below a uniform gate's 0.4"))

# %% [markdown]
# A weight below 0.4 means the task's gate prefers its own experts; above, the shared ones.
# These intervals rest on 4 runs whose weights differ a lot (the figure's dots), so they are
# wide. Does the weight grow with how related the tasks are? Paired by seed (the same inputs
# and the same start at both correlations), the weight at correlation 1 against correlation
# 0. Pairing divides out each run's own level -- a run whose gates lean on the shared
# experts at one correlation may lean on them at the other too -- so a paired interval can
# be much narrower than the intervals of the weights themselves:

# %%
for k in range(2):
    print(findings.paired(f"task {k + 1}'s weight on the shared experts at correlation 1", "its weight at correlation 0",
                          stats.paired_ratio(share[hi, :, k], share[lo, :, k]), ratio="corr1/corr0"))

# %% [markdown]
# If it does, CGC's gates are a learned, inspectable measure of how much a task wants to
# share -- the design's intent. With 4 runs per correlation (the full run), the t interval is wide (its
# quantile for 3 degrees of freedom is 3.18, against 1.96 for many runs): only a large,
# consistent change shows.
#
# ## The figure
# Left: each model's test loss per correlation, geometric mean with its 95% t interval
# (`stats.geometric_band`), single runs as dots. Right: CGC's weight on the shared experts.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for j, name in enumerate(SIZES):
    mean, low, high = stats.geometric_band(loss[name], axis=1)
    x = np.array(CORRELATIONS) + 0.015 * (j - 1)                               # side by side, not on top
    axes[0].errorbar(x, mean, yerr=[mean - low, high - mean], fmt="o-", capsize=3, label=name, color=f"C{j}")
    axes[0].scatter(np.repeat(x, len(SEEDS)), loss[name].ravel(), s=10, alpha=0.35, color=f"C{j}")
axes[0].set(xlabel="task correlation p", ylabel="test loss (mean of 2 tasks)", yscale="log",
            title="Test loss: geometric mean, 95% interval; dots: runs")
axes[0].yaxis.set_major_locator(plt.LogLocator(subs=(1, 2, 3, 5)))           # log axis, plain numbers
axes[0].yaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
axes[0].yaxis.set_minor_formatter(plt.NullFormatter())
for k in range(2):
    x = np.array(CORRELATIONS) + 0.015 * (k - 0.5)
    axes[1].plot(x, np.exp(np.log(share[:, :, k]).mean(1)), "o-", label=f"task {k + 1}", color=f"C{k + 3}")
    axes[1].scatter(np.repeat(x, len(SEEDS)), share[:, :, k].ravel(), s=10, alpha=0.35, color=f"C{k + 3}")
axes[1].axhline(0.4, color="k", lw=0.8, ls=":", label="uniform gate (2 of 5 experts)")
axes[1].set(xlabel="task correlation p", ylabel="gate weight on shared experts", ylim=(0, 1),
            title="CGC: weight on the shared experts")
axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.1, 1))       # between the first two correlations
axes[1].legend(fontsize=8, loc="upper left")
for ax in axes:
    ax.grid(alpha=0.3)
savefig(fig, "13_cgc_and_ple.png")

# %% [markdown]
# The figure shows the same numbers as the tables: where the intervals of two models overlap
# at one correlation, the 4 runs there cannot separate them; the findings above pool the
# correlations and pair the runs, which is why they can be sharper than the picture.
#
# ## Reading it
# The findings above are this lesson's results, each with its interval: which model ended
# lower than MMoE, whether the models were still improving when training stopped and
# whether the ranking held at every budget, and how CGC's tasks used the shared experts.
# Tang et al. report PLE's gains on large industrial data with conflicting tasks (their
# "seesaw" phenomenon: one task improves only as another gets worse); two smooth regression
# tasks are a mild test of that claim, and a model compared while still improving is
# compared on its speed as much as on its end point.
#
# ## Exercises
# 1. Checkable: write the CGC forward pass from its parameters in
#    `lessons/exercises/ex13_cgc_forward.py`, then run
#    `python -m mmoe_np.check lessons/exercises/ex13_cgc_forward.py`.
# 2. Give CGC `n_shared_experts=1` and then `n_task_experts=1`. Which one hurts more at
#    correlation 0.9? At 0.0? Compare each with 3 + 2 paired by run, as above.
# 3. Train PLE with 3 levels. Does depth help on these tasks? Use `model.gates(X)` to look
#    at the shared gate of level 1: which experts does it favour?
