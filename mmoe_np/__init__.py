"""mmoe-np: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018) from scratch in NumPy + Numba.

>>> import mmoe_np as mn
>>> data = mn.make_synthetic(n=1000, p=0.5, seed=0)
>>> model = mn.MMoE(n_features=100, n_tasks=2, seed=0)
>>> preds, cache = model.forward(data.X[:4])

Importing the package imports NumPy, not numba: the numba and CUDA backends load on first use.
"""
import os

# OpenMP threads (numba's parallel loops, and PyTorch's if it is loaded) spin-wait after each
# parallel region by default and starve OpenBLAS's threads in the next matrix product: a numba
# step at batch 1024 took 12.1 ms instead of 1.5 ms on 2 cores. Idle OpenMP threads should
# sleep. OpenMP reads this once, when its library loads, so it is set here, as early as this
# package can, and only when the user has not chosen a policy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import gradcheck, kernels, metrics, relatedness  # noqa: E402
from .data import MultiTaskData, SyntheticData, SyntheticRuns, make_multitask, make_synthetic  # noqa: E402
from .models import CGC, PLE, MMoE, OMoE, SharedBottom, SingleTask  # noqa: E402
from .nn import layers, losses  # noqa: E402
from .optim import SGD, Adam  # noqa: E402
from .params import Params  # noqa: E402
from .train import History, Trainer, TrainingDiverged, evaluate, fit  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "CGC", "PLE", "SGD", "Adam", "History", "MMoE", "MultiTaskData", "OMoE", "Params", "SharedBottom",
    "SingleTask", "SyntheticData", "SyntheticRuns", "Trainer", "TrainingDiverged", "evaluate", "fit",
    "gradcheck", "kernels", "layers", "losses", "make_multitask", "make_synthetic", "metrics", "relatedness",
]
