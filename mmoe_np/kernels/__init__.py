"""Three backends with one contract: ``reference`` (NumPy oracle), ``cpu`` (numba), ``cuda``.

``get_kernels(backend)`` returns the module whose four functions a model calls. The numba
and CUDA modules are imported only when asked for, so ``import mmoe_np`` stays light and
``NUMBA_ENABLE_CUDASIM`` can still be set before numba.cuda is first imported.
"""
from __future__ import annotations

import importlib

from .. import _checks

BACKENDS = {"numpy": "reference", "numba": "cpu", "cuda": "cuda"}
KERNEL_NAMES = ("experts_forward", "experts_backward", "gate_mix_forward", "gate_mix_backward")


def get_kernels(backend: str = "numpy"):
    """The kernel module for ``backend`` ('numpy', 'numba' or 'cuda').

    Raises ValueError for an unknown name, and for 'cuda' when there is neither a GPU nor
    Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
    """
    _checks.choice("backend", backend, BACKENDS)
    module = importlib.import_module(f"{__name__}.{BACKENDS[backend]}")
    if backend == "cuda":
        module.require_device()
    return module
