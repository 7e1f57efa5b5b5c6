"""Exercise on writing a kernel of your own with numba (lesson 08)."""
from __future__ import annotations

import numpy as np

from ..kernels import reference
from .judging import Call, Exercise, Mistake, exercise, rng


@exercise("ex08_gate_mix_kernels")
def gate_mix_kernels():
    r = rng(80)
    H, G, dF = r.standard_normal((6, 5, 4)), r.random((3, 6, 4)), r.standard_normal((3, 6, 5))
    G_strided = np.asfortranarray(G)[:, ::2, :]                 # not C-contiguous, and every other row
    H_strided = H[::2]
    calls = [Call("gate_mix_forward", (H, G), reference.gate_mix_forward(H, G), "F", stage="forward", tol=1e-12),
             Call("gate_mix_forward", (H_strided, G_strided), reference.gate_mix_forward(H_strided, G_strided), "F",
                  stage="forward on strided views", tol=1e-12),
             Call("gate_mix_backward", (H, G, dF), reference.gate_mix_backward(H, G, dF), ("dH", "dG"),
                  stage="backward", tol=1e-12)]
    mistakes = [
        Mistake("only one expert counts: accumulate the sum over e (F[k, b, u] += ...), starting from 0",
                lambda c: None if c.function != "gate_mix_forward"
                else np.einsum("kb,bu->kbu", c.args[1][..., -1], c.args[0][..., -1])),
        Mistake("dH must add every task's contribution: the same H[b, u, e] feeds all K mixtures",
                lambda c: None if c.function != "gate_mix_backward"
                else (np.einsum("bu,be->bue", c.args[2][-1], c.args[1][-1]), None)),
    ]
    return Exercise(("gate_mix_forward", "gate_mix_backward"), calls, "both numba kernels match the NumPy oracle "
                    "(mmoe_np.kernels.reference), also on strided views", mistakes, stages=True, preload=("numba",),
                    native=True, compiled=("gate_mix_forward", "gate_mix_backward"))
