# %% [markdown]
# # Lesson 05 — One-gate Mixture-of-Experts: experts, a softmax gate, a weighted sum
#
# **You will learn** the three pieces every MoE model is built from, forward and backward,
# each checked against numerical gradients:
#
# 1. **Experts**: E small networks $f_i(x) = \mathrm{ReLU}(W_i x + b_i)$, all computed at
#    once as one tensordot with `expert_kernel` of shape (D, U, E);
# 2. **A softmax gate**: $g(x) = \mathrm{softmax}(W_g x + b_g) \in \mathbb{R}^E$, weights
#    that sum to one;
# 3. **The gate-weighted sum**: $f(x) = \sum_i g(x)_i f_i(x)$.
#
# One-gate MoE (OMoE) feeds that one mixture to every task tower.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.gradcheck import compare, numerical_gradient_array
from mmoe_np.kernels import reference as kernels
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.nn import layers

rng = np.random.default_rng(0)
B, D, U, E = 6, 5, 4, 3

# %% [markdown]
# ## 1. The experts' tensordot
# $H_{bue} = \mathrm{ReLU}(\sum_d X_{bd} W_{due} + b_{ue})$: contracting over `d` turns
# (B, D) and (D, U, E) into (B, U, E). Because `W` is (D, U, E), it is also a (D, U·E)
# matrix, so all experts are *one* matrix product: that is what the fast kernels exploit.

# %%
X, W, b = rng.standard_normal((B, D)), rng.standard_normal((D, U, E)), rng.standard_normal((U, E))
H = kernels.experts_forward(X, W, b)
print("X", X.shape, "W", W.shape, "-> H", H.shape)
same = np.maximum((X @ W.reshape(D, U * E)).reshape(B, U, E) + b, 0)
print("equals one matmul:", np.allclose(H, same))

# %% [markdown]
# ### The experts' backward pass, derived
# Write $Z_{bue} = \sum_d X_{bd} W_{due} + b_{ue}$, so $H = \mathrm{ReLU}(Z)$. Given the
# upstream gradient $dH = \partial L / \partial H$ (B, U, E):
#
# 1. **ReLU's mask.** $\partial H_{bue}/\partial Z_{bue}$ is 1 where the unit is on and 0 where
#    it is off, so $dZ = dH \cdot [Z > 0]$; and $Z > 0$ exactly where $H > 0$, so the mask can
#    be read from H (the forward pass need not keep Z).
# 2. $W_{due}$ touches $Z_{bue}$ for every row b, with slope $X_{bd}$:
#    $dW_{due} = \sum_b X_{bd}\, dZ_{bue}$ -- again one matrix product, $X^\top dZ$.
# 3. $b_{ue}$ touches every row: $db_{ue} = \sum_b dZ_{bue}$.
# 4. $X_{bd}$ touches every unit of every expert: $dX_{bd} = \sum_{u,e} dZ_{bue} W_{due}$.
#
# Forgetting step 1 is the classic mistake: the gradient then flows through units that were
# off. Derive it yourself in exercise `ex05_experts_backward` (the checker recognises a
# missing mask and says so).

# %%
dH = rng.standard_normal(H.shape)
dX, dW, db = kernels.experts_backward(X, W, H, dH)
f = lambda: kernels.experts_forward(X, W, b)
for name, analytic, wrt in [("dX", dX, X), ("dW", dW, W), ("db", db, b)]:
    print(f"experts {name}: relative error {compare(name, analytic, numerical_gradient_array(f, wrt, dH)):.1e}")
unmasked = kernels.experts_backward(X, W, np.ones_like(H), dH)[1]
print(f"without the mask, dW would be off by {np.abs(unmasked - dW).max():.2f} at worst "
      f"({np.mean(H == 0):.0%} of the units are off here)")

# %% [markdown]
# ## 2. The softmax gate, and its backward pass
# With $g = \mathrm{softmax}(l)$, the Jacobian is $\partial g_i/\partial l_j = g_i(\delta_{ij} - g_j)$,
# so for an upstream gradient $dg$:
# $$dl_j = g_j\,\big(dg_j - \textstyle\sum_i g_i\, dg_i\big)$$
# The gate kernel has a leading axis for the number of gates (1 for OMoE): (1, D, E).

# %%
Wg, bg = rng.standard_normal((1, D, E)), rng.standard_normal((1, E))
G, gate_cache = layers.softmax_gate_forward(X, Wg, bg)
print("G", G.shape, "rows sum to", G.sum(-1)[0, :3])
dG = rng.standard_normal(G.shape)
dX_g, dWg, dbg = layers.softmax_gate_backward(dG, gate_cache, need_dX=True)
g = lambda: layers.softmax_gate_forward(X, Wg, bg)[0]
print(f"gate dW: relative error {compare('dWg', dWg, numerical_gradient_array(g, Wg, dG)):.1e}")

