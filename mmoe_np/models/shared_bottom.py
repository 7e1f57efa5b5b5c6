r"""Shared-Bottom (Caruana 1997) and the single-task baseline.

.. math::

    s(x) = \mathrm{ReLU}(W_s x + b_s), \qquad \hat y_k = h^k(s(x))

Every tower reads the same bottom ``s``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks
from ..params import dense_block
from .base import MultiTaskModel, glorot_uniform


class BottomCache(NamedTuple):
    bottom: object         # the backend's cache of the bottom layer


class SharedBottom(MultiTaskModel):
    """Shared-Bottom multi-task model.

    Parameters: ``bottom_kernel`` (D, S), ``bottom_bias`` (S,) with S = ``bottom_units``,
    and the K towers (see :class:`~mmoe_np.models.moe.MMoE`). The paper's Fig. 4 uses S = 113
    so that the model has about as many parameters as its MMoE (8 experts of 16 units:
    13,255 against 14,834); its Fig. 3 uses S = 16.
    """

    def __init__(self, n_features, n_tasks=2, bottom_units=113, tower_units=8, out_units=1,
                 seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, tower_units=tower_units,
                         out_units=out_units, seed=seed, backend=backend, dtype=dtype)
        self.bottom_units = _checks.positive_int("bottom_units", bottom_units)
        self.tower_input_units = self.bottom_units
        self._build()

    def parameter_layout(self):
        D, S = self.n_features, self.bottom_units
        return [dense_block(D, [("bottom_kernel", (D, S), 0, "bottom_bias", (S,))])]

    def initialise(self, p, rng):
        D, S = self.n_features, self.bottom_units
        p["bottom_kernel"] = glorot_uniform(rng, (D, S), D, S, self.dtype)

    def shared_forward(self, X):
        p = self.params
        # s(x) = ReLU(W_s x + b_s)
        bottom, cache = self.kernels.dense_relu_forward(X, p["bottom_kernel"], p["bottom_bias"])   # (B, S)
        return bottom[..., None, :, :], BottomCache(cache)             # (1, B, S): read by every tower

    def shared_backward(self, cache, dF, grads):
        # dF (1, B, S): the towers' gradients, already summed over the towers
        self.kernels.dense_relu_backward(cache.bottom, dF[..., 0, :, :],
                                         out=(grads["bottom_kernel"], grads["bottom_bias"]))


class SingleTask(SharedBottom):
    """One network for one task: a hidden ReLU layer of ``hidden_units``, then a tower.

    It is Shared-Bottom with one task (its parameters keep the ``bottom_*`` names); the
    paper's single-task baseline trains one of these per task.
    """

    def __init__(self, n_features, hidden_units=16, tower_units=8, out_units=1, seed=0,
                 backend="numpy", dtype=np.float64):
        hidden_units = _checks.positive_int("hidden_units", hidden_units)
        super().__init__(n_features=n_features, n_tasks=1, bottom_units=hidden_units,
                         tower_units=tower_units, out_units=out_units, seed=seed,
                         backend=backend, dtype=dtype)
