"""Minibatches drawn epoch by epoch: the one sampler that training on fixed data uses.

Each epoch visits every row once, in a fresh random order; a minibatch is the next ``batch``
rows of that order (rows left over at the end of an epoch, fewer than a batch, are skipped).
With runs, every run has its own Generator and so its own order; all runs have the same
number of rows, so their epochs turn over at the same step and one slice of the (runs, n)
orders gives every run's batch.
"""
from __future__ import annotations

import numpy as np


class EpochSampler:
    """Row indices for minibatches. ``rngs``: one Generator for all runs, or an array of them
    (one per run, any run shape). :meth:`next` returns (B,) or (*run_shape, B) indices."""

    def __init__(self, n_rows: int, rngs):
        self.n = n_rows
        self.rngs = rngs if isinstance(rngs, np.random.Generator) else np.asarray(rngs, dtype=object)
        self.order, self.cursor = None, n_rows                          # start with a new epoch

    def next(self, batch: int) -> np.ndarray:
        batch = min(batch, self.n)
        if self.order is None or self.cursor + batch > self.n:
            if isinstance(self.rngs, np.random.Generator):
                self.order = self.rngs.permutation(self.n)
            else:
                self.order = np.stack([rng.permutation(self.n) for rng in self.rngs.flat]).reshape(
                    self.rngs.shape + (self.n,))
            self.cursor = 0
        idx = self.order[..., self.cursor:self.cursor + batch]
        self.cursor += batch
        return idx
