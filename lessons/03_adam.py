# %% [markdown]
# # Lesson 03 — Losses, initialisation, Adam, and the training loop `fit`
#
# **You will learn** the two losses of this project and their gradients (mean squared error,
# and binary cross-entropy on logits in its numerically stable form), why weights start
# Glorot-uniform and biases at zero, the Adam update with its bias correction, and what
# `mn.fit` does -- minibatches, the `History` it returns, early stopping -- so that from lesson
# 04 on you can use it knowing every line of it.
#
# ## 1. The mean squared error and its gradient
# For predictions $\hat y$ and targets $y$ of shape (B, O), with $N = B \cdot O$ entries:
# $$L = \frac{1}{N}\sum_i (\hat y_i - y_i)^2 \qquad\Rightarrow\qquad
#   \frac{\partial L}{\partial \hat y_i} = \frac{2}{N}(\hat y_i - y_i)$$
# The 2 comes from the square, the $1/N$ from the mean. Every gradient in the model is
# scaled by this $1/N$: that is why the layers' backward passes (lesson 02) must *not* divide
# by the batch size again.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.gradcheck import compare, numerical_gradient
from mmoe_np.lesson_utils import pick, savefig

rng = np.random.default_rng(0)
pred, y = rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
loss, dpred = mn.losses.mse(pred, y)
print(f"MSE {loss:.4f}; gradient checked numerically, relative error "
      f"{compare('dpred', dpred, numerical_gradient(lambda: mn.losses.mse(pred, y)[0], pred)):.1e}")

# %% [markdown]
# ## 2. Binary cross-entropy on logits
# For a 0/1 task the tower outputs a *logit* $z$; the probability is the sigmoid
# $s(z) = 1/(1+e^{-z})$. The loss is $-y\log s - (1-y)\log(1-s)$, which, written directly,
# overflows: $e^{-z}$ for $z = -1000$ is infinite. The same number, rearranged,
# $$\ell(z, y) = \max(z, 0) - z\,y + \log\!\left(1 + e^{-|z|}\right)$$
# only ever exponentiates $-|z| \le 0$. Its gradient is the famously simple
# $\partial \ell / \partial z = s(z) - y$ (divided by N for the mean). Derive both yourself in
# exercise `ex03_bce_with_logits` -- below, the naive formula fails where the stable one does not.

# %%
z = np.array([[-1000.0], [-5.0], [0.0], [5.0], [1000.0]])
labels = np.array([[1.0], [0.0], [1.0], [1.0], [0.0]])
with np.errstate(all="ignore"):
    s = 1 / (1 + np.exp(-z))
    naive = -labels * np.log(s) - (1 - labels) * np.log(1 - s)
stable, dz = mn.losses.bce_with_logits(z, labels)
print("naive per-example losses:", naive.ravel(), "-> mean", naive.mean())
print(f"stable mean loss: {stable:.2f} (the logits of +-1000 on the wrong side cost 1000 each)")
print("gradient (s(z) - y) / N:", dz.ravel().round(4))

# %% [markdown]
# ## 3. Initialisation: Glorot-uniform kernels, zero biases
# A dense layer with `I` inputs and `O` outputs starts with weights drawn from
# $U(-a, a)$, $a = \sqrt{6/(I + O)}$ (Glorot & Bengio 2010, keras' default, which keras-mmoe
# uses). The variance $a^2/3 = 2/(I+O)$ keeps the size of activations and of gradients about
# the same from layer to layer. Drawn from $N(0, 1)$ instead, the pre-activations of a
# 100-input layer are ten times larger -- and grow with every layer. Every expert gets its own
# draw, so experts start out different (lesson 15 shows what happens when they do not).

# %%
X = rng.standard_normal((1000, 100))
glorot = mn.MMoE(n_features=100, seed=0).params["expert_kernel"].reshape(100, -1)
print(f"std of x W for x ~ N(0, I): Glorot {np.std(X @ glorot):.2f}, N(0, 1) weights "
      f"{np.std(X @ rng.standard_normal(glorot.shape)):.2f}")

# %% [markdown]
# ## 4. Adam
# For each parameter $\theta$ with gradient $g$ at step $t = 1, 2, \dots$:
# $$m \leftarrow \beta_1 m + (1-\beta_1)\,g, \qquad v \leftarrow \beta_2 v + (1-\beta_2)\,g^2$$
# $$\hat m = \frac{m}{1-\beta_1^t}, \qquad \hat v = \frac{v}{1-\beta_2^t}, \qquad
#   \theta \leftarrow \theta - \eta\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}$$
# `m` is a running mean of gradients (momentum), `v` of squared gradients (a per-parameter
# scale), so each parameter moves **about $\eta$ per step whatever the size of its gradient**.
# `m` and `v` start at zero, so early on they are biased towards zero; dividing by
# $1-\beta^t$ undoes exactly that.

# %%
b1, b2, g = 0.9, 0.999, 2.0
m = v = 0.0
for t in range(1, 4):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    print(f"t={t}: m={m:.3f}  m_hat={m / (1 - b1**t):.3f}   v={v:.4f}  v_hat={v / (1 - b2**t):.3f}")
p = {"w": np.array([1.0, -2.0])}
opt = mn.Adam(lr=0.1, fused=False)                 # the NumPy code above, line for line
opt.step(p, {"w": np.array([0.5, -1.0])})
print("after one step:", p["w"], "(each weight moved by lr = 0.1 against its gradient's sign)")

