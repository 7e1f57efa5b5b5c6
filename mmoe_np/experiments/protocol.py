"""The documented protocols of the synthetic study: one place for every setting of the full runs.

``FAITHFUL`` follows the paper where it states a value and its text where it does not
(REPRODUCTION.md, "Protocol"): Fig. 3's Shared-Bottom of 16 with Adam's defaults; Figs. 4-5's
sizes (8 experts of 16, towers of 8, a bottom of 113) with the learning rate chosen from
{1e-4, 1e-3, 1e-2} per model and correlation on validation loss by a pilot of 20 runs, then
200 runs at the chosen rates; fresh samples every step ("repeat until enough data are
generated"); training until the curves flatten. ``LEGACY`` is the study this project
committed before (8,000 fixed training points, 1,500 steps, lr 1e-2), kept for the
sensitivity table and the engine's timing target. ``LONG`` is the faithful protocol trained to
32,000 steps (the verdicts by training budget).
"""
from __future__ import annotations

FAITHFUL = dict(correlations=(0.5, 0.9, 1.0), runs=200, pilot_runs=20, lrs=(1e-4, 1e-3, 1e-2), steps=8000,
                batch_size=128, eval_every=250, n_train=None, n_val=1000, n_test=2000, d=100, c=1.0, m=10,
                noise_std=0.01, alpha_beta="normal", seed=0, dtype="float32", backend="numba")
FIG3 = dict(models=("shared_bottom",), sizes={"shared_bottom": {"bottom_units": 16}}, lrs=(1e-3,))
FIG4 = dict(models=("shared_bottom", "omoe", "mmoe"))
LEGACY = dict(FAITHFUL, runs=200, pilot_runs=0, lrs=(1e-2,), steps=1500, eval_every=100, n_train=8000,
              dtype="float64")
# The long study of the budgets issue: the faithful protocol trained four times longer, 100 paired runs, the
# curves recorded every 500 steps (verdicts at 1,000 ... 32,000 steps). Its own folders, so that it never
# overwrites the 8,000-step study or its figures.
LONG = dict(FAITHFUL, runs=100, steps=32_000, eval_every=500)

# name: (protocol, results folder, figures folder) of each documented full run of `reproduce`
DOCUMENTED = {"faithful": (FAITHFUL, "results/reproduce", "figures"),
              "long": (LONG, "results/reproduce_long", "figures/long")}

# the settings that define a run's numbers (not how it is spread over processes); the backend is one:
# float32 results differ by rounding between backends, and the committed ones come from numba
PROTOCOL_KEYS = ("correlations", "runs", "pilot_runs", "lrs", "steps", "batch_size", "eval_every", "n_train", "c",
                 "m", "noise_std", "alpha_beta", "seed", "dtype", "backend")


def is_full_run(settings, protocol=FAITHFUL):
    """True when ``settings`` equal the documented protocol on every key that changes the numbers."""
    def norm(v):
        return tuple(float(x) for x in v) if isinstance(v, (list, tuple)) else v
    return all(norm(settings.get(k)) == norm(protocol.get(k)) for k in PROTOCOL_KEYS)


def documented_run(settings):
    """The name of the documented full run (``DOCUMENTED``) whose protocol ``settings`` follow, or None."""
    for name, (settings_of_run, _, _) in DOCUMENTED.items():
        if is_full_run(settings, settings_of_run):
            return name
    return None
