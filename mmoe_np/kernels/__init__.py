"""Three backends with one contract: ``numpy`` (the oracle), ``numba`` (CPU), ``cuda`` (GPU).

A model holds a :class:`Backend` and calls its functions; the backend decides where arrays
live (the CUDA backend keeps the experts' activations on the device), so model code never
moves arrays itself. Every backend has the same functions with the same signatures:

- the kernel contract (DESIGN.md): ``experts_forward``, ``experts_backward``,
  ``gate_mix_forward``, ``gate_mix_backward``;
- the steps a fast backend fuses, each with its NumPy version in :mod:`.reference` as the
  oracle: ``experts_and_gates_forward/backward`` (MMoE's experts and gates from one product),
  ``dense_relu_forward/backward`` (Shared-Bottom's layer), ``towers_forward/backward``,
  ``softmax_gate_forward/backward``;
- optionally one of two whole-step objects, whose oracle is the readable path itself (``forward``,
  the losses, ``backward``, the optimizer); :class:`mmoe_np.train.Trainer` uses them where they apply:

  - ``fused_training(model, loss_fns, weights)`` (numba, :mod:`.cpu_step`): a step's losses and
    gradients in one fused pass; the Trainer updates the host parameters with its optimizer;
  - ``resident_training(model, loss_fns, weights, adam)`` (CUDA, :mod:`.cuda_train`): a step whose
    whole state -- parameters, gradients, Adam's moments, the guard's snapshot, the data -- stays
    in the backend's memory; it updates too, and copies back only what the Trainer reads.

The numba and CUDA modules are imported only when asked for, so ``import mmoe_np`` does not
import numba, and ``NUMBA_ENABLE_CUDASIM`` can still be set before numba.cuda is first imported.
"""
from __future__ import annotations

import importlib

from .. import _checks

BACKENDS = {"numpy": "reference", "numba": "cpu", "cuda": "cuda"}
KERNEL_NAMES = ("experts_forward", "experts_backward", "gate_mix_forward", "gate_mix_backward")
FUSED_NAMES = ("experts_and_gates_forward", "experts_and_gates_backward", "dense_relu_forward",
               "dense_relu_backward", "towers_forward", "towers_backward", "softmax_gate_forward",
               "softmax_gate_backward")


class Backend:
    """One backend's functions (``KERNEL_NAMES`` and ``FUSED_NAMES``) as methods, and its name."""

    def __init__(self, name: str):
        self.name = name
        self.module = importlib.import_module(f"{__name__}.{BACKENDS[name]}")
        for fn in KERNEL_NAMES + FUSED_NAMES:
            setattr(self, fn, getattr(self.module, fn))
        # optional: a whole training step fused (forward, losses, backward); None where a backend has none
        self.fused_training = getattr(self.module, "fused_training", None)
        # optional: a whole training step whose state stays in the backend's (device) memory
        self.resident_training = getattr(self.module, "resident_training", None)

    def to_host(self, A):
        """``A`` as a NumPy array (a device array is copied back)."""
        return self.module.to_host(A) if hasattr(self.module, "to_host") else A

    def __repr__(self):
        return f"Backend({self.name!r})"

    def __reduce__(self):                  # pickled by name: each process imports its own
        return (get_backend, (self.name,))


_backends: dict = {}


def get_backend(backend: str = "numpy") -> Backend:
    """The :class:`Backend` called ``backend`` ('numpy', 'numba' or 'cuda').

    Raises TypeError for a name that is not a string, ValueError for an unknown one, and for
    'cuda' when there is neither a GPU nor Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
    """
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, one of {sorted(BACKENDS)}, got {backend!r} "
                        f"({type(backend).__name__})")
    _checks.choice("backend", backend, BACKENDS)
    if backend not in _backends:
        _backends[backend] = Backend(backend)
    if backend == "cuda":
        _backends[backend].module.require_device()
    return _backends[backend]


get_kernels = get_backend     # the name the lessons and older code use
