# %% [markdown]
# # Lesson 01 — The paper's synthetic data: two tasks whose relatedness you control
#
# **You will learn** how Ma et al. (KDD 2018, §3.2) build two regression tasks whose
# relatedness is a single number, the cosine `p` between the tasks' weight vectors; how to
# write that generator without a Python loop; and why the *label* correlation is not `p`
# (the paper's Figure 2).
#
# The recipe, for input dimension `d`:
#
# 1. two orthonormal vectors $u_1, u_2 \in \mathbb{R}^d$;
# 2. $w_1 = c\,u_1$ and $w_2 = c\,(p\,u_1 + \sqrt{1-p^2}\,u_2)$, so $\cos(w_1, w_2) = p$;
# 3. an input $x \sim N(0, I_d)$;
# 4. $y_k = w_k^\top x + \sum_{i=1}^{m} \sin(\alpha_i\, w_k^\top x + \beta_i) + \epsilon_k$.
#
# The linear part makes the tasks related exactly as much as `p` says; the sinusoids make
# them non-linear (and, as we will see, less related than `p`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np import findings, stats
from mmoe_np.lesson_utils import pick, savefig

rng = np.random.default_rng(0)   # every random draw in this lesson comes from here
d, p, c, m = 100, 0.5, 1.0, 10

# %% [markdown]
# ## One sample, step by step
# Step 1: orthonormal $u_1, u_2$. A QR decomposition of a random $d \times 2$ matrix gives
# two orthonormal columns.

# %%
q, _ = np.linalg.qr(rng.standard_normal((d, 2)))   # (d, 2)
u1, u2 = q[:, 0], q[:, 1]
print("u1.u2 =", round(float(u1 @ u2), 12), " |u1| =", round(float(np.linalg.norm(u1)), 12))

# %% [markdown]
# Step 2: the task weights. Their cosine is `p` by construction:
# $w_1^\top w_2 = c^2 p\,u_1^\top u_1 = c^2 p$ and both have norm `c`.

# %%
w1 = c * u1
w2 = c * (p * u1 + np.sqrt(1 - p**2) * u2)
print("cos(w1, w2) =", round(float(w1 @ w2 / (np.linalg.norm(w1) * np.linalg.norm(w2))), 12))

# %% [markdown]
# Steps 3–4: one input and its two labels. `alpha`, `beta` are shared by both tasks; the
# paper gives no values, so we draw them from N(0, 1) (documented in `mmoe_np/data/synthetic.py`).

# %%
alpha, beta = rng.standard_normal(m), rng.standard_normal(m)
x = rng.standard_normal(d)                                     # (d,)
for k, w in enumerate([w1, w2], start=1):
    s = w @ x                                                  # the linear part, a number
    y = s + np.sum(np.sin(alpha * s + beta)) + 0.01 * rng.standard_normal()
    print(f"task {k}: w.x = {s:+.3f}  ->  y = {y:+.3f}")

# %% [markdown]
# ## All samples at once
# The generator in the library does the same for `n` rows with array operations only:
# `S = X @ [w1 w2]` is (n, 2), and the sinusoids broadcast to (n, 2, m) before summing.

# %%
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=0)
print("X", data.X.shape, " Y", data.Y.shape, " alpha", data.alpha.shape)
print("label correlation at p = 0.5:", round(mn.metrics.pearson(data.Y[:, 0], data.Y[:, 1]), 3))

# %% [markdown]
# ## Figure 2 of the paper: label correlation against weight cosine
# Protocol: for each cosine value, draw 10,000 points, compute the Pearson correlation of
# the two label columns; repeat with fresh draws and plot the mean with error bars.

# %%
cosines = np.linspace(-1, 1, pick(21, 5))
trials = pick(20, 3)
corr = np.array([[mn.metrics.pearson(*mn.make_synthetic(n=10_000, d=100, p=float(cos), seed=1000 * t + i).Y.T)
                  for t in range(trials)] for i, cos in enumerate(cosines)])   # (cosines, trials)
for cos, row in zip(cosines[:: max(1, len(cosines) // 5)], corr[:: max(1, len(cosines) // 5)]):
    print(f"cosine {cos:+.1f}: label correlation {row.mean():+.3f} +- {row.std():.3f}")

fig, ax = plt.subplots(figsize=(5.5, 4))
ax.errorbar(cosines, corr.mean(1), yerr=corr.std(1), fmt="o-", capsize=3, label="mean +- std over trials")
ax.plot([-1, 1], [-1, 1], "k:", label="label correlation = cosine")
ax.set_xlabel("weight cosine p")
ax.set_ylabel("Pearson correlation of y1, y2")
ax.set_title(f"Label correlation vs weight cosine ({trials} trials x 10,000 points)")
ax.legend()
ax.grid(alpha=0.3)
savefig(fig, "01_label_correlation.png")

# %% [markdown]
# ## Reading the figure
# Compare the dots with the dotted diagonal, where the label correlation would equal the
# cosine. Why they can differ: the sinusoids add variance that the two tasks do not share
# unless $w_1 = w_2$, so for |p| < 1 they pull the label correlation towards 0. At p = 1 the
# tasks differ only by the noise. At p = -1 the linear parts flip sign but the non-linear
# ones do not: $\sin(-\alpha s + \beta)$ is not $-\sin(\alpha s + \beta)$ (the paper plots
# p >= 0 only). The error bars are the spread over trials, and each trial draws new `alpha`,
# `beta`: the shape of the non-linearity matters as much as `p`. Below, for two cosines, the
# ratio of the label correlation to the cosine, averaged over the trials with its 95% t
# interval (`mmoe_np.stats`): below 1 means the labels are less correlated than the weights.

# %%
for target in (0.5, -1.0):
    i = int(np.argmin(np.abs(cosines - target)))
    ratio = stats.mean_interval(corr[i] / cosines[i])               # over the trials
    value = stats.Interval(ratio.mean, ratio.low, ratio.high, ratio.runs)
    print(findings.interval(f"the label correlation at cosine {cosines[i]:+.1f}", value, statistic="correlation/cosine",
                            above="is stronger than the cosine", below="is weaker than the cosine (closer to 0)"))

# %% [markdown]
# ## Exercises
# 1. Set `m=0` (no sinusoids). Show that the label correlation is then
#    $p\,c^2/(c^2 + \sigma^2)$ ($\sigma$ = `noise_std`): within a hair of `p` for c = 1 and
#    $\sigma$ = 0.01, but not exactly `p`. Check it with the generator, then raise `noise_std` to 1.
# 2. Fix `alpha = np.arange(1, 11)` and `beta = np.arange(10)**2` (Google Research's choice)
#    and redo the figure. Why does the correlation collapse for every p < 1?
# 3. Show with algebra that $\|w_2\| = c$ for any `p` in [-1, 1].
# 4. Rewrite the vectorised generator with `np.einsum` for the sinusoid sum.
