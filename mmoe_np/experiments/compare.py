"""``python -m mmoe_np compare``: Shared-Bottom, OMoE and MMoE at task correlations 0.5, 0.9, 1.0.

The faithful protocol of the 200-run study (:data:`.protocol.FAITHFUL`: the paper's sizes, fresh
data every step, training until the curves flatten, each model at the learning rate the study
chose for it) at the scale of a quick look: ``--runs`` runs (default 12, about 2 minutes on 2
cores). Prints the final test losses, the paired comparisons with 95% intervals, and what that
many runs can and cannot show; draws the loss curves.
"""
from __future__ import annotations

import time

import numpy as np

from .. import findings, outputs
from ..stats import MIN_PAIRED_RUNS, MIN_SPREAD_RUNS, paired_ratio, resolvable_ratio
from . import plots, protocol
from .common import MODEL_LABELS, check_options
from .reproduce import correlation_table, paired_table, study_learning_rates, summary_table
from .sweep import SweepConfig, run_sweep

MODEL_NAMES = ("shared_bottom", "omoe", "mmoe")
DEFAULT_RUNS = 12


def run(correlations=(0.5, 0.9, 1.0), runs=DEFAULT_RUNS, steps=None, batch_size=None, lr=None, n_train=None,
        eval_every=None, seed=0, backend="numba", dtype=None, models=MODEL_NAMES, sizes=None, jobs=-1,
        progress=True, n_test=None):
    """Train every model at every correlation; returns the sweep's dict of arrays
    (:func:`~mmoe_np.experiments.sweep.run_sweep`).

    ``curves[p_index, run, model_index, eval]``: test loss (mean over tasks) after
    ``steps[eval]`` steps. Defaults are the faithful protocol's; ``lr`` None uses the rates the
    committed study chose (1e-3, Adam's default, for models it did not study); ``sizes``
    overrides model sizes, e.g. ``{"shared_bottom": {"bottom_units": 226}}``; ``models`` may
    include ``"single_task"`` (one network per task).
    """
    F = protocol.FAITHFUL
    correlations = tuple(correlations)
    if lr is not None:
        lrs, chosen = (float(lr),), {}
    else:
        study = study_learning_rates(tuple(m for m in models if m in MODEL_NAMES), correlations) or {}
        lrs, chosen = (1e-3,), {name: study[name] for name in models if name in study}
    config = SweepConfig(correlations=correlations, runs=runs, models=tuple(models), lrs=lrs, chosen_lrs=chosen,
                         steps=steps or F["steps"], batch_size=batch_size or F["batch_size"],
                         eval_every=min(eval_every or F["eval_every"], steps or F["steps"]),
                         n_train=n_train, n_val=100, n_test=n_test or F["n_test"], seed=seed, backend=backend,
                         dtype=dtype or F["dtype"], sizes=sizes or {})
    executor = "serial" if jobs == 1 else "joblib"
    return run_sweep(config, executor=executor, n_jobs=jobs, progress=progress)


def paired_log_spreads(result):
    """The standard deviation over runs of each paired log-ratio that ``compare`` prints: every pair of
    models at each correlation, and each model at 0.5 against 1.0 (when both were run)."""
    final, names = result["final"], [str(m) for m in result["models"]]
    at = [round(float(p), 6) for p in result["correlations"]]
    logs = [np.log(final[i, :, a] / final[i, :, b]) for i in range(len(at))
            for a in range(len(names)) for b in range(a + 1, len(names))]
    if 0.5 in at and 1.0 in at:
        logs += [np.log(final[at.index(0.5), :, j] / final[at.index(1.0), :, j]) for j in range(len(names))]
    return np.array([x.std(ddof=1) for x in logs]) if final.shape[1] > 1 else np.array([])


def result_sentences(result):
    """The findings behind the tables: each pair of models at each correlation, and each model at 0.5
    against 1.0 -- sentences made from the paired ratios (:mod:`mmoe_np.findings`)."""
    final, names = result["final"], [str(m) for m in result["models"]]
    at = [round(float(p), 6) for p in result["correlations"]]
    lines = []
    for a, b in [(a, b) for a in ("mmoe", "omoe") for b in ("omoe", "shared_bottom") if a != b]:
        if a in names and b in names:
            for i, p in enumerate(at):
                r = paired_ratio(final[i, :, names.index(a)], final[i, :, names.index(b)])
                lines.append(findings.paired(f"{MODEL_LABELS[a]}'s test loss", f"{MODEL_LABELS[b]}'s", r,
                                             ratio=f"{MODEL_LABELS[a]}/{MODEL_LABELS[b]}",
                                             where=f" at correlation {p:g}"))
    if 0.5 in at and 1.0 in at:
        for j, name in enumerate(names):
            r = paired_ratio(final[at.index(0.5), :, j], final[at.index(1.0), :, j])
            lines.append(findings.paired(f"{MODEL_LABELS[name]}'s test loss at correlation 0.5", "its loss at 1.0", r,
                                         ratio="L(0.5)/L(1.0)"))
    return [str(line) for line in lines]


