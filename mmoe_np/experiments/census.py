"""``python -m mmoe_np reproduce census --group 1|2``: the paper's Tables 1 and 2.

Single-Task (one model per task), Shared-Bottom, OMoE and MMoE on UCI census-income, each
trained ``runs`` times (default 10) from different seeds with Adam and binary cross-entropy on
logits, stopped early on the main task's validation AUC (each run keeps the parameters of its
best evaluation). With both files the split is the paper's (train file / test file halved into
validation and test: 199,523 / 49,881 / 49,881 rows); with only the test file, the loader's
test-file-only mode.

How it runs: the ``runs`` runs of a method are **one model with a run axis** (DESIGN.md, "the run
axis"): every run has its own initialisation and its own minibatch order, and one set of matrix
products serves them all. Run r of every method uses the same seed, so its minibatches are the
same for every method: the comparisons between methods are paired by run.

Every run's test AUC is saved as JSON beside the markdown report (``results/census_groupN.json``
for the full run); the report and the README's generated block ``census_groupN`` are made from
that record, so ``--from-results`` rewrites them without training.

The report gives, per method and task, the mean test AUC with its 95% t interval and the best
run's AUC beside the paper's numbers, the row counts, and paired comparisons between methods
(mean AUC difference over runs with its t interval, :mod:`mmoe_np.stats`, and the sentence
:mod:`mmoe_np.findings` makes of it).

Choices the paper does not state (it gives neither sizes nor the batch for census):

- sizes: keras-mmoe's census demo (8 experts of 4 units, towers of 8); Shared-Bottom and
  Single-Task a bottom of 32 units (the experts' total width);
- Adam with its default rate 1e-3 (keras-mmoe's ``Adam()``); batch ``BATCH`` = 1,024 rows.
  keras-mmoe leaves Keras' default of 32 and trains 100 epochs (623,500 steps per model). Measured
  on the paper's split (MMoE, 10 runs on the run axis, float32, a shared and heavily loaded 2-core
  machine, so CPU seconds): an epoch at 32 rows costs about 560 s of CPU, at 1,024 rows 34 s; at
  1,024 rows the mean validation AUC (income) went 0.930, 0.940, 0.942, 0.943, 0.943, 0.9435 over
  epochs 1-6, already above the paper's MMoE test mean (0.9359). ``--batch-size 32`` runs
  keras-mmoe's setting;
- one evaluation of the validation AUC per epoch (keras-mmoe evaluates at each epoch's end),
  stopping a run after ``patience`` = 3 epochs without improvement, at most 20 epochs.

How many runs the paper averaged for its Tables 1-2 could not be checked against its text here
(its §6 reports the mean and the best AUC of each method's runs); 10 runs per method give t
intervals on the means and paired differences between methods.
"""
from __future__ import annotations

import json
import os
import platform
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _checks, findings, outputs, train
from ..data.census import load_census
from ..metrics import pearson, roc_auc
from ..optim import Adam
from ..progress import bar as progress_bar
from ..stats import MIN_PAIRED_RUNS, Interval, mean_interval
from .common import MODEL_LABELS, build_model, check_options, run_seeds

METHODS = ("single_task", "shared_bottom", "omoe", "mmoe")
# Paper, Table 1 (group 1) and Table 2 (group 2): (mean, best) test AUC; None where not given here.
PAPER_AUC = {
    1: {"shared_bottom": [(0.9295, 0.9361), (None, None)], "omoe": [(0.9319, 0.9387), (None, None)],
        "mmoe": [(0.9359, 0.9410), (0.9926, None)]},
    2: {"shared_bottom": [(0.8813, 0.8836), (None, None)], "mmoe": [(0.8826, 0.8860), (None, None)]},
}
PAPER_LABEL_PEARSON = {1: 0.1768, 2: 0.2373}
BATCH = 1024

CENSUS_SIZES = {"mmoe": dict(expert_units=4), "omoe": dict(expert_units=4), "shared_bottom": dict(bottom_units=32),
                "single_task": dict(hidden_units=32)}


