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
# `load_results` reads what the study saved: every run's test-loss curve (`sweep.npz`) and
# the settings it ran with (`config`), which the lesson prints rather than assumes.

# %%
import matplotlib.pyplot as plt
import numpy as np

from mmoe_np import findings, outputs, stats
from mmoe_np.experiments import compare
from mmoe_np.experiments.claims import COMPARABLE
from mmoe_np.experiments.common import MODEL_LABELS
from mmoe_np.experiments.plots import MODEL_COLORS
from mmoe_np.experiments.reproduce import load_results
from mmoe_np.lesson_utils import pick, savefig

study = load_results(outputs.default("results/reproduce"))
final, corr = study["final"], study["correlations"]                 # (C, R, M): each run's final test loss
names, config = [str(m) for m in study["models"]], study["config"]
print(f"the committed study: {final.shape[1]} runs x {len(names)} models x {len(corr)} correlations, "
      f"{config['steps']} steps each (Adam, batches of {config['batch_size']}, fresh data every step)")

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
        spread = np.log(final[i, :, j]).std(ddof=1)
        print(f"{MODEL_LABELS[name]:14s} {p:5g} {q5:8.4f} {q50:8.4f} {q95:8.4f} {spread:16.2f}")

fig, axes = plt.subplots(1, len(corr), figsize=(4.3 * len(corr), 3.4), sharey=True)
bins = np.geomspace(final.min(), final.max(), 40)
for i, ax in enumerate(axes):
    for j, name in enumerate(names):
        ax.hist(final[i, :, j], bins=bins, histtype="step", lw=1.5, label=MODEL_LABELS[name], color=MODEL_COLORS[name])
    ax.set(xscale="log", xlabel="final test loss", title=f"correlation {corr[i]:g}")
axes[0].set_ylabel("runs")
axes[0].legend(fontsize=8, loc="upper left")
fig.suptitle(f"Every run's final loss ({final.shape[1]} runs per model and correlation)", y=1.02)
fig.tight_layout()
savefig(fig, "14_trainability.png")

# %% [markdown]
# Each histogram is one model's 200 runs at one correlation (`MODEL_LABELS` and
# `MODEL_COLORS` are the names and colours every figure of the project uses). Compare the
# widths of the histograms with the spreads printed in the table.
#
# ## Why pair the runs
# In run r every model trains on the same data from the same seed. A run whose data are
# hard (steep sinusoids, say) is hard for every model: the runs' losses are correlated
# across models. Comparing the models *within* each run removes that shared difficulty;
# comparing the two sets of 200 losses as if they were unrelated leaves it in, and the
# interval grows. Both intervals below are t intervals of a mean of log losses (lesson 07).

# %%
i, a, b = list(np.round(corr, 6)).index(0.5), names.index("mmoe"), names.index("shared_bottom")
la, lb = np.log(final[i, :, a]), np.log(final[i, :, b])
paired = stats.paired_ratio(final[i, :, a], final[i, :, b])
m, _, half, _ = stats.mean_interval(la)
m2, _, half2, _ = stats.mean_interval(lb)
unpaired_half = np.hypot(half, half2)
print(f"correlation 0.5: correlation of log losses between MMoE and Shared-Bottom across runs: "
      f"{np.corrcoef(la, lb)[0, 1]:.2f}")
print(f"MMoE / Shared-Bottom, paired:   {paired.ratio}  (interval width x{paired.ratio.high / paired.ratio.low:.2f})")
print(f"MMoE / Shared-Bottom, unpaired: {np.exp(m - m2):.3f} [{np.exp(m - m2 - unpaired_half):.3f}, "
      f"{np.exp(m - m2 + unpaired_half):.3f}]  (interval width x{np.exp(2 * unpaired_half):.2f})")
print(findings.paired("MMoE's final test loss", "Shared-Bottom's", paired, ratio="MMoE/Shared-Bottom",
                      where=" at correlation 0.5"))