def caveat(result) -> str:
    """What this many runs can and cannot show, from the spread of the paired log-ratios printed above
    and Student's t for R - 1 degrees of freedom (:func:`mmoe_np.stats.resolvable_ratio`)."""
    runs = result["final"].shape[1]
    if runs < MIN_PAIRED_RUNS:
        return (f"What {runs} run{'s' if runs != 1 else ''} cannot show: anything. A paired interval needs at least "
                f"{MIN_PAIRED_RUNS} runs, so none of the ratios above has an interval or a verdict: any difference "
                "between them may be chance. Use --runs 12 or more; the 200-run study and its verdicts are in "
                "REPRODUCTION.md (python -m mmoe_np reproduce all).")
    spread = float(np.median(paired_log_spreads(result)))
    factor = resolvable_ratio(spread, runs)
    return (f"What {runs} runs can show: the paired log-ratios above vary between runs with a median standard "
            f"deviation of {spread:.2f}, so with Student's t for {runs - 1} degrees of freedom a typical paired ratio "
            f"is known to about x/{factor:.2f} (95%): differences of about {100 * (factor - 1):.0f}% or more between "
            "models can be resolved, smaller ones usually cannot. What they cannot show: smaller effects, such as how "
            "much MMoE's loss changes between correlations, and the spread of final losses across runs (paper "
            f"Fig. 5; a bootstrap of spreads needs {MIN_SPREAD_RUNS} runs or more). The 200-run study and its verdicts "
            "are in REPRODUCTION.md (python -m mmoe_np reproduce all).")


def main(args):
    start = time.perf_counter()
    check_options(args, "runs", "steps", "batch_size")
    full = (args.runs == DEFAULT_RUNS and args.steps is None and args.lr is None and args.seed == 0
            and tuple(args.correlations) == (0.5, 0.9, 1.0) and args.batch_size is None
            and args.backend == protocol.FAITHFUL["backend"])
    figure = outputs.choose("--figure", args.figure, "figures/compare.png", full_run=full, force=args.force,
                            label="compare", what="python -m mmoe_np compare with its default settings", file=True,
                            suffixes=(".png", ".pdf", ".svg", ".jpg"))
    result = run(correlations=tuple(args.correlations), runs=args.runs, steps=args.steps, batch_size=args.batch_size,
                 lr=args.lr, seed=args.seed, backend=args.backend, jobs=args.jobs, progress=not args.no_progress)
    config = result["config"]
    rates = {name: config.lr_grid(name)[:, 0].tolist() for name in config.models}
    if args.lr is not None:
        source = "given with --lr"
    elif all(name in config.chosen_lrs for name in config.models):
        source = "chosen by the 200-run study, results/reproduce/config.json"
    else:
        source = ("Adam's default 1e-3: the 200-run study's chosen rates were not found in "
                  "results/reproduce/config.json; run python -m mmoe_np reproduce fig4 to choose them")
    print(f"Faithful setting: paper sizes, fresh data every step, {config.steps} Adam steps of batch "
          f"{config.batch_size}, learning rates {rates} ({source})")
    print(summary_table(result))
    print("\nPaired by run (ratio < 1: the first has the lower loss):")
    print(paired_table(result))
    print("\nDoes a lower correlation hurt? (ratio > 1: the loss is higher at the lower correlation)")
    print(correlation_table(result))
    print("\nWhat these runs show, comparison by comparison:")
    print("\n".join(result_sentences(result)))
    print()
    print(caveat(result))
    plots.plot_loss_curves(figure, result["steps"], result["curves"], result["correlations"], result["models"],
                           title="Shared-Bottom vs OMoE vs MMoE")
    print(f"\nbackend {args.backend}, {time.perf_counter() - start:.0f} s")
    return result


def add_arguments(parser):
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"runs per model and correlation (default {DEFAULT_RUNS})")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"Adam steps per run (default {protocol.FAITHFUL['steps']})")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None, help="one Adam learning rate for every model (default: the "
                                                               "study's choice per model and correlation)")
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.5, 0.9, 1.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=-1, help="processes (-1: all cores, 1: this process)")
    parser.add_argument("--figure", default=None, help="where to save the figure (default figures/compare.png for the "
                                                       "default run, a results/scratch/ folder otherwise)")
    parser.add_argument("--force", action="store_true",
                        help="allow overwriting the committed figure with other settings")
