"""Many independent training runs on the synthetic tasks, trained as a few large models.

A *sweep* trains every model of ``config.models`` at every correlation and learning rate, in
``config.runs`` independent runs. Run r draws its own data from its own seed; within a run,
every correlation shares u1, u2, alpha, beta and X, and every model and learning rate trains
on the same minibatches -- all comparisons are paired.

How it runs: the runs are cut into chunks (one *job* per chunk). A job trains, for each
model, **one** model whose run axes are (runs of the chunk, correlations, learning rates) --
hundreds of runs in one set of matrix products -- on one stream of data
(:class:`~mmoe_np.data.SyntheticRuns`) shared by all models. Jobs go to
:func:`~mmoe_np.experiments.jobs.run_jobs` (one core, joblib processes or Dask), each with
one BLAS and one numba thread: every executor, and every chunk size, gives the same numbers.

Diverging runs (a learning rate too high for one run) are frozen at their last good
parameters and reported (``diverged``); the others train on.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import _checks, train
from ..data import SyntheticRuns
from ..optim import Adam, linear_anneal
from . import store
from .common import PAPER_SIZES, build_model, model_seeds, run_seeds
from .jobs import DASK_TIMEOUT, run_jobs


@dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a sweep (saved next to its results).

    ``n_train``: None streams fresh training samples every step ("enough data"); an integer
    gives every run a fixed training set of that size. ``lrs``: the learning rates tried
    (every model at every rate); ``chosen_lrs``: instead, a fixed rate per model and
    correlation, ``{model: [lr at correlation 1, ...]}``. ``sizes``: model sizes overriding
    the paper's, ``{model: {argument: value}}``. ``anneal``: the fraction of the steps at the end
    over which every rate falls linearly towards 0 (:func:`mmoe_np.optim.linear_anneal`; 0: constant
    rates, the paper's protocol).
    """

    correlations: tuple = (0.5, 0.9, 1.0)
    runs: int = 200
    models: tuple = ("shared_bottom", "omoe", "mmoe")
    lrs: tuple = (1e-2,)
    chosen_lrs: dict = field(default_factory=dict, hash=False)
    steps: int = 1500
    batch_size: int = 128
    eval_every: int = 100
    n_train: int | None = 8000
    n_val: int = 1000
    n_test: int = 2000
    d: int = 100
    c: float = 1.0
    m: int = 10
    noise_std: float = 0.01
    alpha_beta: str = "normal"     # "normal": N(0, 1) per run; "google": alpha_i = i, beta_i = (i-1)^2
    seed: int = 0
    backend: str = "numba"
    dtype: str = "float64"
    sizes: dict = field(default_factory=dict, hash=False)
    runs_per_job: int = 0          # 0: about 4 jobs per worker
    extra: dict = field(default_factory=dict, hash=False)
    anneal: float = 0.0

    def check(self):
        for name in ("runs", "steps", "eval_every", "batch_size", "n_val", "n_test", "d"):
            _checks.positive_int(name, getattr(self, name))
        if self.n_train is not None:
            _checks.positive_int("n_train", self.n_train)
        if self.d < 2:
            raise ValueError(f"d must be >= 2 (u1 and u2 are orthogonal directions), got {self.d}")
        _checks.non_negative_int("m", self.m)
        _checks.real("c", self.c, low=0.0, low_open=True)
        _checks.real("noise_std", self.noise_std, low=0.0)
        if not self.correlations:
            raise ValueError("correlations must name at least one value, got none")
        for p in self.correlations:
            _checks.real("correlations", p, low=-1.0, high=1.0)
        if not self.lrs:
            raise ValueError("lrs must name at least one learning rate, got none")
        for lr in self.lrs:
            _checks.real("lrs", lr, low=0.0, low_open=True)
        for name in self.models:
            _checks.choice("models", name, PAPER_SIZES)
        for name, lrs in self.chosen_lrs.items():
            if len(lrs) != len(self.correlations):
                raise ValueError(f"chosen_lrs[{name!r}] needs one rate per correlation, got {lrs}")
        _checks.choice("alpha_beta", self.alpha_beta, ("normal", "google"))
        _checks.choice("dtype", self.dtype, ("float32", "float64"))
        _checks.non_negative_int("runs_per_job", self.runs_per_job)
        _checks.real("anneal", self.anneal, low=0.0, high=1.0)
        return self

    @property
    def n_evals(self):
        return len(eval_steps(self))

    def lr_grid(self, name):
        """(C, L) learning rates of model ``name``: the grid at every correlation, or its chosen ones."""
        if name in self.chosen_lrs:
            return np.asarray(self.chosen_lrs[name], dtype=float)[:, None]
        return np.broadcast_to(np.asarray(self.lrs, dtype=float), (len(self.correlations), len(self.lrs)))


