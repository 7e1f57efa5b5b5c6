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
from mmoe_np import findings
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
# the same from layer to layer. For an input $x \sim N(0, I)$, the pre-activation $x^\top w$
# of one unit has standard deviation $\sqrt{I \cdot \mathrm{Var}(w)}$: with Glorot weights
# $\sqrt{2I/(I+O)}$, which is 1.31 for the 100 → 16 layer of this course; with weights drawn
# from $N(0, 1)$, $\sqrt{I} = 10$, about 7.6 times larger -- and the factor compounds with every
# layer. Every expert gets its own draw, so experts start out different (lesson 15 shows what
# happens when they do not). Measured on 1,000 random inputs:

# %%
X = rng.standard_normal((1000, 100))
glorot = mn.SingleTask(n_features=100, hidden_units=16, seed=0).params["bottom_kernel"]     # (100, 16)
std_glorot, std_normal = np.std(X @ glorot), np.std(X @ rng.standard_normal(glorot.shape))
print(f"std of x W for x ~ N(0, I): Glorot {std_glorot:.2f}, N(0, 1) weights {std_normal:.2f}")
print(findings.versus("the pre-activations' std with N(0, 1) weights", std_normal, "Glorot's", std_glorot))

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
DATA_SEED = 8                                      # lesson 02's draw in the middle of 20 (its rule, its table)
data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=DATA_SEED)
(X, Y), (X_val, Y_val) = data.split((0.8, 0.2))
y, y_val = Y[:, :1], Y_val[:, :1]                  # task 1 only
print(f"label variance (the loss of predicting the mean): {y_val.var():.3f}")
model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
history = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=1e-2), steps=pick(600, 200),
                 eval_every=pick(100, 50), progress=False)
steps, train, val = history.as_arrays()
for s, tr, va in zip(steps, train[:, 0], val[:, 0]):
    print(f"step {s:4d}: mean minibatch loss {tr:.4f}, validation loss {va:.4f}")

# %% [markdown]
# **Early stopping.** `fit` calls `on_eval(step, model, history)` after each evaluation; if it
# returns True, training stops. Keeping the parameters of the best validation loss and
# stopping after `patience` evaluations without improvement is early stopping. It matters
# when the network can memorise its training rows, so the demonstration gives it only 1,000
# of the 8,000 (about 16 weights per row), with Adam at 1e-3 and an evaluation every 50
# steps, so that the validation curve has several points before it can turn back up.

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
stopped = mn.fit(small, X[:1000], y[:1000], X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=1e-3),
                 steps=pick(3000, 600), eval_every=50, on_eval=keep_best, progress=False)
small.params.update(best["params"])
s, train, val = stopped.as_arrays()
print("validation loss every 50 steps:", val[:, 0].round(3))
print(f"1,000 training rows: the best validation loss {best['loss']:.4f} was at step {best['step']}; training "
      f"stopped at step {s[-1]}, and the model keeps the best step's parameters")
print(findings.versus("the kept model's validation loss", best["loss"], "the label variance", y_val.var()))
print(findings.versus(f"at step {s[-1]}, when training stopped, the validation loss", val[-1, 0], "the kept model's",
                      best["loss"], tolerance=0.01))

# %% [markdown]
# Read the printout against two yardsticks. The label variance is the loss of predicting
# the mean: a kept model is worth keeping only if it is below that. And the validation loss
# when training stopped, against the kept one, says whether the curve did turn back up --
# whether there was any memorising to stop. (With 1,000 rows and 100 inputs, the best linear
# model itself over-fits a little; lesson 09 uses early stopping on real data.)
#
# ## 6. SGD against Adam on the single-task regressor
# Four optimizers train the same network from the same initialisation on the same
# minibatches, all 8,000 rows. Besides the validation loss, each run records how far its
# weights have moved from their initial values after its first few hundred steps: the
# largest change of any single weight.

