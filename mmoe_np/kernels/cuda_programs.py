r"""The models' forward and backward passes as kernel launches on device buffers: what the
device-resident training step (:mod:`.cuda_train`) runs.

The readable models (:mod:`mmoe_np.models`) stay the oracle; a *program* computes the same numbers
with the CUDA kernels, on buffers made once per batch size, so a step allocates and copies nothing.
Its one trick is the one a fast backend uses for MMoE (``experts_and_gates_forward``): **an input
times every kernel that reads it, side by side** -- experts and gates in one product ``Z = X W + b``,
then ReLU on the experts' columns and a softmax on each gate's (``relu_columns``,
``softmax_columns``), and backward ``[dW; db] = [X, 1]^T dZ`` (and ``dX = dZ W^T``) in one product too.

=================  ====================================================================
program            per step
=================  ====================================================================
:class:`Block`     MMoE, OMoE: ``Z = X [W_experts | W_gates] + b``; H, G; the gate mixes.
                   Shared-Bottom (and the single-task net): ``Z = X W + b``; H = relu(Z).
:class:`Levels`    CGC and PLE, level by level: level 1 reads x with every kernel at once;
                   above it, each task's input with its experts and gate, the shared input
                   with the shared experts and gate. Each expert group is mixed once by
                   every gate that reads it (the *readers* of ``models/ple.py``).
=================  ====================================================================

Both end in the K towers (:class:`Towers`). The parameters reach a program in the layouts it
reads -- the side-by-side blocks -- and its gradients leave in those layouts: each program lists
them as *regions*, integer arrays of positions in the flat (R, P) parameter buffer, built with
NumPy from a :class:`~mmoe_np.params.Params` of positions (the same views the models use), so the
layouts are written once, as array expressions. ``Levels`` lays its gates out for the mixes the
same way: positions, computed on the host once per batch size.

Shapes below: R runs (the model's run axes flattened), B rows, K tasks, D inputs.
"""
from __future__ import annotations

from math import prod

import numpy as np
from numba import cuda

from . import cuda as device
from .cuda_device import batch_splits