def build(method, n_features, n_tasks, seed, backend, dtype=np.float64):
    """A census model (the project's one factory, with the census sizes above); ``seed`` one seed, or a
    list of seeds for a model with runs."""
    return build_model(method, n_features, seed=seed, backend=backend, n_tasks=n_tasks, dtype=dtype,
                       **CENSUS_SIZES[method])


def train_with_early_stopping(model, X, Y, X_val, Y_val, *, main, lr, steps, batch_size, eval_every, patience,
                              seed):
    """Train on BCE, keep the parameters with the best validation AUC of task ``main``, per run.

    ``model`` may hold runs (run axis (R,)): each run is stopped on its own AUC and keeps its own
    best parameters -- a run that has gone ``patience`` evaluations without improving is done (later
    evaluations no longer count for it), exactly as if it had been trained alone; training ends when
    every run is done (or after ``steps``). ``seed``: the minibatch order (one seed, or one per run).
    Returns the step of each run's best evaluation (an int for a model without runs, else (R,)).
    """
    patience = _checks.positive_int("patience", patience)
    runs = model.run_shape
    best_auc = np.full(runs, -np.inf)
    best_step = np.zeros(runs, dtype=np.int64)
    since = np.zeros(runs, dtype=np.int64)
    best_flat = model.params.flat.copy()

    def on_eval(step, model, history):
        scores = model.predict(X_val, batch_size=4096)[main][..., 0]           # (*runs, n_val)
        auc = np.array([roc_auc(Y_val[:, main], s) for s in scores.reshape(-1, scores.shape[-1])]).reshape(runs)
        done = since >= patience                      # stopped earlier: as if it had been trained alone
        better = (auc > best_auc) & ~done
        best_flat[better] = model.params.flat[better]
        best_auc[better], best_step[better] = auc[better], step
        since[...] = np.where(better, 0, np.where(done, since, since + 1))
        return bool(np.all(since >= patience))

    train.fit(model, X, Y, loss="bce_with_logits", optimizer=Adam(lr=lr), steps=steps, batch_size=batch_size,
              eval_every=eval_every, seed=seed, progress=False, on_eval=on_eval)
    model.params.flat[...] = best_flat
    return int(best_step) if not runs else best_step


class CensusResult(NamedTuple):
    """``auc[method]``: (runs, 2) test AUC per run and task; ``stopped[method]``: the best evaluation's step
    per run (and task, for single-task: (runs, 2)); ``seconds[method]``: training time of all its runs."""

    auc: dict
    stopped: dict
    seconds: dict


