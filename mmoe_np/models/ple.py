r"""Customized Gate Control (CGC) and Progressive Layered Extraction (PLE), Tang et al.,
"Progressive Layered Extraction (PLE)", RecSys 2020 -- what came after MMoE.

MMoE lets every task's gate mix *all* experts. CGC gives each task experts of its own and
keeps a group of shared experts; task k's gate chooses only among its own and the shared
ones. PLE stacks CGC "extraction levels"; below the top, a shared gate also mixes *every*
expert into a shared representation that feeds the next level's shared experts.

At level l (inputs: task k's representation :math:`t_k` and the shared one :math:`s`;
at level 1 both are x), with :math:`E_k` task k's experts and :math:`E_s` the shared ones:

.. math::

    S_k(t_k)   &= [E_{k,1}(t_k) \dots E_{k,m_t}(t_k),\; E_{s,1}(s) \dots E_{s,m_s}(s)]
                 && \text{experts task k may use} \\
    g^k(t_k)   &= \mathrm{softmax}(W_{gk}\, t_k + b_{gk})  \in \mathbb{R}^{m_t + m_s}
                 && \text{task k's gate} \\
    t_k'       &= \textstyle\sum_i g^k(t_k)_i\, S_k(t_k)_i  && \text{task k's output} \\
    s'         &= \textstyle\sum_i g^s(s)_i\, [E_1 \dots E_K, E_s]_i
                 && \text{shared gate over all experts (not at the top level)}

and the towers read the top level's :math:`t_k'`. CGC is PLE with one level.

Every expert group runs through the experts kernel and every mixture through the gate-mix
kernel, with the K tasks on a leading axis: all K task groups are **one** experts call
(their kernels are (K, D, U, m_t)), and a group's output is mixed once by all the gates
that may read it (task k's experts: gate k and the shared gate; the shared experts: every
gate). So CGC/PLE run on the same three backends as MMoE, with the same kernels, and
support runs the same way (leading axes before K).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks
from .base import MultiTaskModel, glorot_uniform


class LevelCache(NamedTuple):
    """One extraction level's forward pass, for its backward."""

    task_in: np.ndarray        # (K or 1, B, D_l): each task's input (level 1: x for all)
    shared_in: np.ndarray      # (B, D_l)
    H_task: object             # (K, B, U, m_t): every task's experts
    H_shared: object           # (B, U, m_s)
    readers_task: np.ndarray   # (K, n_readers, B, m_t): the 1 or 2 gates reading task k's experts
    readers_shared: np.ndarray  # (K [+1], B, m_s): the gates reading the shared experts
    task_gates: object         # cache of the task gates
    shared_gate: object        # cache of the shared gate (None at the top level)


