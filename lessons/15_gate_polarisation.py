# %% [markdown]
# # Lesson 15 — Gate polarisation and expert collapse
#
# **You will learn** to measure two ways an MMoE can quietly stop being a mixture: a gate
# that **polarises** (puts nearly all its weight on one expert), and experts that
# **collapse** into copies of each other. You will see what a symmetric initialisation does
# -- every expert starting from the same weights, a bug PaddleRec's MMoE once shipped -- and
# try the fix YouTube's multi-task ranking system used for polarised gates (Zhao et al.,
# "Recommending What Video to Watch Next", RecSys 2019): dropout on the gate outputs.
#
# **Polarisation**, measured per gate: the mean gate weights over the test inputs,
# $\bar g^k = \frac{1}{B}\sum_b g^k(x_b)$, and their largest entry $\max_e \bar g^k_e$ -- 1/E for a
# gate that spreads its weight evenly, 1 for one that always picks the same expert. We call a
# gate *polarised* when $\max_e \bar g^k_e > 0.9$.
#
# **Collapse**, measured on the experts' weights: the mean cosine between every pair of
# experts' weight vectors (1: identical experts, about 0: independent ones).

# %%
import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np.gradcheck import check_model
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.metrics import expert_similarity, gate_polarisation

RUNS, STEPS, CORRELATIONS = pick(20, 3), pick(3000, 200), (0.5, 1.0)
LR, E = 1e-3, 8


# %% [markdown]
# ## The fix we will test: dropout on the gate outputs
# During training, each expert's weight in each gate is set to 0 with probability `rate`
# (10% here), and the remaining weights are renormalised to sum to 1 -- as we read Zhao et al.
# §5.2.3, who saw the softmax gates polarise in about 20% of their distributed training runs.
# An expert can no longer count on being picked, so no gate can lean on one expert alone.
#
# The model is MMoE with two methods changed, a small example of extending a model. With
# $\tilde g = (g \odot m)/s$, $s = \sum_e g_e m_e$ and mask $m$, the backward pass through the
# renormalisation is $dg = (m/s) \odot (d\tilde g - \sum_j \tilde g_j\, d\tilde g_j)$.


# %%
class GateDropoutMMoE(mn.MMoE):
    """MMoE whose gate outputs see dropout while ``training`` (each weight dropped with ``rate``, rest renormalised)."""

    def __init__(self, *args, rate=0.1, mask_seed=0, **kwargs):
        self.rate, self.training, self.fixed_mask = rate, True, False
        self.masks = np.random.default_rng(mask_seed)
        super().__init__(*args, **kwargs)

    def shared_forward(self, X):
        p, kern = self.params, self.kernels
        H, G, first = kern.experts_and_gates_forward(X, p["expert_kernel"], p["expert_bias"], p["gate_kernel"],
                                                     p["gate_bias"])
        keep, total, used = None, None, G
        if self.training:
            rng = np.random.default_rng(0) if self.fixed_mask else self.masks     # fixed: for gradient checks
            keep = (rng.random(G.shape) >= self.rate).astype(G.dtype)
            total = (G * keep).sum(axis=-1, keepdims=True)
            total = np.where(total > 0, total, 1.0)                       # every expert dropped: weights 0
            used = G * keep / total
        F = kern.gate_mix_forward(H, used)                                # (K, B, U)
        return F, (H, used, keep, total, first)

    def shared_backward(self, cache, dF, grads):
        H, used, keep, total, first = cache
        kern = self.kernels
        dH, d_used = kern.gate_mix_backward(H, used, dF)
        dG = d_used if keep is None else keep / total * (d_used - (used * d_used).sum(axis=-1, keepdims=True))
        kern.experts_and_gates_backward(first, dH, dG, out=(
            grads["expert_kernel"], grads["expert_bias"], grads["gate_kernel"], grads["gate_bias"]))


check = GateDropoutMMoE(n_features=6, n_experts=4, expert_units=3, tower_units=3, rate=0.3, seed=0)
check.fixed_mask = True
errors = check_model(check, np.random.default_rng(0).standard_normal((7, 6)), [np.zeros((7, 1))] * 2)
print(f"gate-dropout MMoE: worst relative gradient error {max(errors.values()):.1e} (with a fixed dropout mask)")

# %% [markdown]
# ## Three ways to start, many runs each
# For every run (its own data, streamed fresh every step, as in the 200-run study) and both
# correlations we train three MMoEs of 8 experts x 16 units:
#
# - **Glorot**: the library's initialisation, every expert drawn independently;
# - **symmetric**: every expert starts as a copy of the first one (the PaddleRec bug);
# - **gate dropout**: Glorot, trained with 10% dropout on the gate outputs.
#
# All runs of one variant train as one model with a run axis (lesson 08 explains the engine).

# %%
stream_seeds = np.random.SeedSequence(15).generate_state(RUNS).tolist()
model_seeds = np.repeat(np.asarray(stream_seeds)[:, None] + 1, len(CORRELATIONS), axis=1)   # (R, C): paired inits


def train(make):
    stream = mn.SyntheticRuns(stream_seeds, CORRELATIONS, n_val=200, n_test=2000)
    model = make()
    mn.fit(model, stream, steps=STEPS, batch_size=128, optimizer=mn.Adam(lr=LR), eval_every=STEPS, progress=False)
    if isinstance(model, GateDropoutMMoE):
        model.training = False                                        # no dropout when measuring
    X_test, Y_test = stream.test
    return model, mn.evaluate(model, X_test, Y_test).mean(-1), model.gates(X_test)


