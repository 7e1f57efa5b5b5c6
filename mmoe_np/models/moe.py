r"""One-gate MoE (OMoE) and Multi-gate MoE (MMoE), Ma et al. KDD 2018, §4.

.. math::

    f_i(x)   &= \mathrm{ReLU}(W_i x + b_i)                 && \text{expert } i = 1..E \\
    g^k(x)   &= \mathrm{softmax}(W_{gk} x + b_{gk})        && \text{gate of task } k \\
    f^k(x)   &= \textstyle\sum_{i=1}^{E} g^k(x)_i\, f_i(x)  && \text{task k's mixture} \\
    \hat y_k &= h^k(f^k(x))                                  && \text{task k's tower}

MMoE has one gate per task; OMoE has a single gate whose mixture feeds every tower.
The experts and the mixtures run on the chosen kernel backend; gates and towers are NumPy.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from ..nn import layers
from .base import MultiTaskModel, glorot_uniform


class MMoE(MultiTaskModel):
    """Multi-gate Mixture-of-Experts.

    Parameters (shapes with D=n_features, U=expert_units, E=n_experts, K=n_tasks,
    T=tower_units, O=out_units):

    - ``expert_kernel`` (D, U, E), ``expert_bias`` (U, E)  -- keras-mmoe's layout
    - ``gate_kernel`` (K, D, E), ``gate_bias`` (K, E)       -- OMoE: K = 1 here
    - ``tower_kernel`` (K, U, T), ``tower_bias`` (K, T), ``output_kernel`` (K, T, O), ``output_bias`` (K, O)

    Initialisation: Glorot-uniform kernels (each expert drawn independently, so experts
    start different), zero biases -- keras' defaults, which keras-mmoe uses.
    """

    one_gate = False

    def __init__(self, n_features, n_tasks=2, n_experts=8, expert_units=16, tower_units=8,
                 out_units=1, seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, tower_units=tower_units,
                         out_units=out_units, seed=seed, backend=backend, dtype=dtype)
        self.n_experts = _checks.positive_int("n_experts", n_experts)
        self.expert_units = _checks.positive_int("expert_units", expert_units)
        D, U, E = self.n_features, self.expert_units, self.n_experts
        n_gates = 1 if self.one_gate else self.n_tasks
        rng, dt = self._rng, self.dtype
        self.params["expert_kernel"] = glorot_uniform(rng, (D, U, E), D, U, dt)
        self.params["expert_bias"] = np.zeros((U, E), dt)
        self.params["gate_kernel"] = glorot_uniform(rng, (n_gates, D, E), D, E, dt)
        self.params["gate_bias"] = np.zeros((n_gates, E), dt)
        self._init_towers(U)

    def _shared_forward(self, X):
        p, kern = self.params, self.kernels
        Xk = kern.to_kernel_array(X)
        # f_i(x) = ReLU(W_i x + b_i), all experts at once
        H = kern.experts_forward(Xk, p["expert_kernel"], p["expert_bias"])          # (B, U, E)
        # g^k(x) = softmax(W_gk x + b_gk), all gates at once
        G, gate_cache = layers.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])  # (K, B, E)
        # f^k(x) = sum_i g^k(x)_i f_i(x)
        F = kern.gate_mix_forward(H, G)                                              # (K, B, U)
        return F, (Xk, H, G, gate_cache)

    def _shared_backward(self, cache, dF):
        Xk, H, G, gate_cache = cache
        p, kern = self.params, self.kernels
        dH, dG = kern.gate_mix_backward(H, G, dF)                       # (B, U, E), (K, B, E)
        _, dgate_kernel, dgate_bias = layers.softmax_gate_backward(dG, gate_cache)
        _, dexpert_kernel, dexpert_bias = kern.experts_backward(
            Xk, p["expert_kernel"], H, dH, need_dX=False)               # X needs no gradient
        return {"expert_kernel": dexpert_kernel, "expert_bias": dexpert_bias,
                "gate_kernel": dgate_kernel, "gate_bias": dgate_bias}

    def gates(self, X):
        """The gate weights g^k(x) for inspection: (K, B, E) (OMoE: (1, B, E)).

        Per-task inputs (a list of K arrays): a list of K arrays (B_k, E), task k's gate on X[k].
        """
        X = self._check_X(X)
        if isinstance(X, list):
            return [self.gates(x)[0 if self.one_gate else k] for k, x in enumerate(X)]
        return layers.softmax_gate_forward(X, self.params["gate_kernel"], self.params["gate_bias"])[0]


class OMoE(MMoE):
    """One-gate Mixture-of-Experts: the same experts, a single gate shared by all towers.

    Same arguments and parameter names as :class:`MMoE`; ``gate_kernel`` is (1, D, E).
    """

    one_gate = True