class PLE(MultiTaskModel):
    """Progressive Layered Extraction: ``n_levels`` stacked CGC extraction levels.

    Parameters (per level l = 1..L, D_1 = n_features, D_l = U above; m_t =
    n_task_experts, m_s = n_shared_experts, U = expert_units, K = n_tasks):

    - ``l{l}_task_expert_kernel`` (K, D_l, U, m_t), ``l{l}_task_expert_bias`` (K, U, m_t)
    - ``l{l}_shared_expert_kernel`` (D_l, U, m_s), ``l{l}_shared_expert_bias`` (U, m_s)
    - ``l{l}_task_gate_kernel`` (K, D_l, m_t + m_s), ``l{l}_task_gate_bias`` (K, m_t + m_s);
      gate k's outputs are weights for [task k's experts, shared experts]
    - below the top level only: ``l{l}_shared_gate_kernel`` (1, D_l, K m_t + m_s),
      ``l{l}_shared_gate_bias`` (1, K m_t + m_s); weights for [task 1's .. task K's, shared]
    - the towers, as in :class:`~mmoe_np.models.moe.MMoE`.

    Initialisation as MMoE: Glorot-uniform kernels, each expert drawn independently, zero biases.
    """

    def __init__(self, n_features, n_tasks=2, n_task_experts=2, n_shared_experts=2, expert_units=16,
                 n_levels=2, tower_units=8, out_units=1, seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, tower_units=tower_units,
                         out_units=out_units, seed=seed, backend=backend, dtype=dtype)
        self.n_task_experts = _checks.positive_int("n_task_experts", n_task_experts)
        self.n_shared_experts = _checks.positive_int("n_shared_experts", n_shared_experts)
        self.expert_units = _checks.positive_int("expert_units", expert_units)
        self.n_levels = _checks.positive_int("n_levels", n_levels)
        self.tower_input_units = self.expert_units
        self._build()

    @staticmethod
    def _names(level):
        names = ("task_expert_kernel", "task_expert_bias", "shared_expert_kernel", "shared_expert_bias",
                 "task_gate_kernel", "task_gate_bias", "shared_gate_kernel", "shared_gate_bias")
        return {n: f"l{level}_{n}" for n in names}

    def _level_sizes(self, level):
        return self.n_features if level == 1 else self.expert_units

    def parameter_layout(self):
        K, U, mt, ms = self.n_tasks, self.expert_units, self.n_task_experts, self.n_shared_experts
        items = []
        for level in range(1, self.n_levels + 1):
            D, n = self._level_sizes(level), self._names(level)
            items += [(n["task_expert_kernel"], (K, D, U, mt)), (n["task_expert_bias"], (K, U, mt)),
                      (n["shared_expert_kernel"], (D, U, ms)), (n["shared_expert_bias"], (U, ms)),
                      (n["task_gate_kernel"], (K, D, mt + ms)), (n["task_gate_bias"], (K, mt + ms))]
            if level < self.n_levels:
                E = K * mt + ms
                items += [(n["shared_gate_kernel"], (1, D, E)), (n["shared_gate_bias"], (1, E))]
        return items

    def initialise(self, p, rng):
        K, U, mt, ms, dt = self.n_tasks, self.expert_units, self.n_task_experts, self.n_shared_experts, self.dtype
        for level in range(1, self.n_levels + 1):
            D, n = self._level_sizes(level), self._names(level)
            p[n["task_expert_kernel"]] = glorot_uniform(rng, (K, D, U, mt), D, U, dt)
            p[n["shared_expert_kernel"]] = glorot_uniform(rng, (D, U, ms), D, U, dt)
            p[n["task_gate_kernel"]] = glorot_uniform(rng, (K, D, mt + ms), D, mt + ms, dt)
            if level < self.n_levels:
                E = K * mt + ms
                p[n["shared_gate_kernel"]] = glorot_uniform(rng, (1, D, E), D, E, dt)

    # ------------------------------------------------------------------ forward
    def shared_forward(self, X):
        task_in, shared_in = X[..., None, :, :], X            # level 1: every group reads x
        caches = []
        for level in range(1, self.n_levels + 1):
            task_in, shared_in, cache = self._level_forward(level, task_in, shared_in)
            caches.append(cache)
        return task_in, caches                                # the top level's task outputs (K, B, U)

    def _task_gates(self, task_in, kernel, bias):
        """g^k(t_k) for every task at once: task k's gate reads task k's input (K on a leading axis)."""
        G, cache = self.kernels.softmax_gate_forward(task_in, kernel[..., None, :, :], bias[..., None, :])
        return G[..., 0, :, :], cache                         # (K, B, m_t + m_s)

    def _level_forward(self, level, task_in, shared_in):
        """One extraction level. Returns task outputs (K, B, U), shared output (B, U) or None, cache."""
        p, kern, n = self.params, self.kernels, self._names(level)
        K, mt = self.n_tasks, self.n_task_experts
        top = level == self.n_levels
        # the experts: E_k(t_k) for every task's group (one call), E_s(s) for the shared group
        H_task = kern.experts_forward(task_in, p[n["task_expert_kernel"]], p[n["task_expert_bias"]])  # (K, B, U, m_t)
        H_shared = kern.experts_forward(shared_in, p[n["shared_expert_kernel"]], p[n["shared_expert_bias"]])
        # the gates: g^k(t_k) over [own, shared]; g^s(s) over [all task groups, shared]
        G_task, task_gates = self._task_gates(task_in, p[n["task_gate_kernel"]], p[n["task_gate_bias"]])
        G_shared, shared_gate = (None, None) if top else kern.softmax_gate_forward(
            shared_in, p[n["shared_gate_kernel"]], p[n["shared_gate_bias"]])         # (1, B, K m_t + m_s)
        # the mixtures: each group is mixed once, by every gate that may read it
        readers_task = G_task[..., :, None, :, :mt]                                 # gate k: (K, 1, B, m_t)
        readers_shared = G_task[..., :, :, mt:]                                     # every task gate: (K, B, m_s)
        if not top:                           # the shared gate reads every group too
            by_task = np.swapaxes(G_shared[..., 0, :, :K * mt].reshape(G_shared.shape[:-3] + (-1, K, mt)), -3, -2)
            readers_task = np.concatenate([readers_task, by_task[..., :, None, :, :]], axis=-3)   # (K, 2, B, m_t)
            readers_shared = np.concatenate([readers_shared, G_shared[..., :, :, K * mt:]], axis=-3)  # (K+1, B, m_s)
        mixed_task = kern.gate_mix_forward(H_task, readers_task)                    # (K, 1 or 2, B, U)
        mixed_shared = kern.gate_mix_forward(H_shared, readers_shared)              # (K [+1], B, U)
        # t_k' = sum over own experts + sum over shared experts
        task_out = mixed_task[..., :, 0, :, :] + mixed_shared[..., :K, :, :]        # (K, B, U)
        shared_out = None if top else mixed_task[..., :, 1, :, :].sum(axis=-3) + mixed_shared[..., K, :, :]
        cache = LevelCache(task_in, shared_in, H_task, H_shared, readers_task, readers_shared, task_gates,
                           shared_gate)
        return task_out, shared_out, cache

    # ----------------------------------------------------------------- backward
    def shared_backward(self, caches, dF, grads):
        d_task, d_shared = dF, None                                # (K, B, U); the top has no shared output
        for level in range(self.n_levels, 0, -1):
            d_task, d_shared = self._level_backward(level, caches[level - 1], d_task, d_shared, grads)

    def _level_backward(self, level, c, d_task_out, d_shared_out, grads):
        """Backward of one level; fills ``grads`` and returns d(task inputs) (K, B, D_l), d(shared input)."""
        p, kern, n = self.params, self.kernels, self._names(level)
        K, mt = self.n_tasks, self.n_task_experts
        top, first = level == self.n_levels, level == 1
        # the mixtures: each group's readers get their gradients back
        d_mixed_task = d_task_out[..., :, None, :, :]                              # (K, 1, B, U)
        d_mixed_shared = d_task_out
        if not top:
            shared = np.broadcast_to(d_shared_out[..., None, None, :, :], d_mixed_task.shape)
            d_mixed_task = np.concatenate([d_mixed_task, shared], axis=-3)          # (K, 2, B, U)
            d_mixed_shared = np.concatenate([d_task_out, d_shared_out[..., None, :, :]], axis=-3)
        dH_task, d_readers_task = kern.gate_mix_backward(c.H_task, c.readers_task, d_mixed_task)
        dH_shared, d_readers_shared = kern.gate_mix_backward(c.H_shared, c.readers_shared, d_mixed_shared)
        dG_task, dG_shared = _gate_layout(d_readers_task, d_readers_shared, K, mt, top)

        # the gates
        dX_task_gate, (dW, db) = kern.softmax_gate_backward(
            dG_task[..., None, :, :], c.task_gates, need_dX=not first)
        grads[n["task_gate_kernel"]], grads[n["task_gate_bias"]] = dW[..., 0, :, :], db[..., 0, :]
        dX_shared_gate = 0
        if not top:
            dX_shared_gate, _ = kern.softmax_gate_backward(dG_shared, c.shared_gate, need_dX=not first, out=(
                grads[n["shared_gate_kernel"]], grads[n["shared_gate_bias"]]))

        # the experts
        d_task_in, grads[n["task_expert_kernel"]], grads[n["task_expert_bias"]] = kern.experts_backward(
            c.task_in, p[n["task_expert_kernel"]], c.H_task, dH_task, need_dX=not first)
        d_shared_in, grads[n["shared_expert_kernel"]], grads[n["shared_expert_bias"]] = kern.experts_backward(
            c.shared_in, p[n["shared_expert_kernel"]], c.H_shared, dH_shared, need_dX=not first)
        if first:                                                        # x needs no gradient
            return None, None
        return d_task_in + dX_task_gate, d_shared_in + dX_shared_gate   # (K, B, D_l), (B, D_l)

    # --------------------------------------------------------------- inspection
    def gates(self, X):
        """Every level's gate weights, for inspection: a list (one per level) of
        ``{"task": (K, B, m_t + m_s), "shared": (1, B, K m_t + m_s) or None}``."""
        X = self.check_inputs(X)
        if isinstance(X, list):
            raise ValueError("PLE.gates takes one input array (B, n_features); call it per task for per-task inputs")
        _, caches = self.shared_forward(X)
        out = []
        for c in caches:
            task, shared = _gate_layout(c.readers_task, c.readers_shared, self.n_tasks, self.n_task_experts,
                                        top=c.shared_gate is None)
            out.append({"task": task, "shared": shared})
        return out