def glorot():
    return mn.MMoE(n_features=100, n_experts=E, expert_units=16, seed=model_seeds, backend="numba")


def symmetric():
    model = glorot()
    W, b = model.params["expert_kernel"], model.params["expert_bias"]
    W[...] = W[..., :1]                                               # every expert a copy of expert 1
    b[...] = b[..., :1]
    return model


def dropout():
    return GateDropoutMMoE(n_features=100, n_experts=E, expert_units=16, seed=model_seeds, backend="numba", rate=0.1)


results = {}
for name, make in (("Glorot", glorot), ("symmetric", symmetric), ("gate dropout", dropout)):
    model, loss, gates = train(make)
    results[name] = dict(loss=loss, polar=gate_polarisation(gates),
                         similar=expert_similarity(model.params["expert_kernel"]))  # (R, C), (R, C, K), (R, C)

# %% [markdown]
# ## What happened

# %%
print(f"{RUNS} runs x {len(CORRELATIONS)} correlations x 2 gates per variant; polarised gate: largest mean weight > 0.9")
print(f"{'variant':14s} {'test loss (median)':>19s} {'polarised gates':>16s} {'largest mean weight (median)':>29s} "
      f"{'expert cosine (median)':>23s}")
for name, r in results.items():
    print(f"{name:14s} {np.median(r['loss']):19.4f} {np.mean(r['polar'] > 0.9):16.0%} {np.median(r['polar']):29.3f} "
          f"{np.median(r['similar']):23.3f}")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for i, (name, r) in enumerate(results.items()):
    axes[0].hist(r["polar"].ravel(), bins=np.linspace(1 / E, 1, 25), alpha=0.5, label=name, color=f"C{i}")
    axes[1].hist(r["similar"].ravel(), bins=np.linspace(-0.2, 1, 25), alpha=0.5, label=name, color=f"C{i}")
    axes[2].scatter(r["polar"].max(-1).ravel(), r["loss"].ravel(), s=12, label=name, color=f"C{i}")
axes[0].axvline(0.9, color="k", lw=0.8, ls=":")
axes[0].set(xlabel="largest mean gate weight (1/8: even, 1: one expert)", ylabel="gates", title="Polarisation")
axes[1].set(xlabel="mean cosine between experts' weights", ylabel="runs", title="Collapse")
axes[2].set(xlabel="most polarised gate of the run", ylabel="test loss", yscale="log", title="Does it cost?")
for ax in axes:
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
fig.tight_layout()
savefig(fig, "15_gate_polarisation.png")

# %%
g, s, d = (results[k] for k in ("Glorot", "symmetric", "gate dropout"))
print(f"Glorot: {np.mean(g['polar'] > 0.9):.0%} of the gates polarised; their experts stay different "
      f"(median cosine {np.median(g['similar']):.2f}).")
alike = ("near-copies of each other" if np.median(s["similar"]) > 0.9 else
         "more alike than a Glorot start's" if np.median(s["similar"]) > np.median(g["similar"]) else "as different as Glorot's")
print(f"Symmetric: after {STEPS} steps the experts are {alike} (median cosine {np.median(s['similar']):.2f} against "
      f"{np.median(g['similar']):.2f}); the median loss is {np.median(s['loss']) / np.median(g['loss']):.2f}x Glorot's.")
print(f"Gate dropout: {np.mean(d['polar'] > 0.9):.0%} of the gates polarised, median loss "
      f"{np.median(d['loss']) / np.median(g['loss']):.2f}x Glorot's.")

# %% [markdown]
# **Reading it.** The printout gives the three numbers that matter: how often the gates
# polarise with the library's initialisation, how similar the experts of a symmetric start
# remain, and what gate dropout changes. Why does a symmetric start stay (partly) symmetric?
# Expert e's gradient is $dW_e = X^\top (dH_e \odot [H_e > 0])$ with
# $dH_e = \sum_k dF_k\, g^k_e$: identical experts have identical H and masks, so their gradients
# differ only by the gate weights $g^k_e$ of each input -- small differences that are slow to
# grow (and none at all if the gates start uniform: try it in exercise 2). Here the gates'
# Glorot start breaks the symmetry slowly: the experts end more alike than a Glorot start's,
# at a small cost in loss. On these smooth regression tasks no gate of any variant polarised
# (the printout counts them); Zhao et al. saw it on a large recommendation model trained on
# many machines, in about a fifth of their runs -- and without polarisation to prevent, gate
# dropout only costs loss here. A measurement like this one is how you would find out for
# your own model.
#
# ## Exercises
# 1. Count polarised gates as a function of the learning rate (1e-4, 1e-3, 1e-2). Does a large
#    learning rate polarise more?
# 2. Start the symmetric variant with zero gate kernels as well (`gate_kernel[...] = 0`): every
#    gate is then uniform. Show from the gradient above that the experts can never become
#    different, and check it.
# 3. Raise the dropout rate to 0.3. What does it cost in loss? Why does dropout on the gates
#    act like an ensemble of smaller mixtures?
# 4. Checkable: measure gate polarisation and expert similarity yourself in
#    `lessons/exercises/ex15_gate_polarisation.py`, then
#    `python -m mmoe_np.check lessons/exercises/ex15_gate_polarisation.py`; use your functions
#    for exercise 1.
