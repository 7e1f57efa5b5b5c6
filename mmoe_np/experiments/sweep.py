"""Independent training runs on the synthetic tasks, on one core, many processes, or a cluster.

One *job* is one (correlation, run) pair: it draws that run's data (seeded by the run alone, so
every correlation of a run shares u1, u2, alpha, beta and X -- paired comparisons) and trains
every model, at every learning rate of the grid, on the same minibatch order. A job's result
depends only on its arguments, so a sweep gives the same numbers serially, with joblib
processes or on a Dask cluster.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .. import _checks, train
from ..data import make_synthetic
from ..optim import Adam
from .common import build_model, run_seeds


@dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a sweep (saved next to its results)."""

    correlations: tuple = (0.5, 0.9, 1.0)
    runs: int = 200
    models: tuple = ("shared_bottom", "omoe", "mmoe")
    lrs: tuple = (1e-2,)
    steps: int = 1500
    batch_size: int = 128
    eval_every: int = 100
    n_train: int = 8000
    n_val: int = 1000
    n_test: int = 2000
    d: int = 100
    c: float = 1.0
    m: int = 10
    noise_std: float = 0.01
    alpha_beta: str = "normal"     # "normal": N(0, 1) per run; "google": alpha_i = i, beta_i = (i-1)^2
    seed: int = 0
    backend: str = "numba"
    extra: dict = field(default_factory=dict, hash=False)

    def check(self):
        _checks.positive_int("runs", self.runs)
        _checks.positive_int("steps", self.steps)
        _checks.positive_int("eval_every", self.eval_every)
        if not self.correlations:
            raise ValueError("correlations must name at least one value, got none")
        for p in self.correlations:
            _checks.real("correlations", p, low=-1.0, high=1.0)
        for lr in self.lrs:
            _checks.real("lrs", lr, low=0.0, low_open=True)
        _checks.choice("alpha_beta", self.alpha_beta, ("normal", "google"))
        return self

    @property
    def n_evals(self):
        return len(range(self.eval_every, self.steps + 1, self.eval_every)) + (self.steps % self.eval_every != 0)


def job(config: SweepConfig, i: int, r: int, data_seed: int):
    """Train every model and learning rate for correlation ``config.correlations[i]``, run ``r``.

    Returns ``(i, r, test_curves, val_final)``: test_curves (M, L, n_evals) test loss (mean over the
    two tasks) along training, val_final (M, L) final validation loss.
    """
    p = config.correlations[i]
    n = config.n_train + config.n_val + config.n_test
    fixed = {}
    if config.alpha_beta == "google":    # Google Research's generator for the paper
        fixed = dict(alpha=np.arange(1.0, config.m + 1), beta=np.arange(config.m, dtype=float) ** 2)
    data = make_synthetic(n=n, d=config.d, p=p, m=config.m, c=config.c, noise_std=config.noise_std,
                          seed=data_seed, **fixed)
    if config.n_val:
        (X, Y), (X_val, Y_val), (X_test, Y_test) = data.split(
            (config.n_train / n, config.n_val / n, config.n_test / n))
    else:       # no validation split: no learning-rate selection
        (X, Y), (X_test, Y_test) = data.split((config.n_train / n, config.n_test / n))
    M, L = len(config.models), len(config.lrs)
    test_curves = np.full((M, L, config.n_evals), np.nan)
    val_final = np.full((M, L), np.nan)
    for j, name in enumerate(config.models):
        for li, lr in enumerate(config.lrs):
            model = build_model(name, config.d, seed=data_seed + j + 1, backend=config.backend)
            history = train.fit(model, X, Y, X_val=X_test, Y_val=Y_test, optimizer=Adam(lr=lr), steps=config.steps,
                                batch_size=config.batch_size, eval_every=config.eval_every, seed=data_seed,
                                progress=False)
            test_curves[j, li] = history.as_arrays()[2].mean(axis=1)
            if config.n_val:
                val_final[j, li] = train.evaluate(model, X_val, Y_val).mean()
    return i, r, test_curves, val_final


def run_sweep(config: SweepConfig, executor="serial", n_jobs=None, scheduler=None, progress=True):
    """Run every job; ``executor`` is 'serial', 'joblib' (processes) or 'dask' (``scheduler`` address
    or a ``distributed.Client``). Returns a dict of arrays (see :func:`job`) plus the config."""
    config.check()
    _checks.choice("executor", executor, ("serial", "joblib", "dask"))
    seeds = run_seeds(config.seed, config.runs)
    tasks = [(i, r, seeds[r]) for r in range(config.runs) for i in range(len(config.correlations))]
    bar = tqdm(total=len(tasks), disable=not progress, desc="runs", unit="job")
    if executor == "serial":
        results = []
        for t in tasks:
            results.append(job(config, *t))
            bar.update(1)
    elif executor == "joblib":
        from joblib import Parallel, delayed
        parallel = Parallel(n_jobs=n_jobs or -1, return_as="generator_unordered", batch_size=1)
        results = []
        for res in parallel(delayed(job)(config, *t) for t in tasks):
            results.append(res)
            bar.update(1)
    else:
        from distributed import Client, as_completed
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = [client.submit(job, config, *t, pure=False) for t in tasks]
            results = []
            for future in as_completed(futures):
                results.append(future.result())
                bar.update(1)
        finally:
            if not isinstance(scheduler, Client):
                client.close()
    bar.close()

    C, R, M, L = len(config.correlations), config.runs, len(config.models), len(config.lrs)
    curves = np.full((C, R, M, L, config.n_evals), np.nan)
    val_final = np.full((C, R, M, L), np.nan)
    for i, r, test_curves, vf in results:
        curves[i, r], val_final[i, r] = test_curves, vf
    steps_axis = np.array(list(range(config.eval_every, config.steps + 1, config.eval_every))
                          + ([config.steps] if config.steps % config.eval_every else []))
    return {"config": config, "correlations": np.asarray(config.correlations), "steps": steps_axis,
            "models": np.asarray(config.models), "lrs": np.asarray(config.lrs), "curves_by_lr": curves,
            "val_final": val_final, **select_lr(curves, val_final)}


def select_lr(curves, val_final):
    """Per model and correlation, the learning rate with the lowest mean final validation loss.

    Returns ``curves`` (C, R, M, n_evals) at the chosen rates and ``chosen_lr_index`` (C, M).
    """
    C, R, M, L, _ = curves.shape
    score = np.nanmean(val_final, axis=1) if L > 1 else np.zeros((C, M, 1))      # (C, M, L)
    chosen = np.argmin(np.where(np.isnan(score), np.inf, score), axis=-1)        # (C, M)
    picked = np.take_along_axis(curves, chosen[:, None, :, None, None], axis=3)[:, :, :, 0]
    return {"curves": picked, "chosen_lr_index": chosen}


def config_dict(config: SweepConfig):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