# %% [markdown]
# The same estimate, two intervals: the paired one is the narrower whenever the runs' log
# losses are positively correlated across models (the first line).
#
# ## How sure is a ratio of spreads? The bootstrap
# "Shared-Bottom's losses vary more between runs" compares two standard deviations of log
# loss, a ratio with no simple formula for its interval. The **bootstrap** estimates one by
# resampling: draw R runs *with replacement* from the R runs (some runs twice, some not at
# all), compute the ratio on that resample, repeat 2000 times; the middle 95% of the 2000
# ratios is the interval. The runs are drawn *in pairs* -- run r's two losses stay together --
# so the resamples keep the pairing. By hand, then with `stats.ratio_of_spreads`, which does
# the same (below 20 runs it gives no interval: on subsets of the study's runs, its intervals
# from fewer runs covered the 200-run value far less often than 95%):

# %%
sb, mm = final[i, :, b], final[i, :, a]
resample = np.random.default_rng(0).integers(0, len(sb), size=(2000, len(sb)))   # run indices, (2000, R)
boot = np.log(sb[resample]).std(axis=1, ddof=1) / np.log(mm[resample]).std(axis=1, ddof=1)
print(f"by hand:                {np.log(sb).std(ddof=1) / np.log(mm).std(ddof=1):.3f} "
      f"[{np.quantile(boot, 0.025):.3f}, {np.quantile(boot, 0.975):.3f}]")
print(f"stats.ratio_of_spreads: {stats.ratio_of_spreads(sb, mm)}")

# %% [markdown]
# ## The paper's three observations, measured
# **Spreads.** The ratio of Shared-Bottom's spread to each MoE model's at every correlation,
# and OMoE's to MMoE's at correlation 0.5, each with its bootstrap interval. REPRODUCTION.md
# turns the three correlations into one verdict per claim: *holds* when every interval lies
# above 1; *does not hold* when one lies below 1, or lies wholly within 10% of 1 (a
# difference too small to be the paper's "much more"); *inconclusive* otherwise.

# %%
def spread_finding(x, y, p):
    """Does model x's final loss vary more between runs than model y's, at correlation p?"""
    k = list(np.round(corr, 6)).index(round(p, 6))
    value = stats.ratio_of_spreads(final[k, :, names.index(x)], final[k, :, names.index(y)])
    return findings.interval(f"{MODEL_LABELS[x]}'s final loss at correlation {p:g}", value,
                             above=f"varies more between runs than {MODEL_LABELS[y]}'s",
                             below=f"varies less between runs than {MODEL_LABELS[y]}'s", statistic="ratio of spreads")


for other in ("mmoe", "omoe"):
    for p in corr:
        print(spread_finding("shared_bottom", other, p))
print(spread_finding("omoe", "mmoe", 0.5))

# %% [markdown]
# **Comparable best losses.** The paper says the best runs of all models reach comparable
# losses. We compare the 5th percentiles (the best 10 of 200 runs; the single best run is
# too noisy to compare), with the same paired bootstrap. "Comparable" is a claim of *no
# large difference*, and no interval can show that a ratio is exactly 1 -- only that it lies
# within a stated **margin** of 1. The study's margin is a factor m either way, [1/m, m]
# (`claims.COMPARABLE`, printed below): an interval inside it shows comparable best losses,
# one wholly outside shows a real difference, and one that crosses an edge of the margin
# cannot tell -- even when it excludes 1. (REPRODUCTION.md: *holds* when the interval lies
# inside the margin at every correlation.)

# %%
def best_runs_ratio(x, y, rng, q=0.05, n_boot=2000):
    """Ratio of the q-quantiles of x's and y's final losses at each correlation, paired bootstrap intervals."""
    out = []
    for k in range(len(corr)):
        fx, fy = final[k, :, names.index(x)], final[k, :, names.index(y)]
        idx = rng.integers(0, len(fx), size=(n_boot, len(fx)))                # resampled runs, in pairs
        boot = np.quantile(fx[idx], q, axis=1) / np.quantile(fy[idx], q, axis=1)
        out.append(stats.Interval(float(np.quantile(fx, q) / np.quantile(fy, q)), float(np.quantile(boot, 0.025)),
                                  float(np.quantile(boot, 0.975)), len(fx)))
    return out


