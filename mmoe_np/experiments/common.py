"""What every experiment shares: the paper's model sizes, the one model factory, seeds."""
from __future__ import annotations

import numpy as np

from .. import models

# Paper §3.3 / §4 / §5.1: d = 100, 8 experts of 16 units, towers of 8, Shared-Bottom bottom of 113
# (Fig. 4; Fig. 3 uses 16). The single-task net: one hidden layer of 16, a tower of 8.
PAPER_SIZES = {
    "single_task": dict(hidden_units=16, tower_units=8),
    "shared_bottom": dict(bottom_units=113, tower_units=8),
    "omoe": dict(n_experts=8, expert_units=16, tower_units=8),
    "mmoe": dict(n_experts=8, expert_units=16, tower_units=8),
    "cgc": dict(n_task_experts=3, n_shared_experts=2, expert_units=16, tower_units=8),
    "ple": dict(n_task_experts=2, n_shared_experts=2, expert_units=16, n_levels=2, tower_units=8),
}
MODEL_LABELS = {"shared_bottom": "Shared-Bottom", "omoe": "OMoE", "mmoe": "MMoE", "single_task": "Single-Task",
                "cgc": "CGC", "ple": "PLE"}


def build_model(name, n_features, seed=0, backend="numpy", dtype=np.float64, n_tasks=2, **sizes):
    """A model by short name ('single_task', 'shared_bottom', 'omoe', 'mmoe', 'cgc', 'ple') at the
    paper's size; ``sizes`` override them (e.g. ``bottom_units=16``). ``seed`` as for the models:
    one seed, or an array of seeds for a model with runs. A single-task model has one task."""
    if name not in PAPER_SIZES:
        raise ValueError(f"model must be one of {sorted(PAPER_SIZES)}, got {name!r}")
    kwargs = {**PAPER_SIZES[name], **sizes}
    if name != "single_task":
        kwargs["n_tasks"] = n_tasks
    return models.MODELS[name](n_features=n_features, seed=seed, backend=backend, dtype=dtype, **kwargs)


def run_seeds(seed, n_runs):
    """Independent seeds for n_runs runs (data and initialisation), from one master seed."""
    return np.random.SeedSequence(seed).generate_state(n_runs).tolist()


# Each model's initialisation has its own fixed stream, whatever list of models a sweep trains.
MODEL_SEED_KEYS = {"shared_bottom": 1, "omoe": 2, "mmoe": 3, "single_task": 4, "cgc": 5, "ple": 6}


def model_seeds(data_seeds, name, n_tasks=1):
    """Initialisation seeds of model ``name`` for runs with ``data_seeds``: (R,), or (R, n_tasks) for one
    network per task. Derived with SeedSequence((data seed, model key, task)), so a model starts from the
    same weights in every sweep that holds the run, and no two models share a stream."""
    key = MODEL_SEED_KEYS[name]
    seeds = [[int(np.random.SeedSequence([int(s), key, k]).generate_state(1)[0]) for k in range(n_tasks)]
             for s in data_seeds]
    seeds = np.array(seeds, dtype=np.int64)
    return seeds if n_tasks > 1 else seeds[:, 0]


def check_options(args, *names, jobs=True):
    """Refuse, before any work, count options (``--runs``, ``--steps``, ...) below 1 -- never a silent
    default for 0 -- and a ``--jobs`` that is neither -1 (every core) nor a positive number of processes.
    Options left at None (their default) are not checked."""
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer (>= 1), got {value}")
    value = getattr(args, "jobs", None)
    if jobs and value is not None and value != -1 and value < 1:
        raise ValueError(f"--jobs must be -1 (one process per core) or a positive number of processes, got {value}")
