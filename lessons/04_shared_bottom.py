# %% [markdown]
# # Lesson 04 — Shared-Bottom multi-task learning, and what task correlation does to it
#
# **You will learn** the Shared-Bottom model (Caruana, 1997), the baseline of the paper:
# one shared hidden layer read by a tower per task, trained on the sum of the task losses;
# and reproduce the paper's Figure 3: its loss grows as the correlation between tasks falls.
#
# $$s(x) = \mathrm{ReLU}(W_s x + b_s), \qquad \hat y_k = h^k(s(x)), \qquad
#   L = \textstyle\sum_k \mathrm{MSE}(\hat y_k, y_k)$$
#
# The gradient reaching the shared layer is the *sum* of the tasks' gradients. When the
# tasks agree, they push the bottom the same way; when they disagree, they pull it apart.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.lesson_utils import pick, savefig

model = mn.SharedBottom(n_features=100, n_tasks=2, bottom_units=113, tower_units=8, seed=0)
for name, value in model.params.items():
    print(f"{name:14s} {value.shape}")
print("parameters:", model.n_params, "(the paper sizes the bottom to match MMoE's count:",
      mn.MMoE(n_features=100).n_params, ")")

# %% [markdown]
# ## Shapes through one forward pass
# The bottom is one (B, 113) representation; every tower reads the same one, so the towers'
# input is (1, B, 113) and broadcasts over the K = 2 towers.

# %%
X = np.random.default_rng(0).standard_normal((32, 100))
preds, cache = model.forward(X)
print("X", X.shape, "-> bottom (32, 113) -> towers -> preds", [p.shape for p in preds])

# %% [markdown]
# ## Figure 3: Shared-Bottom at correlations 0.5, 0.9 and 1.0
# Fresh data and a fresh model per run; Adam (lr 1e-2), batch 128; test loss is the mean of
# the two tasks' MSE on 2,000 held-out points.

# %%
correlations, runs, steps = (0.5, 0.9, 1.0), pick(5, 2), pick(3000, 300)
eval_every = max(steps // 30, 1)
seeds = np.random.SeedSequence(4).generate_state(runs)
curves = {}
for p in correlations:
    runs_curves = []
    for r in range(runs):
        data = mn.make_synthetic(n=10_000, d=100, p=p, seed=int(seeds[r]))
        (X, Y), (X_test, Y_test) = data.split((0.8, 0.2))
        model = mn.SharedBottom(n_features=100, bottom_units=113, seed=int(seeds[r]) + 1, backend="numba")
        history = mn.fit(model, X, Y, X_val=X_test, Y_val=Y_test, optimizer=mn.Adam(lr=1e-2),
                         steps=steps, eval_every=eval_every, progress=False, seed=r)
        s, _, val = history.as_arrays()
        runs_curves.append(val.mean(axis=1))
    curves[p] = (s, np.array(runs_curves))
    final = curves[p][1][:, -1]
    print(f"correlation {p}: final test loss {final.mean():.4f} +- {final.std():.4f} over {runs} runs")

fig, ax = plt.subplots(figsize=(5.5, 3.8))
for p, (s, c) in curves.items():
    ax.plot(s, c.mean(0), label=f"correlation {p}")
    ax.fill_between(s, c.min(0), c.max(0), alpha=0.2)
ax.set_yscale("log")
ax.set_xlabel("training step")
ax.set_ylabel("test loss (mean of 2 tasks)")
ax.set_title(f"Shared-Bottom: lower task correlation, higher loss ({runs} runs, band = min..max)")
ax.legend()
ax.grid(alpha=0.3)
savefig(fig, "04_shared_bottom.png")

# %%
final = {p: c[:, -1] for p, (s, c) in curves.items()}
paired = final[0.5] - final[1.0]          # same seeds, so the same u1, u2, alpha, beta, X per run
print(f"per run, loss(0.5) - loss(1.0) = {paired.round(4)}")
print("the paper's ordering (loss falls as the correlation rises) holds in "
      f"{np.sum(paired > 0)} of {len(paired)} paired runs")

# %% [markdown]
# **Reading the figure, honestly.** The paper's Figure 3 shows Shared-Bottom's loss
# growing as the task correlation falls. Check the printout above before believing it here:
# in our measurements with this generator's defaults (c = 1, m = 10, alpha and beta drawn
# from N(0, 1), 8,000 training points, Adam) the ordering did **not** reproduce: 6 paired
# runs at lr 3e-3 for 4,000 steps gave mean losses 0.120 / 0.129 / 0.134 at correlations
# 0.5 / 0.9 / 1.0, and correlation 0.5 beat 1.0 in 4 of the 6 pairs. The runs are paired
# (same seed, so the same u1, u2, alpha, beta and X at every correlation), so the data
# draw is not what hides the effect; the spread between runs is the optimiser's.
# The paper leaves c, m, alpha, beta and the data size open, and the result depends on
# them: in the 200-run study (`REPRODUCTION.md`) the paper's direction appears with linear
# tasks (m = 0: loss 13% higher at 0.5 than at 1.0) or with 2,000 training points (+22%),
# but not with these defaults (-6%). A reproduction that disagrees, and says under which
# choices it agrees, is worth more than a figure that agrees by accident.
#
# ## Exercises
# 1. Halve the bottom (`bottom_units=56`). Does the gap between correlations grow? Why?
# 2. Train two `SingleTask` models instead (one per task). At which correlation does
#    sharing stop paying off?
# 3. Use `mn.fit(..., task_weights=[1, 0])`. What happens to task 2's loss, and why does
#    task 1 still benefit at correlation 1.0?
