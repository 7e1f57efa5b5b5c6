"""``python -m mmoe_np reproduce report``: every table of REPRODUCTION.md and the README's claims, from raw results.

Reads a study folder (``--study``, default ``results/reproduce``: the main sweep, its pilot and its
Fig. 3 study) and the sensitivity variants (``--sensitivity``, default ``results/sensitivity/*``), and
prints, as markdown, the generated blocks:

- ``claims``: the verdict on each of the paper's claims (:mod:`.claims`);
- ``budgets``: every claim's verdict at the recorded training budgets, and whether it changes
  (:mod:`.budgets`);
- ``claims_summary``: the README's table of the claims, each verdict with the budgets it holds at;
- ``protocol``: the learning rates chosen, and whether the curves are flat and train and test agree;
- ``sensitivity``: the key verdicts under each variant of the undocumented choices;
- ``precision``: how final losses differ between float32 and float64 (same runs, same data).

``--write FILE ...`` replaces the generated blocks each file holds (between
``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated: NAME -->``), so the documents always
show what the raw results say (a test checks it). ``--figures DIR`` redraws figures 3-5 and the
budget figure from the raw results (no training).

What it refuses:

- **Inputs that belong elsewhere.** A ``fig3/`` or ``pilot/`` whose settings are not those of the
  main study's (another seed, other steps, ...) is not reported: the report names it as missing.
- **Incomplete inputs.** A report names every input that is missing or foreign, and refuses to
  ``--write`` blocks made from them (``--blocks`` writes only the others).
- **Committed documents from other runs.** Writing into a committed document (a file of the
  repository, such as REPRODUCTION.md or README.md) or drawing into ``figures/`` needs ``--force``
  unless the inputs are the documented full runs (``results/reproduce`` with the protocol of
  :data:`.protocol.FAITHFUL` or ``results/reproduce_long`` with :data:`.protocol.LONG`, and
  ``results/sensitivity`` with every variant at its documented settings).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import outputs
from ..stats import paired_ratio
from . import budgets as budgets_module
from . import claims, protocol, store
from .common import MODEL_LABELS
from .reproduce import expected_configs, flatness_table, load_results, mismatch, summary_table
from .sensitivity import RUNS, VARIANTS, variant_config

BLOCKS = ("claims", "budgets", "claims_summary", "protocol", "sensitivity", "precision")
NEEDS = {"claims": ("study",), "budgets": ("study",), "claims_summary": ("study",), "protocol": ("study",),
         "sensitivity": ("study", "sensitivity"), "precision": ("baseline", "float64")}
BUDGET_FIGURE = "reproduce_budgets.png"


class Study(NamedTuple):
    """A study folder read for a report: its parts (None where absent), what is missing or foreign
    (``{input group: [one line each]}``), and whether it is the documented full run."""

    main: dict
    fig3: dict | None
    pilot: dict | None
    variants: dict
    missing: dict
    documented: dict


# ----------------------------------------------------------------------------- reading inputs
def study_settings(info):
    """The study-level settings (protocol.FAITHFUL's keys) of a main sweep's saved config."""
    settings = {k: info.get(k) for k in protocol.FAITHFUL if k in info}
    if info.get("streamed"):
        settings["n_train"] = None
    settings["pilot_runs"] = info.get("pilot_runs", 0)
    settings["lrs"] = tuple(info.get("lrs", ()))
    settings["correlations"] = tuple(settings.get("correlations", ()))
    return settings


def read_inputs(study="results/reproduce", sensitivity="results/sensitivity") -> Study:
    """Every input of the report, each checked: it exists, it can be read, and it belongs to the study."""
    study, sensitivity = outputs.default(study), outputs.default(sensitivity)
    main = load_results(study)                         # without the main sweep there is nothing to report
    settings = study_settings(main["config"])
    expected = expected_configs(settings)
    missing = {"study": [], "sensitivity": [], "baseline": [], "float64": []}
    parts = {}
    wants_fig3 = main["config"].get("target", "all") in ("fig3", "all")
    for part, wanted, what in (("fig3", wants_fig3, "the Fig. 3 study"), ("pilot", expected["pilot"] is not None,
                                                                           "the pilot that chose the learning rates")):
        folder = study / part
        parts[part] = None
        if not (folder / "sweep.npz").exists():
            if wanted:
                missing["study"].append(f"{folder / 'sweep.npz'} ({what}): not found")
            continue
        diffs = mismatch(folder, expected[part], part)
        if diffs:
            missing["study"].append(f"{folder} ({what}) belongs to another study: {store.describe_differences(diffs)}")
            continue
        parts[part] = load_results(folder)
    chosen = main["config"].get("chosen_lrs")
    variants = {}
    documented_variants = True
    for name in VARIANTS:
        folder = sensitivity / name
        if not (folder / "sweep.npz").exists():
            line = f"{folder / 'sweep.npz'} (sensitivity variant '{name}'): not found"
            for group in ("sensitivity", name):
                if group in missing:
                    missing[group].append(line)
            continue
        variants[name] = load_results(folder)
        try:
            documented = variant_config(name, RUNS, protocol.FAITHFUL["backend"], chosen)
            documented_variants &= not mismatch(folder, documented, name, ignore=("runs_per_job",))
        except (ValueError, FileNotFoundError):
            documented_variants = False
    run = protocol.documented_run(settings)
    full_study = run is not None and not missing["study"] and _same(study, protocol.DOCUMENTED[run][1])
    return Study(main, parts["fig3"], parts["pilot"], variants, missing,
                 {"study": full_study, "sensitivity": full_study and documented_variants and not missing["sensitivity"]
                  and _same(sensitivity, "results/sensitivity")})


def _same(path, committed):
    return outputs.default(committed).resolve() == Path(path).resolve()


# ---------------------------------------------------------------------------------- the blocks
def claims_block(main, fig3):
    return claims.claims_table(claims.evaluate_claims(main, fig3))


def protocol_block(main, fig3, pilot):
    config = main["config"]
    lines = [f"Main study: {main['final'].shape[1]} runs, {config['steps']} steps of batch {config['batch_size']}, "
             f"{'fresh samples every step' if config.get('streamed') else str(config['n_train']) + ' fixed points'} "
             f"({config['n_train']:,} training samples per run), {config['dtype']}.", ""]
    if pilot is not None:
        lines.append(f"Learning rate per model and correlation, chosen by the pilot ({pilot['final'].shape[1]} runs, "
                     f"grid {pilot['config']['lrs']}) on mean final validation loss:")
        lines.append("")
        lines.append("| model | " + " | ".join(f"correlation {p:g}" for p in main["correlations"]) + " |")
        lines.append("|---|" + "---|" * len(main["correlations"]))
        for name, rates in main["config"]["chosen_lrs"].items():
            lines.append(f"| {MODEL_LABELS[name]} | " + " | ".join(f"{r:g}" for r in rates) + " |")
        lines.append("")
        lines.append("Pilot, mean final validation loss at each rate (a diverged run counts as a failure of its rate):")
        lines.append("")
        lines.append("| model | correlation | " + " | ".join(f"lr {r:g}" for r in pilot["lrs"]) + " |")
        lines.append("|---|---|" + "---|" * len(pilot["lrs"]))
        for j, name in enumerate(pilot["models"]):
            for i, p in enumerate(pilot["correlations"]):
                cells = []
                for li in range(len(pilot["lrs"])):
                    v = np.nanmean(pilot["val_final"][i, :, j, li])
                    n = int((pilot["diverged"][i, :, j, li] > 0).sum())
                    cells.append(f"{v:.4f}" + (f" ({n} diverged)" if n else ""))
                lines.append(f"| {MODEL_LABELS[str(name)]} | {p:g} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Final test losses:", "", summary_table(main), "",
              "Are the curves flat, and do train and test agree? Change of the mean test loss over the last fifth of "
              "training; mean minibatch (train) loss over the last evaluation interval:", "", flatness_table(main)]
    if fig3 is not None:
        lines += ["", "Fig. 3 study (Shared-Bottom, bottom of 16, Adam lr 1e-3):", "", summary_table(fig3), "",
                  flatness_table(fig3)]
    return "\n".join(lines)


def _cell(interval, verdict):
    short = {"holds": "holds", "does not hold": "**no**", "inconclusive": "?", "too few runs": "too few runs"}[verdict]
    if interval.too_few:
        return f"{interval.estimate:.2f} {short}"
    return f"{interval.estimate:.2f} [{interval.low:.2f}, {interval.high:.2f}] {short}"


def sensitivity_rows(name, description, result):
    """One table row: the key statistics and verdicts of a variant's result."""
    final, corr = result["final"], np.asarray(result["correlations"], float)
    models = [str(m) for m in result["models"]]
    cells = []
    for j in (models.index("shared_bottom"), models.index("mmoe")):
        value, v, _ = claims.correlation_trend(final, corr, j)
        cells.append(_cell(value, v))
    value, v, _ = claims.gap_difference(final, corr, models, "shared_bottom")
    cells.append(_cell(value, v))
    for moe in ("mmoe", "omoe"):
        value, v, _ = claims.beats(final, corr, models, moe)
        cells.append(_cell(value, v))
    value, v, _ = claims.spread(final, corr, models, "shared_bottom", "mmoe")
    cells.append(_cell(value, v))
    sb = final[list(np.round(corr, 6)).index(0.5), :, models.index("shared_bottom")]
    return (f"| {name} | {description} | {final.shape[1]} | {np.exp(np.log(sb).mean()):.4f} | "
            + " | ".join(cells) + " |")


def sensitivity_block(variants, pilot):
    lines = ["| variant | what changes | runs | SB loss at 0.5 (geo. mean) | SB: L(0.5)/L(1.0) > 1 | "
             "MMoE: L(0.5)/L(1.0) > 1 | SB's gap / MMoE's gap > 1 | MMoE/SB < 1 (worst corr.) | "
             "OMoE/SB < 1 (worst corr.) | spread SB/MMoE > 1 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, (_, description) in VARIANTS.items():
        if name in variants:
            lines.append(sensitivity_rows(name, description, variants[name]))
    if pilot is not None:
        for li, lr in enumerate(pilot["lrs"]):
            one = dict(pilot, final=pilot["curves_by_lr"][:, :, :, li, -1])
            lines.append(sensitivity_rows(f"lr {lr:g}", f"every model at learning rate {lr:g} (the pilot's runs)", one))
    lines += ["", "Each cell: paired geometric-mean ratio [95% interval] and the verdict on the claim in the column "
              "header (holds / **no**: does not hold / ?: inconclusive)."]
    return "\n".join(lines)


def precision_block(variants):
    """float32 against float64 on the same runs and data: per-run relative difference of final losses."""
    a, b = variants.get("baseline"), variants.get("float64")
    if a is None or b is None:
        return "(run the 'baseline' and 'float64' sensitivity variants to fill this in)"
    f32, f64 = a["final"], b["final"]
    rel = np.abs(f32 - f64) / f64
    lines = ["| model | correlation | runs | median relative difference | 95th percentile | largest | "
             "paired ratio float32/float64 |", "|---|---|---|---|---|---|---|"]
    for j, name in enumerate(a["models"]):
        for i, p in enumerate(a["correlations"]):
            r = paired_ratio(f32[i, :, j], f64[i, :, j])
            lines.append(f"| {MODEL_LABELS[str(name)]} | {p:g} | {f32.shape[1]} | {np.median(rel[i, :, j]):.2e} | "
                         f"{np.quantile(rel[i, :, j], 0.95):.2e} | {rel[i, :, j].max():.2e} | {r.ratio} |")
    return "\n".join(lines)


def make_blocks(inputs: Study, names=BLOCKS):
    """``{name: markdown}`` for the blocks ``names``, from ``inputs``."""
    main, fig3, pilot = inputs.main, inputs.fig3, inputs.pilot
    out, by_budget = {}, None
    for name in names:
        if name == "claims":
            out[name] = claims_block(main, fig3)
        elif name in ("budgets", "claims_summary"):
            by_budget = by_budget or budgets_module.verdicts_by_budget(main, fig3)
            out[name] = (budgets_module.budget_table(by_budget) if name == "budgets"
                         else budgets_module.summary_table(by_budget, main["final"].shape[1]))
        elif name == "protocol":
            out[name] = protocol_block(main, fig3, pilot)
        elif name == "sensitivity":
            out[name] = sensitivity_block(inputs.variants, pilot)
        elif name == "precision":
            out[name] = precision_block(inputs.variants)
        else:
            raise ValueError(f"blocks must be among {list(BLOCKS)}, got {name!r}")
    return out


def blocks(study="results/reproduce", sensitivity="results/sensitivity", names=BLOCKS):
    """Every generated block: ``{name: markdown}`` (what ``--write`` puts into the documents)."""
    return make_blocks(read_inputs(study, sensitivity), names)


def missing_for(inputs: Study, names):
    """The missing or foreign inputs (one line each) of the blocks ``names``."""
    lines = []
    for name in names:
        for group in NEEDS[name]:
            for line in inputs.missing[group]:
                if line not in lines:
                    lines.append(line)
    return lines


# ------------------------------------------------------------------------------- the documents
PATTERN = r"(<!-- BEGIN generated: {name} -->\n)(?:.*?\n)?(<!-- END generated: {name} -->)"


def read_blocks(path):
    """The generated blocks of ``path`` as they stand: ``{name: markdown}``."""
    text = Path(path).read_text()
    return {m.group(1): m.group(2) or "" for m in
            re.finditer(r"<!-- BEGIN generated: (\w+) -->\n(?:(.*?)\n)?<!-- END generated: \1 -->", text, re.DOTALL)}


def write_blocks(path, generated):
    """Replace each ``<!-- BEGIN generated: NAME -->...<!-- END generated: NAME -->`` block of ``path``
    whose NAME is in ``generated``; returns the names written. A file with none of them is an error."""
    path = Path(path)
    text = path.read_text()
    written = []
    for name, body in generated.items():
        pattern = re.compile(PATTERN.format(name=name), re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)   # an empty block too
            written.append(name)
    if not written:
        raise ValueError(f"{path} has no generated block of {list(generated)} (a '<!-- BEGIN generated: NAME -->' ... "
                         f"'<!-- END generated: NAME -->' pair)")
    store.write_atomic(path, lambda tmp: Path(tmp).write_text(text))
    return written


def draw_figures(inputs: Study, folder):
    """Figures 3-5 and the budget figure redrawn from a study's raw results (no training): the same drawing
    code as ``reproduce all``, so a change in how the figures are drawn reaches them without retraining."""
    from . import plots
    from .reproduce import FIGURES
    main, fig3 = inputs.main, inputs.fig3
    folder = Path(folder)
    if fig3 is not None:
        plots.plot_correlation_curves(folder / FIGURES["fig3"], fig3["steps"], fig3["curves"][:, :, 0],
                                      fig3["correlations"], title="Fig. 3: Shared-Bottom (bottom of 16), Adam lr 1e-3")
    plots.plot_loss_curves(folder / FIGURES["fig4"], main["steps"], main["curves"], main["correlations"],
                           main["models"], title="Fig. 4")
    plots.plot_final_histograms(folder / FIGURES["fig5"], main["final"], main["correlations"], main["models"],
                                title="Fig. 5")
    runs = main["final"].shape[1]
    budgets_module.plot_budgets(folder / BUDGET_FIGURE, budgets_module.verdicts_by_budget(main, fig3),
                                title=f"Every claim's verdict by training budget ({runs} paired runs)")


def main(args):
    inputs = read_inputs(args.study, args.sensitivity)
    names = tuple(args.blocks or BLOCKS)
    missing = missing_for(inputs, names)
    documented = inputs.documented["study"] and (inputs.documented["sensitivity"] or
                                                 not {"sensitivity", "precision"} & set(names))
    what = ("the documented full runs (results/reproduce or results/reproduce_long with their protocols, "
            "protocol.DOCUMENTED, and results/sensitivity with every variant)")
    for path in args.write or ():                        # every check before anything is written
        if missing:
            raise ValueError(f"cannot --write {path}: {len(missing)} input(s) are missing or belong to another study "
                             f"({'; '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); run them first, or "
                             "choose the blocks that do not need them with --blocks")
        if outputs.is_committed_document(path) and not (documented or args.force):
            raise outputs.OutputError(f"--write {path}: a committed document; these inputs are not {what}, so "
                                      "their numbers would replace the documented ones. Write another file, or add "
                                      "--force to do it on purpose")
        if not Path(path).is_file():
            raise FileNotFoundError(f"--write {path}: no such file (a markdown file with generated blocks is needed)")
    figures = None
    if args.figures:
        outputs.check_protected("--figures", args.figures, full_run=inputs.documented["study"], force=args.force,
                                what="the documented full run (results/reproduce)")
        figures = outputs.prepare_dir("--figures", args.figures)
    generated = make_blocks(inputs, names)
    for name, body in generated.items():
        print(f"<!-- {name} -->\n{body}\n")
    for line in missing:
        print(f"missing input: {line}", file=sys.stderr)
    for path in args.write or ():
        written = write_blocks(path, generated)
        print(f"updated the generated blocks of {path}: {', '.join(written)}")
    if figures is not None:
        draw_figures(inputs, figures)


def add_arguments(parser):
    parser.add_argument("--study", default="results/reproduce", help="folder of the main study")
    parser.add_argument("--sensitivity", default="results/sensitivity", help="folder of the sensitivity variants")
    parser.add_argument("--blocks", nargs="+", choices=BLOCKS, default=None,
                        help="the generated blocks to print and write (default: all)")
    parser.add_argument("--write", nargs="+", default=None, metavar="FILE",
                        help="markdown files whose generated blocks to replace (e.g. REPRODUCTION.md README.md)")
    parser.add_argument("--figures", default=None, help="redraw figures 3-5 and the budget figure from the study's "
                                                        "raw results into this folder (no training)")
    parser.add_argument("--force", action="store_true",
                        help="allow writing into committed documents or figures/ from other inputs than the "
                             "documented full runs")
