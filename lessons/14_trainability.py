# %% [markdown]
# # Lesson 14 — Trainability: what 200 runs say that one run cannot (paper Fig. 5, §5.2)
#
# **You will learn** what the paper means by "easier to train", how to read the distribution
# of final losses over many runs, why every comparison between models should be **paired**
# (same run, same data), and what a handful of runs can and cannot tell you.
#
# One training run is one draw: its data, its initialisation and its minibatch order are
# random, and so is its final loss. The paper (§5.2) trains every model 200 times at each
# correlation and looks at the *distribution* of final losses (its Figure 5). Its
# observations: Shared-Bottom's losses vary much more from run to run than the MoE models';
# OMoE loses that robustness when the tasks are less related (correlation 0.5); the best
# runs of all models reach comparable losses. "Easier to train" then means: **a random run
# is less likely to end badly** -- not a lower best loss.
#
# This lesson reads the committed results of our 200-run study (`results/reproduce`, made by
# `python -m mmoe_np reproduce all`; REPRODUCTION.md) and then runs a small sweep live.

# %%
import matplotlib.pyplot as plt
import numpy as np

from mmoe_np import outputs
from mmoe_np.experiments import claims, compare
from mmoe_np.experiments.common import MODEL_LABELS
from mmoe_np.experiments.plots import MODEL_COLORS
from mmoe_np.experiments.reproduce import load_results
from mmoe_np.lesson_utils import pick, savefig
from mmoe_np.stats import mean_interval, paired_ratio, ratio_of_spreads

study = load_results(outputs.default("results/reproduce"))
final, corr = study["final"], study["correlations"]                 # (C, R, M): each run's final test loss
names = [str(m) for m in study["models"]]
print(f"the committed study: {final.shape[1]} runs x {len(names)} models x {len(corr)} correlations, "
      f"{study['config']['steps']} steps each")

# %% [markdown]
# ## The distribution of final losses
# Final losses spread over orders of magnitude, so we look at them on a log scale and
# summarise each distribution by quantiles -- the median, and the 5% and 95% points -- and by
# the spread: the standard deviation of log loss (0.69 means a typical run is within a factor
# of about 2 of the centre).

# %%
print(f"{'model':14s} {'corr':>5s} {'5%':>8s} {'median':>8s} {'95%':>8s} {'std of log loss':>16s}")
for j, name in enumerate(names):
    for i, p in enumerate(corr):
        q5, q50, q95 = np.quantile(final[i, :, j], [0.05, 0.5, 0.95])
        print(f"{MODEL_LABELS[name]:14s} {p:5g} {q5:8.4f} {q50:8.4f} {q95:8.4f} {np.log(final[i, :, j]).std():16.2f}")

fig, axes = plt.subplots(1, len(corr), figsize=(4.3 * len(corr), 3.4), sharey=True)
bins = np.geomspace(final.min(), final.max(), 40)
for i, ax in enumerate(axes):
    for j, name in enumerate(names):
        ax.hist(final[i, :, j], bins=bins, histtype="step", lw=1.5, label=MODEL_LABELS[name], color=MODEL_COLORS[name])
    ax.set(xscale="log", xlabel="final test loss", title=f"correlation {corr[i]:g}")
axes[0].set_ylabel("runs")
axes[0].legend()
fig.suptitle(f"Every run's final loss ({final.shape[1]} runs per model and correlation)", y=1.02)
fig.tight_layout()
savefig(fig, "14_trainability.png")

# %% [markdown]
# ## Why pair the runs
# In run r every model trains on the same data from the same seed. A run whose data are
# hard (steep sinusoids, say) is hard for every model: the runs' losses are correlated
# across models. Comparing the models *within* each run removes that shared difficulty; comparing
# the two sets of 200 losses as if they were unrelated leaves it in, and the interval grows.

# %%
i, a, b = list(np.round(corr, 6)).index(0.5), names.index("mmoe"), names.index("shared_bottom")
la, lb = np.log(final[i, :, a]), np.log(final[i, :, b])
paired = paired_ratio(final[i, :, a], final[i, :, b]).ratio
m, _, half, _ = mean_interval(la)
m2, _, half2, _ = mean_interval(lb)
unpaired_half = np.hypot(half, half2)
print(f"correlation 0.5: correlation of log losses between MMoE and Shared-Bottom across runs: "
      f"{np.corrcoef(la, lb)[0, 1]:.2f}")
print(f"MMoE / Shared-Bottom, paired:   {paired}  (interval width x{paired.high / paired.low:.2f})")
print(f"MMoE / Shared-Bottom, unpaired: {np.exp(m - m2):.3f} [{np.exp(m - m2 - unpaired_half):.3f}, "
      f"{np.exp(m - m2 + unpaired_half):.3f}]  (interval width x{np.exp(2 * unpaired_half):.2f})")

# %% [markdown]
# ## The paper's three observations, measured
# The spread statistic is the ratio of two models' standard deviations of log final loss,
# with a bootstrap interval (runs resampled in pairs). "Comparable best losses" compares the
# 5th percentiles (the best 10 of 200 runs; the single best run is too noisy to compare).

# %%
for other in ("mmoe", "omoe"):
    value, verdict, detail = claims.spread(final, corr, names, "shared_bottom", other)
    print(f"Shared-Bottom's spread / {MODEL_LABELS[other]}'s: {detail} -> {verdict}")
value, verdict, detail = claims.spread(final, corr, names, "omoe", "mmoe", at=0.5)
print(f"OMoE's spread / MMoE's at correlation 0.5: {detail} -> {verdict}")
for other in ("shared_bottom", "omoe"):
    value, verdict, detail = claims.best_losses(final, corr, names, other, "mmoe")
    print(f"best runs, {MODEL_LABELS[other]} / MMoE (5th percentiles): {detail} -> {verdict}")

# %% [markdown]
# The printout ends each line with a verdict (holds / does not hold / inconclusive: the
# interval is too wide to say). REPRODUCTION.md gives every claim's verdict and how the
# undocumented choices of the study move them.
#
# ## A small live sweep: what a few runs can show
# The same protocol at a scale that runs in a minute or two.

# %%
live = compare.run(runs=pick(12, 3), steps=pick(4000, 200), eval_every=pick(500, 100), progress=False)
live_final = live["final"]
for other in ("mmoe", "omoe"):
    r = ratio_of_spreads(live_final[i, :, names.index("shared_bottom")], live_final[i, :, names.index(other)])
    print(f"{live_final.shape[1]} live runs, correlation 0.5: Shared-Bottom's spread / {MODEL_LABELS[other]}'s = {r}")
r = paired_ratio(live_final[i, :, a], live_final[i, :, b])
print(f"{live_final.shape[1]} live runs, correlation 0.5: MMoE / Shared-Bottom = {r.ratio} (MMoE wins {r.wins:.0%})")
print("A mean difference between models shows up in a few paired runs; a difference in *spread* needs far more runs "
      "-- the bootstrap intervals above are wide -- which is why the paper ran 200.")

# %% [markdown]
# ## Exercises
# 1. Checkable: write the paired comparison yourself in `lessons/exercises/ex14_paired_ratio.py`
#    (the geometric-mean ratio of two models' losses over paired runs, with its 95% interval),
#    then `python -m mmoe_np.check lessons/exercises/ex14_paired_ratio.py`.
# 2. Why log losses? Compute the spread statistic with plain standard deviations of the
#    losses and explain why a few bad runs then decide the answer.
# 3. The pilot of the study (`results/reproduce/pilot`) trained 20 runs at three learning
#    rates. Does Shared-Bottom's spread relative to MMoE's depend on the learning rate?
