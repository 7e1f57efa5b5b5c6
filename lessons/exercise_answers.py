"""Measured answers to the lessons' open exercises (the numbers in INSTRUCTOR.md).

    python lessons/exercise_answers.py            # every answer (about 30 minutes on 2 cores)
    python lessons/exercise_answers.py 04 07.2    # one lesson's answers, or one exercise's

Each function answers one exercise the way a student would, with the lesson's own setting,
and prints what INSTRUCTOR.md quotes. ``MMOE_QUICK=1`` shrinks every one (the test suite runs
them so; the numbers are then rough). Answers that need no computation are in INSTRUCTOR.md.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

import numpy as np

import mmoe_np as mn
from mmoe_np import outputs
from mmoe_np.experiments import compare
from mmoe_np.experiments.reproduce import load_results
from mmoe_np.experiments.transfer import run_jobs, single_task_losses, train_and_test, transfer
from mmoe_np.lesson_utils import pick
from mmoe_np.metrics import expert_similarity, gate_polarisation, pearson
from mmoe_np.relatedness import covariance_similarity, svd_task_weights
from mmoe_np.stats import paired_ratio, ratio_of_spreads

ANSWERS = {}


def answer(key):
    """Register an answer under ``"LL.E"`` (lesson, exercise)."""
    def register(fn):
        ANSWERS[key] = fn
        return fn
    return register


def split(data, n_train):
    return (data.X[:n_train], data.Y[:n_train]), (data.X[n_train:], data.Y[n_train:])


# ---------------------------------------------------------------------------------- lesson 01
@answer("01.1")
def linear_tasks():
    for noise in (0.01, 1.0):
        for p in (0.5, 0.9):
            corr = np.mean([pearson(*mn.make_synthetic(n=100_000, p=p, m=0, noise_std=noise, seed=s).Y.T)
                            for s in range(pick(5, 1))])
            print(f"m = 0, noise std {noise:g}, p = {p}: label correlation {corr:.4f}; formula p c^2/(c^2 + s^2) = "
                  f"{p / (1 + noise ** 2):.4f}")


@answer("01.2")
def google_alpha_beta():
    alpha, beta = np.arange(1.0, 11.0), np.arange(10.0) ** 2
    for p in (0.5, 0.9, 0.99, 1.0):
        corr = [pearson(*mn.make_synthetic(n=10_000, p=p, alpha=alpha, beta=beta, seed=s).Y.T) for s in range(5)]
        print(f"alpha_i = i, beta_i = (i-1)^2, p = {p}: label correlation {np.mean(corr):+.3f}")


# ---------------------------------------------------------------------------------- lesson 02
DATA_SEED = 8          # lessons 02, 03, 05 and 06 train on this draw: the middle of lesson 02's 20 (its table)


def linear_share(seed):
    """Lesson 02's measure of a draw: the share of task 1's test variance the best linear model explains."""
    data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=seed)
    (X, Y), (X_test, Y_test) = data.split((0.8, 0.2))
    w, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], Y[:, 0], rcond=None)
    return 1 - np.mean((np.c_[X_test, np.ones(len(X_test))] @ w - Y_test[:, 0]) ** 2) / Y_test[:, 0].var()


def lesson02_setting(seed=DATA_SEED):
    data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=seed)
    (X, Y), (X_test, Y_test) = data.split((0.8, 0.2))
    return X, Y[:, :1], X_test, Y_test[:, :1]


def sgd_loop(X, y, X_test, y_test, lr, steps, record=()):
    """Lesson 02's loop; returns the test MSE at the steps in ``record`` and at the end, or the step it diverged."""
    rng = np.random.default_rng(0)
    model = mn.SingleTask(n_features=100, hidden_units=16, tower_units=8, seed=0, backend="numba")
    opt, curve = mn.SGD(lr=lr), {}
    for step in range(steps):
        idx = rng.integers(0, len(X), 128)
        preds, cache = model.forward(X[idx])
        loss, dpred = mn.losses.mse(preds[0], y[idx])
        if not np.isfinite(loss) or loss > 1e6:
            return f"diverged at step {step} (minibatch loss {loss:.3g})"
        opt.step(model.params, model.backward(cache, [dpred]))
        if step in record or step == steps - 1:
            curve[step] = mn.losses.mse(model.predict(X_test)[0], y_test)[0]
    return curve


@answer("02.3")
def sgd_learning_rates():
    X, y, X_test, y_test = lesson02_setting()
    steps = pick(3000, 300)
    for lr in (0.5, 0.05, 0.005):
        curve = sgd_loop(X, y, X_test, y_test, lr, steps, record=(299,))
        result = curve if isinstance(curve, str) else (f"test MSE {curve[299]:.3f} after 300 steps, "
                                                       f"{curve[steps - 1]:.3f} at the end")
        print(f"SGD lr {lr:g}: {result} (label variance {y_test.var():.3f})")


