# %% [markdown]
# # Lesson 15 — Gate polarisation and expert collapse
#
# **You will learn** to measure two ways an MMoE can quietly stop being a mixture: a gate
# that **polarises** (puts nearly all its weight on one expert), and experts that
# **collapse** into copies of each other -- and to check whether either happens in your own
# runs before fixing it. You will see what a symmetric initialisation does -- every expert
# starting from the same weights, a bug PaddleRec's MMoE once shipped -- and try the fix
# YouTube's multi-task ranking system used for polarised gates (Zhao et al., "Recommending
# What Video to Watch Next", RecSys 2019): dropout on the gate outputs, written as a small
# extension of `mn.MMoE`.
#
# **Polarisation**, measured per gate: the mean gate weights over the test inputs,
# $\bar g^k = \frac{1}{B}\sum_b g^k(x_b)$, and their largest entry $\max_e \bar g^k_e$ -- 1/E for a
# gate that spreads its weight evenly, 1 for one that always picks the same expert. We call a
# gate *polarised* when $\max_e \bar g^k_e > 0.9$.
#
# **Collapse**, measured on the experts' weights: the mean cosine between every pair of
# experts' weight vectors (1: identical experts, about 0: independent ones).

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np

import mmoe_np as mn
from mmoe_np import findings, stats
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
# **Where to change MMoE.** Every model of the library splits into a *shared part* and the
# task towers (`mmoe_np/models/base.py`). The shared part is two methods: `shared_forward(X)`
# returns F (K, B, U), what each tower reads, and a cache; `shared_backward(cache, dF, grads)`
# writes the shared parameters' gradients into the arrays of `grads`. Here is MMoE's forward,
# the one lesson 06 walked through line by line:

# %%
print(inspect.getsource(mn.MMoE.shared_forward))

# %% [markdown]
# `self.kernels` is the backend chosen with `backend=` (lesson 08): its
# `experts_and_gates_forward` computes the experts H (B, U, E) and the gates G (K, B, E) from
# one product with x (lesson 06), and `gate_mix_forward` mixes them (lesson 05). Gate dropout
# goes between the two: the subclass below copies this method and changes G before the mix,
# and changes the backward pass to match. With $\tilde g = (g \odot m)/s$,
# $s = \sum_e g_e m_e$ and mask $m$, the backward pass through the renormalisation is
# $dg = (m/s) \odot (d\tilde g - \sum_j \tilde g_j\, d\tilde g_j)$; `gate_mix_backward`
# gives $d\tilde g$, and `experts_and_gates_backward` turns dH and dg into the gradients of
# the experts' and gates' parameters (its `out=` arrays are those of `grads`).


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

# %% [markdown]
# A new backward pass needs a gradient check (lesson 02). Dropout draws a new mask at every
# call, so the check fixes the mask: the same mask for every perturbed forward pass.

# %%
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
# All runs of one variant train as one model with a run axis (lesson 08): `mn.SyntheticRuns`
# streams fresh data for every run and correlation from the run's own seed, and
# `seed=model_seeds`, an (R, C) array, gives each run and correlation its own initialisation
# -- the same in the three variants, so the variants are compared **paired**, run by run.

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

# %% [markdown]
# The three variants, each a function that makes the model (all runs at once), trained in
# turn; for each we keep every run's test loss, its gates' polarisation and its experts'
# similarity.

# %%
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
# The median over runs and correlations of each measure; the experts' cosine is also shown
# at the start (step 0), before any training.

# %%
start_similarity = {"Glorot": expert_similarity(glorot().params["expert_kernel"]),
                    "symmetric": expert_similarity(symmetric().params["expert_kernel"])}
print(f"{RUNS} runs x {len(CORRELATIONS)} correlations x 2 gates per variant; polarised gate: largest mean weight > 0.9")
print(f"{'variant':14s} {'test loss':>10s} {'largest mean gate weight':>25s} {'expert cosine':>14s} {'at step 0':>10s}")
for name, r in results.items():
    at_start = start_similarity.get(name, start_similarity["Glorot"])
    print(f"{name:14s} {np.median(r['loss']):10.4f} {np.median(r['polar']):25.3f} {np.median(r['similar']):14.3f} "
          f"{np.median(at_start):10.3f}")

