"""``python -m mmoe_np reproduce census --group 1|2``: the paper's Tables 1 and 2.

Single-Task (one model per task), Shared-Bottom, OMoE and MMoE on UCI census-income, each
trained ``runs`` times from different seeds with Adam and binary cross-entropy on logits,
stopped early on the main task's validation AUC (the parameters of the best evaluation
are kept). Reports mean and best test AUC per task and method next to the paper's numbers.

Sizes (the paper does not list them for census; keras-mmoe's census demo uses the MoE
ones): 8 experts of 4 units, towers of 8; Shared-Bottom and Single-Task a bottom of 32
units (the experts' total width).
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import _checks, outputs, train
from ..data.census import load_census
from ..metrics import pearson, roc_auc
from ..optim import Adam
from ..progress import bar as progress_bar
from .common import MODEL_LABELS, build_model, run_seeds

METHODS = ("single_task", "shared_bottom", "omoe", "mmoe")
# Paper, Table 1 (group 1) and Table 2 (group 2): (mean, best) test AUC; None where not given here.
PAPER_AUC = {
    1: {"shared_bottom": [(0.9295, 0.9361), (None, None)], "omoe": [(0.9319, 0.9387), (None, None)],
        "mmoe": [(0.9359, 0.9410), (0.9926, None)]},
    2: {"shared_bottom": [(0.8813, 0.8836), (None, None)], "mmoe": [(0.8826, 0.8860), (None, None)]},
}
PAPER_LABEL_PEARSON = {1: 0.1768, 2: 0.2373}


CENSUS_SIZES = {"mmoe": dict(expert_units=4), "omoe": dict(expert_units=4), "shared_bottom": dict(bottom_units=32),
                "single_task": dict(hidden_units=32)}


def build(method, n_features, n_tasks, seed, backend):
    """A census model (the project's one factory, with the census sizes above)."""
    return build_model(method, n_features, seed=seed, backend=backend, n_tasks=n_tasks, **CENSUS_SIZES[method])


def train_with_early_stopping(model, X, Y, X_val, Y_val, *, main, lr, steps, batch_size, eval_every, patience,
                              seed):
    """Train on BCE, keep the parameters with the best validation AUC of task ``main``."""
    best = {"auc": -np.inf, "params": None, "step": 0, "since": 0}

    def on_eval(step, model, history):
        auc = roc_auc(Y_val[:, main], model.predict(X_val)[main][:, 0])
        if auc > best["auc"]:
            best.update(auc=auc, params={k: v.copy() for k, v in model.params.items()}, step=step, since=0)
        else:
            best["since"] += 1
        return best["since"] >= patience

    train.fit(model, X, Y, loss="bce_with_logits", optimizer=Adam(lr=lr), steps=steps, batch_size=batch_size,
              eval_every=eval_every, seed=seed, progress=False, on_eval=on_eval)
    for name, value in best["params"].items():
        model.params[name][...] = value
    return best["step"]


def run(data, methods=METHODS, runs=5, steps=3000, batch_size=512, lr=1e-3, eval_every=100, patience=5,
        seed=0, backend="numba", progress=True):
    """Returns ``auc[method]``: (runs, 2) test AUC per run and task, and the stopping steps."""
    runs = _checks.positive_int("runs", runs)
    for m in methods:
        _checks.choice("method", m, METHODS)
    seeds = run_seeds(seed, runs)
    D = data.X_train.shape[1]
    auc = {m: np.zeros((runs, 2)) for m in methods}
    stopped = {m: [] for m in methods}
    bar = progress_bar(total=runs * len(methods), show=progress, desc=f"census group {data.group}")
    for r in range(runs):
        for m in methods:
            bar.set_postfix(run=r, method=MODEL_LABELS[m])
            kw = dict(lr=lr, steps=steps, batch_size=batch_size, eval_every=eval_every, patience=patience,
                      seed=seeds[r])
            if m == "single_task":        # one model per task, each stopped on its own task
                for k in range(2):
                    model = build(m, D, 1, seeds[r] + k, backend)
                    stopped[m].append(train_with_early_stopping(
                        model, data.X_train, data.Y_train[:, k:k + 1], data.X_val, data.Y_val[:, k:k + 1],
                        main=0, **kw))
                    auc[m][r, k] = roc_auc(data.Y_test[:, k], model.predict(data.X_test)[0][:, 0])
            else:
                model = build(m, D, 2, seeds[r], backend)
                stopped[m].append(train_with_early_stopping(
                    model, data.X_train, data.Y_train, data.X_val, data.Y_val, main=0, **kw))
                preds = model.predict(data.X_test)
                auc[m][r] = [roc_auc(data.Y_test[:, k], preds[k][:, 0]) for k in range(2)]
            bar.update(1)
    bar.close()
    return auc, stopped


def table(data, auc) -> str:
    """Markdown table: mean and best test AUC per method and task, with the paper's numbers."""
    main, aux = data.task_names
    paper = PAPER_AUC[data.group]
    fmt = lambda v: "—" if v is None else f"{v:.4f}"
    lines = [f"| method | {main} AUC mean | best | paper mean | paper best | {aux} AUC mean | best | paper mean |",
             "|---|---|---|---|---|---|---|---|"]
    for m, values in auc.items():
        ref = paper.get(m, [(None, None), (None, None)])
        lines.append(f"| {MODEL_LABELS[m]} | {values[:, 0].mean():.4f} | {values[:, 0].max():.4f} | "
                     f"{fmt(ref[0][0])} | {fmt(ref[0][1])} | {values[:, 1].mean():.4f} | {values[:, 1].max():.4f} | "
                     f"{fmt(ref[1][0])} |")
    return "\n".join(lines)


DEFAULTS = dict(runs=5, steps=3000, batch_size=512, lr=1e-3, methods=list(METHODS), seed=0, backend="numba")


def main(args):
    start = time.perf_counter()
    full = all(getattr(args, k) == v for k, v in DEFAULTS.items())
    out = outputs.choose("--out", args.out, f"results/census_group{args.group}.md", full_run=full, force=args.force,
                         label=f"census{args.group}", file=True,
                         what=f"python -m mmoe_np reproduce census --group {args.group} with its default settings")
    with warnings.catch_warnings():      # the summary below states the mode in full
        warnings.filterwarnings("ignore", message=".*test-file-only mode")
        data = load_census(args.data_dir, group=args.group, seed=args.seed)
    print(data.summary())
    Y = np.concatenate([data.Y_train, data.Y_val, data.Y_test])
    r = pearson(Y[:, 0], Y[:, 1])
    print(f"Pearson correlation of the two labels: {r:+.4f} (paper: {PAPER_LABEL_PEARSON[args.group]}, "
          "reported without sign)")
    auc, stopped = run(data, methods=tuple(args.methods), runs=args.runs, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed, backend=args.backend,
                       progress=not args.no_progress)
    text = (f"# Census-income group {args.group}, {args.runs} runs per method ({data.mode} mode)\n\n"
            f"{data.summary()}\n\nLabel Pearson correlation {r:+.4f} (paper {PAPER_LABEL_PEARSON[args.group]}).\n\n"
            f"{table(data, auc)}\n\nEarly stopping chose steps: "
            + ", ".join(f"{MODEL_LABELS[m]} {int(np.median(s))} (median)" for m, s in stopped.items()))
    print("\n" + table(data, auc))
    out.write_text(text + "\n")
    print(f"\nsaved: {out}   ({time.perf_counter() - start:.0f} s, backend {args.backend})")
    return auc


def add_arguments(parser):
    parser.add_argument("--group", type=int, choices=[1, 2], default=1,
                        help="1: income + never married; 2: education + never married")
    parser.add_argument("--data-dir", default=None, help="folder with census-income.test.gz (default $MMOE_NP_DATA)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000, help="most Adam steps per model")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="markdown file for the table (default results/census_groupN.md for "
                                                    "the default settings, a results/scratch/ file otherwise)")
    parser.add_argument("--force", action="store_true",
                        help="allow overwriting the committed table with other settings")
