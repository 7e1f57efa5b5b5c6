# %% [markdown]
# # Lesson 07 — Shared-Bottom, OMoE and MMoE side by side
#
# **You will learn** how the three models compare as the task correlation changes -- a short
# version of the paper's Figure 4 -- and how to read such a comparison honestly: paired
# ratios with intervals instead of overlapping bands, and what a dozen runs can and cannot
# show next to the 200-run study.
#
# The protocol is the faithful one of the study (REPRODUCTION.md): the paper's sizes
# (d = 100, 8 experts of 16 units, towers of 8, a Shared-Bottom bottom of 113), fresh data
# every step ("repeat until enough data are generated"), 8,000 Adam steps of batch 128, each
# model at the learning rate the study's grid search chose for it. Within a run, all three
# models and all three correlations share the data seed and the minibatches, so their
# differences are the models' own.
#
# **The engine.** `compare.run` does for three models what lesson 04 did by hand for one:
# an `mn.SyntheticRuns` stream for the runs and correlations, one model per architecture
# whose seeds have the shape (runs, correlations) -- the run axis -- and one training step of
# every model on each minibatch of the stream. It also splits the runs over the machine's
# cores and reads the study's chosen learning rates from `results/reproduce/config.json`. It
# is the engine of `python -m mmoe_np compare` and of the 200-run study; it returns arrays:
# `final` (correlations, runs, models) holds each run's final test loss, `curves` adds the
# evaluations along training. The study drew its runs' seeds from master seed 0; this lesson
# uses master seed 1, so that its runs are not a subset of the study's and the comparison
# with the 200 runs at the end is a replication.

# %%
import matplotlib.pyplot as plt
import numpy as np

from mmoe_np import findings, outputs, stats
from mmoe_np.experiments import compare
from mmoe_np.lesson_utils import pick, savefig

LABEL = {"shared_bottom": "Shared-Bottom", "omoe": "OMoE", "mmoe": "MMoE", "single_task": "Single-Task"}
COLOR = {"shared_bottom": "C0", "omoe": "C1", "mmoe": "C2", "single_task": "C7"}

result = compare.run(runs=pick(12, 3), steps=pick(8000, 300), eval_every=pick(500, 100), seed=1, progress=False)
names, final = [str(m) for m in result["models"]], result["final"]          # final: (correlations, runs, models)
R = final.shape[1]
for i, p in enumerate(result["correlations"]):
    print(f"correlation {p:g}, geometric mean of {R} runs' final test losses: "
          + ", ".join(f"{LABEL[n]} {np.exp(np.log(final[i, :, j]).mean()):.4f}" for j, n in enumerate(names)))

# %% [markdown]
# ## The curves
# Each model's geometric mean test loss over the runs, with the 95% t band of lesson 04, on a
# log scale (final losses can spread over orders of magnitude between runs, lesson 04).

# %%
fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.8), sharey=True)
for i, (ax, p) in enumerate(zip(axes, result["correlations"])):
    for j, name in enumerate(names):
        centre, low, high = stats.geometric_band(result["curves"][i, :, j], axis=0)
        ax.plot(result["steps"], centre, color=COLOR[name], label=LABEL[name])
        ax.fill_between(result["steps"], low, high, color=COLOR[name], alpha=0.2, linewidth=0)
    ax.set(yscale="log", xlabel="training step", title=f"correlation {p:g}")
    ax.grid(alpha=0.3, which="both")
axes[0].set_ylabel("test loss (mean of 2 tasks)")
fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=3, bbox_to_anchor=(0.5, 0.02))
fig.suptitle(f"Three models, three correlations ({R} runs; band: 95% t interval of the geometric mean)")
fig.tight_layout()
savefig(fig, "07_models_side_by_side.png")

# %% [markdown]
# ## Paired comparisons
# Bands of different models can overlap when runs differ a lot from each other, as they do
# when the data draw decides much of how hard a run is. Compare the models *within* each run
# instead, as lesson 04 compared correlations: the geometric mean over runs of the loss
# ratio, with its 95% t interval (`stats.paired_ratio`), and a sentence made from it
# (`findings.paired`). A ratio below 1 means the first model has the lower loss. Then each
# model against itself: its loss at correlation 0.5 over its loss at 1.0.