class Buffers:
    """Named device arrays for one batch size, made once (``add``) and read as attributes."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def add(self, name, shape, dtype=None):
        setattr(self, name, cuda.device_array(tuple(int(s) for s in shape), dtype=dtype or self.dtype))
        return getattr(self, name)


# ------------------------------------------------------------------------------------ launches
def cells(name, dtype, n, *args):
    device.launch_cells(name, dtype, n, *args)


class Dense:
    """An input (R', B, I) times N columns of kernels side by side, (R', I, N) and (R', N): its product,
    its weight gradient ``[dW; db]`` (R', I + 1, N) -- split over the batch where that pays, the same
    split every time -- and its input gradient."""

    def __init__(self, runs, n_in, n_out):
        self.runs, self.n_in, self.n_out = runs, n_in, n_out

    def bind(self, buffers, name, B):
        """Make this product's buffers for batch B: Z and dZ (R', B, N), and the split's partial sums."""
        self.Z = buffers.add(f"{name}_Z", (self.runs, B, self.n_out))
        self.dZ = buffers.add(f"{name}_dZ", (self.runs, B, self.n_out))
        self.splits, self.chunk = batch_splits(self.runs, self.n_in + 1, self.n_out, B, device._sizes.tile)
        self.partial = (buffers.add(f"{name}_partial", (self.runs * self.splits, self.n_in + 1, self.n_out))
                        if self.splits > 1 else None)
        return self

    def forward(self, X, W, b):
        device.launch_product("linear", self.Z.dtype, X, W, b, self.Z, K=self.n_in)

    def weight_grads(self, X, out):
        """``[dW; db] = [X, 1]^T dZ`` into ``out`` (R', I + 1, N)."""
        dtype, B = self.Z.dtype, self.Z.shape[1]
        if self.partial is None:
            device.launch_product("grads_linear", dtype, X, self.dZ, self.dZ, out, K=B, splits=1, chunk=self.chunk)
            return
        device.launch_product("grads_linear", dtype, X, self.dZ, self.dZ, self.partial, K=B, splits=self.splits,
                              chunk=self.chunk)
        M = (self.n_in + 1) * self.n_out
        cells("sum_splits", dtype, self.runs * M, self.partial.reshape(self.runs, self.splits, M),
              out.reshape(self.runs, M))

    def input_grads(self, W, dX):
        """``dX = dZ W^T`` (R', B, I)."""
        device.launch_product("dX_linear", self.Z.dtype, self.dZ, self.dZ, W, dX, K=self.n_out)


def _relu(Z, col0, stride, H):
    cells("relu_columns", H.dtype, H.size, Z, col0, stride, H)


def _relu_backward(H, dH, col0, stride, dZ):
    cells("relu_columns_backward", H.dtype, H.size, H, dH, col0, stride, dZ)


def _softmax(Z, col0, stride, G):
    cells("softmax_columns", G.dtype, prod(G.shape[:3]), Z, col0, stride, G)


def _softmax_backward(G, dG, col0, stride, dZ):
    cells("softmax_columns_backward", G.dtype, prod(G.shape[:3]), G, dG, col0, stride, dZ)


def _mix(H, G, F):
    cells("mix_forward", F.dtype, F.size, H, G, F)


def _mix_backward(H, G, dF, dH, dG):
    cells("mix_backward_dH", dH.dtype, dH.size, G, dF, dH)
    cells("mix_backward_dG", dG.dtype, dG.size, H, dF, dG)


def side_by_side(kernels, biases):
    """Kernels (..., I, n_i) and biases (..., n_i), as positions: ``(W, b, [W; b])`` -- (..., I, N),
    (..., N) and the gradient's layout (..., I + 1, N)."""
    W, b = np.concatenate(kernels, axis=-1), np.concatenate(biases, axis=-1)
    return W, b, np.concatenate([W, b[..., None, :]], axis=-2)


def _flat(a, first):
    """Positions (R, *rest) with the first ``first`` axes of ``rest`` folded into the runs."""
    return a.reshape((-1,) + a.shape[1 + first:])


# -------------------------------------------------------------------------------------- towers
class Towers:
    """The K towers, ``OUT_k = W_o relu(W_t F_k + b_t) + b_o``, and their backward.

    F (R, Kf, B, U): one group per tower, or one group read by every tower (Kf = 1).
    """

    NAMES = ("tower_kernel", "tower_bias", "output_kernel", "output_bias")

    def __init__(self, model, where):
        self.K, self.T, self.O = model.n_tasks, model.tower_units, model.out_units
        self.regions = {name: where[name] for name in self.NAMES}

    def bind(self, buffers, R, B, Kf, U):
        K, T, O = self.K, self.T, self.O
        for name, shape in (("A", (R, K, B, T)), ("OUT", (R, K, B, O)), ("TERMS", (R, K, B, O)),
                            ("dOUT", (R, K, B, O)), ("dZt", (R, K, B, T)), ("dF", (R, Kf, B, U))):
            buffers.add(name, shape)

    def forward(self, buf, p, F):
        dtype = F.dtype
        cells("tower_hidden", dtype, buf.A.size, F, p["tower_kernel"], p["tower_bias"], buf.A)
        cells("tower_output", dtype, buf.OUT.size, buf.A, p["output_kernel"], p["output_bias"], buf.OUT)

    def backward(self, buf, p, g, F):
        """The towers' gradients into ``g``; returns dF (R, Kf, B, U)."""
        dtype, (R, K, T, O) = F.dtype, g["output_kernel"].shape
        cells("tower_output_backward", dtype, R * K * (T + 1) * O, buf.A, buf.dOUT, g["output_kernel"],
              g["output_bias"])
        cells("tower_hidden_delta", dtype, buf.dZt.size, buf.A, buf.dOUT, p["output_kernel"], buf.dZt)
        U = g["tower_kernel"].shape[2]
        cells("tower_hidden_backward", dtype, R * K * (U + 1) * T, F, buf.dZt, g["tower_kernel"], g["tower_bias"])
        cells("tower_input_grad", dtype, buf.dF.size, buf.dZt, p["tower_kernel"], buf.dF)
        return buf.dF


# ----------------------------------------------------------------------------- MMoE, Shared-Bottom
class Block:
    """MMoE and OMoE (experts and gates side by side), Shared-Bottom and the single-task net (the bottom).

    ``params`` and ``grads``: the regions (positions in the flat buffer) of the parameters in the
    layouts this program reads and writes.
    """

    def __init__(self, model, where):
        self.towers = Towers(model, where)
        self.R, self.D = where.flat.shape[0], model.n_features
        self.mixed = hasattr(model, "n_experts")
        if self.mixed:
            self.U, self.E, self.n_gates = model.expert_units, model.n_experts, model.n_gates
            self.n_relu = self.U * self.E
            kernel, gates = where["expert_kernel"], np.swapaxes(where["gate_kernel"], -3, -2)   # (R, D, K, E)
            W, b, Wb = side_by_side([kernel.reshape(self.R, self.D, -1), gates.reshape(self.R, self.D, -1)],
                                    [where["expert_bias"].reshape(self.R, -1), where["gate_bias"].reshape(self.R, -1)])
        else:
            self.U = self.n_relu = model.bottom_units
            W, b, Wb = side_by_side([where["bottom_kernel"]], [where["bottom_bias"]])
        self.N = W.shape[-1]
        self.params = {"W": W, "b": b, **self.towers.regions}
        self.grads = {"Wb": Wb, **self.towers.regions}

    def bind(self, buffers, B):
        R, U = self.R, self.U
        buffers.first = Dense(R, self.D, self.N).bind(buffers, "first", B)
        buffers.add("H", (R, 1, B, self.n_relu))                       # (R, B, U, E) for the mixes
        if self.mixed:
            for name, shape in (("G", (R, self.n_gates, B, self.E)), ("F", (R, self.n_gates, B, U)),
                                ("dH", (R, 1, B, self.n_relu)), ("dG", (R, self.n_gates, B, self.E))):
                buffers.add(name, shape)
        self.towers.bind(buffers, R, B, self.n_gates if self.mixed else 1, U)

    def forward(self, buf, p):
        """Every task's prediction into ``buf.OUT`` (R, K, B, O), from ``buf.X`` (R, 1, B, D)."""
        X = buf.X.reshape(self.R, -1, self.D)
        buf.first.forward(X, p["W"], p["b"])                            # Z = X [W_experts | W_gates] + b
        _relu(buf.first.Z, 0, 0, buf.H)                                 # H = relu(Z_experts)
        F = buf.H                                                       # Shared-Bottom: every tower reads H
        if self.mixed:
            _softmax(buf.first.Z, self.n_relu, self.E, buf.G)           # G_k = softmax(Z_gate_k)
            _mix(self._experts(buf.H), buf.G, buf.F)                    # F_k = sum_e G_k[e] H[:, e]
            F = buf.F
        self.towers.forward(buf, p, F)

    def backward(self, buf, p, g):
        """Every gradient into ``g``, from ``buf.dOUT`` (and the forward's buffers)."""
        dense = buf.first
        dF = self.towers.backward(buf, p, g, buf.F if self.mixed else buf.H)
        if self.mixed:
            _mix_backward(self._experts(buf.H), buf.G, dF, self._experts(buf.dH), buf.dG)
            _relu_backward(buf.H, buf.dH, 0, 0, dense.dZ)
            _softmax_backward(buf.G, buf.dG, self.n_relu, self.E, dense.dZ)
        else:
            _relu_backward(buf.H, dF, 0, 0, dense.dZ)
        dense.weight_grads(buf.X.reshape(self.R, -1, self.D), g["Wb"])

    def _experts(self, H):
        return H.reshape(self.R, H.shape[2], self.U, self.E)


# -------------------------------------------------------------------------------------- CGC, PLE
class Levels:
    """CGC and PLE (``models/ple.py``), level by level. Level l's parameters in the layouts it reads:

    - level 1, every kernel of x side by side: ``l1`` = [task experts (K groups of U m_t) | shared experts
      (U m_s) | task gates (K groups of m_t + m_s) | shared gate (K m_t + m_s, not at the top)];
    - above it, ``l{l}_task`` (R K, U, U m_t + m_t + m_s): task k's experts and gate, reading task k's input;
      ``l{l}_shared`` (R, U, U m_s [+ K m_t + m_s]): the shared experts and gate, reading the shared input.
    """

    def __init__(self, model, where):
        self.towers = Towers(model, where)
        self.R, self.K, self.U = where.flat.shape[0], model.n_tasks, model.expert_units
        self.mt, self.ms = model.n_task_experts, model.n_shared_experts
        self.L, self.D = model.n_levels, model.n_features
        self.params, self.grads = dict(self.towers.regions), dict(self.towers.regions)
        for level in range(1, self.L + 1):
            n = model._names(level)
            R, K = self.R, self.K
            top = level == self.L
            task = [where[n["task_expert_kernel"]], where[n["task_gate_kernel"]]]     # (R, K, I, U, m_t), (R, K, I, m)
            task = [t.reshape(t.shape[:3] + (-1,)) for t in task]                       # (R, K, I, n)
            task_b = [where[n["task_expert_bias"]].reshape(R, K, -1), where[n["task_gate_bias"]]]   # (R, K, n)
            shared = [where[n["shared_expert_kernel"]]] + ([] if top else [where[n["shared_gate_kernel"]][:, 0]])
            shared = [s.reshape(s.shape[:2] + (-1,)) for s in shared]                  # (R, I, n)
            shared_b = [where[n["shared_expert_bias"]].reshape(R, -1)]
            shared_b += [] if top else [where[n["shared_gate_bias"]][:, 0]]
            if level == 1:                     # every kernel of x: (R, K, D, n) -> (R, D, K n)
                task = [np.moveaxis(t, 1, 2).reshape(R, self.D, -1) for t in task]
                self._add("l1", *side_by_side([task[0], shared[0], task[1]] + shared[1:],
                                              [task_b[0].reshape(R, -1), shared_b[0], task_b[1].reshape(R, -1)]
                                              + shared_b[1:]))
            else:                              # task k's input, its kernels: (R, K, U, n) -> (R K, U, n)
                self._add(f"l{level}_task", *side_by_side([_flat(t, 1) for t in task], [_flat(t, 1) for t in task_b]))
                self._add(f"l{level}_shared", *side_by_side(shared, shared_b))

    def _add(self, name, W, b, Wb):
        self.params[name + "_W"], self.params[name + "_b"], self.grads[name] = W, b, Wb

    # ------------------------------------------------------------------ layouts for one batch size
    def bind(self, buffers, B):
        R, K, U, mt, ms = self.R, self.K, self.U, self.mt, self.ms
        buffers.levels = []
        for level in range(1, self.L + 1):
            top = level == self.L
            nr, E_s = (1 if top else 2), K * mt + ms
            lv = {"top": top}
            if level == 1:
                lv["x"] = Dense(R, self.D, self.params["l1_W"].shape[-1]).bind(buffers, "l1", B)
            else:
                lv["task"] = Dense(R * K, U, self.params[f"l{level}_task_W"].shape[-1]).bind(buffers, f"l{level}t", B)
                lv["shared"] = Dense(R, U, self.params[f"l{level}_shared_W"].shape[-1]).bind(buffers, f"l{level}s", B)
            a = lambda name, *shape: buffers.add(f"l{level}_{name}", shape)      # noqa: E731
            lv.update(H_task=a("H_task", R, K, B, U * mt), H_shared=a("H_shared", R, 1, B, U * ms),
                      dH_task=a("dH_task", R, K, B, U * mt), dH_shared=a("dH_shared", R, 1, B, U * ms),
                      F_task=a("F_task", R * K, nr, B, U), F_shared=a("F_shared", R, K + nr - 1, B, U),
                      dF_task=a("dF_task", R * K, nr, B, U), dF_shared=a("dF_shared", R, K + nr - 1, B, U),
                      task_out=a("task_out", R, K, B, U), shared_out=a("shared_out", R, B, U),
                      d_task_out=a("d_task_out", R, K, B, U), d_shared_out=a("d_shared_out", R, B, U))
            gates, positions = self._gate_positions(B, top)
            size_task = R * K * B * (mt + ms)
            G, dG = a("G", gates), a("dG", gates)                            # [G_task | G_shared], flat
            lv.update(G=G, dG=dG, G_task=G[:size_task].reshape(R, K, B, mt + ms),
                      dG_task=dG[:size_task].reshape(R, K, B, mt + ms))
            if not top:
                lv.update(G_shared=G[size_task:].reshape(R, 1, B, E_s), dG_shared=dG[size_task:].reshape(R, 1, B, E_s))
            readers, d_readers = a("readers", len(positions)), a("d_readers", len(positions))
            cut = R * K * nr * B * mt                                          # [readers of task experts | shared]
            lv.update(readers=readers, d_readers=d_readers,
                      readers_task=readers[:cut].reshape(R * K, nr, B, mt), readers_shared=readers[cut:].reshape(
                          R, K + nr - 1, B, ms),
                      d_readers_task=d_readers[:cut].reshape(R * K, nr, B, mt),
                      d_readers_shared=d_readers[cut:].reshape(R, K + nr - 1, B, ms))
            inverse = np.empty_like(positions)
            inverse[positions] = np.arange(len(positions))
            lv["to_readers"], lv["to_gates"] = cuda.to_device(positions), cuda.to_device(inverse)
            buffers.levels.append(lv)
        self.towers.bind(buffers, R, B, K, U)

    def _gate_positions(self, B, top):
        """The readers of each expert group (``models/ple.py``'s ``readers_task``, ``readers_shared``) as
        positions in the flat gate buffer [G_task (R, K, B, m_t + m_s) | G_shared (R, 1, B, K m_t + m_s)]."""
        R, K, mt, ms = self.R, self.K, self.mt, self.ms
        G_task = np.arange(R * K * B * (mt + ms)).reshape(R, K, B, mt + ms)
        readers_task = G_task[:, :, None, :, :mt]                                      # (R, K, 1, B, m_t)
        readers_shared = G_task[..., mt:]                                              # (R, K, B, m_s)
        size = G_task.size
        if not top:                       # the shared gate reads every group too
            G_shared = G_task.size + np.arange(R * B * (K * mt + ms)).reshape(R, 1, B, K * mt + ms)
            size += G_shared.size
            by_task = np.swapaxes(G_shared[:, 0, :, :K * mt].reshape(R, B, K, mt), 1, 2)     # (R, K, B, m_t)
            readers_task = np.concatenate([readers_task, by_task[:, :, None]], axis=2)       # (R, K, 2, B, m_t)
            readers_shared = np.concatenate([readers_shared, G_shared[..., K * mt:]], axis=1)  # (R, K + 1, B, m_s)
        return size, np.concatenate([readers_task.ravel(), readers_shared.ravel()]).astype(np.int64)

    # ------------------------------------------------------------------------ forward, backward
    def _columns(self, level, lv):
        """Where each activation's columns start in its product's Z, and the stride between groups:
        ``(Z, col0, stride)`` for the task experts, shared experts, task gates, shared gate."""
        K, U, mt, ms = self.K, self.U, self.mt, self.ms
        if level == 1:
            Z = lv["x"]
            gates = K * U * mt + U * ms
            return ((Z, 0, U * mt), (Z, K * U * mt, 0), (Z, gates, mt + ms), (Z, gates + K * (mt + ms), 0))
        return ((lv["task"], 0, 0), (lv["shared"], 0, 0), (lv["task"], U * mt, 0), (lv["shared"], U * ms, 0))

    @staticmethod
    def _as_group(a, dense):
        """An activation (R, K, B, n) as (R', 1, B, n) when its product runs per task (R' = R K)."""
        return a.reshape(dense.runs, -1, a.shape[2], a.shape[3])

    def forward(self, buf, p):
        R, K, B = self.R, self.K, buf.X.shape[2]
        task_in = shared_in = buf.X.reshape(R, B, self.D)                 # level 1: every group reads x
        for level, lv in enumerate(buf.levels, 1):
            if level == 1:
                lv["x"].forward(task_in, p["l1_W"], p["l1_b"])
            else:
                lv["task"].forward(task_in.reshape(R * K, B, self.U), p[f"l{level}_task_W"], p[f"l{level}_task_b"])
                lv["shared"].forward(shared_in, p[f"l{level}_shared_W"], p[f"l{level}_shared_b"])
            (tz, t0, ts), (sz, s0, _), (gz, g0, gs), (hz, h0, _) = self._columns(level, lv)
            _relu(tz.Z, t0, ts, self._as_group(lv["H_task"], tz))           # E_k(t_k): every task's experts
            _relu(sz.Z, s0, 0, lv["H_shared"])                               # E_s(s)
            _softmax(gz.Z, g0, gs, self._as_group(lv["G_task"], gz))        # g^k(t_k) over [own, shared]
            if not lv["top"]:
                _softmax(hz.Z, h0, 0, lv["G_shared"])                        # g^s(s) over every group
            cells("take", buf.dtype, lv["readers"].size, lv["G"], lv["to_readers"], lv["readers"])
            _mix(self._experts(lv["H_task"], self.mt), lv["readers_task"], lv["F_task"])
            _mix(self._experts(lv["H_shared"], self.ms), lv["readers_shared"], lv["F_shared"])
            cells("combine_level", buf.dtype, R * (K + (0 if lv["top"] else 1)) * B * self.U, lv["F_task"],
                  lv["F_shared"], lv["task_out"], lv["shared_out"])               # t_k' = own + shared mixtures
            task_in, shared_in = lv["task_out"], lv["shared_out"]
        self.towers.forward(buf, p, task_in)

    def backward(self, buf, p, g):
        R, K, B = self.R, self.K, buf.X.shape[2]
        d_task = self.towers.backward(buf, p, g, buf.levels[-1]["task_out"])
        d_shared = buf.levels[-1]["d_shared_out"]                          # the top has no shared output: unread
        for level in range(self.L, 0, -1):
            lv = buf.levels[level - 1]
            cells("split_level_grad", buf.dtype, R * (K + (0 if lv["top"] else 1)) * B * self.U, d_task, d_shared,
                  lv["dF_task"], lv["dF_shared"])
            _mix_backward(self._experts(lv["H_task"], self.mt), lv["readers_task"], lv["dF_task"],
                          self._experts(lv["dH_task"], self.mt), lv["d_readers_task"])
            _mix_backward(self._experts(lv["H_shared"], self.ms), lv["readers_shared"], lv["dF_shared"],
                          self._experts(lv["dH_shared"], self.ms), lv["d_readers_shared"])
            cells("take", buf.dtype, lv["dG"].size, lv["d_readers"], lv["to_gates"], lv["dG"])
            (tz, t0, ts), (sz, s0, _), (gz, g0, gs), (hz, h0, _) = self._columns(level, lv)
            _relu_backward(self._as_group(lv["H_task"], tz), self._as_group(lv["dH_task"], tz), t0, ts, tz.dZ)
            _relu_backward(lv["H_shared"], lv["dH_shared"], s0, 0, sz.dZ)
            _softmax_backward(self._as_group(lv["G_task"], gz), self._as_group(lv["dG_task"], gz), g0, gs, gz.dZ)
            if not lv["top"]:
                _softmax_backward(lv["G_shared"], lv["dG_shared"], h0, 0, hz.dZ)
            if level == 1:
                lv["x"].weight_grads(buf.X.reshape(R, B, self.D), g["l1"])
                continue
            below = buf.levels[level - 2]
            task_in, shared_in = below["task_out"], below["shared_out"]
            lv["task"].weight_grads(task_in.reshape(R * K, B, self.U), g[f"l{level}_task"])
            lv["shared"].weight_grads(shared_in, g[f"l{level}_shared"])
            lv["task"].input_grads(p[f"l{level}_task_W"], below["d_task_out"].reshape(R * K, B, self.U))
            lv["shared"].input_grads(p[f"l{level}_shared_W"], below["d_shared_out"])
            d_task, d_shared = below["d_task_out"], below["d_shared_out"]

    def _experts(self, H, m):
        """An expert group's output (R', 1 or K, B, U m) as the mixes read it, (R' K, B, U, m)."""
        return H.reshape(-1, H.shape[2], self.U, m)


def program(model, where):
    """The program of ``model`` (a :class:`Block` or :class:`Levels`), or None for a model it does not know.

    ``where``: a :class:`~mmoe_np.params.Params` of positions, ``(R, P)`` (runs flattened).
    """
    from ..models.moe import MMoE
    from ..models.ple import PLE
    from ..models.shared_bottom import SharedBottom
    if isinstance(model, (MMoE, SharedBottom)):
        return Block(model, where)
    if isinstance(model, PLE):
        return Levels(model, where)
    return None
