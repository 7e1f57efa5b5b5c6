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
# every step ("repeat until enough data are generated"), each model at the learning rate
# the study's grid search chose for it. Within a run, all three models and all three
# correlations share the data seed and the minibatches, so their differences are the
# models' own.

# %%
import matplotlib.pyplot as plt

from mmoe_np import outputs
from mmoe_np.experiments import claims, compare
from mmoe_np.experiments.plots import loss_curves
from mmoe_np.experiments.reproduce import correlation_table, load_results, paired_table, summary_table
from mmoe_np.lesson_utils import pick, savefig

result = compare.run(runs=pick(12, 3), steps=pick(8000, 300), eval_every=pick(500, 100), progress=False)
print(summary_table(result))

# %% [markdown]
# ## The curves
# Mean test loss over the runs with a 95% band of the mean, on a log scale (final losses
# spread over orders of magnitude between runs).

# %%
fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.8), sharey=True)
loss_curves(axes, result["steps"], result["curves"], result["correlations"], result["models"])
fig.suptitle(f"Three models, three correlations ({result['curves'].shape[1]} runs; band: 95% interval of the mean)")
fig.tight_layout()
savefig(fig, "07_models_side_by_side.png")

# %% [markdown]
# ## Paired comparisons
# Bands of different models overlap when runs differ a lot from each other -- and they do:
# the data draw decides much of how hard a run is. Compare the models *within* each run
# instead: the geometric mean over runs of the loss ratio, with its 95% interval. A ratio
# below 1 means the first model has the lower loss; an interval that excludes 1 means the
# runs agree on it.

# %%
print(paired_table(result))
print()
print(correlation_table(result))   # each model against itself: loss at correlation 0.5 / at 1.0
print()
print(compare.caveat(result))

# %% [markdown]
# ## What 200 runs say
# The same questions, answered by the committed 200-run study (`python -m mmoe_np reproduce
# all`), one verdict per claim of the paper (holds / does not hold / inconclusive):

# %%
study = load_results(outputs.default("results/reproduce"))
for row in claims.evaluate_claims(study):
    if row.claim.startswith("§5.1"):
        print(f"{row.verdict:>14s}: {row.claim} -- {row.value}")

# %% [markdown]
# **Reading it.** The printouts above are the lesson's result. With a dozen runs, a paired
# ratio is known to within the factor the caveat names: large differences between models
# show, small ones -- like how much MMoE's loss changes between correlations -- do not. The
# 200-run verdicts tell which of the dozen-run impressions survive; REPRODUCTION.md shows the
# whole table and which undocumented choices (data size, steps, learning rate, c, m,
# alpha/beta) move each verdict.
#
# ## Exercises
# 1. Run with `compare.run(runs=30)`. Which paired ratios exclude 1 now that did not with 12?
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