def eval_steps(config):
    """The steps at which test loss is recorded: every ``eval_every`` steps and the last one."""
    steps = list(range(config.eval_every, config.steps + 1, config.eval_every))
    return np.array(steps + ([config.steps] if config.steps % config.eval_every else []))


def job(config: SweepConfig, first: int, data_seeds: list):
    """Train every model on runs ``first .. first + len(data_seeds) - 1``.

    Returns ``first`` and a dict of arrays, each with the axes (model, run, correlation, lr, ...):
    ``test_curves`` and ``train_curves`` (..., n_evals) -- test loss and mean minibatch loss
    (mean over the two tasks) at each evaluation -- ``val_final`` (validation loss at the end)
    and ``diverged`` (the step at which a run diverged and was frozen; 0: never).
    """
    dtype = np.dtype(config.dtype)
    R, C = len(data_seeds), len(config.correlations)
    stream = SyntheticRuns(data_seeds, config.correlations, d=config.d, m=config.m, c=config.c,
                           noise_std=config.noise_std, alpha_beta=config.alpha_beta, n_val=config.n_val,
                           n_test=config.n_test, n_train=config.n_train, dtype=dtype)
    trainers = []
    for name in config.models:
        lrs = config.lr_grid(name)                                        # (C, L)
        L = lrs.shape[1]
        # the same initialisation for every correlation and learning rate of a run (paired)
        if name == "single_task":           # one network per task: the task is one more run axis
            seeds = np.broadcast_to(model_seeds(data_seeds, name, 2)[:, None, None, :], (R, C, L, 2))
        else:
            seeds = np.broadcast_to(model_seeds(data_seeds, name)[:, None, None], (R, C, L))
        model = build_model(name, config.d, seed=seeds, backend=config.backend, dtype=dtype,
                            **config.sizes.get(name, {}))
        rates = lrs[None] if name != "single_task" else lrs[None, :, :, None]
        trainers.append(train.Trainer(model, Adam(lr=rates), snapshot_every=config.eval_every,
                                      on_divergence="freeze"))
    data = trainers[0].batch_source(stream, config.steps)       # on a GPU: the stream's data there, uploaded once
    L_max = max(config.lr_grid(name).shape[1] for name in config.models)
    test_curves = np.full((len(trainers), R, C, L_max, config.n_evals), np.nan)
    train_curves = np.full_like(test_curves, np.nan)
    steps_at = set(eval_steps(config).tolist())
    evaluation = 0
    for step in range(1, config.steps + 1):
        batch = data.next_batch(config.batch_size)
        scale = linear_anneal(step, config.steps, config.anneal)
        for trainer in trainers:
            trainer.optimizer.lr_scale = scale
            trainer.step(*_for_model(trainer.model, *batch))
        if step in steps_at:
            for j, trainer in enumerate(trainers):
                L = config.lr_grid(config.models[j]).shape[1]
                test_curves[j, :, :, :L, evaluation] = _loss(trainer, data.test)
                train_curves[j, :, :, :L, evaluation] = _per_run(trainer.model, trainer.take_running_loss())
            evaluation += 1
    val_final = np.full(test_curves.shape[:-1], np.nan)
    diverged = np.zeros(test_curves.shape[:-1], dtype=np.int64)
    for j, trainer in enumerate(trainers):
        trainer.finish()
        L = config.lr_grid(config.models[j]).shape[1]
        val_final[j, :, :, :L] = _loss(trainer, data.validation)
        stopped = trainer.diverged
        diverged[j, :, :, :L] = stopped.max(axis=-1) if _single_task(trainer.model) else stopped
    return first, {"test_curves": test_curves, "train_curves": train_curves, "val_final": val_final,
                   "diverged": diverged}


def _single_task(model):
    return model.n_tasks == 1


