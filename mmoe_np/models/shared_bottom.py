r"""Shared-Bottom (Caruana 1997) and the single-task baseline.

.. math::

    s(x) = \mathrm{ReLU}(W_s x + b_s), \qquad \hat y_k = h^k(s(x))

Every tower reads the same bottom ``s``. The bottom is computed by the experts kernel with
a single expert (E = 1): a dense layer with ReLU is exactly one expert, so Shared-Bottom
runs on the same backends as the MoE models.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from .base import MultiTaskModel, glorot_uniform


class SharedBottom(MultiTaskModel):
    """Shared-Bottom multi-task model.

    Parameters: ``bottom_kernel`` (D, S), ``bottom_bias`` (S,) with S = ``bottom_units``,
    and the K towers (see :class:`~mmoe_np.models.moe.MMoE`). The paper uses S = 113 so
    that the model has about as many parameters as its MMoE (8 experts of 16 units).
    """

    def __init__(self, n_features, n_tasks=2, bottom_units=113, tower_units=8, out_units=1,
                 seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, tower_units=tower_units,
                         out_units=out_units, seed=seed, backend=backend, dtype=dtype)
        self.bottom_units = _checks.positive_int("bottom_units", bottom_units)
        D, S = self.n_features, self.bottom_units
        self.params["bottom_kernel"] = glorot_uniform(self._rng, (D, S), D, S, self.dtype)
        self.params["bottom_bias"] = np.zeros(S, self.dtype)
        self._init_towers(S)

    def _shared_forward(self, X):
        p, kern = self.params, self.kernels
        Xk = kern.to_kernel_array(X)
        # s(x) = ReLU(W_s x + b_s): one expert of S units
        H = kern.experts_forward(Xk, p["bottom_kernel"][:, :, None], p["bottom_bias"][:, None])  # (B, S, 1)
        bottom = kern.to_numpy(H)[:, :, 0]                               # (B, S)
        return bottom[None], (Xk, H)                                     # (1, B, S): read by all towers

    def _shared_backward(self, cache, dF):
        Xk, H = cache
        kern = self.kernels
        dH = dF[0][:, :, None]                                           # (B, S, 1), summed over towers
        _, dW, db = kern.experts_backward(Xk, self.params["bottom_kernel"][:, :, None], H, dH,
                                          need_dX=False)
        return {"bottom_kernel": dW[:, :, 0], "bottom_bias": db[:, 0]}


class SingleTask(SharedBottom):
    """One network for one task: a hidden ReLU layer of ``hidden_units``, then a tower.

    It is Shared-Bottom with one task (its parameters keep the ``bottom_*`` names); the
    paper's single-task baseline trains one of these per task.
    """

    def __init__(self, n_features, hidden_units=16, tower_units=8, out_units=1, seed=0,
                 backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=1, bottom_units=hidden_units,
                         tower_units=tower_units, out_units=out_units, seed=seed,
                         backend=backend, dtype=dtype)