print(f"the margin: a factor m = {COMPARABLE} either way, [{1 / COMPARABLE:.2f}, {COMPARABLE}]")
for other in ("shared_bottom", "omoe"):
    for p, value in zip(corr, best_runs_ratio(other, "mmoe", np.random.default_rng(0))):
        print(findings.within(f"the best runs of {MODEL_LABELS[other]} and MMoE at correlation {p:g}", value,
                              margin=COMPARABLE, statistic="ratio of 5th percentiles"))

# %% [markdown]
# ## A small live sweep: what 20 runs can show
# The same protocol at a scale that runs in a minute or two: Shared-Bottom and MMoE at
# correlation 0.5, 20 paired runs -- the fewest for which a ratio of spreads gets a bootstrap
# interval -- with fewer steps than the study (both printed below), so the live losses are
# not the study's: only the *widths* of the intervals are comparable. `compare.run`
# is the engine of `python -m mmoe_np compare`: it trains all runs of a model at once on the
# run axis (lesson 08), each run with its own data stream, at the learning rates the study chose.

# %%
live_steps = pick(min(config["steps"], 4000), 200)
live = compare.run(correlations=(0.5,), runs=pick(20, 3), steps=live_steps, eval_every=pick(500, 100),
                   models=("shared_bottom", "mmoe"), progress=False)
live_models = [str(m) for m in live["models"]]
live_sb, live_mm = (live["final"][0, :, live_models.index(m)] for m in ("shared_bottom", "mmoe"))   # (R,) each
R = len(live_sb)
print(f"{R} live runs of {live_steps} steps (the study: {final.shape[1]} runs of {config['steps']} steps)")
live_paired = stats.paired_ratio(live_mm, live_sb)
print(findings.paired("MMoE's final test loss", "Shared-Bottom's", live_paired, ratio="MMoE/Shared-Bottom",
                      where=f" in the {R} live runs"))
print(findings.interval(f"Shared-Bottom's final loss in the {R} live runs", stats.ratio_of_spreads(live_sb, live_mm),
                        above="varies more between runs than MMoE's", below="varies less between runs than MMoE's",
                        statistic="ratio of spreads"))
for what, study_iv, live_iv in (("mean ratio", paired.ratio, live_paired.ratio),
                                ("ratio of spreads", stats.ratio_of_spreads(sb, mm), stats.ratio_of_spreads(live_sb, live_mm))):
    widths = [f"x{iv.high / iv.low:.2f}" if not iv.too_few else "none" for iv in (study_iv, live_iv)]
    print(f"interval width of the {what}: {final.shape[1]} study runs {widths[0]}, {R} live runs {widths[1]}")

# %% [markdown]
# **Reading it.** An interval's width on the log scale shrinks like $1/\sqrt{R}$: ten times
# the runs give intervals about $\sqrt{10} \approx 3.2$ times narrower (in log terms). Whether
# 20 runs settle a question depends on how large the effect is next to that width: the
# findings above say, for this run, which of the two -- the mean ratio or the ratio of
# spreads -- the live runs resolved. A difference between means shows up in a few runs when
# it is large next to the spread of the paired log-ratios; a difference in spread is an
# effect on a *second* moment, estimated far less precisely from the same runs, which is why
# the paper ran 200.
#
# ## Exercises
# 1. Checkable: write the paired comparison yourself in `lessons/exercises/ex14_paired_ratio.py`
#    (the geometric-mean ratio of two models' losses over paired runs, with its 95% interval),
#    then `python -m mmoe_np.check lessons/exercises/ex14_paired_ratio.py`.
# 2. Why log losses? Compute the spread statistic with plain standard deviations of the
#    losses and explain why a few bad runs then decide the answer.
# 3. The pilot of the study (`results/reproduce/pilot`) trained 20 runs at three learning
#    rates. Does Shared-Bottom's spread relative to MMoE's depend on the learning rate?