def _for_model(model, X, Y):
    """The stream's X (R, 1, B, d) and targets [(R, C, B, 1)] x 2 shaped for ``model``'s run axes
    (R, C, L): a learning-rate axis, and for single-task models one more axis for the task. (On a GPU
    these are :class:`~mmoe_np.kernels.cuda_rows.DeviceRows`, which arrange their leading axes alike.)"""
    X, Y = X[:, :, None], [y[:, :, None] for y in Y]                     # (R, 1, 1, B, d), (R, C, 1, B, 1)
    if _single_task(model):
        return X[:, :, :, None], [np.stack(Y, axis=-3)]                   # task k's net reads task k's targets
    return X, Y


def _per_run(model, losses):
    """Each run's loss averaged over its tasks: (R, C, L)."""
    return losses.mean(axis=(-2, -1)) if _single_task(model) else losses.mean(axis=-1)


def _loss(trainer, data):
    """Mean over the tasks of each run's test/validation loss: (R, C, L)."""
    return _per_run(trainer.model, trainer.evaluate(*_for_model(trainer.model, *data), batch_size=512))


def run_sweep(config: SweepConfig, executor="serial", n_jobs=None, scheduler=None, progress=True, out=None,
              option="--out", dask_timeout=DASK_TIMEOUT):
    """Run every job; ``executor`` is 'serial', 'joblib' (``n_jobs`` processes) or 'dask' (``scheduler``
    address or a ``distributed.Client``, ``dask_timeout``: see :func:`~.jobs.run_jobs`).

    ``out``: a folder that keeps every finished chunk of runs as it finishes (:mod:`.store`; ``option``
    names it in messages). Run again with the same settings, the sweep trains only the chunks not
    there yet and returns bit-identical results; other settings are refused; Ctrl-C raises
    :class:`~.store.SweepInterrupted` after saving what finished. The caller saves the finished sweep
    (:func:`.reproduce.save_results`) and then removes the chunks (:func:`.store.clear_chunks`).

    Returns a dict of arrays plus the config:

    - ``curves_by_lr`` (C, R, M, L, n_evals): test loss along training at every learning rate;
    - ``train_curves_by_lr`` (same): mean minibatch loss over each evaluation interval;
    - ``val_final`` (C, R, M, L), ``diverged`` (C, R, M, L);
    - ``curves`` (C, R, M, n_evals) at each model's and correlation's chosen learning rate, and
      ``chosen_lr_index`` (C, M) (see :func:`select_lr`); ``steps`` (n_evals,).
    """
    config.check()
    seeds = run_seeds(config.seed, config.runs)
    workers = 1 if executor == "serial" else _workers(executor, n_jobs, scheduler)
    size = config.runs_per_job or _chunk_size(config, workers)
    M, R, C = len(config.models), config.runs, len(config.correlations)
    L = max(config.lr_grid(name).shape[1] for name in config.models)
    with contextlib.ExitStack() as stack:
        finished, chunks_store = {}, None
        if out is not None:
            stack.enter_context(store.lock(out, option))
            chunks_store = store.ChunkStore(out, config_dict(config), R, size, option)
            size = chunks_store.chunk_runs
            finished = chunks_store.finished(lambda n: {
                "test_curves": (M, n, C, L, config.n_evals), "train_curves": (M, n, C, L, config.n_evals),
                "val_final": (M, n, C, L), "diverged": (M, n, C, L)})
        chunks = [dict(config=config, first=a, data_seeds=seeds[a:a + size]) for a in range(0, R, size)
                  if a not in finished]
        saved = len(finished)

        def keep(i, result):
            nonlocal saved
            if chunks_store is not None:
                chunks_store.save(*result)
                saved += 1

        desc = f"runs in chunks of {size}" + (f" ({len(finished)} chunks done before)" if finished else "")
        try:
            results = run_jobs(job, chunks, executor=executor, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                               desc=desc, on_result=keep, dask_timeout=dask_timeout)
        except KeyboardInterrupt as err:
            if chunks_store is None:
                raise
            raise store.SweepInterrupted(out, saved, len(range(0, R, size)), err) from None
    results = list(finished.items()) + results
    arrays = {"test_curves": np.full((M, R, C, L, config.n_evals), np.nan)}
    arrays["train_curves"] = np.full_like(arrays["test_curves"], np.nan)
    arrays["val_final"] = np.full((M, R, C, L), np.nan)
    arrays["diverged"] = np.zeros((M, R, C, L), dtype=np.int64)
    for first, part in results:
        n = part["val_final"].shape[1]
        for key, value in part.items():
            arrays[key][:, first:first + n] = value
    by_corr = {key: np.moveaxis(value, 2, 0) for key, value in arrays.items()}   # (C, M, R, L, ...)
    by_corr = {key: np.swapaxes(value, 1, 2) for key, value in by_corr.items()}  # (C, R, M, L, ...)
    grids = [config.lr_grid(name) for name in config.models]
    lr_table = np.stack([g if g.shape[1] == L else np.repeat(g, L, axis=1) for g in grids], axis=1)   # (C, M, L)
    out = {"config": config, "correlations": np.asarray(config.correlations), "steps": eval_steps(config),
           "models": np.asarray(config.models), "lrs": np.asarray(config.lrs), "lr_table": lr_table,
           "curves_by_lr": by_corr["test_curves"], "train_curves_by_lr": by_corr["train_curves"],
           "val_final": by_corr["val_final"], "diverged": by_corr["diverged"]}
    out.update(select_lr(out["curves_by_lr"], out["val_final"], out["diverged"], out["train_curves_by_lr"]))
    return out


