# %% [markdown]
# # Lesson 04 — Shared-Bottom: one shared layer, a tower per task, and task correlation
#
# **You will learn** the Shared-Bottom model (Caruana, 1997), the baseline of the paper: one
# shared hidden layer read by a tower per task, trained on the sum of the task losses; where
# in its backward pass the tasks meet; and how to test the paper's Figure 3 claim -- that its
# loss grows as the tasks become less correlated -- with paired runs instead of one curve.
#
# $$s(x) = \mathrm{ReLU}(W_s x + b_s), \qquad \hat y_k = h^k(s(x)), \qquad
#   L = \textstyle\sum_k \mathrm{MSE}(\hat y_k, y_k)$$
#
# The four architectures of this course side by side (drawn by `mmoe_np.diagrams`; every box
# is a layer of the code, named as there):

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np import findings, outputs, stats
from mmoe_np.diagrams import draw_architectures
from mmoe_np.lesson_utils import pick, savefig

savefig(draw_architectures(), "architectures.png")

# %% [markdown]
# ## The model and its size
# The paper's Figure 4 gives Shared-Bottom a bottom of 113 units so that it has about as many
# parameters as MMoE with 8 experts of 16 units. How close is "about"?

# %%
model = mn.SharedBottom(n_features=100, n_tasks=2, bottom_units=113, tower_units=8, seed=0)
for name, value in model.params.items():
    print(f"{name:14s} {value.shape}")
mmoe_size = mn.MMoE(n_features=100).n_params
print(f"Shared-Bottom (bottom 113): {model.n_params:,} parameters; MMoE (8 experts x 16): {mmoe_size:,} "
      f"-- Shared-Bottom has {1 - model.n_params / mmoe_size:.0%} fewer")

# %% [markdown]
# ## Shapes through one forward pass
# The bottom is one (B, 113) representation; every tower reads the same one, so the towers'
# input is (1, B, 113) and broadcasts over the K = 2 towers.

# %%
X = np.random.default_rng(0).standard_normal((32, 100))
preds, cache = model.forward(X)
print("X", X.shape, "-> bottom (32, 113) -> towers -> preds", [p.shape for p in preds])

# %% [markdown]
# ## Where the tasks meet
# Backward, each tower returns the gradient of its own task's loss with respect to the
# shared representation, and the bottom receives their **sum**. When the tasks agree, the two
# pulls point the same way; when they differ, they partly cancel and the bottom serves
# neither task fully. Below: the cosine between the two tasks' gradients on the bottom's
# weights (+1: they pull the same way, 0: unrelated directions, -1: opposite), for fresh
# models on data at correlations 1.0, 0.9, 0.5 and 0 -- the same inputs and non-linearity,
# only the weight vectors' cosine changes -- each averaged over 10 draws of data and
# initialisation. Each task's gradient comes from its real targets (the MSE's gradient), sent
# back through its tower. Two versions: with the towers **tied** (tower 2 starts as a copy of
# tower 1), so that the cosine measures the tasks alone; and with independently drawn towers,
# as training starts.

# %%
def pulls_cosine(p, seed, tie_towers):
    """Cosine between the two tasks' gradients on a fresh Shared-Bottom's bottom_kernel."""
    data = mn.make_synthetic(n=512, d=100, p=p, seed=seed)
    sb = mn.SharedBottom(n_features=100, bottom_units=113, seed=1000 + seed)
    if tie_towers:
        for name in ("tower_kernel", "tower_bias", "output_kernel", "output_bias"):
            sb.params[name][1] = sb.params[name][0]                        # tower 2 := tower 1
    preds, cache = sb.forward(data.X)
    d = [mn.losses.mse(preds[k], data.Y[:, k:k + 1])[1] for k in range(2)]   # each task's dL_k/dpred
    g1 = sb.backward(cache, [d[0], 0 * d[1]])["bottom_kernel"].ravel()       # task 1's loss only
    g2 = sb.backward(cache, [0 * d[0], d[1]])["bottom_kernel"].ravel()       # task 2's loss only
    return g1 @ g2 / np.linalg.norm(g1) / np.linalg.norm(g2)


