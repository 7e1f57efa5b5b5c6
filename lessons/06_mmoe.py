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
from mmoe_np import findings
from mmoe_np.lesson_utils import pick, savefig

model = mn.MMoE(n_features=100, n_tasks=2, n_experts=8, expert_units=16, tower_units=8, seed=0)
for name, value in model.params.items():
    print(f"{name:14s} {value.shape}")

# %% [markdown]
# ## The forward pass, as in `mmoe_np/models/moe.py`
# Every step below is one line of `MMoE.shared_forward` (which computes H and G in one call,
# `experts_and_gates_forward`: both are products with x); shapes in the comments.

# %%
DATA_SEED = 8                             # lesson 02's draw in the middle of 20; lessons 03 and 05 use it too
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=DATA_SEED)
X, Y = data.X[:32], data.Y[:32]
p = model.params
H = model.kernels.experts_forward(X, p["expert_kernel"], p["expert_bias"])           # (B, U, E)
G, _ = mn.layers.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])          # (K, B, E)
F = model.kernels.gate_mix_forward(H, G)                                            # (K, B, U)
print("H", H.shape, " G", G.shape, " F", F.shape)
print("the two tasks' gate weights for input 0, at initialisation:")
print("  task 1, g^1 = G[0, 0]:", G[0, 0].round(3))
print("  task 2, g^2 = G[1, 0]:", G[1, 0].round(3))

# %% [markdown]
# The tasks are numbered 1 and 2, as in the paper ($y_1$, $y_2$, $g^1$, $g^2$); Python's
# indices start at 0, so task k's gate is `G[k - 1]` and its parameters are
# `params["gate_kernel"][k - 1]`.
#
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
# backward with task 1's loss only (task 2's upstream gradient set to 0), then with task 2's
# only, on the 32 inputs above and their real targets.

# %%
preds, cache = model.forward(X)
d = [mn.losses.mse(preds[k], Y[:, k:k + 1])[1] for k in range(2)]                  # dL_k / dpred_k
only = [model.backward(cache, [d[0], 0 * d[1]]), model.backward(cache, [0 * d[0], d[1]])]
both = model.backward(cache, d)
print("task 2's gate (gate_kernel[1]) gets no gradient from task 1's loss:", np.all(only[0]["gate_kernel"][1] == 0))
print("the experts' gradient is the sum of the two tasks':",
      np.allclose(both["expert_kernel"], only[0]["expert_kernel"] + only[1]["expert_kernel"]))

# %% [markdown]
# How much do the two tasks' pulls on the experts agree? As in lesson 04, the cosine between
# the two tasks' gradients on the shared weights (+1: the same direction, -1: opposite), for
# fresh models at correlations 1.0, 0.5 and 0, averaged over 10 draws of data and
# initialisation, with task 2's tower tied to task 1's so that two random towers do not hide
# the tasks. Two versions: with task 2's gate tied to task 1's too -- the experts are then
# mixed alike for both tasks, as in OMoE -- and with each task's own gate, as MMoE starts.

# %%
def experts_cosine(p, seed, tie_gates):
    """Cosine between the two tasks' gradients on a fresh MMoE's expert_kernel (task 2's tower tied to task 1's)."""
    data = mn.make_synthetic(n=512, d=100, p=p, seed=seed)
    mmoe = mn.MMoE(n_features=100, n_experts=8, expert_units=16, tower_units=8, seed=1000 + seed)
    tied = ["tower_kernel", "tower_bias", "output_kernel", "output_bias"] + (["gate_kernel", "gate_bias"] if tie_gates
                                                                            else [])
    for name in tied:
        mmoe.params[name][1] = mmoe.params[name][0]                 # task 2's := task 1's (written through the view)
    preds, cache = mmoe.forward(data.X)
    d = [mn.losses.mse(preds[k], data.Y[:, k:k + 1])[1] for k in range(2)]
    g1 = mmoe.backward(cache, [d[0], 0 * d[1]])["expert_kernel"].ravel()          # task 1's loss only
    g2 = mmoe.backward(cache, [0 * d[0], d[1]])["expert_kernel"].ravel()          # task 2's loss only
    return g1 @ g2 / np.linalg.norm(g1) / np.linalg.norm(g2)


draws = range(pick(10, 3))
print("correlation   gates tied: mean (min .. max)   each task's own gate: mean (min .. max)")
for corr in (1.0, 0.5, 0.0):
    same = [experts_cosine(corr, seed, True) for seed in draws]
    own = [experts_cosine(corr, seed, False) for seed in draws]
    print(f"   {corr:.1f}        {np.mean(same):+.3f} ({min(same):+.2f} .. {max(same):+.2f})"
          f"             {np.mean(own):+.3f} ({min(own):+.2f} .. {max(own):+.2f})")