@answer("02.4")
def smallest_linear_share():
    shares = {seed: linear_share(seed) for seed in range(20)}
    seed = min(shares, key=shares.get)
    X, y, X_test, y_test = lesson02_setting(seed)
    w, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)
    linear = mn.losses.mse(np.c_[X_test, np.ones(len(X_test))] @ w, y_test)[0]
    curve = sgd_loop(X, y, X_test, y_test, 0.05, pick(3000, 300), record=range(0, 3000, 100))
    print(f"seed {seed} (linear share {shares[seed]:.1%}): label variance {y_test.var():.3f}, best linear "
          f"model {linear:.3f}; test MSE every 100 steps: " + ", ".join(f"{v:.3f}" for v in curve.values()))


# ---------------------------------------------------------------------------------- lesson 03
@answer("03.3")
def adam_without_momentum():
    X, y, X_val, y_val = lesson02_setting()
    for lr in (1e-2, 1e-3):
        for beta1 in (0.9, 0.0):
            model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
            history = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=lr, beta1=beta1),
                             steps=pick(3000, 300), eval_every=pick(100, 10), progress=False, seed=0)
            _, _, val = history.as_arrays()
            print(f"Adam lr {lr:g}, beta1 {beta1}: validation MSE {val[1, 0]:.4f} after {pick(200, 20)} steps, "
                  f"{val[-1, 0]:.4f} at the end, worst rise between evaluations {np.max(np.diff(val[:, 0])):+.4f}")


@answer("03.5")
def early_stopping_with_all_rows():
    X, y, X_val, y_val = lesson02_setting()
    for n in (1000, len(X)):
        best = {"loss": np.inf, "step": 0, "since": 0}

        def keep_best(step, model, history, patience=3):
            loss = history.val_loss[-1][0]
            if loss < best["loss"]:
                best.update(loss=loss, step=step, since=0)
            else:
                best["since"] += 1
            return best["since"] >= patience

        model = mn.SingleTask(n_features=100, hidden_units=16, seed=0, backend="numba")
        history = mn.fit(model, X[:n], y[:n], X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=1e-3),
                         steps=pick(10_000, 600), eval_every=50, on_eval=keep_best, progress=False)
        stopped = history.step[-1]
        print(f"{n} training rows: best validation loss {best['loss']:.4f} at step {best['step']} (label variance "
              f"{y_val.var():.3f}); "
              + (f"stopped at step {stopped}" if best["since"] >= 3 else f"never stopped early ({stopped} steps)"))


@answer("03.6")
def small_rate_with_more_steps():
    X, y, X_val, y_val = lesson02_setting()
    steps = pick(10_000, 300)
    final = {}
    for lr in (1e-3, 1e-2):
        model = mn.SingleTask(n_features=100, hidden_units=16, seed=list(range(pick(4, 2))), backend="numba")
        history = mn.fit(model, X, y, X_val=X_val, Y_val=y_val, optimizer=mn.Adam(lr=lr), steps=steps,
                         eval_every=pick(1000, 100), progress=False, seed=0)
        s, _, val = history.as_arrays()                                    # val: (evaluations, seeds, 1)
        final[lr] = val[-1, :, 0]
        print(f"Adam lr {lr:g}, init seeds 0-{len(final[lr]) - 1}: validation MSE after {s[2]} steps "
              f"{val[2, :, 0].round(4)}, after {s[-1]} {final[lr].round(4)}")
    r = paired_ratio(final[1e-3], final[1e-2])
    print(f"after {steps} steps, lr 1e-3 / lr 1e-2, paired by seed: {r.ratio} ({r.verdict()})")


# ---------------------------------------------------------------------------------- lesson 04
def lesson04_runs(bottom_units, runs=None, steps=None):
    """Lesson 04's experiment: R paired runs at correlations (1.0, 0.9, 0.5), fresh data every step.
    Returns the final test losses (R, 3) and the number of steps."""
    R, steps = runs or pick(30, 3), steps or pick(2000, 200)
    stream = mn.SyntheticRuns(list(range(R)), (1.0, 0.9, 0.5), n_val=100, n_test=2000)
    init = np.repeat(10_000 + np.arange(R)[:, None], 3, axis=1)
    model = mn.SharedBottom(n_features=100, bottom_units=bottom_units, tower_units=8, seed=init, backend="numba")
    history = mn.fit(model, stream, optimizer=mn.Adam(lr=1e-3), steps=steps, eval_every=steps,
                     X_val=stream.test[0], Y_val=stream.test[1], progress=False)
    return history.as_arrays()[2][-1].mean(axis=-1), steps