draws = range(pick(10, 3))
print("correlation   tied towers: mean (min .. max)   independent towers: mean (min .. max)")
for p in (1.0, 0.9, 0.5, 0.0):
    tied = [pulls_cosine(p, seed, True) for seed in draws]
    own = [pulls_cosine(p, seed, False) for seed in draws]
    print(f"   {p:.1f}        {np.mean(tied):+.3f} ({min(tied):+.2f} .. {max(tied):+.2f})"
          f"              {np.mean(own):+.3f} ({min(own):+.2f} .. {max(own):+.2f})")

# %% [markdown]
# Read the tied column first: there the two pulls differ only because the targets do, so
# look at how the tasks' agreement on the shared weights changes with their correlation. Do
# not expect it to reach 0 at correlation 0: both tasks' labels have the same mean (the same
# sinusoids, applied to two directions with the same distribution), and with tied towers both
# start from the same prediction, so at the first step both tasks ask the bottom for the same
# shift. In the independent column each task's error is sent back through its own random
# tower, and the two pulls differ even for identical tasks: compare the columns to see how
# much of the agreement two random towers hide. Training ties nothing, and the towers learn;
# this is a picture of the first step.
#
# ## The paper's Figure 3, with paired runs
# The setting the paper states: a bottom of **16** units, towers of 8, Adam with its default
# settings (learning rate 1e-3), batch 128, fresh samples every step ("repeat until enough
# data are generated"), test loss averaged over the two tasks. Each run draws its own data
# (u1, u2, alpha, beta and the inputs) and its own initialisation; within a run the three
# correlations share all of them and the minibatches, so the runs are **paired**: run r at
# correlation 0.5 differs from run r at 1.0 only in the correlation.
#
# **Many runs as one model.** Training 3 × 30 small networks one after another would spend
# most of its time in Python. Instead we give `SharedBottom` a (30, 3) array of seeds: it
# then holds one independent copy of its parameters per seed, on leading *run axes*
# (30, 3, ...), and every matrix product computes all copies at once. Each copy's loss
# depends only on its own parameters, and Adam updates each weight on its own, so every copy
# trains exactly as a separate run would (lesson 08 shows how, and checks it number for
# number). `mn.SyntheticRuns` draws each run's data -- fresh samples every step, at every
# correlation -- and `fit` takes it in place of arrays.
#
# **How many runs, how many steps.** 30 runs of 2,000 steps, a quarter of the 200-run
# study's 8,000, to keep the lesson short. The last two sections show why that many runs,
# and what the study says at both budgets.

# %%
R, correlations = pick(30, 3), (1.0, 0.9, 0.5)
steps, eval_every = pick(2000, 200), pick(100, 50)
stream = mn.SyntheticRuns(list(range(R)), correlations, n_val=100, n_test=2000)     # run r's data: seed r
init = np.repeat(10_000 + np.arange(R)[:, None], len(correlations), axis=1)          # (R, 3): run r's init seed
sb16 = mn.SharedBottom(n_features=100, bottom_units=16, tower_units=8, seed=init, backend="numba")
print("bottom_kernel of all the runs:", sb16.params["bottom_kernel"].shape, "= (runs, correlations, D, units)")
history = mn.fit(sb16, stream, optimizer=mn.Adam(lr=1e-3), steps=steps, eval_every=eval_every,
                 X_val=stream.test[0], Y_val=stream.test[1], progress=False)    # evaluated on each run's test set
at_step, _, test = history.as_arrays()          # test: (evaluations, R, 3 correlations, 2 tasks)
curves = test.mean(axis=-1)                     # (evaluations, R, 3): the mean of the two tasks
final = curves[-1]                              # (R, 3)
for j, p in enumerate(correlations):
    x = final[:, j]
    print(f"correlation {p:.1f}: final test loss -- arithmetic mean {x.mean():.4f}, median {np.median(x):.4f}, "
          f"geometric mean {np.exp(np.log(x).mean()):.4f}; runs range from {x.min():.4f} to {x.max():.4f}")