# %% [markdown]
# With tied gates the cosine measures the tasks, as lesson 04's tied column did for
# Shared-Bottom (and, as there, both tasks share a mean and a starting prediction, so it need
# not be 0 at correlation 0). With each task's own gate, every task's gradient reaches the
# experts weighted by its own gate, input by input: compare the two columns, row by row, to
# see how much the gates alone separate the pulls before any training.
#
# Write the whole backward pass yourself in exercise `ex06_mmoe_backward`: the checker
# compares every parameter's gradient with central differences, as
# `mmoe_np.gradcheck.check_model` checks the library's models.

# %% [markdown]
# ## Train at correlation 1.0 and 0.5, then read the gates
# OMoE (lesson 05) and MMoE, trained alike on the same draw of the data -- lesson 05's, so
# its OMoE at correlation 0.5 is the model trained there -- from the same seed, on the same
# minibatches. A test loss means little on its own: how hard a draw is varies a lot between
# draws (lesson 02's table), so losses are compared only on the same data, and read against
# the label variance (the loss of predicting the mean).

# %%
steps = pick(3000, 300)
usage, losses = {}, {}
for corr in (1.0, 0.5):
    data = mn.make_synthetic(n=10_000, d=100, p=corr, seed=DATA_SEED)
    (Xtr, Ytr), (Xte, Yte) = data.split((0.8, 0.2))
    for name, Model in (("OMoE", mn.OMoE), ("MMoE", mn.MMoE)):
        net = Model(n_features=100, n_experts=8, expert_units=16, seed=0, backend="numba")
        mn.fit(net, Xtr, Ytr, optimizer=mn.Adam(lr=1e-2), steps=steps, progress=False)
        losses[name, corr] = mn.evaluate(net, Xte, Yte)
    usage[corr] = net.gates(Xte).mean(axis=1)                    # MMoE's gates, averaged over inputs: (K, E)
    print(f"correlation {corr}: test MSE of task 1, task 2 -- OMoE {losses['OMoE', corr].round(4)}, "
          f"MMoE {losses['MMoE', corr].round(4)}; label variances {Yte.var(axis=0).round(3)}")
for corr in (1.0, 0.5):
    print(findings.versus(f"MMoE's mean test loss over the two tasks at correlation {corr}",
                          losses["MMoE", corr].mean(), "OMoE's", losses["OMoE", corr].mean()))

# %% [markdown]
# One run of each model at each correlation is one sample, not a verdict: lesson 07 compares
# the models over paired runs. For each task, the figure shows MMoE's gate averaged over the
# test inputs: a (K, E) table of how much each task uses each expert.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharey=True)
for ax, corr in zip(axes, usage):
    im = ax.imshow(usage[corr], vmin=0, vmax=max(u.max() for u in usage.values()), cmap="viridis", aspect="auto")
    ax.set_title(f"task correlation {corr}")
    ax.set_xticks(np.arange(8), np.arange(1, 9))
    ax.set_xlabel("expert i (code index i - 1)")
    ax.set_yticks([0, 1], ["task 1 gate", "task 2 gate"])
fig.colorbar(im, ax=axes, label="mean gate weight")
fig.suptitle("MMoE gates after training: which experts each task uses", y=1.06)
savefig(fig, "06_mmoe_gates.png")

# %% [markdown]
# How far apart are the two gates? The total-variation distance between the two tasks'
# average gates, $\frac12 \sum_e |\bar g^1_e - \bar g^2_e|$, is 0 when they use the experts
# identically and 1 when they use disjoint experts:

# %%
tv = {corr: 0.5 * np.abs(u[0] - u[1]).sum() for corr, u in usage.items()}
print(f"gate distance (total variation): {tv[1.0]:.3f} at correlation 1.0, {tv[0.5]:.3f} at correlation 0.5")
print(findings.versus("the distance between MMoE's two gates at correlation 0.5", tv[0.5], "at correlation 1.0",
                      tv[1.0]))

# %% [markdown]
# **Reading the figure.** The distance between the two gates is printed above. When the
# tasks are the same (correlation 1.0), both gates can mix the experts alike; when they
# differ, each gate can route its task to the experts that help it -- the paper's mechanism.
# One run is one sample, though: nothing in the loss forces identical tasks to use identical
# gates, and a distance measured once may be luck. Exercise 2 asks for several seeds before
# a conclusion.
#
# ## Exercises
# 1. Checkable: `lessons/exercises/ex06_mmoe_forward.py` -- the forward pass, stage by stage
#    (the checker tells you which stage is wrong) -- and `ex06_mmoe_backward.py`, the whole
#    backward pass; `python -m mmoe_np.check <file>`.
# 2. Repeat the experiment for 5 seeds and plot the gate distance against the correlation.
# 3. Show that an MMoE whose gates all have the same parameters computes exactly what an
#    OMoE does (the test `test_omoe_equals_mmoe_with_tied_gates` checks it).