@answer("04.1")
def wide_bottom():
    for units in (16, 113):
        final, steps = lesson04_runs(units)
        r = paired_ratio(final[:, 2], final[:, 0])
        print(f"bottom of {units}, {len(final)} runs, {steps} steps: L(0.5)/L(1.0) {r.ratio} ({r.verdict()}, higher "
              f"at 0.5 in {1 - r.wins:.0%} of runs)")
    for folder, units in (("results/reproduce/fig3", 16), ("results/reproduce", 113)):
        study = np.load(outputs.default(folder) / "sweep.npz")
        at = [round(float(p), 6) for p in study["correlations"]]
        model = [str(m) for m in study["models"]].index("shared_bottom")
        for e in sorted({int(np.abs(study["steps"] - pick(2000, 200)).argmin()), len(study["steps"]) - 1}):
            curves = study["curves"][:, :, model, e]
            r = paired_ratio(curves[at.index(0.5)], curves[at.index(1.0)])
            print(f"the 200-run study, bottom of {units}, after {study['steps'][e]} steps: L(0.5)/L(1.0) {r.ratio}")


@answer("04.2")
def linear_tasks_fig3():
    subprocess.run([sys.executable, "-m", "mmoe_np", "reproduce", "fig3", "--runs", str(pick(20, 2)), "--m", "0",
                    "--steps", str(pick(8000, 300)), "--no-progress"], check=True)


@answer("04.3")
def task_weights_zero():
    runs = pick(5, 2)
    for p in (1.0, 0.5):
        sets = [mn.make_synthetic(n=10_000, p=p, seed=100 + r) for r in range(runs)]
        X = np.stack([s.X[:8000] for s in sets])
        Y = np.stack([s.Y[:8000] for s in sets])
        X_test, Y_test = np.stack([s.X[8000:] for s in sets]), np.stack([s.Y[8000:] for s in sets])
        loss = {}
        for weights in ([1, 1], [1, 0]):
            model = mn.SharedBottom(n_features=100, bottom_units=16, seed=list(range(runs)), backend="numba")
            mn.fit(model, X, Y, optimizer=mn.Adam(lr=1e-3), steps=pick(8000, 300), task_weights=weights,
                   seed=list(range(runs)), progress=False, eval_every=pick(8000, 300))
            loss[tuple(weights)] = mn.evaluate(model, X_test, Y_test)              # (runs, 2)
        r = paired_ratio(loss[(1, 0)][:, 0], loss[(1, 1)][:, 0])
        print(f"correlation {p}: task 1's test loss with weights [1, 0] / with [1, 1] = {r.ratio} over {runs} runs; "
              f"task 2's loss with [1, 0]: {loss[(1, 0)][:, 1].mean():.2f} (label variance ~{Y_test[..., 1].var():.2f})")


# ---------------------------------------------------------------------------------- lesson 05
@answer("05.3")
def zero_gate_kernel():
    data = mn.make_synthetic(n=10_000, d=100, p=0.5, seed=DATA_SEED)
    (X, Y), (X_test, Y_test) = data.split((0.8, 0.2))
    for start in ("Glorot gate", "zero gate kernel"):
        model = mn.OMoE(n_features=100, n_experts=8, expert_units=16, seed=0, backend="numba")
        if start == "zero gate kernel":
            model.params["gate_kernel"] = 0.0 * model.params["gate_kernel"]
            print(f"  at the start the gate is uniform: {np.allclose(model.gates(X_test), 1 / 8)}")
        mn.fit(model, X, Y, optimizer=mn.Adam(lr=1e-2), steps=pick(3000, 300), progress=False)
        usage = model.gates(X_test)[0].mean(0)
        print(f"{start}: test MSE {mn.evaluate(model, X_test, Y_test).round(4)}, top-2 experts carry "
              f"{np.sort(usage)[-2:].sum():.0%} of the weight, mean cosine between experts "
              f"{float(expert_similarity(model.params['expert_kernel'])):.2f}")


# ---------------------------------------------------------------------------------- lesson 06
@answer("06.2")
def gate_distance_over_seeds():
    seeds = list(range(pick(5, 2)))                   # seed s: data draw s and initialisation s
    for p in (1.0, 0.9, 0.5):
        sets = [mn.make_synthetic(n=10_000, p=p, seed=s) for s in seeds]
        X, Y = np.stack([s.X[:8000] for s in sets]), np.stack([s.Y[:8000] for s in sets])
        X_test = np.stack([s.X[8000:] for s in sets])
        model = mn.MMoE(n_features=100, n_experts=8, expert_units=16, seed=seeds, backend="numba")
        mn.fit(model, X, Y, optimizer=mn.Adam(lr=1e-2), steps=pick(3000, 300), seed=seeds, progress=False,
               eval_every=pick(3000, 300))
        usage = model.gates(X_test).mean(axis=-2)                                    # (runs, K, E)
        tv = 0.5 * np.abs(usage[:, 0] - usage[:, 1]).sum(-1)
        print(f"correlation {p}: gate distance per seed {tv.round(3)}, mean {tv.mean():.3f}")