# %% [markdown]
# Nothing is tuned on the test sets, so `fit` evaluates each run on its own test set as it
# trains (what it calls validation). Look at how far apart the runs' final losses lie (the
# range): the data draw decides much of how hard a run is (lesson 02's table of linear
# shares). When runs spread over orders of magnitude, an arithmetic mean is dominated by its
# few hardest runs, and two arithmetic means can rank the correlations the other way from
# most runs: compare the three averages above. So losses here are averaged on a log scale:
# the **geometric mean** $\exp(\overline{\log L})$, and the figure's band is its 95% interval,
# $\exp(\overline{\log L} \pm t\, s/\sqrt{R})$, with $s$ the standard deviation of $\log L$ over
# the R runs and $t$ Student's t quantile for R - 1 degrees of freedom (`mmoe_np.stats`). On a
# log axis the band is symmetric and always positive.

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
for j, p in enumerate(correlations):
    centre, low, high = stats.geometric_band(curves[:, :, j], axis=1)
    ax.plot(at_step, centre, color=f"C{j}", label=f"correlation {p:g}")
    ax.fill_between(at_step, low, high, color=f"C{j}", alpha=0.2, linewidth=0)
ax.set(yscale="log", xlabel="training step", ylabel="test loss (mean of 2 tasks)",
       title=f"Shared-Bottom, bottom of 16: {R} runs")
ax.legend(title="geometric mean, 95% t band", fontsize=8, title_fontsize=8)
ax.grid(alpha=0.3, which="both")
savefig(fig, "04_shared_bottom.png")

# %% [markdown]
# ## Reading it with paired runs
# Bands of different correlations can overlap when runs differ a lot from each other.
# Compare each run with itself instead: its loss at correlation 0.5 over its loss at 1.0.
# Averaged on a log scale, the mean log-ratio $\bar\ell$ gives the geometric mean ratio
# $e^{\bar\ell}$ and its 95% interval $\exp(\bar\ell \pm t\, s_\ell/\sqrt{R})$. The t quantile
# (2.05 for 30 runs, 4.30 for 3) is larger than the normal 1.96 because the standard deviation
# $s_\ell$ is itself estimated from the R runs. Above 1 means the lower correlation
# hurts the typical run; an interval that lies wholly above (or below) 1 means the runs agree
# on it, and one that includes 1 means these runs cannot tell. First by hand, then with
# `stats.paired_ratio`, which computes the same:

# %%
ratio = final[:, 2] / final[:, 0]                          # loss at 0.5 / loss at 1.0, run by run
logs = np.log(ratio)
t, se = stats.t_quantile(R), logs.std(ddof=1) / np.sqrt(R)
print("run by run, sorted:", np.sort(ratio).round(2))
print(f"mean log-ratio {logs.mean():+.3f}, its standard error {se:.3f}, t quantile for {R - 1} degrees of freedom "
      f"{t:.2f}: ratio {np.exp(logs.mean()):.3f} [{np.exp(logs.mean() - t * se):.3f}, "
      f"{np.exp(logs.mean() + t * se):.3f}]")
for j in (2, 1):
    result = stats.paired_ratio(final[:, j], final[:, 0])
    print(findings.paired(f"Shared-Bottom's test loss at correlation {correlations[j]}", "its loss at 1.0",
                          result, ratio=f"L({correlations[j]})/L(1.0)", where=f" after {steps} steps"))
print(findings.share("runs", np.sum(ratio > 1), R, condition="ended with a higher loss at correlation 0.5 than at 1.0"))

# %% [markdown]
# The sentences that start with "→" are made by `mmoe_np.findings` from the numbers inside
# them: a direction only when the interval excludes 1, "cannot tell" (and "this run did not
# show a difference") when it does not, so they change when the numbers change. The last one
# counts the runs: a paired ratio is a statement about the *typical* run, not about every run.
#
# ## What 200 runs say
# The committed study (`python -m mmoe_np reproduce fig3`, REPRODUCTION.md) trained 200 runs
# in the same setting for 8,000 steps, with other seeds than this lesson's, and recorded each
# run's test loss every 250 steps. Its `sweep.npz` holds them as `curves` (3 correlations
# (0.5, 0.9, 1.0), 200 runs, 1 model, 32 evaluations). The same paired comparison, at the
# recorded budget nearest to this lesson's and at the study's end:

