"""``python -m mmoe_np reproduce {fig2,fig3,fig4,fig5,all}``: the paper's synthetic experiments.

- fig2: Pearson correlation of the two labels against the weight cosine (10,000 points per
  cosine value, ``--runs`` trials each, mean and standard deviation).
- fig3: Shared-Bottom with a bottom of 16 units, towers of 8, Adam with its default settings
  (lr 1e-3), at each correlation (paper §3.3) -- its own sweep, in ``OUT/fig3``.
- fig4, fig5: Shared-Bottom (113), OMoE and MMoE (8 experts of 16), towers of 8. With several
  ``--lrs``, a pilot of ``--pilot-runs`` runs (in ``OUT/pilot``) chooses each model's learning
  rate at each correlation on validation loss; then ``--runs`` runs at the chosen rates (in
  ``OUT``). Fig. 4: mean test-loss curves with 95% bands; Fig. 5: every run's final loss.
- all: all of the above, then the verdict on each of the paper's claims (:mod:`.claims`).

Defaults are the documented full run (:data:`mmoe_np.experiments.protocol.FAITHFUL`). A run
with other settings writes to ``results/scratch/`` unless ``--out``/``--figures`` name a place
(committed places need ``--force``): see :mod:`mmoe_np.outputs`.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import outputs
from ..data import make_synthetic
from ..metrics import pearson
from ..stats import mean_interval, paired_ratio
from . import claims, plots, protocol, store
from .common import MODEL_LABELS, check_options
from .jobs import DASK_TIMEOUT
from .sweep import SweepConfig, config_dict, run_sweep, settings_of

TARGETS = ("fig2", "fig3", "fig4", "fig5", "all")
FIGURES = {"fig2": "reproduce_fig2.png", "fig3": "reproduce_fig3.png", "fig4": "reproduce_fig4.png",
           "fig5": "reproduce_fig5.png"}


# ------------------------------------------------------------------------------- figure 2
def label_correlations(cosines, trials, n=10_000, d=100, seed=0, **kw):
    """(len(cosines), trials) Pearson correlations of y1, y2; one fresh data set per trial."""
    seeds = np.random.SeedSequence(seed).generate_state(trials)
    return np.array([[pearson(*make_synthetic(n=n, d=d, p=float(p), seed=int(s), **kw).Y.T) for s in seeds]
                     for p in cosines])


def plot_fig2(cosines, corr, path):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.errorbar(cosines, corr.mean(1), yerr=corr.std(1), fmt="o-", capsize=3, label="mean +- std")
    ax.plot([0, 1], [0, 1], "k:", label="correlation = cosine")
    ax.set_xlabel("cosine of the task weight vectors")
    ax.set_ylabel("Pearson correlation of the labels")
    ax.set_title(f"Fig. 2: {corr.shape[1]} trials x 10,000 points per cosine")
    ax.legend()
    ax.grid(alpha=0.3)
    plots.save(fig, path)


# ------------------------------------------------------------------------------- the studies
def sweep_config(settings, **changes):
    """A :class:`SweepConfig` from protocol ``settings`` (a dict with protocol.FAITHFUL's keys)."""
    fields = {k: v for k, v in settings.items() if k in SweepConfig.__dataclass_fields__}
    fields["correlations"], fields["lrs"] = tuple(fields["correlations"]), tuple(fields["lrs"])
    return SweepConfig(**{**fields, **changes})


def fig3_config(settings):
    """Paper Fig. 3: Shared-Bottom with a bottom of 16, towers of 8, Adam's defaults."""
    return sweep_config(settings, models=protocol.FIG3["models"], sizes=protocol.FIG3["sizes"],
                        lrs=protocol.FIG3["lrs"])


def pilot_config(settings):
    """The pilot of Figs. 4-5: every learning rate of the grid on ``pilot_runs`` runs of their own
    (seeds not in the main study). None when there is nothing to choose."""
    base = sweep_config(settings, models=protocol.FIG4["models"])
    if len(base.lrs) == 1 or not settings["pilot_runs"]:
        return None
    return replace(base, runs=settings["pilot_runs"], seed=base.seed + 1)


def fig45_config(settings, pilot=None):
    """Figs. 4-5: every model at the learning rate the pilot chose for it at each correlation (or at
    every rate of the grid when there is no pilot)."""
    base = sweep_config(settings, models=protocol.FIG4["models"])
    return base if pilot is None else replace(base, chosen_lrs=chosen_learning_rates(pilot))


def run_fig3(settings, executor_kw):
    return run_sweep(fig3_config(settings), **executor_kw)


def run_pilot(settings, executor_kw):
    config = pilot_config(settings)
    return None if config is None else run_sweep(config, **executor_kw)


def run_fig45(settings, executor_kw, pilot=None):
    return run_sweep(fig45_config(settings, pilot), **executor_kw)


# --------------------------------------------------------------------- one folder, one study
PARTS = ("fig3", "pilot", "main")


def part_folder(out, part):
    """Where each part of a study lives: the main sweep in ``out``, the others in subfolders."""
    return Path(out) if part == "main" else Path(out) / part


def expected_configs(settings):
    """``{part: SweepConfig or None}``: what each part of the study with ``settings`` is (the main
    sweep's ``chosen_lrs`` come from its pilot, so they are not known before it has run)."""
    return {"fig3": fig3_config(settings), "pilot": pilot_config(settings), "main": fig45_config(settings)}


def recorded_settings(folder):
    """``(settings, complete)`` of the sweep held in ``folder`` (finished or not), or None if it holds none."""
    folder = Path(folder)
    manifest = folder / "chunks" / store.MANIFEST
    if manifest.exists():
        return store.read_json(manifest, "chunk manifest").get("sweep", {}), True
    if (folder / "sweep.npz").exists():
        return settings_of(_npz_config(folder / "sweep.npz"))
    if (folder / "config.json").exists():
        return settings_of(store.read_json(folder / "config.json"))
    return None


def mismatch(folder, config, part, ignore=("runs_per_job", "chosen_lrs")):
    """Differences (``["seed 0 there, 9 here", ...]``) between the sweep recorded in ``folder`` and
    ``config`` (None: this study has no such part), ignoring how runs are cut into jobs and (for the
    main sweep, whose pilot picks them) the chosen rates. None when the folder holds no sweep; []
    when they agree."""
    recorded = recorded_settings(folder)
    if recorded is None:
        return None
    if config is None:
        return [f"a {part} sweep there, none here"]
    found, complete = recorded
    return store.differences(found, config_dict(config), ignore=ignore, known_only=not complete)


def check_study_folder(out, settings, option="--out"):
    """Refuse (one line, before any training) an ``out`` that holds any part of another study."""
    for part, config in expected_configs(settings).items():
        diffs = mismatch(part_folder(out, part), config, part)
        if diffs:
            where = ("" if part == "main" else f"{part}/: ") + store.describe_differences(diffs)
            raise outputs.OutputError(f"{option} {out}: holds another study ({where}); choose another {option}, or "
                                      "delete that folder to run this study there")


def run_part(config, folder, executor_kw, extra, label):
    """One part of the study in ``folder``: read back if it finished before with these settings (never
    redone), else run -- continuing from the chunks a killed run left -- and save. Returns the result."""
    folder = Path(folder)
    if (folder / "sweep.npz").exists() and not mismatch(folder, config, label, ignore=("runs_per_job",)):
        print(f"{label}: finished before with these settings; read from {folder} (delete it to run it again)")
        return load_results(folder)
    result = run_sweep(config, out=folder, **executor_kw)
    save_results(result, folder, extra=extra)
    store.clear_chunks(folder)
    return result


def chosen_learning_rates(result):
    """``{model: [lr per correlation]}``: the rate a sweep's grid search chose (its ``chosen_lr_index``)."""
    table, index = result["lr_table"], result["chosen_lr_index"]
    return {str(name): [float(table[i, j, index[i, j]]) for i in range(table.shape[0])]
            for j, name in enumerate(result["models"])}


def study_learning_rates(models, correlations, folder="results/reproduce"):
    """The rates the committed study (``folder``/config.json) chose, ``{model: [lr per correlation]}`` for
    the given models and correlations; None when the file is absent or lacks one of them."""
    try:
        info = json.loads((outputs.default(folder) / "config.json").read_text())
        chosen, study_corr = info["chosen_lrs"], [round(float(p), 6) for p in info["correlations"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    wanted = [round(float(p), 6) for p in correlations]
    if not all(name in chosen for name in models) or not set(wanted) <= set(study_corr):
        return None
    return {name: [float(chosen[name][study_corr.index(p)]) for p in wanted] for name in models}


# ----------------------------------------------------------------------------------- files
def save_results(result, folder, extra=None):
    """``sweep.npz`` (every array and the config), ``per_run.csv``, ``summary.csv``, ``config.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = result["config"]
    info = config_dict(config)
    info["sweep"] = config_dict(config)            # the exact settings, compared when a run continues
    info.update(streamed=config.n_train is None,
                n_train=config.n_train if config.n_train is not None else config.steps * config.batch_size,
                lrs=list(config.lrs), chosen_lrs=chosen_learning_rates(result))
    info.update(extra or {})
    for key, value in config.sizes.get("shared_bottom", {}).items():
        info[key] = value                                            # e.g. "bottom_units": 16 for Fig. 3
    config_json = json.dumps(info)
    final, best = result["curves_by_lr"][..., -1], np.nanmin(result["curves_by_lr"], axis=-1)
    train_final = result["train_curves_by_lr"][..., -1]
    with open(folder / "per_run.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["correlation", "run", "model", "lr", "final_test_loss", "best_test_loss", "final_train_loss",
                    "final_val_loss", "diverged_at_step"])
        C, R, M, L = final.shape
        for i in range(C):
            for r in range(R):
                for j in range(M):
                    for li in range(L):
                        if np.isnan(final[i, r, j, li]):
                            continue
                        w.writerow([result["correlations"][i], r, result["models"][j], result["lr_table"][i, j, li],
                                    f"{final[i, r, j, li]:.6g}", f"{best[i, r, j, li]:.6g}",
                                    f"{train_final[i, r, j, li]:.6g}", f"{result['val_final'][i, r, j, li]:.6g}",
                                    int(result["diverged"][i, r, j, li])])
    with open(folder / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "correlation", "lr", "runs", "mean", "std", "ci95_low", "ci95_high"])
        w.writerows(summary_rows(result))
    (folder / "config.json").write_text(json.dumps(info, indent=1) + "\n")
    # last, whole or not at all: a folder with a sweep.npz holds a finished sweep
    store.save_npz(folder / "sweep.npz", **{k: v for k, v in result.items() if isinstance(v, np.ndarray)},
                   config=np.array(config_json))
    return folder


RESULT_KEYS = ("curves", "curves_by_lr", "correlations", "models", "steps", "lr_table", "chosen_lr_index",
               "val_final", "diverged", "config")


def load_results(folder):
    """The arrays of a saved sweep, with ``final`` and ``config`` (a dict), as :func:`run_sweep` returns them.

    A missing, damaged or incomplete ``sweep.npz`` is one line naming the file and what is wrong
    (:class:`~.store.ResultFileError`)."""
    path = Path(folder) / "sweep.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the study first (python -m mmoe_np reproduce all)")
    result = store.read_npz(path, RESULT_KEYS, "sweep results")
    result["config"] = _parse_config(path, result.pop("config"))
    curves = result["curves"]
    C, M = len(result["correlations"]), len(result["models"])
    if curves.ndim != 4 or curves.shape[0] != C or curves.shape[2] != M or curves.shape[3] != len(result["steps"]):
        raise store.ResultFileError(f"{path}: curves has shape {curves.shape}, which does not match its {C} "
                                    f"correlations, {M} models and {len(result['steps'])} evaluations")
    result.setdefault("final", curves[..., -1])
    return result


def _parse_config(path, value):
    try:
        info = json.loads(str(value))
    except ValueError as err:
        raise store.ResultFileError(f"{path}: its config is not valid JSON ({err})") from None
    if not isinstance(info, dict):
        raise store.ResultFileError(f"{path}: its config is not a JSON object")
    return info


def _npz_config(path):
    return _parse_config(path, store.read_npz(path, ("config",), "sweep results")["config"])


# ---------------------------------------------------------------------------------- tables
def summary_rows(result):
    """Rows (model, correlation, lr, runs, mean, std, ci95 low, ci95 high) of the final test loss."""
    rows = []
    final = result["curves"][..., -1]                      # (C, R, M)
    for j, name in enumerate(result["models"]):
        for i, p in enumerate(result["correlations"]):
            mean, std, half, _ = mean_interval(final[i, :, j])
            lr = result["lr_table"][i, j, result["chosen_lr_index"][i, j]]
            rows.append((str(name), float(p), float(lr), final.shape[1], mean, std, mean - half, mean + half))
    return rows


def summary_table(result) -> str:
    lines = ["| model | correlation | lr | runs | mean final test loss | std | 95% CI |",
             "|---|---|---|---|---|---|---|"]
    for name, p, lr, runs, mean, std, lo, hi in summary_rows(result):
        lines.append(f"| {MODEL_LABELS[name]} | {p:g} | {lr:g} | {runs} | {mean:.4f} | {std:.4f} "
                     f"| [{lo:.4f}, {hi:.4f}] |")
    return "\n".join(lines)


def paired_table(result) -> str:
    """Paired comparisons of models within a run: how often the first wins and the geometric-mean loss
    ratio with a 95% interval (ratio < 1: the first model has the lower loss)."""
    final = result["curves"][..., -1]
    names = [str(m) for m in result["models"]]
    lines = ["| comparison | correlation | first wins | loss ratio (geometric mean) [95% CI] |", "|---|---|---|---|"]
    pairs = [(a, b) for a in ("mmoe", "omoe") for b in ("omoe", "shared_bottom")
             if a != b and a in names and b in names]
    for a, b in pairs:
        for i, p in enumerate(result["correlations"]):
            r = paired_ratio(final[i, :, names.index(a)], final[i, :, names.index(b)])
            lines.append(f"| {MODEL_LABELS[a]} vs {MODEL_LABELS[b]} | {p:g} | {r.wins:.0%} | {r.ratio} |")
    return "\n".join(lines)


def correlation_table(result, low=0.5, high=1.0) -> str:
    """Each model's loss at correlation ``low`` over its loss at ``high``, paired by run (the same data
    seed and initialisation): above 1, the lower correlation hurts."""
    final, at = result["curves"][..., -1], [round(float(p), 6) for p in result["correlations"]]
    if low not in at or high not in at:
        return f"(needs correlations {low:g} and {high:g})"
    i, k = at.index(low), at.index(high)
    lines = [f"| model | loss at {low:g} / loss at {high:g} [95% CI] | higher at {low:g} |", "|---|---|---|"]
    for j, name in enumerate(result["models"]):
        r = paired_ratio(final[i, :, j], final[k, :, j])
        lines.append(f"| {MODEL_LABELS[str(name)]} | {r.ratio} | {1 - r.wins:.0%} |")
    return "\n".join(lines)


def flatness_table(result) -> str:
    """Are the curves flat? Change of the mean test loss over the last fifth of training, and the
    final mean training (minibatch) loss against the test loss."""
    steps, curves, train = result["steps"], result["curves"], result.get("train_curves")
    start = int(np.searchsorted(steps, 0.8 * steps[-1]))
    lines = ["| model | correlation | test loss at 80% of steps | final test loss | change over the last fifth "
             "| final train (minibatch) loss |", "|---|---|---|---|---|---|"]
    for j, name in enumerate(result["models"]):
        for i, p in enumerate(result["correlations"]):
            at, end = curves[i, :, j, start].mean(), curves[i, :, j, -1].mean()
            tr = f"{train[i, :, j, -1].mean():.4f}" if train is not None else "-"
            lines.append(f"| {MODEL_LABELS[str(name)]} | {p:g} | {at:.4f} | {end:.4f} | {(end - at) / at:+.1%} "
                         f"| {tr} |")
    return "\n".join(lines)


def describe(result, title):
    """Every table of one study, as text."""
    parts = [f"## {title}", summary_table(result)]
    if len(result["models"]) > 1 and result["curves"].shape[1] > 1:
        parts += ["Paired by run (ratio < 1: the first model has the lower loss):", paired_table(result)]
    if result["curves"].shape[1] > 1:
        parts += ["Does a lower correlation hurt? (paired by run)", correlation_table(result)]
    parts += ["Flat by the end? (last fifth of training; train vs test loss)", flatness_table(result)]
    diverged = (result["diverged"] > 0).sum()
    if diverged:
        parts.append(f"{diverged} run(s) diverged and were frozen at their last good parameters (per_run.csv).")
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------- CLI
def settings_from(args):
    return dict(correlations=tuple(args.correlations), runs=args.runs, pilot_runs=args.pilot_runs,
                lrs=tuple(args.lrs), steps=args.steps, batch_size=args.batch_size, eval_every=args.eval_every,
                n_train=args.n_train, n_val=protocol.FAITHFUL["n_val"], n_test=protocol.FAITHFUL["n_test"],
                d=protocol.FAITHFUL["d"], c=args.c, m=args.m, noise_std=args.noise_std, alpha_beta=args.alpha_beta,
                seed=args.seed, dtype=args.dtype, backend=args.backend)


def resolve_outputs(args, full, target, run="faithful"):
    """Where the results and figures go; every path checked before any training (one-line errors).
    A documented full run (``run``, :data:`.protocol.DOCUMENTED`) writes to its own committed folders; a
    run that is not one writes both to one scratch folder unless told otherwise."""
    what = f"python -m mmoe_np reproduce {target} with the documented settings"
    scratch = None if full or args.force else outputs.scratch_dir(target)
    common = dict(full_run=full, force=args.force, label=target, what=what, scratch=scratch)
    _, results, figures = protocol.DOCUMENTED[run or "faithful"]
    return (outputs.choose("--out", args.out, results, **common),
            outputs.choose("--figures", args.figures, figures, **common))


def main(args):
    start = time.perf_counter()
    settings = settings_from(args)
    check_options(args, "runs", "steps", "batch_size", "eval_every")
    if args.chunk_runs < 0:
        raise ValueError(f"--chunk-runs must be 0 (chosen from the workers) or a positive number of runs, got "
                         f"{args.chunk_runs}")
    if args.pilot_runs < 0:
        raise ValueError(f"--pilot-runs must be 0 (no pilot) or a positive number of runs, got {args.pilot_runs}")
    if len(set(np.round(settings["correlations"], 6))) != len(settings["correlations"]):
        raise ValueError(f"--correlations must not repeat a value, got {list(settings['correlations'])}")
    configs = expected_configs(settings)
    for config in configs.values():           # every setting checked before any training
        if config is not None:
            config.check()
    run = protocol.documented_run(settings)
    full = run is not None
    out, figures = resolve_outputs(args, full, args.target, run)
    args.resume_folder = out                  # where an interrupted run's chunks are (see __main__)
    if not full:
        print(f"settings differ from the documented full run: results go to {out}" +
              ("" if figures == out else f", figures to {figures}"))
    executor_kw = dict(executor="dask" if args.scheduler else ("serial" if args.jobs == 1 else "joblib"),
                       n_jobs=args.jobs, scheduler=args.scheduler, progress=not args.no_progress,
                       dask_timeout=args.dask_timeout)
    with store.lock(out):
        if args.target != "fig2":
            check_study_folder(out, settings)
        if args.chunk_runs:
            configs = {k: v if v is None else replace(v, runs_per_job=args.chunk_runs) for k, v in configs.items()}
        _run_study(args, settings, configs, out, figures, executor_kw, start)


def _run_study(args, settings, configs, out, figures, executor_kw, start):
    if args.target in ("fig2", "all"):
        cosines = np.round(np.linspace(0, 1, 11), 2)
        corr = label_correlations(cosines, trials=args.runs, seed=args.seed, m=args.m, c=args.c,
                                  noise_std=args.noise_std)
        plot_fig2(cosines, corr, figures / FIGURES["fig2"])
        print("label correlation at cosine " + ", ".join(f"{p:g}: {c:.3f}" for p, c in zip(cosines, corr.mean(1))))
        print(f"[fig2: {time.perf_counter() - start:.0f} s]", flush=True)
    fig3 = main_result = None
    if args.target in ("fig3", "all"):
        t = time.perf_counter()
        fig3 = run_part(configs["fig3"], out / "fig3", executor_kw, dict(study="fig3"), "fig3")
        plots.plot_correlation_curves(figures / FIGURES["fig3"], fig3["steps"], fig3["curves"][:, :, 0],
                                      fig3["correlations"], title="Fig. 3: Shared-Bottom (bottom of 16), Adam lr 1e-3")
        print(describe(fig3, "Fig. 3: Shared-Bottom with a bottom of 16"))
        print(f"[fig3: {time.perf_counter() - t:.0f} s]", flush=True)
    elif (out / "fig3" / "sweep.npz").exists():           # this study's Fig. 3 part, finished by an earlier run
        fig3 = load_results(out / "fig3")
    if args.target in ("fig4", "fig5", "all"):
        t = time.perf_counter()
        pilot = None
        if configs["pilot"] is not None:
            pilot = run_part(configs["pilot"], out / "pilot", executor_kw, dict(study="pilot"), "pilot")
            print(describe(pilot, f"Pilot ({pilot['final'].shape[1]} runs, every learning rate)"))
            print(f"[pilot: {time.perf_counter() - t:.0f} s]", flush=True)
        main_config = configs["main"] if pilot is None else replace(configs["main"],
                                                                    chosen_lrs=chosen_learning_rates(pilot))
        main_result = run_part(main_config, out, executor_kw,
                               dict(study="fig4", pilot_runs=settings["pilot_runs"] if pilot else 0,
                                    lrs=list(settings["lrs"]), target=args.target), "fig4")
        print(describe(main_result, "Figs. 4-5: Shared-Bottom, OMoE, MMoE at the chosen learning rates"))
        if args.target in ("fig4", "all"):
            plots.plot_loss_curves(figures / FIGURES["fig4"], main_result["steps"], main_result["curves"],
                                   main_result["correlations"], main_result["models"], title="Fig. 4")
        if args.target in ("fig5", "all"):
            plots.plot_final_histograms(figures / FIGURES["fig5"], main_result["final"], main_result["correlations"],
                                        main_result["models"], title="Fig. 5")
        print(f"[fig4/5: {time.perf_counter() - t:.0f} s]")
    if main_result is not None and main_result["curves"].shape[1] > 1:
        rows = claims.evaluate_claims(main_result, fig3)
        print("\n## The paper's claims\n\n" + claims.claims_table(rows))
    print(f"raw results: {out}\n{args.target}: {time.perf_counter() - start:.0f} s")


def stream_or_count(value):
    """``--n-train``: 'stream' (None: fresh samples every step) or a positive number of points."""
    if value in ("stream", "streamed"):
        return None
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'stream' or a positive number of points, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 'stream' or a positive number of points, got {n}")
    return n


def add_arguments(parser):
    F = protocol.FAITHFUL
    parser.add_argument("--runs", type=int, default=F["runs"], help="runs per model and correlation (paper: 200)")
    parser.add_argument("--pilot-runs", type=int, default=F["pilot_runs"],
                        help="runs of the pilot that chooses each learning rate (0: choose on the main runs)")
    parser.add_argument("--correlations", type=float, nargs="+", default=list(F["correlations"]))
    parser.add_argument("--steps", type=int, default=F["steps"], help=f"Adam steps per run (default {F['steps']})")
    parser.add_argument("--lrs", type=float, nargs="+", default=list(F["lrs"]),
                        help="Adam learning rates; several = grid search on validation loss (paper: 1e-4 1e-3 1e-2)")
    parser.add_argument("--batch-size", type=int, default=F["batch_size"])
    parser.add_argument("--eval-every", type=int, default=F["eval_every"], help="steps between test evaluations")
    parser.add_argument("--n-train", type=stream_or_count, default=F["n_train"],
                        help="'stream' (fresh samples every step, default) or a number of fixed training points "
                             "per run")
    parser.add_argument("--c", type=float, default=F["c"], help="norm of the task weights")
    parser.add_argument("--m", type=int, default=F["m"], help="number of sinusoids")
    parser.add_argument("--noise-std", type=float, default=F["noise_std"])
    parser.add_argument("--alpha-beta", choices=["normal", "google"], default=F["alpha_beta"],
                        help="sinusoid parameters: N(0, 1) per run, or alpha_i = i, beta_i = (i-1)^2")
    parser.add_argument("--seed", type=int, default=F["seed"])
    parser.add_argument("--dtype", choices=["float32", "float64"], default=F["dtype"],
                        help=f"arithmetic of the models (default {F['dtype']}; data are drawn in float64)")
    parser.add_argument("--jobs", type=int, default=-1, help="processes for joblib (-1: all cores, 1: serial)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://...): run on that cluster")
    parser.add_argument("--dask-timeout", type=float, default=DASK_TIMEOUT,
                        help=f"seconds to wait for an unreachable Dask scheduler, or for a worker when the cluster "
                             f"has none, before giving up (default {DASK_TIMEOUT:g})")
    parser.add_argument("--chunk-runs", type=int, default=0,
                        help="runs per chunk (0: chosen from the number of workers); each finished chunk is saved, "
                             "and the same command continues a killed run from there")
    parser.add_argument("--out", default=None, help="folder for the raw results (default: results/reproduce for the "
                                                    "documented full run, a new results/scratch/ folder otherwise)")
    parser.add_argument("--figures", default=None, help="folder for the figures (default: figures/ for the full run)")
    parser.add_argument("--force", action="store_true", help="allow overwriting committed results with other settings")
