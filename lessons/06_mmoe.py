# %% [markdown]
# # Lesson 06 — Multi-gate MoE: one gate per task
#
# **You will learn** the one change that turns OMoE into MMoE — a gate per task — and look
# inside a trained model: do the gates of two unrelated tasks pick different experts?
#
# $$f^k(x) = \sum_{i=1}^{E} g^k(x)_i\, f_i(x), \qquad g^k(x) = \mathrm{softmax}(W_{gk} x + b_{gk}),
#   \qquad \hat y_k = h^k(f^k(x))$$
#
# The experts are shared, but each task mixes them in its own proportions, per input. When
# the tasks are the same, nothing forces the gates apart; when they differ, each gate can
# favour the experts that help its own task, and the tasks stop fighting over one shared
# representation.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.lesson_utils import pick, savefig

model = mn.MMoE(n_features=100, n_tasks=2, n_experts=8, expert_units=16, tower_units=8, seed=0)
for name, value in model.params.items():
    print(f"{name:14s} {value.shape}")

# %% [markdown]
# ## The forward pass, as in `mmoe_np/models/moe.py`
# Every step below is one line of `MMoE.shared_forward` (which computes H and G in one call,
# `experts_and_gates_forward`: both are products with x); shapes in the comments.

# %%
X = np.random.default_rng(0).standard_normal((32, 100))
p = model.params
H = model.kernels.experts_forward(X, p["expert_kernel"], p["expert_bias"])           # (B, U, E)
G, _ = mn.layers.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])          # (K, B, E)
F = model.kernels.gate_mix_forward(H, G)                                            # (K, B, U)
print("H", H.shape, " G", G.shape, " F", F.shape)
print("task 0 and task 1 mix the experts differently for input 0:")
print("  g^0:", G[0, 0].round(3))
print("  g^1:", G[1, 0].round(3))

# %% [markdown]
# ## The backward pass: where the tasks meet
# Training minimises the sum of the task losses, $L = \sum_k L_k$. Backward runs the forward
# steps in reverse; each step's gradient is one you have derived already:
#
# 1. **towers**: task k's tower gets only $\partial L_k / \partial \hat y_k$ and returns
#    $dF_k$ (lesson 02's dense and ReLU backward, twice);
# 2. **mixtures** $F_k = \sum_e G_{k,:,e} H_{:,:,e}$ (lesson 05): $dG_{k,b,e} = \sum_u dF_{k,b,u} H_{b,u,e}$
#    -- **each gate gets only its own task's gradient** -- and
#    $dH_{b,u,e} = \sum_k dF_{k,b,u}\, G_{k,b,e}$ -- **every task's gradient flows into the same
#    experts, weighted by that task's gate**;
# 3. **gates**: softmax's Jacobian product, then the gate's dense layer;
# 4. **experts**: ReLU's mask, then the experts' product (lesson 05).
#
# Step 2 is the whole story of MMoE: in Shared-Bottom the tasks' gradients add up on every
# shared weight; in MMoE each task pulls mostly on the experts its gate favours. Below:
# backward with task 1's loss only, then with task 2's only.

# %%
preds, cache = model.forward(X)
ones = [np.ones_like(p) for p in preds]
only = [model.backward(cache, [ones[0], 0 * ones[1]]), model.backward(cache, [0 * ones[0], ones[1]])]
both = model.backward(cache, ones)
print("gate 2's gradient from task 1's loss alone is zero:", np.all(only[0]["gate_kernel"][1] == 0))
print("the experts' gradient is the sum of the two tasks':",
      np.allclose(both["expert_kernel"], only[0]["expert_kernel"] + only[1]["expert_kernel"]))
g1, g2 = (o["expert_kernel"].ravel() for o in only)
print(f"cosine between the two tasks' pulls on the experts: {g1 @ g2 / np.linalg.norm(g1) / np.linalg.norm(g2):+.3f} "
      "(+1: they agree, -1: they pull apart)")

# %% [markdown]
# Write the whole backward pass yourself in exercise `ex06_mmoe_backward`: the checker
# compares every parameter's gradient with central differences, as
# `mmoe_np.gradcheck.check_model` checks the library's models.

# %% [markdown]
# ## Train at correlation 1.0 and 0.5, then read the gates
# For each task we average its gate over the test inputs: a (K, E) table of how much each
# task uses each expert.

# %%
steps = pick(4000, 300)
usage, losses = {}, {}
for corr in (1.0, 0.5):
    data = mn.make_synthetic(n=10_000, d=100, p=corr, seed=1)
    (Xtr, Ytr), (Xte, Yte) = data.split((0.8, 0.2))
    mmoe = mn.MMoE(n_features=100, n_experts=8, expert_units=16, seed=2, backend="numba")
    mn.fit(mmoe, Xtr, Ytr, optimizer=mn.Adam(lr=1e-2), steps=steps, progress=False)
    losses[corr] = mn.evaluate(mmoe, Xte, Yte)
    usage[corr] = mmoe.gates(Xte).mean(axis=1)                                      # (K, E)
    gap = 0.5 * np.abs(usage[corr][0] - usage[corr][1]).sum()
    print(f"correlation {corr}: test MSE {losses[corr].round(4)}; gate distance (total variation) {gap:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharey=True)
for ax, corr in zip(axes, usage):
    im = ax.imshow(usage[corr], vmin=0, vmax=max(u.max() for u in usage.values()), cmap="viridis", aspect="auto")
    ax.set_title(f"task correlation {corr}")
    ax.set_xlabel("expert")
    ax.set_yticks([0, 1], ["task 1 gate", "task 2 gate"])
fig.colorbar(im, ax=axes, label="mean gate weight")
fig.suptitle("MMoE gates after training: which experts each task uses", y=1.06)
savefig(fig, "06_mmoe_gates.png")

# %%
tv = {corr: 0.5 * np.abs(u[0] - u[1]).sum() for corr, u in usage.items()}
print(f"gate distance: {tv[1.0]:.3f} at correlation 1.0, {tv[0.5]:.3f} at correlation 0.5 -- the gates of the "
      + ("less related tasks are further apart" if tv[0.5] > tv[1.0] else "identical tasks are further apart here"))

# %% [markdown]
# **Reading the figure.** The total-variation distance between the two tasks' average gates
# (0 = identical usage, 1 = disjoint experts) is printed above. When the tasks are the same
# (correlation 1.0), both gates can mix the experts alike; when they differ, each gate can
# route its task to the experts that help it -- the paper's mechanism. One run is one
# sample, though: nothing in the loss forces identical tasks to use identical gates, and a
# distance measured once may be luck. Exercise 2 asks for several seeds before a conclusion.
#
# ## Exercises
# 1. Checkable: `lessons/exercises/ex06_mmoe_forward.py` -- the forward pass, stage by stage
#    (the checker tells you which stage is wrong) -- and `ex06_mmoe_backward.py`, the whole
#    backward pass; `python -m mmoe_np.check <file>`.
# 2. Repeat the experiment for 5 seeds and plot the gate distance against the correlation.
# 3. Show that an MMoE whose gates all have the same parameters computes exactly what an
#    OMoE does (the test `test_omoe_equals_mmoe_with_tied_gates` checks it).