# ---------------------------------------------------------------------------------- lesson 07
LESSON07 = dict(seed=1, progress=False)               # the lesson's master seed: runs apart from the study's


def paired_lines(result):
    """Lesson 07's comparisons as findings (each pair of models at each correlation, each model at 0.5 / 1.0)."""
    return "\n".join(compare.result_sentences(result))


@answer("07.1")
def thirty_runs():
    for runs in pick((12, 30), (3,)):
        result = compare.run(runs=runs, steps=pick(None, 300), **LESSON07)
        print(f"{runs} runs:\n{paired_lines(result)}")


@answer("07.2")
def double_bottom():
    result = compare.run(sizes={"shared_bottom": {"bottom_units": 226}}, runs=pick(12, 3), steps=pick(None, 300),
                         **LESSON07)
    sizes = {name: mn.SharedBottom(n_features=100, bottom_units=226).n_params if name == "shared_bottom" else
             mn.MMoE(n_features=100).n_params for name in ("shared_bottom", "mmoe")}
    print(f"Shared-Bottom of 226 ({sizes['shared_bottom']:,} parameters) vs MMoE ({sizes['mmoe']:,}):")
    final = result["final"]
    for i, p in enumerate(result["correlations"]):
        print(f"correlation {p:g}: geometric mean final test loss "
              + ", ".join(f"{m} {np.exp(np.log(final[i, :, j]).mean()):.4f}" for j, m in enumerate(result["models"])))
    print(paired_lines(result))


@answer("07.3")
def single_task_baselines():
    result = compare.run(models=("single_task", "shared_bottom", "omoe", "mmoe"), runs=pick(12, 3),
                         steps=pick(None, 300), **LESSON07)
    names = [str(m) for m in result["models"]]
    for other in ("shared_bottom", "omoe", "mmoe"):
        cells = [f"{p:g}: {paired_ratio(result['final'][i, :, names.index(other)], result['final'][i, :, 0]).ratio}"
                 for i, p in enumerate(result["correlations"])]
        print(f"{other} / single-task  " + "   ".join(cells))


# ---------------------------------------------------------------------------------- lesson 08
@answer("08.1")
def fused_against_bare_product():
    from mmoe_np.timing import seconds_per_call
    k = mn.kernels.get_backend("numba")
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((8192, 100)), rng.standard_normal((100, 16, 8)), rng.standard_normal((16, 8))
    W2 = W.reshape(100, -1)
    fused, bare = seconds_per_call(lambda: k.experts_forward(X, W, b)), seconds_per_call(lambda: X @ W2)
    print(f"batch 8192: experts_forward {fused * 1e6:.0f} us, bare X @ W {bare * 1e6:.0f} us "
          f"(the bias + ReLU pass costs {fused / bare - 1:.0%} on top of the product)")