# %%
def paired_sentences(final, correlations, where=""):
    """Each pair of models at each correlation, then each model at 0.5 against 1.0: findings."""
    at = [round(float(p), 6) for p in correlations]
    for a, b in (("mmoe", "shared_bottom"), ("omoe", "shared_bottom"), ("mmoe", "omoe")):
        for i, p in enumerate(at):
            r = stats.paired_ratio(final[i, :, names.index(a)], final[i, :, names.index(b)])
            yield findings.paired(f"{LABEL[a]}'s test loss", f"{LABEL[b]}'s", r, ratio=f"{LABEL[a]}/{LABEL[b]}",
                                  where=f" at correlation {p:g}{where}")
    for j, name in enumerate(names):
        r = stats.paired_ratio(final[at.index(0.5), :, j], final[at.index(1.0), :, j])
        yield findings.paired(f"{LABEL[name]}'s test loss at correlation 0.5", "its loss at 1.0", r,
                              ratio="L(0.5)/L(1.0)", where=where)


for sentence in paired_sentences(final, result["correlations"]):
    print(sentence)

# %% [markdown]
# ## What this many runs can resolve
# An interval excludes 1 when the ratio lies further from 1 than the interval's own
# half-width, the factor $\exp(t\, s_\ell / \sqrt{R})$ (lesson 04), where $s_\ell$ is the
# standard deviation of that comparison's log-ratios over the runs. That factor is not the
# same for every comparison: some pairs of models disagree more from run to run than
# others. So there is no single size below which a dozen runs cannot see an effect; each
# comparison says its own:

# %%
at = [round(float(p), 6) for p in result["correlations"]]
for a, b in (("mmoe", "shared_bottom"), ("omoe", "shared_bottom"), ("mmoe", "omoe")):
    logs = [np.log(final[i, :, names.index(a)] / final[i, :, names.index(b)]) for i in range(len(at))]
    print(f"{LABEL[a]}/{LABEL[b]:13s} resolvable factor at correlation "
          + ", ".join(f"{p:g}: x/{stats.resolvable_ratio(x.std(ddof=1), R):.2f}" for p, x in zip(at, logs)))
for j, name in enumerate(names):
    x = np.log(final[at.index(0.5), :, j] / final[at.index(1.0), :, j])
    print(f"{LABEL[name]:13s} L(0.5)/L(1.0) resolvable factor x/{stats.resolvable_ratio(x.std(ddof=1), R):.2f}")

# %% [markdown]
# A factor of x/1.5 means the runs resolve ratios below 1/1.5 or above 1.5, and no ratio
# closer to 1. Compare each factor with the ratio it is meant to resolve: a sentence above
# that "did not show a difference" says only that these runs could not tell, which is what
# to expect whenever the effect is smaller than the factor.
#
# ## What 200 runs say
# The same sentences from the committed 200-run study (`python -m mmoe_np reproduce all`;
# its `sweep.npz` holds `final` with the same axes), at its end, 8,000 steps:

# %%
study = np.load(outputs.default("results/reproduce") / "sweep.npz")
assert [str(m) for m in study["models"]] == names, "the study's models are in another order"
for sentence in paired_sentences(study["final"], study["correlations"], where=" in the 200-run study"):
    print(sentence)

# %% [markdown]
# **Reading it.** The printouts above are the lesson's result: compare each sentence of the
# dozen runs with the 200-run one for the same comparison, and the widths of their
# intervals. Where the 200 runs find an effect that the dozen did not, the dozen lacked the
# power to see it (lesson 04). REPRODUCTION.md states every claim of the paper
# with its verdict (holds / does not hold / inconclusive), including the one not shown here
# -- that MMoE's gap across correlations is much smaller than the other models' -- and which
# undocumented choices (data size, steps, learning rate, c, m, alpha/beta) move each verdict.
#
# ## Exercises
# 1. Run the lesson's `compare.run(...)` with `runs=30`. Which paired ratios exclude 1 now that
#    did not with 12?
# 2. Give Shared-Bottom a bottom of twice the paper's size:
#    `compare.run(sizes={"shared_bottom": {"bottom_units": 226}})`. Does it catch up with MMoE?
#    (It then has about twice MMoE's parameters.)
# 3. Add single-task baselines, one network per task:
#    `compare.run(models=("single_task", "shared_bottom", "omoe", "mmoe"))`. At which
#    correlations does sharing pay off?
# 4. Checkable: turn a paired ratio into a verdict -- lower, higher, level or too few runs --
#    in `lessons/exercises/ex07_compare.py`. It runs on your own `paired_ratio` of
#    `ex14_paired_ratio.py` (write that one first; lesson 14 explains the t interval), then
#    `python -m mmoe_np.check lessons/exercises/ex07_compare.py`.