def _chunk_size(config, workers):
    """Runs per job: up to 4 jobs per worker (for the progress bar and load balance), but each job's
    models should hold at least ~64 runs (runs x correlations x rates) to amortise the per-call cost."""
    per_run = len(config.correlations) * max(config.lr_grid(name).shape[1] for name in config.models)
    jobs_per_worker = max(1, min(4, config.runs * per_run // (workers * 64)))
    return max(1, -(-config.runs // (workers * jobs_per_worker)))


def _workers(executor, n_jobs, scheduler):
    if executor == "joblib":
        from joblib import cpu_count
        return cpu_count() if n_jobs in (None, -1) else max(1, n_jobs)
    return 4


def select_lr(curves, val_final, diverged=None, train_curves=None):
    """Per model and correlation, the learning rate with the lowest mean final validation loss.

    A learning rate at which any run diverged counts as worse than every rate at which none
    did. Returns ``curves`` (and ``train_curves``) (C, R, M, n_evals) at the chosen rates,
    ``final`` (C, R, M) the final test losses there, and ``chosen_lr_index`` (C, M).
    """
    C, R, M, L, _ = curves.shape
    score = np.nanmean(val_final, axis=1)                                   # (C, M, L)
    if diverged is not None:
        score = np.where((diverged > 0).any(axis=1), np.inf, score)
    score = np.where(np.isnan(score), np.inf, score)
    chosen = np.argmin(score, axis=-1)                                      # (C, M)
    pick = lambda a: np.take_along_axis(a, chosen[:, None, :, None, None], axis=3)[:, :, :, 0]   # noqa: E731
    out = {"curves": pick(curves), "chosen_lr_index": chosen}
    out["final"] = out["curves"][..., -1]
    if train_curves is not None:
        out["train_curves"] = pick(train_curves)
    return out


def config_dict(config: SweepConfig):
    """The sweep's settings as a JSON-able dict (what a folder records and compares). ``anneal`` is
    recorded only when used, so that studies saved before it existed compare equal."""
    settings = asdict(config)
    if not settings["anneal"]:
        del settings["anneal"]
    return store.normalise({k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()})


def config_from_dict(settings: dict) -> SweepConfig:
    """The :class:`SweepConfig` of recorded ``settings`` (:func:`config_dict`'s form)."""
    fields = {k: v for k, v in settings.items() if k in SweepConfig.__dataclass_fields__}
    for key in ("correlations", "lrs", "models"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return SweepConfig(**fields)


def settings_of(info: dict):
    """``(settings, complete)``: the sweep settings recorded in a saved config (config.json, or sweep.npz's
    ``config``). Files written before the ``sweep`` key existed are read from their top-level keys;
    their ``chosen_lrs`` is not known then (``complete`` False: compare the keys they record)."""
    if isinstance(info.get("sweep"), dict):
        return info["sweep"], True
    settings = {k: info[k] for k in SweepConfig.__dataclass_fields__ if k in info and k != "chosen_lrs"}
    if info.get("streamed"):
        settings["n_train"] = None
    return settings, False
