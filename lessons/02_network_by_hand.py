# %% [markdown]
# # Lesson 02 — A network by hand: dense + ReLU, forward and backward
#
# **You will learn** to derive the backward pass of a dense layer and a ReLU on paper, to
# check it against a numerical gradient (the habit this whole project rests on), and to
# train a single-task regressor on task 1 of the synthetic data with plain SGD.
#
# ## The dense layer
# Forward, for a batch $x$ of shape (B, I), weights $W$ (I, O), bias $b$ (O,):
# $$z = xW + b \qquad (B, O)$$
# Given the upstream gradient $dz = \partial L/\partial z$ (B, O), the chain rule gives
# $$dx = dz\,W^\top \;(B, I), \qquad dW = x^\top dz \;(I, O), \qquad db = \textstyle\sum_b dz_b \;(O,)$$
# (each weight $W_{io}$ touches $z_{bo}$ for every row $b$, with slope $x_{bi}$).
#
# ## ReLU
# $a = \max(z, 0)$, so $dz = da \cdot [z > 0]$: the gradient passes where the unit was on.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.gradcheck import compare, numerical_gradient_array
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.nn import layers

rng = np.random.default_rng(0)
x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
z, cache = layers.dense_forward(x, W, b)
print("x", x.shape, "@ W", W.shape, "+ b", b.shape, "-> z", z.shape)

# %% [markdown]
# ## Check the derivation numerically
# Central differences: nudge one entry by ±h, see how $\sum z \cdot dz$ changes. In float64
# with h = 1e-6 the estimate is good to ~1e-10, so a correct backward pass agrees to ~1e-9
# and a wrong one is off by O(1).

# %%
dz = rng.standard_normal(z.shape)
dx, dW, db = layers.dense_backward(dz, cache)
f = lambda: layers.dense_forward(x, W, b)[0]
for name, analytic, wrt in [("dx", dx, x), ("dW", dW, W), ("db", db, b)]:
    err = compare(name, analytic, numerical_gradient_array(f, wrt, dz))
    print(f"{name}: relative error {err:.1e}")

a, relu_cache = layers.relu_forward(z)
da = rng.standard_normal(a.shape)
err = compare("relu dz", layers.relu_backward(da, relu_cache),
              numerical_gradient_array(lambda: layers.relu_forward(z)[0], z, da))
print(f"relu: relative error {err:.1e}")

# %% [markdown]
# A wrong backward pass is caught at once. A classic mistake: averaging over the batch
# inside the layer, when the loss has already divided by the batch size:

# %%
try:
    compare("dW (buggy)", x.T @ dz / len(x), numerical_gradient_array(f, W, dz))
except AssertionError as err:
    print("caught:", err)

# %% [markdown]
# ## Train a single-task regressor with plain SGD
# `SingleTask` is dense(100 → 16) + ReLU, then a tower dense(16 → 8) + ReLU, dense(8 → 1).
# Its `backward` chains exactly the pieces above. The training loop is five lines:
# forward, loss, backward, update, repeat.

# %%
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=0)
(X, Y), (X_test, Y_test) = data.split((0.8, 0.2))
y, y_test = Y[:, :1], Y_test[:, :1]                            # task 1 only
model = mn.SingleTask(n_features=100, hidden_units=16, tower_units=8, seed=0, backend="numba")
opt = mn.SGD(lr=0.05)
steps, batch = pick(3000, 300), 128
train_curve, test_curve = [], []
for step in range(steps):
    idx = rng.integers(0, len(X), batch)
    preds, cache = model.forward(X[idx])                       # preds: [ (B, 1) ]
    loss, dpred = mn.losses.mse(preds[0], y[idx])
    opt.step(model.params, model.backward(cache, [dpred]))
    train_curve.append(loss)
    if step % 50 == 0 or step == steps - 1:
        test_curve.append((step, mn.losses.mse(model.predict(X_test)[0], y_test)[0]))
print(f"test MSE after {steps} steps: {test_curve[-1][1]:.4f}  (label variance {y_test.var():.3f})")

fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.plot(np.convolve(train_curve, np.ones(25) / 25, mode="valid"), label="train (moving mean of 25)")
ax.plot(*zip(*test_curve), "o-", ms=3, label="test")
w_linear, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)     # the best linear model
linear = mn.losses.mse(np.c_[X_test, np.ones(len(X_test))] @ w_linear, y_test)[0]
ax.axhline(linear, color="k", ls=":", lw=1, label="best linear model (test)")
ax.set_yscale("log")
ax.set_xlabel("SGD step")
ax.set_ylabel("MSE")
ax.set_title("Single-task regressor on task 1, plain SGD")
ax.legend()
ax.grid(alpha=0.3)
savefig(fig, "02_single_task_sgd.png")

# %% [markdown]
# ## Reading the curve
# Task 1 is $y = w^\top x + \sum_i \sin(\alpha_i w^\top x + \beta_i)$: a linear part and a
# wiggly function of the same direction $w^\top x$. A network learns the easy part first.
# The dotted line is the test loss of the **best linear model** (least squares on the
# training rows): what is left once the linear part is learnt. The printout below compares
# the curve with it.

# %%
at = dict(test_curve)
plateau_step = min(s for s in at if at[s] <= 1.25 * linear) if any(v <= 1.25 * linear for v in at.values()) else None
print(f"label variance {y_test.var():.3f}; best linear model {linear:.3f}; network at the end {test_curve[-1][1]:.3f}")
if plateau_step is not None:
    print(f"By step {plateau_step} the test loss ({at[plateau_step]:.3f}) is within 25% of the linear model's: the "
          "linear part is learnt. The slow part after it is the sinusoids, which need the ReLU units to bend.")
    print("The network ends " + ("below" if test_curve[-1][1] < linear else "above") + " the linear model: "
          + ("it has learnt some of the non-linear part." if test_curve[-1][1] < linear
             else "plain SGD has not yet learnt the non-linear part in this many steps."))
else:
    print("The curve has not come down to the linear model's loss in this many steps (a quick run?).")

# %% [markdown]
# ## Exercises
# 1. `lessons/exercises/ex02_dense_backward.py`: write `dense_backward` yourself, then run
#    `python -m mmoe_np.check lessons/exercises/ex02_dense_backward.py`.
# 2. Derive $dx$ for $z = \tanh(xW + b)$ and check it numerically.
# 3. Try learning rates 0.5 and 0.005 in the loop above. What goes wrong at each end?
#    (`mn.fit`, lesson 03, stops a diverging run with an error that names the step.)