# %%
study = np.load(outputs.default("results/reproduce/fig3") / "sweep.npz")
curves200, steps200 = study["curves"][:, :, 0], study["steps"]         # (3, 200, evaluations), (evaluations,)
at_p = [round(float(p), 6) for p in study["correlations"]]
i05, i10 = at_p.index(0.5), at_p.index(1.0)
budgets = sorted({int(np.abs(steps200 - steps).argmin()), len(steps200) - 1})   # evaluation indices
for e in budgets:
    result = stats.paired_ratio(curves200[i05, :, e], curves200[i10, :, e])
    print(findings.paired("Shared-Bottom's test loss at correlation 0.5", "its loss at 1.0", result,
                          ratio="L(0.5)/L(1.0)", where=f" after {steps200[e]} steps in the 200-run study"))

# %% [markdown]
# ## How many runs does it take?
# A set of R runs is one draw from all the runs one could have trained. Resampling R of the
# study's 200 paired ratios (with replacement) imitates new sets of R runs, as far as 200
# runs can tell: how often would a set of R runs have shown the effect -- an interval wholly
# above 1? That share is the experiment's *power*. It grows with the mean log-ratio over its
# spread between runs, times $\sqrt{R}$, so the cell prints both for each budget.

# %%
rng = np.random.default_rng(0)
n_resamples = pick(1000, 200)
for e in budgets:
    a, b = curves200[i05, :, e], curves200[i10, :, e]
    logs200 = np.log(a / b)
    shown = {}
    for n_runs in sorted({10, 20, R, 50}):
        picks = (rng.integers(0, len(a), n_runs) for _ in range(n_resamples))
        shown[n_runs] = sum(stats.paired_ratio(a[i], b[i]).verdict() == "higher" for i in picks)
    print(f"after {steps200[e]} steps: mean log-ratio {logs200.mean():+.3f}, standard deviation {logs200.std(ddof=1):.3f}; "
          "sets showing the effect: " + ", ".join(f"{n} runs {k / n_resamples:.0%}" for n, k in shown.items()))
    if e == budgets[0]:
        power = findings.share(f"resampled sets of {R} runs", shown[R], n_resamples,
                               condition=f"show the effect after {steps200[e]} steps")
print(power)

# %% [markdown]
# **Reading it.** This lesson's 30 runs of 2,000 steps were chosen from this table before its
# own runs were trained: look up the share for 30 runs at 2,000 steps, and for 20 runs at the
# study's 8,000. A longer budget is not always the more sensitive one: the runs may spread
# out faster than the effect grows -- compare the mean log-ratio with its standard deviation
# at the two budgets. And a set of runs that "did not show" an effect
# is evidence against it only if it had the power to show it.
#
# The printouts above are the lesson's result: the paired ratio of this lesson's runs, and
# the study's at both budgets. Two more things to keep in mind. The effect is a statement
# about the typical run, and the count of runs says how many go the other way. And it depends
# on choices the paper does not state -- the task weights' norm c, the number of sinusoids m,
# how alpha and beta are drawn, how long to train. REPRODUCTION.md measures which of them move
# which verdict. A reproduction that says under which choices it agrees is worth more than a
# figure that agrees by accident.
#
# ## Exercises
# 1. Give the bottom Figure 4's size, 113 units (`bottom_units=113` where `sb16` is made).
#    Does the lower correlation still hurt? Does a wider bottom make the tasks
#    fight less?
# 2. Linear tasks: run `python -m mmoe_np reproduce fig3 --runs 20 --m 0` (no sinusoids;
#    results go to a scratch folder, never over the committed ones) and compare its paired
#    ratio with the one above. Why could the non-linear part of the tasks hide or create an
#    effect of the weights' cosine?
# 3. Train a Shared-Bottom of 16 on 8,000 rows at correlation 1.0 with `mn.fit(...,
#    task_weights=[1, 0])` (task 2 gives no gradient at all) and with `[1, 1]`. Task 2's
#    targets are task 1's plus independent noise: does learning from them help task 1?
#    Repeat at correlation 0.5.
# 4. Checkable: write Shared-Bottom's backward pass in
#    `lessons/exercises/ex04_shared_bottom_backward.py`, built on your own `dense_backward` of
#    ex02 (keep both files in one folder), then
#    `python -m mmoe_np.check lessons/exercises/ex04_shared_bottom_backward.py`. Where do the
#    tasks' gradients meet, and how do they combine?
