# %% [markdown]
# # Lesson 03 — Adam from scratch
#
# **You will learn** the Adam update (Kingma & Ba, 2015), why it needs a bias correction,
# and how it compares with plain SGD on the single-task regressor of lesson 02. The paper
# trains every model with Adam.
#
# For each parameter $\theta$ with gradient $g$ at step $t = 1, 2, \dots$:
# $$m \leftarrow \beta_1 m + (1-\beta_1)\,g, \qquad v \leftarrow \beta_2 v + (1-\beta_2)\,g^2$$
# $$\hat m = \frac{m}{1-\beta_1^t}, \qquad \hat v = \frac{v}{1-\beta_2^t}, \qquad
#   \theta \leftarrow \theta - \eta\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}$$
# `m` is a running mean of gradients (momentum), `v` of squared gradients (a per-parameter
# scale), so each parameter moves about $\eta$ per step whatever the size of its gradient.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.lesson_utils import pick, savefig

# %% [markdown]
# ## Why the bias correction
# `m` and `v` start at zero, so early on they are biased towards zero: after one step
# $m = (1-\beta_1) g = 0.1\,g$. Dividing by $1-\beta_1^t$ undoes exactly that.

# %%
b1, b2, g = 0.9, 0.999, 2.0
m = v = 0.0
for t in range(1, 6):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    print(f"t={t}: m={m:.3f}  m_hat={m / (1 - b1**t):.3f}   v={v:.4f}  v_hat={v / (1 - b2**t):.3f}")

# %% [markdown]
# With a constant gradient 2, $\hat m = 2$ and $\hat v = 4$ from the first step, so the
# first update is $\eta \cdot 2/\sqrt{4} = \eta$. Without the correction it would be
# $\eta \cdot 0.2/\sqrt{0.004} \approx 3.2\eta$ — a jump at the start of training.
#
# ## Our implementation
# `mn.Adam` keeps `m` and `v` per parameter name. `Adam(fused=False)` is the NumPy code
# above, line for line; the default does the same arithmetic in one compiled pass.

# %%
p = {"w": np.array([1.0, -2.0])}
opt = mn.Adam(lr=0.1, fused=False)
opt.step(p, {"w": np.array([0.5, -1.0])})
print("after one step:", p["w"], "(each weight moved by lr = 0.1 against its gradient's sign)")

# %% [markdown]
# ## SGD against Adam on the single-task regressor

# %%
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=0)
(X, Y), (X_val, Y_val) = data.split((0.8, 0.2))
y, y_val = Y[:, :1], Y_val[:, :1]
steps = pick(3000, 300)
curves = {}
for label, opt in [("SGD lr=0.05", mn.SGD(lr=0.05)), ("SGD+momentum 0.9, lr=0.005", mn.SGD(lr=0.005, momentum=0.9)),
                   ("Adam lr=1e-3", mn.Adam(lr=1e-3)), ("Adam lr=1e-2", mn.Adam(lr=1e-2))]:
    model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
    history = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=opt, steps=steps,
                     eval_every=max(steps // 30, 1), progress=False, seed=0)
    curves[label] = history.as_arrays()
    print(f"{label:28s} validation MSE {curves[label][2][-1, 0]:.4f}")

fig, ax = plt.subplots(figsize=(5.5, 3.8))
for label, (s, _, val) in curves.items():
    ax.plot(s, val[:, 0], label=label)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("validation MSE")
ax.set_title("SGD vs Adam, single-task regressor (same data, same init)")
ax.legend()
ax.grid(alpha=0.3)
savefig(fig, "03_sgd_vs_adam.png")

# %% [markdown]
# ## Exercises
# 1. `lessons/exercises/ex03_adam_step.py`: write one Adam step and check it with
#    `python -m mmoe_np.check lessons/exercises/ex03_adam_step.py`.
# 2. Set `beta1=0` in Adam: what is left is RMSProp with bias correction. Compare its curve.
# 3. Show that the first Adam update has size exactly $\eta\,|g|/(|g| + \epsilon)$.