# %% [markdown]
# ## 5. The training loop `mn.fit`, and the `History` it returns
# `fit(model, X, Y, optimizer=..., steps=..., batch_size=..., X_val=..., Y_val=...)` repeats
# five named steps (read them in `mmoe_np/train.py`): draw a minibatch (rows without
# replacement, a fresh permutation each epoch), forward, loss, backward, update. Every
# `eval_every` steps it appends a row to the `History`: the mean minibatch loss since the
# last row (`train_loss`) and the validation loss (`val_loss`). It also watches for
# divergence: a NaN loss, or one 10,000 times its first value, stops training with an error
# naming the step, and the model keeps its last good parameters.

# %%
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=0)
(X, Y), (X_val, Y_val) = data.split((0.8, 0.2))
y, y_val = Y[:, :1], Y_val[:, :1]                  # task 1 only
model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
history = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=1e-2), steps=pick(600, 200),
                 eval_every=pick(100, 50), progress=False)
steps, train, val = history.as_arrays()
for s, tr, va in zip(steps, train[:, 0], val[:, 0]):
    print(f"step {s:4d}: mean minibatch loss {tr:.4f}, validation loss {va:.4f}")

# %% [markdown]
# **Early stopping.** `fit` calls `on_eval(step, model, history)` after each evaluation; if it
# returns True, training stops. Keeping the parameters of the best validation loss and
# stopping after `patience` evaluations without improvement is early stopping (lesson 09
# uses it on real data, where the validation loss does turn back up).

# %%
best = {"loss": np.inf, "step": 0, "params": None, "since": 0}


def keep_best(step, model, history, patience=3):
    loss = history.val_loss[-1][0]
    if loss < best["loss"]:
        best.update(loss=loss, step=step, params=model.params.copy(), since=0)
    else:
        best["since"] += 1
    return best["since"] >= patience


small = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
mn.fit(small, X[:300], y[:300], X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=1e-2), steps=pick(3000, 600),
       eval_every=50, on_eval=keep_best, progress=False)
small.params.update(best["params"])
print(f"300 training rows: the best validation loss {best['loss']:.4f} was at step {best['step']}; training "
      f"stopped {best['since']} evaluations later, and the model keeps the best step's parameters")

# %% [markdown]
# ## 6. SGD against Adam on the single-task regressor

# %%
steps_total = pick(3000, 300)
curves = {}
for label, opt in [("SGD lr=0.05", mn.SGD(lr=0.05)), ("SGD+momentum 0.9, lr=0.005", mn.SGD(lr=0.005, momentum=0.9)),
                   ("Adam lr=1e-3", mn.Adam(lr=1e-3)), ("Adam lr=1e-2", mn.Adam(lr=1e-2))]:
    model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
    history = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=opt, steps=steps_total,
                     eval_every=max(steps_total // 30, 1), progress=False, seed=0)
    curves[label] = history.as_arrays()
    s, _, val = curves[label]
    print(f"{label:28s} validation MSE after {s[1]:4d} steps {val[1, 0]:.4f}, at the end {val[-1, 0]:.4f}")

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

# %%
final = {label: c[2][-1, 0] for label, c in curves.items()}
early = {label: c[2][1, 0] for label, c in curves.items()}
slowest = max(early, key=early.get)
print(f"Slowest start: {slowest} ({early[slowest]:.3f} after {curves[slowest][0][1]} steps). Adam moves each weight "
      "by about lr per step whatever its gradient, so at lr 1e-3 a weight travels at most about "
      f"{1e-3 * curves[slowest][0][1]:.2f} in that time -- far less than SGD's large early steps.")
print(f"Best at the end: {min(final, key=final.get)} ({min(final.values()):.4f}); "
      f"Adam at 1e-2 ends at {final['Adam lr=1e-2']:.4f}, Adam at 1e-3 at {final['Adam lr=1e-3']:.4f}.")

# %% [markdown]
# **Reading the figure.** The printout above names the slowest curve and the best one. Adam's
# per-weight step of about `lr` explains a slow start at a small learning rate: the
# step size, not the gradient, limits how far the weights travel. The same rate that is slow
# here is the one the paper's grid search picks in the 200-run study (REPRODUCTION.md): with
# enough steps, a small, steady step ends lower.
#
# ## Exercises
# 1. Checkable: `lessons/exercises/ex03_mse.py` and `ex03_bce_with_logits.py` -- derive each
#    gradient, then `python -m mmoe_np.check lessons/exercises/ex03_mse.py`.
# 2. Checkable: `lessons/exercises/ex03_adam_step.py` -- one Adam step.
# 3. Set `beta1=0` in Adam: what is left is RMSProp with bias correction. Compare its curve.
# 4. Show that the first Adam update has size exactly $\eta\,|g|/(|g| + \epsilon)$.
# 5. Early stopping above used 300 training rows. Run it with all 8,000: at which step is the
#    validation loss best now, and why does early stopping matter less with more data?
