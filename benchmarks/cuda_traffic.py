"""What one steady training step moves between host and GPU, per model: before and after training
stayed on the device.

    python benchmarks/cuda_traffic.py            # under the CUDA simulator when there is no GPU

Counts, not times: host-to-device copies, device-to-host copies, allocations (device and pinned)
and kernel launches of one ``Trainer.step`` after the first (which makes the buffers), counted by
:func:`mmoe_np.kernels.cuda_traffic.record_traffic` -- the same on a GPU and in the simulator.
*Readable path*: ``Trainer(..., fused=False)``, the models' own forward and backward with the CUDA
kernels and Adam on the host (all the cuda backend did before the resident step); *resident*: the
default, :mod:`mmoe_np.kernels.cuda_train`, its batches drawn on the device as ``fit`` draws them.
The GPU's tile and block sizes, small shapes (batch 8: no split of the weight gradients, which adds
one launch per product where a long batch is split).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table  # noqa: E402

import mmoe_np as mn  # noqa: E402
from mmoe_np.kernels import cuda as ck  # noqa: E402
from mmoe_np.kernels.cuda_traffic import record_traffic  # noqa: E402

D, B = 4, 8
MODELS = {"MMoE": (mn.MMoE, dict(n_experts=2, expert_units=2)), "OMoE": (mn.OMoE, dict(n_experts=2, expert_units=2)),
          "Shared-Bottom": (mn.SharedBottom, dict(bottom_units=3)),
          "CGC": (mn.CGC, dict(n_task_experts=1, n_shared_experts=1, expert_units=2)),
          "PLE (2 levels)": (mn.PLE, dict(n_task_experts=1, n_shared_experts=1, expert_units=2, n_levels=2))}
RUNS = {"one run": 0, "4 runs": [0, 1, 2, 3]}


def steady_step(model, B, resident=True):
    """The traffic of the second step of a Trainer of ``model`` (the first makes the buffers, builds the
    kernels) at batch ``B``: the resident step (its batches drawn on the device) or the readable path."""
    trainer = mn.Trainer(model, mn.Adam(lr=1e-3), fused=resident)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4 * B, model.n_features)).astype(model.dtype)
    Y = [rng.standard_normal((4 * B, model.out_units)).astype(model.dtype) for _ in range(model.n_tasks)]
    if resident:
        batches = trainer.resident.batches(X, Y, B, np.random.default_rng(0))
        next_batch = batches.next_batch
    else:
        next_batch = lambda: (X[:B], [y[:B] for y in Y])     # noqa: E731
    trainer.step(*next_batch())
    with record_traffic() as traffic:
        trainer.step(*next_batch())
    return traffic


def main():
    ck.speed_up_simulator()
    rows = []
    with ck.launch_sizes():                                   # the GPU's tiles and blocks
        for name, (cls, sizes) in MODELS.items():
            for runs, seed in RUNS.items():
                before, after = (steady_step(cls(n_features=D, tower_units=2, seed=seed, backend="cuda", **sizes), B,
                                             resident) for resident in (False, True))
                rows.append([name, runs, " / ".join(map(str, before.row())), " / ".join(map(str, after.row())),
                             f"{after.d2h_bytes} B"])
    where = "the CUDA simulator" if ck.simulator_enabled() else "the GPU"
    print(f"One steady training step (batch {B}), counted on {where}: host-to-device copies / device-to-host "
          "copies / allocations / launches.\n")
    print(markdown_table(["model", "runs", "readable path (before)", "resident (after)", "copied back (after)"], rows))


if __name__ == "__main__":
    main()
