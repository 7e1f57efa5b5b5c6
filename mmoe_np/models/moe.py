r"""One-gate MoE (OMoE) and Multi-gate MoE (MMoE), Ma et al. KDD 2018, §4.

.. math::

    f_i(x)   &= \mathrm{ReLU}(W_i x + b_i)                 && \text{expert } i = 1..E \\
    g^k(x)   &= \mathrm{softmax}(W_{gk} x + b_{gk})        && \text{gate of task } k \\
    f^k(x)   &= \textstyle\sum_{i=1}^{E} g^k(x)_i\, f_i(x)  && \text{task k's mixture} \\
    \hat y_k &= h^k(f^k(x))                                  && \text{task k's tower}

MMoE has one gate per task; OMoE has a single gate whose mixture feeds every tower.
Everything runs on the chosen kernel backend (``self.kernels``); its NumPy version is
:mod:`mmoe_np.kernels.reference`, which composes the layers of :mod:`mmoe_np.nn.layers`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks
from ..params import dense_block
from .base import MultiTaskModel, glorot_uniform


class MoECache(NamedTuple):
    H: object              # the experts' outputs (B, U, E)
    G: np.ndarray          # the gates (K, B, E)
    first_layer: object    # the backend's cache of the experts-and-gates product


class MMoE(MultiTaskModel):
    """Multi-gate Mixture-of-Experts.

    Parameters (shapes with D=n_features, U=expert_units, E=n_experts, K=n_tasks,
    T=tower_units, O=out_units):

    - ``expert_kernel`` (D, U, E), ``expert_bias`` (U, E)  -- keras-mmoe's layout
    - ``gate_kernel`` (K, D, E), ``gate_bias`` (K, E)       -- OMoE: K = 1 here
    - ``tower_kernel`` (K, U, T), ``tower_bias`` (K, T), ``output_kernel`` (K, T, O), ``output_bias`` (K, O)

    Initialisation: Glorot-uniform kernels (each expert drawn independently, so experts
    start different), zero biases -- keras' defaults, which keras-mmoe uses.
    ``seed``: one seed, or a sequence of seeds for that many independent runs (see
    :class:`~mmoe_np.models.base.MultiTaskModel`).
    """

    one_gate = False

    def __init__(self, n_features, n_tasks=2, n_experts=8, expert_units=16, tower_units=8,
                 out_units=1, seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, tower_units=tower_units,
                         out_units=out_units, seed=seed, backend=backend, dtype=dtype)
        self.n_experts = _checks.positive_int("n_experts", n_experts)
        self.expert_units = _checks.positive_int("expert_units", expert_units)
        self.n_gates = 1 if self.one_gate else self.n_tasks
        self.tower_input_units = self.expert_units
        self._build()

    def parameter_layout(self):
        # experts and gates both multiply x: stored as one matrix [W_experts | W_gates; biases]
        D, U, E, K = self.n_features, self.expert_units, self.n_experts, self.n_gates
        return [dense_block(D, [("expert_kernel", (D, U, E), 0, "expert_bias", (U, E)),
                                ("gate_kernel", (K, D, E), 1, "gate_bias", (K, E))])]

    def initialise(self, p, rng):
        D, U, E, K = self.n_features, self.expert_units, self.n_experts, self.n_gates
        p["expert_kernel"] = glorot_uniform(rng, (D, U, E), D, U, self.dtype)
        p["gate_kernel"] = glorot_uniform(rng, (K, D, E), D, E, self.dtype)

    def shared_forward(self, X):
        p, kern = self.params, self.kernels
        # f_i(x) = ReLU(W_i x + b_i), all experts at once                              H: (B, U, E)
        # g^k(x) = softmax(W_gk x + b_gk), all gates at once                           G: (K, B, E)
        # (both are products with x: a fast backend computes them as one)
        H, G, first_layer = kern.experts_and_gates_forward(
            X, p["expert_kernel"], p["expert_bias"], p["gate_kernel"], p["gate_bias"])
        # f^k(x) = sum_i g^k(x)_i f_i(x)
        F = kern.gate_mix_forward(H, G)                                              # (K, B, U)
        return F, MoECache(H, G, first_layer)

    def shared_backward(self, cache, dF, grads):
        kern = self.kernels
        # dH[b,u,e] = sum_k dF[k,b,u] g^k(x)_e: this is where the tasks meet -- every task's gradient
        # reaches the shared experts, weighted by how much its own gate uses each expert.
        # dG[k,b,e] = sum_u dF[k,b,u] H[b,u,e]: gate k learns from task k alone.
        dH, dG = kern.gate_mix_backward(cache.H, cache.G, dF)                        # (B, U, E), (K, B, E)
        kern.experts_and_gates_backward(cache.first_layer, dH, dG, out=(
            grads["expert_kernel"], grads["expert_bias"], grads["gate_kernel"], grads["gate_bias"]))

    def gates(self, X):
        """The gate weights g^k(x) for inspection: (K, B, E) (OMoE: (1, B, E)).

        Per-task inputs (a list of K arrays): a list of K arrays (B_k, E), task k's gate on X[k].
        """
        X = self.check_inputs(X)
        if isinstance(X, list):
            return [self.gates(x)[..., 0 if self.one_gate else k, :, :] for k, x in enumerate(X)]
        p = self.params
        return np.asarray(self.kernels.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])[0])


class OMoE(MMoE):
    """One-gate Mixture-of-Experts: the same experts, a single gate shared by all towers.

    Same arguments and parameter names as :class:`MMoE`; ``gate_kernel`` is (1, D, E).
    """

    one_gate = True
