"""``python -m mmoe_np reproduce report``: every table of REPRODUCTION.md, from the committed raw results.

Reads ``results/reproduce`` (the main study, its pilot and its Fig. 3 study) and
``results/sensitivity/*`` and prints, as markdown:

- ``claims``: the verdict on each of the paper's claims (:mod:`.claims`);
- ``protocol``: the learning rates chosen, and whether the curves are flat and train and test agree;
- ``sensitivity``: the key verdicts under each variant of the undocumented choices;
- ``precision``: how final losses differ between float32 and float64 (same runs, same data).

``--write REPRODUCTION.md`` replaces the generated blocks of that file (between
``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated: NAME -->``), so the document
always shows what the raw results say (a test checks it).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import outputs
from ..stats import paired_ratio
from . import claims
from .common import MODEL_LABELS
from .reproduce import flatness_table, load_results, summary_table
from .sensitivity import VARIANTS


def _study(folder):
    folder = Path(folder)
    main = load_results(folder)
    fig3 = load_results(folder / "fig3") if (folder / "fig3" / "sweep.npz").is_file() else None
    pilot = load_results(folder / "pilot") if (folder / "pilot" / "sweep.npz").is_file() else None
    return main, fig3, pilot


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
    short = {"holds": "holds", "does not hold": "**no**", "inconclusive": "?"}[verdict]
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


def sensitivity_block(folder, pilot):
    lines = ["| variant | what changes | runs | SB loss at 0.5 (geo. mean) | SB: L(0.5)/L(1.0) > 1 | "
             "MMoE: L(0.5)/L(1.0) > 1 | SB's gap / MMoE's gap > 1 | MMoE/SB < 1 (worst corr.) | "
             "OMoE/SB < 1 (worst corr.) | spread SB/MMoE > 1 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, (_, description) in VARIANTS.items():
        path = Path(folder) / name
        if (path / "sweep.npz").is_file():
            lines.append(sensitivity_rows(name, description, load_results(path)))
    if pilot is not None:
        for li, lr in enumerate(pilot["lrs"]):
            one = dict(pilot, final=pilot["curves_by_lr"][:, :, :, li, -1])
            lines.append(sensitivity_rows(f"lr {lr:g}", f"every model at learning rate {lr:g} (the pilot's runs)", one))
    lines += ["", "Each cell: paired geometric-mean ratio [95% interval] and the verdict on the claim in the column "
              "header (holds / **no**: does not hold / ?: inconclusive)."]
    return "\n".join(lines)


def precision_block(folder):
    """float32 against float64 on the same runs and data: per-run relative difference of final losses."""
    a, b = Path(folder) / "baseline", Path(folder) / "float64"
    if not ((a / "sweep.npz").is_file() and (b / "sweep.npz").is_file()):
        return "(run the 'baseline' and 'float64' sensitivity variants to fill this in)"
    f32, f64 = load_results(a)["final"], load_results(b)["final"]
    rel = np.abs(f32 - f64) / f64
    lines = ["| model | correlation | runs | median relative difference | 95th percentile | largest | "
             "paired ratio float32/float64 |", "|---|---|---|---|---|---|---|"]
    result = load_results(a)
    for j, name in enumerate(result["models"]):
        for i, p in enumerate(result["correlations"]):
            r = paired_ratio(f32[i, :, j], f64[i, :, j])
            lines.append(f"| {MODEL_LABELS[str(name)]} | {p:g} | {f32.shape[1]} | {np.median(rel[i, :, j]):.2e} | "
                         f"{np.quantile(rel[i, :, j], 0.95):.2e} | {rel[i, :, j].max():.2e} | {r.ratio} |")
    return "\n".join(lines)


def blocks(study="results/reproduce", sensitivity="results/sensitivity"):
    """Every generated block: ``{name: markdown}``."""
    main, fig3, pilot = _study(outputs.default(study))
    return {"claims": claims_block(main, fig3), "protocol": protocol_block(main, fig3, pilot),
            "sensitivity": sensitivity_block(outputs.default(sensitivity), pilot),
            "precision": precision_block(outputs.default(sensitivity))}


def write_blocks(path, generated):
    """Replace each ``<!-- BEGIN generated: NAME -->...<!-- END generated: NAME -->`` block of ``path``."""
    path = Path(path)
    text = path.read_text()
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- BEGIN generated: {name} -->\n)(?:.*?\n)?(<!-- END generated: {name} -->)",
                             re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"{path} has no block '<!-- BEGIN generated: {name} -->' ... "
                             f"'<!-- END generated: {name} -->'")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)   # an empty block too
    path.write_text(text)


def read_blocks(path):
    """The generated blocks of ``path`` as they stand: ``{name: markdown}``."""
    text = Path(path).read_text()
    return {m.group(1): m.group(2) or "" for m in
            re.finditer(r"<!-- BEGIN generated: (\w+) -->\n(?:(.*?)\n)?<!-- END generated: \1 -->", text, re.DOTALL)}


def draw_figures(study, folder):
    """Figures 3-5 redrawn from a study's raw results (no training): the same drawing code as
    ``reproduce all``, so a change in how the figures are drawn reaches them without retraining."""
    from . import plots
    from .reproduce import FIGURES
    main, fig3, _ = _study(outputs.default(study))
    folder = Path(folder)
    if fig3 is not None:
        plots.plot_correlation_curves(folder / FIGURES["fig3"], fig3["steps"], fig3["curves"][:, :, 0],
                                      fig3["correlations"], title="Fig. 3: Shared-Bottom (bottom of 16), Adam lr 1e-3")
    plots.plot_loss_curves(folder / FIGURES["fig4"], main["steps"], main["curves"], main["correlations"],
                           main["models"], title="Fig. 4")
    plots.plot_final_histograms(folder / FIGURES["fig5"], main["final"], main["correlations"], main["models"],
                                title="Fig. 5")


def main(args):
    generated = blocks(args.study, args.sensitivity)
    for name, body in generated.items():
        print(f"<!-- {name} -->\n{body}\n")
    if args.write:
        write_blocks(args.write, generated)
        print(f"updated the generated blocks of {args.write}")
    if args.figures:
        draw_figures(args.study, args.figures)


def add_arguments(parser):
    parser.add_argument("--study", default="results/reproduce", help="folder of the main study")
    parser.add_argument("--sensitivity", default="results/sensitivity", help="folder of the sensitivity variants")
    parser.add_argument("--write", default=None, help="a markdown file whose generated blocks to replace")
    parser.add_argument("--figures", default=None, help="redraw figures 3-5 from the study's raw results into this "
                                                        "folder (no training)")