def run(data, methods=METHODS, runs=10, steps=None, batch_size=BATCH, lr=1e-3, eval_every=None, patience=3,
        seed=0, backend="numba", dtype="float32", progress=True) -> CensusResult:
    """Every method's ``runs`` runs (one model with a run axis per method and task). ``steps`` (default:
    20 epochs) is the most Adam steps; ``eval_every`` (default: one epoch) the steps between validation
    AUCs; ``patience`` evaluations without improvement stop a run."""
    runs = _checks.positive_int("runs", runs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    for m in methods:
        _checks.choice("method", m, METHODS)
    epoch = -(-len(data.X_train) // batch_size)
    eval_every = _checks.positive_int("eval_every", eval_every or epoch)
    steps = _checks.positive_int("steps", steps or 20 * epoch)
    dtype = _checks.float_dtype("dtype", dtype)
    seeds = run_seeds(seed, runs)
    X, X_val, X_test = (np.asarray(a, dtype=dtype) for a in (data.X_train, data.X_val, data.X_test))
    D = X.shape[1]
    auc, stopped, seconds = {}, {}, {}
    kw = dict(lr=lr, steps=steps, batch_size=batch_size, eval_every=eval_every, patience=patience, seed=seeds)
    bar = progress_bar(total=len(methods), show=progress, desc=f"census group {data.group}, {runs} runs each",
                       unit="method")
    for m in methods:
        bar.set_postfix(method=MODEL_LABELS[m])
        start = time.perf_counter()
        auc[m] = np.zeros((runs, 2))
        if m == "single_task":        # one model per task, each stopped on its own task
            stopped[m] = np.zeros((runs, 2), dtype=np.int64)
            for k in range(2):
                model = build(m, D, 1, [s + k for s in seeds], backend, dtype)
                stopped[m][:, k] = train_with_early_stopping(model, X, data.Y_train[:, k:k + 1], X_val,
                                                             data.Y_val[:, k:k + 1], main=0, **kw)
                scores = model.predict(X_test, batch_size=4096)[0][..., 0]
                auc[m][:, k] = [roc_auc(data.Y_test[:, k], s) for s in scores]
        else:
            model = build(m, D, 2, seeds, backend, dtype)
            stopped[m] = train_with_early_stopping(model, X, data.Y_train, X_val, data.Y_val, main=0, **kw)
            preds = model.predict(X_test, batch_size=4096)
            auc[m] = np.array([[roc_auc(data.Y_test[:, k], preds[k][r, :, 0]) for k in range(2)]
                               for r in range(runs)])
        seconds[m] = time.perf_counter() - start
        bar.update(1)
    bar.close()
    return CensusResult(auc, stopped, seconds)


# ------------------------------------------------------------------------------------ tables
# A finished run is kept as a record (a dict, saved as JSON beside the markdown report): the
# markdown report and the README's generated block are both made from it, so the words and tables
# can be rewritten from the committed raw results without training again (``--from-results``).
def _fmt(v):
    return "—" if v is None else f"{v:.4f}"


def _mean(values):
    m = mean_interval(values)
    if m.runs < MIN_PAIRED_RUNS:
        return f"{m.mean:.4f} (too few runs for an interval)"
    return f"{m.mean:.4f} [{m.low:.4f}, {m.high:.4f}]"


def table(group, task_names, auc) -> str:
    """Markdown table: mean test AUC [95% t interval] and the best run's, per method and task, beside the
    paper's numbers. ``auc[method]``: (runs, 2)."""
    main, aux = task_names
    paper = PAPER_AUC[group]
    lines = [f"| method | runs | {main} AUC mean [95% CI] | best | paper mean | paper best | "
             f"{aux} AUC mean [95% CI] | best | paper mean | paper best |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m, values in auc.items():
        values = np.asarray(values, float)
        ref = paper.get(m, [(None, None), (None, None)])
        lines.append(f"| {MODEL_LABELS[m]} | {len(values)} | {_mean(values[:, 0])} | {values[:, 0].max():.4f} | "
                     f"{_fmt(ref[0][0])} | {_fmt(ref[0][1])} | {_mean(values[:, 1])} | {values[:, 1].max():.4f} | "
                     f"{_fmt(ref[1][0])} | {_fmt(ref[1][1])} |")
    return "\n".join(lines)


def difference(a, b) -> Interval:
    """Mean of the paired differences ``a - b`` (one per run) with its 95% t interval (NaN bounds below
    :data:`~mmoe_np.stats.MIN_PAIRED_RUNS` runs)."""
    m = mean_interval(np.asarray(a, float) - np.asarray(b, float))
    if m.runs < MIN_PAIRED_RUNS:
        return Interval(m.mean, float("nan"), float("nan"), m.runs)
    return Interval(m.mean, m.low, m.high, m.runs)


def comparisons(task_names, auc):
    """Paired comparisons (run r of every method shares its seed and minibatches): MMoE against every other
    method, and OMoE against Shared-Bottom, on each task. Returns the markdown table and the findings."""
    auc = {m: np.asarray(v, float) for m, v in auc.items()}
    pairs = [("mmoe", other) for other in ("single_task", "shared_bottom", "omoe")]
    pairs.append(("omoe", "shared_bottom"))
    lines = ["| comparison | task | mean AUC difference [95% t interval] | first higher in |", "|---|---|---|---|"]
    sentences = []
    for a, b in pairs:
        if a not in auc or b not in auc:
            continue
        for k, task in enumerate(task_names):
            d = difference(auc[a][:, k], auc[b][:, k])
            interval = "(too few runs)" if d.too_few else f"[{d.low:+.5f}, {d.high:+.5f}]"
            wins = float(np.mean(auc[a][:, k] > auc[b][:, k]))
            lines.append(f"| {MODEL_LABELS[a]} − {MODEL_LABELS[b]} | {task} | {d.estimate:+.5f} {interval} | "
                         f"{wins:.0%} of runs |")
            sentences.append(str(findings.interval(
                f"{MODEL_LABELS[a]}'s test AUC on {task}", d, above=f"is higher than {MODEL_LABELS[b]}'s",
                below=f"is lower than {MODEL_LABELS[b]}'s", reference=0.0, statistic="mean paired difference")))
    return "\n".join(lines), sentences


def against_paper(group, task_names, auc):
    """Where each method's mean test AUC lies against the paper's mean, for every task the paper gives one
    (findings; the interval is the 95% t interval of the mean over runs)."""
    sentences = []
    for m, values in auc.items():
        values = np.asarray(values, float)
        for k, (task, (paper_mean, _)) in enumerate(zip(task_names, PAPER_AUC[group].get(m, ()))):
            if paper_mean is None:
                continue
            sentences.append(str(findings.interval(
                f"{MODEL_LABELS[m]}'s mean test AUC on {task}", difference(values[:, k], paper_mean), reference=0.0,
                statistic="mean minus the paper's", above=f"is higher than the paper's mean ({paper_mean:.4f})",
                below=f"is lower than the paper's mean ({paper_mean:.4f})")))
    return sentences


def step_limit(record) -> int:
    """The most steps a run could take (``--steps``, default 20 epochs), as ``main`` computed it."""
    options = record["options"]
    return options["steps"] or 20 * -(-record["rows"]["train"] // options["batch_size"])


def stopping(record) -> list:
    """Per method, how many of its models kept the parameters of the last allowed step (their validation
    AUC was still improving when training ended: early stopping did not act). Findings."""
    limit = step_limit(record)
    out = []
    for m, steps in record["stopped"].items():
        steps = np.asarray(steps).ravel()
        what = f"{MODEL_LABELS[m]} models" + (" (one per task and run)" if m == "single_task" else "")
        out.append(str(findings.share(what, int(np.sum(steps >= limit)), steps.size,
                                      condition=f"were still improving at the step limit ({limit:,} steps)")))
    return out


def make_record(data, result: CensusResult, settings: str, options: dict, label_r: float, seconds: float) -> dict:
    """Everything a report needs, as plain JSON-able values: the raw test AUC of every run and task."""
    return {"group": data.group, "mode": data.mode, "task_names": list(data.task_names), "summary": data.summary(),
            "rows": {"train": len(data.X_train), "validation": len(data.X_val), "test": len(data.X_test)},
            "label_pearson": float(label_r), "settings": settings, "options": options,
            "auc": {m: np.asarray(v, float).tolist() for m, v in result.auc.items()},
            "stopped": {m: np.asarray(v).tolist() for m, v in result.stopped.items()},
            "seconds": {m: float(t) for m, t in result.seconds.items()}, "total_seconds": float(seconds),
            "machine": machine()}


def machine() -> str:
    """The CPU the run used, in words: its model name (Linux) and the number of cores Python sees."""
    name = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def _rows_line(record) -> str:
    rows = record["rows"]
    return (f"Rows: train {rows['train']:,}, validation {rows['validation']:,}, test {rows['test']:,}"
            + (" (the paper's split: 199,523 / 49,881 / 49,881)" if record["mode"] == "paper" else "") + ".")


def report(record: dict) -> str:
    """The whole markdown report of a census run, from its record."""
    group, tasks, auc = record["group"], record["task_names"], record["auc"]
    runs = len(next(iter(auc.values())))
    comparison_table, sentences = comparisons(tasks, auc)
    stops = ", ".join(f"{MODEL_LABELS[m]} {int(np.median(s)):,}" for m, s in record["stopped"].items())
    times = ", ".join(f"{MODEL_LABELS[m]} {t:.0f} s" for m, t in record["seconds"].items())
    return "\n".join([
        f"# Census-income group {group}: {runs} runs per method ({record['mode']} mode)", "",
        record["summary"], "",
        _rows_line(record),
        f"Label Pearson correlation {record['label_pearson']:+.4f} (paper {PAPER_LABEL_PEARSON[group]}, reported "
        f"without sign).",
        f"Settings: {record['settings']}.", "",
        "Test AUC per method and task: mean over runs with its 95% t interval, and the best run.", "",
        table(group, tasks, auc), "",
        "Paired by run (run r of every method has the same seed, so the same minibatches): mean difference of the "
        "test AUC with its 95% t interval.", "",
        comparison_table, "",
        *sentences, "",
        "Against the paper's Tables 1-2 (the paper's mean beside each mean's 95% t interval):", "",
        *against_paper(group, tasks, auc), "",
        *stopping(record), "",
        f"Early stopping kept the parameters of the step (median over runs): {stops}. "
        f"Training time of all runs: {times} (whole command {record['total_seconds']:,.0f} s"
        + (f" on {record['machine']}" if record.get("machine") else "") + ")."])


def summary_block(record: dict) -> str:
    """The README's generated block ``census_groupN``: the tables and the findings of the record."""
    group, tasks, auc = record["group"], record["task_names"], record["auc"]
    runs = len(next(iter(auc.values())))
    comparison_table, _ = comparisons(tasks, auc)
    main_task = {m: np.asarray(v, float)[:, :1] for m, v in auc.items()}
    sentences = comparisons(tasks[:1], main_task)[1]                 # the findings of the main task only
    return "\n".join([
        f"**Group {group}** ({tasks[0]} + {tasks[1]}; {record['mode']} mode, {runs} runs per method, from "
        f"`results/census_group{group}.json`). {_rows_line(record)}", "",
        table(group, tasks, auc), "",
        comparison_table, "",
        *(f"{s}  " for s in [*sentences, *against_paper(group, tasks, auc), *stopping(record)])]).rstrip()


def read_record(path) -> dict:
    """A census record saved by ``reproduce census`` (``results/census_groupN.json``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no census results (run python -m mmoe_np reproduce census first)")
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------- CLI
DEFAULTS = dict(runs=10, steps=None, batch_size=BATCH, lr=1e-3, eval_every=None, patience=3, methods=list(METHODS),
                seed=0, backend="numba", dtype="float32")


def _check_documents(paths, full, group):
    """Before any work: every ``--write`` file exists, and a committed document takes only a full run."""
    for path in paths or ():
        if not Path(path).is_file():
            raise FileNotFoundError(f"--write {path}: no such file (a markdown file with generated blocks is needed)")
        if outputs.is_committed_document(path) and not full:
            raise outputs.OutputError(f"--write {path}: a committed document takes only the full run's numbers "
                                      f"(python -m mmoe_np reproduce census --group {group} with its default "
                                      f"settings)")


def _write_documents(paths, record):
    from .report import write_blocks
    for path in paths or ():
        written = write_blocks(path, {f"census_group{record['group']}": summary_block(record)})
        print(f"updated the generated blocks of {path}: {', '.join(written)}")


def from_results(args):
    """``--from-results``: rewrite the markdown report and the documents' blocks from the saved record."""
    given = [k for k, v in DEFAULTS.items() if getattr(args, k) != v] + (["data_dir"] if args.data_dir else [])
    if given:
        raise ValueError(f"--from-results trains nothing, so --{given[0].replace('_', '-')} has no effect: drop it "
                         f"(the settings are those saved with the results)")
    md = Path(args.out) if args.out else outputs.default(f"results/census_group{args.group}.md")
    record = read_record(md.with_suffix(".json"))
    if record["group"] != args.group:
        raise ValueError(f"{md.with_suffix('.json')} holds group {record['group']}, not --group {args.group}")
    full = all(record["options"].get(k) == v for k, v in DEFAULTS.items())
    _check_documents(args.write, full, args.group)
    md.write_text(report(record) + "\n")
    print(f"rewrote {md} from {md.with_suffix('.json')} (no training)")
    _write_documents(args.write, record)
    return record


def main(args):
    if args.from_results:
        return from_results(args)
    start = time.perf_counter()
    check_options(args, "runs", "steps", "batch_size", "eval_every", "patience", jobs=False)
    _checks.real("--lr", args.lr, low=0.0, low_open=True)
    full = all(getattr(args, k) == v for k, v in DEFAULTS.items())
    out = outputs.choose("--out", args.out, f"results/census_group{args.group}.md", full_run=full, force=args.force,
                         label=f"census{args.group}", file=True, suffixes=(".md",),
                         what=f"python -m mmoe_np reproduce census --group {args.group} with its default settings")
    _check_documents(args.write, full, args.group)
    with warnings.catch_warnings():      # the summary below states the mode in full
        warnings.filterwarnings("ignore", message=".*test-file-only mode")
        data = load_census(args.data_dir, group=args.group, seed=args.seed, dtype=args.dtype)
    print(data.summary())
    Y = np.concatenate([data.Y_train, data.Y_val, data.Y_test])
    label_r = pearson(Y[:, 0], Y[:, 1])
    epoch = -(-len(data.X_train) // args.batch_size)
    steps, eval_every = args.steps or 20 * epoch, args.eval_every or epoch
    settings = (f"Adam lr {args.lr:g}, batch {args.batch_size}, at most {steps:,} steps ({steps / epoch:.1f} epochs), "
                f"validation AUC every {eval_every:,} steps, stop after {args.patience} evaluations without "
                f"improvement; {args.dtype}, backend {args.backend}, seed {args.seed}")
    print(f"Pearson correlation of the two labels: {label_r:+.4f} (paper: {PAPER_LABEL_PEARSON[args.group]}, "
          f"reported without sign)\nSettings: {settings}")
    result = run(data, methods=tuple(args.methods), runs=args.runs, steps=steps, batch_size=args.batch_size,
                 lr=args.lr, eval_every=eval_every, patience=args.patience, seed=args.seed, backend=args.backend,
                 dtype=args.dtype, progress=not args.no_progress)
    options = {k: getattr(args, k) for k in DEFAULTS}            # as given: None is "the default" (one epoch...)
    record = make_record(data, result, settings, options, label_r, time.perf_counter() - start)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    text = report(record)
    print("\n" + text)
    out.write_text(text + "\n")
    print(f"\nsaved: {out} and {out.with_suffix('.json')}   ({time.perf_counter() - start:.0f} s)")
    _write_documents(args.write, record)
    return result


def add_arguments(parser):
    parser.add_argument("--group", type=int, choices=[1, 2], default=1,
                        help="1: income + never married; 2: education + never married")
    parser.add_argument("--data-dir", default=None, help="folder with census-income.test.gz and, for the paper's "
                                                         "split, census-income.data.gz (default $MMOE_NP_DATA)")
    parser.add_argument("--runs", type=int, default=DEFAULTS["runs"], help="runs per method (default 10)")
    parser.add_argument("--steps", type=int, default=None, help="most Adam steps per model (default: 20 epochs)")
    parser.add_argument("--batch-size", type=int, default=BATCH,
                        help=f"rows per step (default {BATCH}; keras-mmoe's census demo uses Keras' default 32)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="steps between validation AUCs (default: one epoch)")
    parser.add_argument("--patience", type=int, default=DEFAULTS["patience"],
                        help="evaluations without improvement before a run stops (default 3)")
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    parser.add_argument("--dtype", choices=["float32", "float64"], default=DEFAULTS["dtype"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="markdown file for the table (default results/census_groupN.md for "
                                                    "the default settings, a results/scratch/ file otherwise); the "
                                                    "raw AUCs go beside it as .json")
    parser.add_argument("--force", action="store_true",
                        help="allow overwriting the committed table with other settings")
    parser.add_argument("--write", nargs="+", metavar="FILE", default=None,
                        help="markdown files whose generated block census_groupN to replace (README.md); only the "
                             "full run may write a committed document")
    parser.add_argument("--from-results", action="store_true",
                        help="no training: rewrite --out's report and the --write blocks from its saved .json")