def _gate_layout(readers_task, readers_shared, K, mt, top):
    """The gates' view of the mixing weights (or of their gradients), from the readers' view.

    readers_task (..., K, 2, B, m_t): row 0 task k's gate on its own experts, row 1 the shared
    gate on them; readers_shared (..., K + 1, B, m_s): the K task gates and the shared gate on
    the shared experts. Returns task (..., K, B, m_t + m_s) and shared (..., 1, B, K m_t + m_s),
    or None at the top level.
    """
    task = np.concatenate([readers_task[..., :, 0, :, :], readers_shared[..., :K, :, :]], axis=-1)
    if top:
        return task, None
    by_task = np.swapaxes(readers_task[..., :, 1, :, :], -3, -2)                  # (B, K, m_t)
    shared = np.concatenate([by_task.reshape(by_task.shape[:-2] + (K * mt,)),
                             readers_shared[..., K, :, :]], axis=-1)[..., None, :, :]
    return task, shared


class CGC(PLE):
    """Customized Gate Control: a single PLE extraction level (no shared gate).

    Same arguments as :class:`PLE` without ``n_levels``; parameters are named ``l1_...``.
    """

    def __init__(self, n_features, n_tasks=2, n_task_experts=2, n_shared_experts=2, expert_units=16,
                 tower_units=8, out_units=1, seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, n_task_experts=n_task_experts,
                         n_shared_experts=n_shared_experts, expert_units=expert_units, n_levels=1,
                         tower_units=tower_units, out_units=out_units, seed=seed, backend=backend, dtype=dtype)
