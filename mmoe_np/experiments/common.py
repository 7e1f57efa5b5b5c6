"""Pieces every synthetic experiment shares: the paper's model sizes, seeds, summaries."""
from __future__ import annotations

import numpy as np

from .. import models

# Paper §3.3 / §4: d = 100, 8 experts of 16 units, towers of 8, Shared-Bottom bottom of 113.
PAPER_SIZES = {
    "shared_bottom": dict(bottom_units=113, tower_units=8),
    "omoe": dict(n_experts=8, expert_units=16, tower_units=8),
    "mmoe": dict(n_experts=8, expert_units=16, tower_units=8),
}
MODEL_LABELS = {"shared_bottom": "Shared-Bottom", "omoe": "OMoE", "mmoe": "MMoE",
                "single_task": "Single-Task"}


def build_model(name, n_features, seed, backend="numpy", dtype=np.float64, n_tasks=2):
    """A model of the paper's size by short name ('shared_bottom', 'omoe', 'mmoe')."""
    return models.MODELS[name](n_features=n_features, n_tasks=n_tasks, seed=seed,
                               backend=backend, dtype=dtype, **PAPER_SIZES[name])


def run_seeds(seed, n_runs):
    """Independent seeds for n_runs runs (data and initialisation), from one master seed."""
    return np.random.SeedSequence(seed).generate_state(n_runs).tolist()


def mean_interval(values, z=1.96):
    """Mean, standard deviation and the normal 95% confidence half-width of ``values``."""
    values = np.asarray(values, dtype=float)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return values.mean(), std, z * std / np.sqrt(len(values))