# %% [markdown]
# ## Did anything polarise or collapse?
# Counted, for every variant: gates whose largest mean weight exceeds 0.9, and runs whose
# experts end with a mean cosine above 0.9 (near-copies of each other).

# %%
for name, r in results.items():
    print(findings.share(f"gates of the {name} MMoEs", np.sum(r["polar"] > 0.9), r["polar"].size,
                         condition="polarised (largest mean weight above 0.9)"))
for name, r in results.items():
    print(findings.share(f"{name} runs", np.sum(r["similar"] > 0.9), r["similar"].size,
                         condition="ended with collapsed experts (mean cosine between experts above 0.9)"))

# %% [markdown]
# A "none" for the Glorot variant means the phenomenon did not happen on its own in these
# runs. The symmetric variant is different: it *starts* collapsed, by construction (its
# cosine at step 0 is 1), so anything collapsed there was built in. The question for it is
# how far training pulled its experts apart. We compare the variants run by run (the same
# data, the same initial gates) on $1 - \text{cosine}$, how *different* the experts are, and
# on the test loss:

# %%
g, s, d = (results[k] for k in ("Glorot", "symmetric", "gate dropout"))
print(findings.paired("the symmetric start's expert distance (1 - cosine) after training", "the Glorot start's",
                      stats.paired_ratio(1 - s["similar"].ravel(), 1 - g["similar"].ravel()), ratio="symmetric/Glorot"))
for name, r in (("symmetric", s), ("gate dropout", d)):
    print(findings.paired(f"the {name} variant's test loss", "Glorot's",
                          stats.paired_ratio(r["loss"].ravel(), g["loss"].ravel()), ratio=f"{name.replace(' ', '-')}/Glorot"))

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for i, (name, r) in enumerate(results.items()):
    axes[0].hist(r["polar"].ravel(), bins=np.linspace(1 / E, 1, 25), alpha=0.5, label=name, color=f"C{i}")
    axes[1].hist(r["similar"].ravel(), bins=np.linspace(-0.2, 1, 25), alpha=0.5, label=name, color=f"C{i}")
    axes[2].scatter(r["polar"].max(-1).ravel(), r["loss"].ravel(), s=12, label=name, color=f"C{i}")
axes[0].axvline(0.9, color="k", lw=0.8, ls=":")
axes[1].axvline(0.9, color="k", lw=0.8, ls=":")
axes[0].set(xlabel="largest mean gate weight (1/8: even, 1: one expert)", ylabel="gates", title="Polarisation",
            xlim=(0, 1))
axes[1].set(xlabel="mean cosine between experts' weights", ylabel="runs", title="Collapse", xlim=(-0.2, 1))
axes[2].set(xlabel="most polarised gate of the run", ylabel="test loss", yscale="log", title="Does it cost?")
for ax, where in zip(axes, ("upper center", "upper left", "upper right")):     # clear of the data and of 0.9
    ax.legend(fontsize=8, loc=where)
    ax.grid(alpha=0.3)
fig.tight_layout()
savefig(fig, "15_gate_polarisation.png")

# %% [markdown]
# The dotted lines mark the thresholds (0.9) of the two counts above.
#
# **Reading it.** Why does a symmetric start stay (partly) symmetric?
# Expert e's gradient is $dW_e = X^\top (dH_e \odot [H_e > 0])$ with
# $dH_e = \sum_k dF_k\, g^k_e$: identical experts have identical H and masks, so their gradients
# differ only by the gate weights $g^k_e$ of each input -- small differences that are slow to
# grow (and none at all if the gates start uniform: try it in exercise 2). Here the gates'
# Glorot start is what breaks the symmetry; the paired findings say how far the experts got
# apart and at what cost in loss.
#
# Where the counts say "none" for the Glorot variant, neither phenomenon of this lesson's
# title happened by itself on these smooth regression tasks: this lesson has shown how to
# measure them, not that MMoE suffers from them. Zhao et al. saw polarisation on a large
# recommendation model trained on many machines, in about a fifth of their runs. Without
# polarisation to prevent, gate dropout is only a regulariser here; its paired finding says
# whether it helped or cost, and by how much.
# A measurement like this one is how you would find out for your own model.
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
