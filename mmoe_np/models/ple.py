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

Every expert group runs through the experts kernel, and every gate mixture through the
gate-mix kernel: a group's output ``H`` (B, U, m) is mixed once by all the gates that may
read it (task k's experts: gate k and the shared gate; the shared experts: every gate).
So CGC/PLE run on the same three backends as MMoE, with the same kernels.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from ..nn import layers
from .base import MultiTaskModel, glorot_uniform


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
        K, U, mt, ms = self.n_tasks, self.expert_units, self.n_task_experts, self.n_shared_experts
        rng, dt = self._rng, self.dtype
        for level in range(1, self.n_levels + 1):
            D = self.n_features if level == 1 else U
            p = self._level_names(level)
            self.params[p["task_expert_kernel"]] = glorot_uniform(rng, (K, D, U, mt), D, U, dt)
            self.params[p["task_expert_bias"]] = np.zeros((K, U, mt), dt)
            self.params[p["shared_expert_kernel"]] = glorot_uniform(rng, (D, U, ms), D, U, dt)
            self.params[p["shared_expert_bias"]] = np.zeros((U, ms), dt)
            self.params[p["task_gate_kernel"]] = glorot_uniform(rng, (K, D, mt + ms), D, mt + ms, dt)
            self.params[p["task_gate_bias"]] = np.zeros((K, mt + ms), dt)
            if level < self.n_levels:
                E = K * mt + ms
                self.params[p["shared_gate_kernel"]] = glorot_uniform(rng, (1, D, E), D, E, dt)
                self.params[p["shared_gate_bias"]] = np.zeros((1, E), dt)
        self._init_towers(U)

    @staticmethod
    def _level_names(level):
        names = ("task_expert_kernel", "task_expert_bias", "shared_expert_kernel", "shared_expert_bias",
                 "task_gate_kernel", "task_gate_bias", "shared_gate_kernel", "shared_gate_bias")
        return {n: f"l{level}_{n}" for n in names}

    # ------------------------------------------------------------------ forward
    def _shared_forward(self, X):
        kern = self.kernels
        Xk = kern.to_kernel_array(X)
        task_in, shared_in = [Xk] * self.n_tasks, Xk         # level 1: every group reads x
        gate_task_in, gate_shared_in = X, X                   # the gates read NumPy arrays
        caches = []
        for level in range(1, self.n_levels + 1):
            task_out, shared_out, cache = self._level_forward(level, task_in, shared_in,
                                                              gate_task_in, gate_shared_in)
            caches.append(cache)
            if level < self.n_levels:
                gate_task_in, gate_shared_in = task_out, shared_out      # (K, B, U), (B, U)
                task_in = [kern.to_kernel_array(t) for t in task_out]
                shared_in = kern.to_kernel_array(shared_out)
        return task_out, caches                                          # (K, B, U)

    def _level_forward(self, level, task_in, shared_in, gate_task_in, gate_shared_in):
        """One extraction level. Returns task outputs (K, B, U), shared output (B, U) or None, cache."""
        p, kern, n = self.params, self.kernels, self._level_names(level)
        K = self.n_tasks
        top = level == self.n_levels
        # the experts: E_k(t_k) for each task's group, E_s(s) for the shared group
        H_task = [kern.experts_forward(task_in[k], p[n["task_expert_kernel"]][k], p[n["task_expert_bias"]][k])
                  for k in range(K)]                                          # K x (B, U, m_t)
        H_shared = kern.experts_forward(shared_in, p[n["shared_expert_kernel"]], p[n["shared_expert_bias"]])
        # the gates: g^k(t_k) over [own, shared]; g^s(s) over [all task groups, shared]
        G_task, task_gate_cache = layers.softmax_gate_forward(
            gate_task_in, p[n["task_gate_kernel"]], p[n["task_gate_bias"]])   # (K, B, m_t + m_s)
        G_shared, shared_gate_cache = (None, None) if top else layers.softmax_gate_forward(
            gate_shared_in, p[n["shared_gate_kernel"]], p[n["shared_gate_bias"]])  # (1, B, K m_t + m_s)
        # the mixtures: each group is mixed once, by every gate that may read it
        readers_task = [self._readers_of_task_group(k, G_task, G_shared) for k in range(K)]  # (R, B, m_t)
        readers_shared = self._readers_of_shared_group(G_task, G_shared)                    # (K or K+1, B, m_s)
        mixed_task = [kern.gate_mix_forward(H_task[k], readers_task[k]) for k in range(K)]  # K x (R, B, U)
        mixed_shared = kern.gate_mix_forward(H_shared, readers_shared)                      # (K [+1], B, U)
        # t_k' = sum over own experts + sum over shared experts
        task_out = np.stack([mixed_task[k][0] for k in range(K)]) + mixed_shared[:K]      # (K, B, U)
        shared_out = None if top else sum(m[1] for m in mixed_task) + mixed_shared[K]    # (B, U)
        cache = (task_in, shared_in, H_task, H_shared, readers_task, readers_shared,
                 task_gate_cache, shared_gate_cache)
        return task_out, shared_out, cache

    def _readers_of_task_group(self, k, G_task, G_shared):
        """Weights on task k's experts: gate k's first m_t, and the shared gate's k-th block."""
        mt = self.n_task_experts
        parts = [G_task[k, :, :mt]]
        if G_shared is not None:
            parts.append(G_shared[0, :, k * mt:(k + 1) * mt])
        return np.stack(parts)                                             # (1 or 2, B, m_t)

    def _readers_of_shared_group(self, G_task, G_shared):
        """Weights on the shared experts: every task gate's last m_s, and the shared gate's."""
        mt, K = self.n_task_experts, self.n_tasks
        parts = G_task[:, :, mt:]
        if G_shared is not None:
            parts = np.concatenate([parts, G_shared[:, :, K * mt:]])
        return np.ascontiguousarray(parts)                                 # (K or K+1, B, m_s)

    # ----------------------------------------------------------------- backward
    def _shared_backward(self, caches, dF):
        grads = {}
        d_task, d_shared = dF, None                                        # (K, B, U), top has no shared out
        for level in range(self.n_levels, 0, -1):
            d_task, d_shared = self._level_backward(level, caches[level - 1], d_task, d_shared, grads)
        return grads

    def _level_backward(self, level, cache, d_task_out, d_shared_out, grads):
        """Backward of one level; fills ``grads`` and returns d(task inputs) (K, B, D_l), d(shared input)."""
        (task_in, shared_in, H_task, H_shared, readers_task, readers_shared,
         task_gate_cache, shared_gate_cache) = cache
        p, kern, n = self.params, self.kernels, self._level_names(level)
        K, mt, ms = self.n_tasks, self.n_task_experts, self.n_shared_experts
        top, first = level == self.n_levels, level == 1
        B = d_task_out.shape[1]
        dG_task = np.empty((K, B, mt + ms), self.dtype)
        dG_shared = None if top else np.empty((1, B, K * mt + ms), self.dtype)

        # the mixtures: each group's readers get their gradients back
        dH_task = []
        for k in range(K):
            d_read = d_task_out[k][None] if top else np.stack([d_task_out[k], d_shared_out])  # (R, B, U)
            dH, dG = kern.gate_mix_backward(H_task[k], readers_task[k], d_read)
            dH_task.append(dH)
            dG_task[k, :, :mt] = dG[0]
            if not top:
                dG_shared[0, :, k * mt:(k + 1) * mt] = dG[1]
        d_read = d_task_out if top else np.concatenate([d_task_out, d_shared_out[None]])
        dH_shared, dG = kern.gate_mix_backward(H_shared, readers_shared, d_read)
        dG_task[:, :, mt:] = dG[:K]
        if not top:
            dG_shared[0, :, K * mt:] = dG[K]

        # the gates
        dX_task_gate, grads[n["task_gate_kernel"]], grads[n["task_gate_bias"]] = layers.softmax_gate_backward(
            dG_task, task_gate_cache, need_dX=not first)
        if not top:
            dX_shared_gate, grads[n["shared_gate_kernel"]], grads[n["shared_gate_bias"]] = \
                layers.softmax_gate_backward(dG_shared, shared_gate_cache, need_dX=not first)

        # the experts
        W_task = p[n["task_expert_kernel"]]
        dW_task, db_task, d_task_in = np.empty_like(W_task), np.empty_like(p[n["task_expert_bias"]]), []
        for k in range(K):
            dX, dW_task[k], db_task[k] = kern.experts_backward(task_in[k], W_task[k], H_task[k], dH_task[k],
                                                               need_dX=not first)
            d_task_in.append(dX)
        grads[n["task_expert_kernel"]], grads[n["task_expert_bias"]] = dW_task, db_task
        dX_shared, grads[n["shared_expert_kernel"]], grads[n["shared_expert_bias"]] = kern.experts_backward(
            shared_in, p[n["shared_expert_kernel"]], H_shared, dH_shared, need_dX=not first)
        if first:                                                          # x needs no gradient
            return None, None
        d_task_in = np.stack(d_task_in) + dX_task_gate                     # (K, B, D_l)
        d_shared_in = dX_shared + (dX_shared_gate if not top else 0)       # (B, D_l)
        return d_task_in, d_shared_in

    # --------------------------------------------------------------- inspection
    def gates(self, X):
        """Every level's gate weights, for inspection: a list (one per level) of
        ``{"task": (K, B, m_t + m_s), "shared": (1, B, K m_t + m_s) or None}``."""
        X = self._check_X(X)
        if isinstance(X, list):
            raise ValueError("PLE.gates takes one input array (B, n_features); call it per task for per-task inputs")
        _, caches = self._shared_forward(X)
        return [{"task": c[6][1], "shared": None if c[7] is None else c[7][1]} for c in caches]


class CGC(PLE):
    """Customized Gate Control: a single PLE extraction level (no shared gate).

    Same arguments as :class:`PLE` without ``n_levels``; parameters are named ``l1_...``.
    """

    def __init__(self, n_features, n_tasks=2, n_task_experts=2, n_shared_experts=2, expert_units=16,
                 tower_units=8, out_units=1, seed=0, backend="numpy", dtype=np.float64):
        super().__init__(n_features=n_features, n_tasks=n_tasks, n_task_experts=n_task_experts,
                         n_shared_experts=n_shared_experts, expert_units=expert_units, n_levels=1,
                         tower_units=tower_units, out_units=out_units, seed=seed, backend=backend, dtype=dtype)
