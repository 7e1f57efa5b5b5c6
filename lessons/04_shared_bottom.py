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
from mmoe_np import outputs
from mmoe_np.diagrams import draw_architectures
from mmoe_np.experiments import claims, compare
from mmoe_np.experiments.plots import band
from mmoe_np.experiments.reproduce import correlation_table, load_results, summary_table
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
# weights, for a fresh model on data at correlations 1.0, 0.9, 0.5 and 0 (the same inputs and
# non-linearity, only the weight vectors' cosine changes). The two towers start from the
# same weights here, so that the cosine measures the tasks and not two random towers (with
# independently drawn towers it is small, |cos| < 0.15, at every correlation: the pulls are
# then mostly the towers' random directions).

# %%
for p in (1.0, 0.9, 0.5, 0.0):
    data = mn.make_synthetic(n=512, d=100, p=p, seed=3)
    sb = mn.SharedBottom(n_features=100, bottom_units=113, seed=4)
    for name in ("tower_kernel", "tower_bias", "output_kernel", "output_bias"):
        sb.params[name][1] = sb.params[name][0]                        # tower 2 := tower 1
    preds, cache = sb.forward(data.X)
    d = [mn.losses.mse(preds[k], data.Y[:, k:k + 1])[1] for k in range(2)]
    g1, g2 = (sb.backward(cache, [d[0], 0 * d[1]])["bottom_kernel"].ravel(),
              sb.backward(cache, [0 * d[0], d[1]])["bottom_kernel"].ravel())
    cosine = g1 @ g2 / np.linalg.norm(g1) / np.linalg.norm(g2)
    print(f"correlation {p}: cosine between the two tasks' pulls on the bottom {cosine:+.3f}")

# %% [markdown]
# ## The paper's Figure 3, on its own terms
# The setting the paper states: a bottom of **16** units, towers of 8, Adam with its default
# settings (learning rate 1e-3), batch 128, fresh samples every step ("repeat until enough
# data are generated"), test loss averaged over the two tasks. Each run draws its own data
# (u1, u2, alpha, beta and the inputs) and its own initialisation; within a run the three
# correlations share all of them and the minibatch inputs, so the runs are **paired**: run r
# at correlation 0.5 differs from run r at 1.0 only in the correlation.

# %%
fig3 = compare.run(models=("shared_bottom",), sizes={"shared_bottom": {"bottom_units": 16}}, lr=1e-3,
                   runs=pick(20, 3), steps=pick(8000, 300), eval_every=pick(250, 100), progress=False)
print(summary_table(fig3))

fig, ax = plt.subplots(figsize=(5.5, 3.8))
for i, p in enumerate(fig3["correlations"]):
    mean, low, high = band(fig3["curves"][i, :, 0])
    ax.plot(fig3["steps"], mean, label=f"correlation {p:g}", color=f"C{i}")
    ax.fill_between(fig3["steps"], low, high, alpha=0.2, color=f"C{i}", linewidth=0)
ax.set(yscale="log", xlabel="training step", ylabel="test loss (mean of 2 tasks)",
       title=f"Shared-Bottom, bottom of 16 ({fig3['curves'].shape[1]} runs; band: 95% CI of the mean)")
ax.legend()
ax.grid(alpha=0.3, which="both")
savefig(fig, "04_shared_bottom.png")

# %% [markdown]
# ## Reading it with paired runs
# Bands of the mean overlap because runs differ a lot from each other: the data draw decides
# much of how hard a run is (the standard deviation in the table is as large as the mean).
# Compare each run with itself instead: loss at correlation 0.5 over loss at 1.0, run by run,
# summarised by the geometric mean and its 95% interval. Above 1 means the lower correlation
# hurts; an interval that excludes 1 means the runs agree on it.

# %%
print(correlation_table(fig3))
final = fig3["final"][:, :, 0]                                   # (correlation, run)
at = [round(float(p), 6) for p in fig3["correlations"]]
ratio = final[at.index(0.5)] / final[at.index(1.0)]
print(f"runs in which correlation 0.5 ended higher than 1.0: {np.sum(ratio > 1)} of {len(ratio)}; "
      f"their ratios range from {ratio.min():.2f} to {ratio.max():.2f}")

# %% [markdown]
# ## What 200 runs say
# A score of runs measures a large effect; the committed 200-run study
# (`python -m mmoe_np reproduce fig3`, REPRODUCTION.md) pins it down:

# %%
study = load_results(outputs.default("results/reproduce/fig3"))
print(correlation_table(study))
for row in claims.evaluate_claims(load_results(outputs.default("results/reproduce")), study):
    if "Fig. 3" in row.claim:
        print(f"{row.verdict}: {row.claim} -- {row.value}")

# %% [markdown]
# **Reading it.** The printouts above are the lesson's result: the paired ratio from this
# lesson's runs, and the verdict of the 200-run study with its interval. Two things to
# notice whatever the numbers say. First, the effect is a statement about the *typical*
# run (a geometric mean of paired ratios), not about every run: the printout counts the runs
# that go the other way. Second, it depends on choices the paper does not state -- the task
# weights' norm c, the number of sinusoids m, how alpha and beta are drawn, how long to
# train. REPRODUCTION.md measures which of them move which verdict. A reproduction that
# says under which choices it agrees is worth more than a figure that agrees by accident.
#
# ## Exercises
# 1. Give the bottom Figure 4's size, 113 units (`sizes={"shared_bottom": {"bottom_units":
#    113}}`). Does the lower correlation still hurt? Does a wider bottom make the tasks
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
