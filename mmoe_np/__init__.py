"""mmoe-np: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018) from scratch in NumPy + Numba.

>>> import mmoe_np as mn
>>> data = mn.make_synthetic(n=1000, p=0.5, seed=0)
>>> model = mn.MMoE(n_features=100, n_tasks=2, seed=0)
>>> preds, cache = model.forward(data.X[:4])

Importing the package imports NumPy, not numba: the numba and CUDA backends load on first use.
"""
from . import gradcheck, kernels, metrics, relatedness
from .data import MultiTaskData, SyntheticData, SyntheticRuns, make_multitask, make_synthetic
from .models import CGC, PLE, MMoE, OMoE, SharedBottom, SingleTask
from .nn import layers, losses
from .optim import SGD, Adam
from .params import Params
from .train import History, Trainer, TrainingDiverged, evaluate, fit

__version__ = "0.2.0"

__all__ = [
    "CGC", "PLE", "SGD", "Adam", "History", "MMoE", "MultiTaskData", "OMoE", "Params", "SharedBottom",
    "SingleTask", "SyntheticData", "SyntheticRuns", "Trainer", "TrainingDiverged", "evaluate", "fit",
    "gradcheck", "kernels", "layers", "losses", "make_multitask", "make_synthetic", "metrics", "relatedness",
]