# %%
steps_total, early = pick(3000, 300), pick(200, 100)
curves, travel = {}, {}
for label, opt in [("SGD lr=0.05", mn.SGD(lr=0.05)), ("SGD+momentum 0.9, lr=0.005", mn.SGD(lr=0.005, momentum=0.9)),
                   ("Adam lr=1e-3", mn.Adam(lr=1e-3)), ("Adam lr=1e-2", mn.Adam(lr=1e-2))]:
    model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
    start = {name: w.copy() for name, w in model.params.items()}

    def how_far(step, model, history, label=label, start=start):
        if step == early:                          # the largest change of any weight so far
            travel[label] = max(np.abs(model.params[name] - start[name]).max() for name in start)
        return False                               # never stop

    curves[label] = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=opt, steps=steps_total,
                           eval_every=max(steps_total // 30, 1), on_eval=how_far, progress=False,
                           seed=0).as_arrays()
    s, _, val = curves[label]
    print(f"{label:28s} after {early} steps: validation MSE {val[list(s).index(early), 0]:.4f}, largest weight "
          f"change {travel[label]:.3f}; after {s[-1]} steps: {val[-1, 0]:.4f}")

# %% [markdown]
# The curves, on a log scale (the legend sits outside, so that it covers none of them):

# %%
fig, ax = plt.subplots(figsize=(7.5, 3.8))
for label, (s, _, val) in curves.items():
    ax.plot(s, val[:, 0], label=label)
ax.axhline(y_val.var(), color="0.5", ls="--", lw=1, label="predict the mean")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("validation MSE")
ax.set_title("SGD vs Adam, single-task regressor (same data, same init)")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
ax.grid(alpha=0.3)
savefig(fig, "03_sgd_vs_adam.png")

# %% [markdown]
# ## Reading the figure
# Adam moves each weight by about `lr` per step whatever the size of its gradient, so at
# `lr` = 1e-3 no weight can have moved more than about 1e-3 times the number of steps. Plain
# SGD's step is `lr` times the gradient, which can be large early on, when the loss is large.
# The sentences below compare the runs on how far their weights travelled early, and on where
# they ended:

# %%
final = {label: c[2][-1, 0] for label, c in curves.items()}
print(f"Adam at lr 1e-3 can move a weight by at most about {1e-3 * early:.2f} in {early} steps")
print(findings.versus(f"Adam at lr 1e-3's largest weight change in {early} steps", travel["Adam lr=1e-3"],
                      "plain SGD's", travel["SGD lr=0.05"]))
print(findings.versus(f"Adam at lr 1e-3's validation loss after {steps_total} steps", final["Adam lr=1e-3"],
                      "Adam at lr 1e-2's", final["Adam lr=1e-2"]))
print(findings.versus(f"plain SGD's validation loss after {steps_total} steps", final["SGD lr=0.05"],
                      "Adam at lr 1e-2's", final["Adam lr=1e-2"]))

# %% [markdown]
# Which learning rate is best depends on the budget: a small, steady step may be slow to
# start and still catch up with more steps, or not -- exercise 6 asks you to find out. This is
# why the 200-run study (REPRODUCTION.md) does not fix one rate: it chooses each model's rate
# from a grid (1e-4, 1e-3, 1e-2) on validation loss, at its own budget of 8,000 steps on
# fresh data.
#
# ## Exercises
# 1. Checkable: `lessons/exercises/ex03_mse.py` and `ex03_bce_with_logits.py` -- derive each
#    gradient, then `python -m mmoe_np.check lessons/exercises/ex03_mse.py`.
# 2. Checkable: `lessons/exercises/ex03_adam_step.py` -- one Adam step.
# 3. Set `beta1=0` in Adam: what is left is RMSProp with bias correction. Compare its curve.
# 4. Show that the first Adam update has size exactly $\eta\,|g|/(|g| + \epsilon)$.
# 5. Early stopping above used 1,000 training rows. Run it with all 8,000: at which step is the
#    validation loss best now, and why does early stopping matter less with more data?
# 6. Train Adam at 1e-3 and at 1e-2 for 10,000 steps instead of 3,000. Does the smaller rate
#    catch up? Compare the two on three more initialisation seeds before you answer.