# %% [markdown]
# ## 3. The gate-weighted sum
# $F_{kbu} = \sum_e G_{kbe} H_{bue}$; backward: $dH_{bue} = \sum_k dF_{kbu} G_{kbe}$ and
# $dG_{kbe} = \sum_u dF_{kbu} H_{bue}$ — each input's gradient is the other input weighted
# by the upstream gradient.

# %%
F = kernels.gate_mix_forward(H, G)
print("H", H.shape, "x G", G.shape, "-> F", F.shape)
dF = rng.standard_normal(F.shape)
dH_mix, dG_mix = kernels.gate_mix_backward(H, G, dF)
m = lambda: kernels.gate_mix_forward(H, G)
print(f"mix dH: {compare('dH', dH_mix, numerical_gradient_array(m, H, dF)):.1e}, "
      f"dG: {compare('dG', dG_mix, numerical_gradient_array(m, G, dF)):.1e}")

# %% [markdown]
# ## The whole OMoE, gradient-checked and trained

# %%
small = mn.OMoE(n_features=D, n_tasks=2, n_experts=E, expert_units=U, tower_units=3, seed=0)
errors = mn.gradcheck.check_model(small, X, [np.zeros((B, 1))] * 2)
print("OMoE gradient check, worst relative error per parameter:")
for name, err in errors.items():
    print(f"  {name:14s} {err:.1e}")

# %% [markdown]
# `check_model` raises at the first parameter whose gradient disagrees with central
# differences (relative error above 1e-6), so a printed table means every parameter passed.
# Now the paper's sizes: 8 experts of 16 units, trained with Adam on task 1 and task 2 of the
# synthetic data, on the draw lesson 02 chose (the one in the middle of 20).

# %%
DATA_SEED = 8                                 # lesson 02's draw in the middle of 20 (lessons 03 and 06 use it too)
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=DATA_SEED)
(Xtr, Ytr), (Xte, Yte) = data.split((0.8, 0.2))
omoe = mn.OMoE(n_features=100, n_experts=8, expert_units=16, seed=0, backend="numba")
mn.fit(omoe, Xtr, Ytr, optimizer=mn.Adam(lr=1e-2), steps=pick(3000, 300), progress=False)
print("OMoE test MSE of task 1, task 2:", mn.evaluate(omoe, Xte, Yte).round(4),
      " label variances (the loss of predicting the mean):", Yte.var(axis=0).round(3))
usage = omoe.gates(Xte)[0]                                    # (B, E): gate weights, each in [0, 1]

# %% [markdown]
# Read the test losses against the label variances: a model that explains nothing scores the
# variance. The figure shows how the one gate spreads its weight over the 8 experts, across
# the test inputs.

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
median = np.median(usage, axis=0)
low, high = np.quantile(usage, [0.25, 0.75], axis=0)
ax.bar(np.arange(1, 9), median, yerr=[median - low, high - median], capsize=3)
ax.set_xticks(np.arange(1, 9))
ax.set_xlabel("expert i (1-8, as in the paper's f_i; in the code, index i - 1)")
ax.set_ylabel("gate weight: median, quartiles")
ax.set_ylim(0, 1)
ax.set_title("OMoE after training: how its one gate uses the 8 experts", fontsize=10)
fig.tight_layout()
savefig(fig, "05_omoe_gate.png")
order = np.argsort(-usage.mean(0))
print("mean gate weight per expert, largest first:", usage.mean(0)[order].round(3))
print(f"the top two experts carry {usage.mean(0)[order[:2]].sum():.0%} of the weight on average; a uniform gate "
      "would give each of the 8 experts 1/8 = 12.5%")

# %% [markdown]
# **Reading the figure.** Gate weights lie between 0 and 1, so the bars show the median and
# the quartiles over the test inputs (a mean +- standard deviation would draw impossible
# negative weights). The printout says how concentrated the gate is, against the 1/8 of a
# uniform gate. How much a trained gate leans on a few experts differs from run to run;
# lesson 15 measures how often a gate collapses onto one.

# %% [markdown]
# ## Exercises
# 1. Checkable derivations: `lessons/exercises/ex05_experts_backward.py` (the mask!),
#    `ex05_softmax_backward.py` and `ex05_gate_mix_backward.py`; check each with
#    `python -m mmoe_np.check <file>`.
# 2. Prove that $\sum_j dl_j = 0$ for the softmax backward. Why must it be so?
# 3. Initialise the gate kernel to zeros. What does the gate compute at the first step,
#    and do the experts still learn different things?