@answer("08.2")
def one_numba_thread():
    code = ("import numpy as np, mmoe_np as mn; from mmoe_np.timing import seconds_per_call; "
            "k = mn.kernels.get_backend('numba'); r = np.random.default_rng(0); B = 8192; "
            "X, W, b = r.standard_normal((B, 100)), r.standard_normal((100, 16, 8)), r.standard_normal((16, 8)); "
            "G = r.dirichlet(np.ones(8), size=(2, B)); dF = r.standard_normal((2, B, 16)); "
            "H = k.experts_forward(X, W, b); dH = r.standard_normal(H.shape); "
            "calls = {'experts_forward': lambda: k.experts_forward(X, W, b), "
            "'experts_backward': lambda: k.experts_backward(X, W, H, dH, need_dX=False), "
            "'gate_mix_forward': lambda: k.gate_mix_forward(H, G), "
            "'gate_mix_backward': lambda: k.gate_mix_backward(H, G, dF)}; "
            "print({n: round(seconds_per_call(c, min_time=0.2) * 1e6) for n, c in calls.items()})")
    for threads in ("2", "1"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        print(f"NUMBA_NUM_THREADS={threads}, batch 8192, us per call: {out.strip()}")


# ---------------------------------------------------------------------------------- lesson 09
@functools.lru_cache(maxsize=1)          # reading and encoding 300,000 rows takes ~15 s: 09.1 ends, 09.2-09.3 reuse, group 1
def census_data(group):
    import warnings

    from mmoe_np.data import census
    folder = os.environ.get("MMOE_NP_DATA", outputs.REPO.parent / "shared" / "data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # the test-file-only warning
        return census.load_census(folder, group=group, seed=0)


def census_run(data, method, patience=5, steps=3000):
    from mmoe_np.experiments.census import build, train_with_early_stopping
    model = build(method, data.X_train.shape[1], 2, seed=1, backend="numba")
    stopped = train_with_early_stopping(model, data.X_train, data.Y_train, data.X_val, data.Y_val, main=0, lr=1e-3,
                                        steps=pick(steps, 200), batch_size=512, eval_every=100, patience=patience,
                                        seed=1)
    preds = model.predict(data.X_test)
    return stopped, [mn.metrics.roc_auc(data.Y_test[:, k], preds[k][:, 0]) for k in range(2)]


@answer("09.1")
def census_group2():
    for group in (2, 1):
        data = census_data(group)
        for method in ("shared_bottom", "mmoe"):
            stopped, auc = census_run(data, method)
            print(f"group {group}, {method}: best step {stopped}, test AUC {data.task_names[0]} {auc[0]:.4f}, "
                  f"{data.task_names[1]} {auc[1]:.4f}")


@answer("09.2")
def census_without_early_stopping():
    data = census_data(1)
    for patience in (5, 10 ** 6):
        stopped, auc = census_run(data, "mmoe", patience=patience)
        print(f"MMoE, patience {patience}: kept step {stopped}, test AUC income {auc[0]:.4f}, marital {auc[1]:.4f}")


@answer("09.3")
def logistic_regression():
    data = census_data(1)
    rng = np.random.default_rng(0)
    params = {"W": np.zeros((data.X_train.shape[1], 1)), "b": np.zeros(1)}
    opt = mn.Adam(lr=1e-2)
    y = data.Y_train[:, :1]
    for _ in range(pick(3000, 200)):
        idx = rng.integers(0, len(y), 512)
        z, cache = mn.layers.dense_forward(data.X_train[idx], params["W"], params["b"])
        _, dz = mn.losses.bce_with_logits(z, y[idx])
        _, dW, db = mn.layers.dense_backward(dz, cache)
        opt.step(params, {"W": dW, "b": db})
    z, _ = mn.layers.dense_forward(data.X_test, params["W"], params["b"])
    print(f"logistic regression, income: test AUC {mn.metrics.roc_auc(data.Y_test[:, 0], z[:, 0]):.4f}")
    order = np.argsort(-params["W"][:, 0])
    names = data.feature_names
    print("largest positive weights:", [(names[i], round(float(params["W"][i, 0]), 2)) for i in order[:6]])
    print("largest negative weights:", [(names[i], round(float(params["W"][i, 0]), 2)) for i in order[-6:]])


# ---------------------------------------------------------------------------------- lesson 10
def capacity_job(p, width, seed, n_train, model="shared_bottom"):
    data = mn.make_synthetic(n=n_train + 2000, p=p, seed=seed)
    train, test = split(data, n_train)
    if model == "shared_bottom":
        multi_model = mn.SharedBottom(n_features=100, bottom_units=width, seed=seed, backend="numba")
        single_width = width
    else:                                       # an MMoE of `width` experts of 4 units
        multi_model = mn.MMoE(n_features=100, n_experts=width, expert_units=4, seed=seed, backend="numba")
        single_width = 4 * width
    multi = train_and_test(multi_model, train, test, steps=pick(1500, 150), seed=seed)
    single = single_task_losses(train, test, 2, hidden_units=single_width, seed=seed, steps=pick(1500, 150))
    return multi, single


def capacity_grid(n_train, model="shared_bottom", widths=(2, 4, 8, 16, 32, 64)):
    widths, correlations, seeds = pick(widths, widths[:2]), pick((0.0, 0.5, 1.0), (0.0,)), range(pick(6, 1))
    jobs = [dict(p=p, width=w, seed=s, n_train=n_train, model=model) for p in correlations for w in widths
            for s in seeds]
    results = run_jobs(capacity_job, jobs, n_jobs=pick(2, 1))
    shape = (len(correlations), len(widths), len(seeds), 2)
    multi = np.array([r[0] for r in results]).reshape(shape)
    single = np.array([r[1] for r in results]).reshape(shape)
    return correlations, widths, multi, single


def print_transfer(correlations, widths, multi, single, label):
    print(f"transfer of the mean losses ({label}); columns: " + ", ".join(str(w) for w in widths))
    for i, p in enumerate(correlations):
        print(f"  correlation {p}: " + "  ".join(f"{t:+.2f}" for t in transfer(single[i].mean((-1, -2)),
                                                                             multi[i].mean((-1, -2)))))


@answer("10.1")
def capacity_with_more_data():
    for n_train in (2000, 8000):
        print_transfer(*capacity_grid(n_train), f"{n_train} training rows, bottom width S")


@answer("10.2")
def experts_as_capacity():
    print_transfer(*capacity_grid(2000, "mmoe", widths=(1, 2, 4, 8, 16)), "MMoE, n_experts of 4 units; single-task "
                   "nets of 4 x n_experts units")


@answer("10.3")
def transfer_per_task():
    correlations, widths, multi, single = capacity_grid(2000)
    for k in range(2):
        t = transfer(single[..., k].mean(-1), multi[..., k].mean(-1))                 # (correlation, width)
        print(f"task {k + 1}: " + "; ".join(f"corr {p}: " + " ".join(f"{v:+.2f}" for v in t[i])
                                            for i, p in enumerate(correlations)))


# ---------------------------------------------------------------------------------- lesson 11
def per_task_job(seed, half=False, align=False, shift=0.8):
    data = mn.make_multitask(n=4000, n_tasks=2, p=0.9, input_shift=shift, seed=seed)
    (X_train, Y_train), (X_test, Y_test) = data.split((0.5, 0.5))
    if half:
        X_train, Y_train = [X_train[0], X_train[1][:1000]], [Y_train[0], Y_train[1][:1000]]
    if align:                                      # task 2's feature block moved onto task 1's
        d = X_train[0].shape[1]
        perm = np.roll(np.arange(d), -(d // 2))
        X_train, X_test = [X_train[0], X_train[1][:, perm]], [X_test[0], X_test[1][:, perm]]
    train, test = (X_train, Y_train), (X_test, Y_test)
    out = {"score": covariance_similarity(*X_train)}
    out["Shared-Bottom"] = train_and_test(mn.SharedBottom(n_features=100, bottom_units=32, seed=seed,
                                                          backend="numba"), train, test, steps=pick(1500, 150),
                                          seed=seed)
    out["single"] = single_task_losses(train, test, 2, hidden_units=32, seed=seed, steps=pick(1500, 150))
    return out


@answer("11.2")
def fewer_rows_for_task_2():
    results = run_jobs(per_task_job, [dict(seed=s, half=True, shift=0.0) for s in range(pick(4, 1))],
                       n_jobs=pick(2, 1))
    single = np.mean([r["single"] for r in results], axis=0)
    multi = np.mean([r["Shared-Bottom"] for r in results], axis=0)
    print(f"task 1 (2000 rows): transfer {transfer(single[0], multi[0]):+.2f}; task 2 (1000 rows): "
          f"{transfer(single[1], multi[1]):+.2f}  (Shared-Bottom of 32, shift 0)")


@answer("11.3")
def aligned_inputs():
    for align in (False, True):
        results = run_jobs(per_task_job, [dict(seed=s, align=align) for s in range(pick(4, 1))], n_jobs=pick(2, 1))
        single = np.mean([r["single"].mean() for r in results])
        multi = np.mean([r["Shared-Bottom"].mean() for r in results])
        print(f"shift 0.8, {'aligned' if align else 'as drawn'}: covariance similarity "
              f"{np.mean([r['score'] for r in results]):.3f}, single-task loss {single:.3f}, Shared-Bottom "
              f"{multi:.3f}, transfer {transfer(single, multi):+.2f}")


# ---------------------------------------------------------------------------------- lesson 12
def noisy_tasks(noise, seed):
    noisy = mn.make_multitask(n=10_000, n_tasks=3, p=0.8, noise_std=[0.01, 0.01, noise], seed=seed)
    clean = mn.make_multitask(n=10_000, n_tasks=3, p=0.8, noise_std=0.0, seed=seed)
    return (noisy.X[:8000], noisy.Y[:8000]), (clean.X[8000:], clean.Y[8000:])


@answer("12.1")
def ranks():
    train, _ = noisy_tasks(10.0, 0)
    for rank in (1, 2, 3):
        print(f"rank {rank}: paper's rule {svd_task_weights(*train, rank=rank).round(3)}, normalized "
              f"{svd_task_weights(*train, rank=rank, normalize=True).round(3)}")


def weighting_job(noise, seed, rule):
    train, test = noisy_tasks(noise, seed)
    signal = train[1][:, :2].var(0).mean()                  # the clean tasks' label variance
    weights = {"uniform": np.ones(3), "oracle": 1 / (signal + np.array([0.01, 0.01, noise]) ** 2),
               "drop task 3": np.array([1.0, 1.0, 0.0])}[rule]
    weights = weights * 3 / weights.sum() if rule == "oracle" else weights
    model = mn.MMoE(n_features=100, n_tasks=3, seed=seed, backend="numba")
    return train_and_test(model, train, test, steps=pick(1500, 150), seed=seed, task_weights=weights)[:2].mean()


@answer("12.2")
def oracle_weights():
    """The lesson's statistic: geometric means over its 8 runs, each rule paired with uniform weights run by run."""
    for noise in pick((1.0, 3.0, 10.0), (3.0,)):
        seeds = range(pick(8, 1))
        out = {rule: np.array(run_jobs(weighting_job, [dict(noise=noise, seed=s, rule=rule) for s in seeds],
                                       n_jobs=pick(2, 1))) for rule in ("uniform", "oracle", "drop task 3")}
        print(f"task 3 noise {noise:g}: clean tasks' test loss (geometric mean) "
              + ", ".join(f"{k} {np.exp(np.log(v).mean()):.3f}" for k, v in out.items()))
        for rule in ("oracle", "drop task 3"):
            print(f"  {rule}/uniform, paired: {paired_ratio(out[rule], out['uniform']).ratio}")


ANSWERS["12.3"] = oracle_weights          # the "drop task 3" column answers exercise 3


# ---------------------------------------------------------------------------------- lesson 13
def lesson13_data(p, seed):
    """The lesson's draw: 8000 training rows, then 2000 test rows (the lesson's validation rows follow)."""
    data = mn.make_synthetic(n=11_000, p=p, seed=seed)
    return (data.X[:8000], data.Y[:8000]), (data.X[8000:10_000], data.Y[8000:10_000])


def expert_split_job(p, seed, variant):
    train, test = lesson13_data(p, seed)
    sizes = {"CGC 3+2": (3, 2), "CGC 3+1": (3, 1), "CGC 1+2": (1, 2)}
    if variant in sizes:
        t, s = sizes[variant]
        model = mn.CGC(n_features=100, n_task_experts=t, n_shared_experts=s, seed=seed, backend="numba")
    else:
        levels = int(variant.split()[1])
        model = mn.PLE(n_features=100, n_task_experts=2, n_shared_experts=2, n_levels=levels, seed=seed,
                       backend="numba")
    return train_and_test(model, train, test, steps=pick(1500, 150), seed=seed).mean()


def compare_variants(variants, correlations):
    """The lesson's statistic: geometric means over its 4 runs per correlation, each variant paired with the
    first one run by run."""
    for p in correlations:
        out = {v: np.array(run_jobs(expert_split_job, [dict(p=p, seed=s, variant=v) for s in range(pick(4, 1))],
                                    n_jobs=pick(2, 1))) for v in variants}
        print(f"correlation {p}: test loss (geometric mean) "
              + ", ".join(f"{v} {np.exp(np.log(r).mean()):.4f}" for v, r in out.items()))
        for v in variants[1:]:
            print(f"  {v}/{variants[0]}, paired: {paired_ratio(out[v], out[variants[0]]).ratio}")


@answer("13.2")
def fewer_experts():
    compare_variants(("CGC 3+2", "CGC 3+1", "CGC 1+2"), (0.9, 0.0))


@answer("13.3")
def deeper_ple():
    compare_variants(("PLE 2 levels", "PLE 3 levels"), (0.0, 0.9))
    train, test = lesson13_data(0.5, 0)
    model = mn.PLE(n_features=100, n_task_experts=2, n_shared_experts=2, n_levels=3, seed=0, backend="numba")
    train_and_test(model, train, test, steps=pick(1500, 150))
    gates = model.gates(test[0])
    shared = gates[0]["shared"].mean(axis=-2)[0]                      # level 1's shared gate: (2 m_t + m_s,)
    print(f"level 1's shared gate, mean weight on [task 1's, task 2's, shared] experts: "
          f"{shared[:2].sum():.2f}, {shared[2:4].sum():.2f}, {shared[4:].sum():.2f}")


# ---------------------------------------------------------------------------------- lesson 14
@answer("14.2")
def plain_spread():
    study = load_results(outputs.default("results/reproduce"))
    final, names = study["final"], [str(m) for m in study["models"]]
    i = list(np.round(study["correlations"], 6)).index(0.5)
    sb, mmoe = final[i, :, names.index("shared_bottom")], final[i, :, names.index("mmoe")]
    print(f"correlation 0.5: std of log loss SB/MMoE {ratio_of_spreads(sb, mmoe)}")
    print(f"plain std SB/MMoE {sb.std() / mmoe.std():.2f}; without each model's 5 worst runs "
          f"{np.sort(sb)[:-5].std() / np.sort(mmoe)[:-5].std():.2f}; the 5 worst runs hold "
          f"{np.sort((sb - sb.mean()) ** 2)[-5:].sum() / ((sb - sb.mean()) ** 2).sum():.0%} of SB's squared deviations")


@answer("14.3")
def spread_by_learning_rate():
    pilot = load_results(outputs.default("results/reproduce/pilot"))
    names = [str(m) for m in pilot["models"]]
    for li, lr in enumerate(pilot["lrs"]):
        final = pilot["curves_by_lr"][:, :, :, li, -1]
        cells = [f"{p:g}: {ratio_of_spreads(final[i, :, names.index('shared_bottom')], final[i, :, names.index('mmoe')])}"
                 for i, p in enumerate(pilot["correlations"])]
        print(f"lr {lr:g}, SB/MMoE spread: " + "; ".join(cells))


# ---------------------------------------------------------------------------------- lesson 15
def polarisation_runs(lr=1e-3):
    runs, steps = pick(20, 3), pick(3000, 200)
    seeds = np.random.SeedSequence(15).generate_state(runs).tolist()
    stream = mn.SyntheticRuns(seeds, (0.5, 1.0), n_val=200, n_test=2000)
    model_seeds = np.repeat(np.asarray(seeds)[:, None] + 1, 2, axis=1)
    model = mn.MMoE(n_features=100, n_experts=8, expert_units=16, seed=model_seeds, backend="numba")
    mn.fit(model, stream, steps=steps, optimizer=mn.Adam(lr=lr), eval_every=steps, progress=False)
    X_test, Y_test = stream.test
    return mn.evaluate(model, X_test, Y_test).mean(-1), gate_polarisation(model.gates(X_test))


@answer("15.1")
def polarisation_by_learning_rate():
    for lr in (1e-4, 1e-3, 1e-2):
        loss, polar = polarisation_runs(lr)
        print(f"lr {lr:g}: {np.mean(polar > 0.9):.0%} of the gates polarised, median largest mean weight "
              f"{np.median(polar):.2f}, median test loss {np.median(loss):.4f}")


@answer("15.2")
def symmetric_and_uniform():
    data = mn.make_synthetic(n=2000, p=0.5, seed=0)
    model = mn.MMoE(n_features=100, n_experts=8, expert_units=16, seed=0, backend="numba")
    W, b = model.params["expert_kernel"], model.params["expert_bias"]
    W[...] = W[..., :1]
    b[...] = b[..., :1]
    model.params["gate_kernel"] = 0.0 * model.params["gate_kernel"]
    mn.fit(model, data.X, data.Y, optimizer=mn.Adam(lr=1e-2), steps=pick(1000, 100), progress=False)
    W = model.params["expert_kernel"]
    print(f"after training: largest difference between any expert and expert 1: {np.abs(W - W[..., :1]).max():.1e}; "
          f"largest gate kernel entry {np.abs(model.params['gate_kernel']).max():.1e}")


def lesson15_gate_dropout():
    """The lesson's GateDropoutMMoE class, compiled from lesson 15's source (one definition, in the lesson)."""
    import ast
    from pathlib import Path
    source = (Path(__file__).parent / "15_gate_polarisation.py").read_text()
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "GateDropoutMMoE")
    namespace = {"np": np, "mn": mn}
    exec(compile(ast.Module([node], []), "15_gate_polarisation.py", "exec"), namespace)
    return namespace["GateDropoutMMoE"]


@answer("15.3")
def stronger_dropout():
    GateDropoutMMoE = lesson15_gate_dropout()
    runs, steps = pick(20, 3), pick(3000, 200)
    seeds = np.random.SeedSequence(15).generate_state(runs).tolist()
    model_seeds = np.repeat(np.asarray(seeds)[:, None] + 1, 2, axis=1)
    for rate in (0.0, 0.1, 0.3):
        stream = mn.SyntheticRuns(seeds, (0.5, 1.0), n_val=200, n_test=2000)
        model = GateDropoutMMoE(n_features=100, n_experts=8, expert_units=16, seed=model_seeds, backend="numba",
                                rate=rate)
        mn.fit(model, stream, steps=steps, optimizer=mn.Adam(lr=1e-3), eval_every=steps, progress=False)
        model.training = False
        X_test, Y_test = stream.test
        loss, polar = mn.evaluate(model, X_test, Y_test).mean(-1), gate_polarisation(model.gates(X_test))
        print(f"gate dropout {rate:g}: median test loss {np.median(loss):.4f}, {np.mean(polar > 0.9):.0%} of the "
              f"gates polarised, median largest mean weight {np.median(polar):.2f}")


def main(argv):
    keys = [k for k in ANSWERS if not argv or any(k == a or k.split(".")[0] == a for a in argv)]
    if not keys:
        sys.exit(f"no answer for {argv}; known: {' '.join(ANSWERS)}")
    for key in keys:
        start = time.perf_counter()
        print(f"\n## {key} ({ANSWERS[key].__name__})", flush=True)
        ANSWERS[key]()
        print(f"[{time.perf_counter() - start:.0f} s]", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
