"""Exercise 06b -- the whole MMoE backward pass, on your own forward pass (lesson 06).

``forward(X, params)`` below runs the MMoE forward pass with your stages of ex06a (keep
ex06_mmoe_forward.py in the same folder: the checker checks it first) and keeps H, G and F.
Given ``dpreds`` -- a list of K arrays (B, O), dL/dpred_k -- return the gradient of every
parameter as a dict with the keys of ``params``.

Work from the output back; each step is a layer you have already differentiated (ex02, ex05):
the towers (recompute their hidden activations A from F, as your towers() did), the mixtures,
the gates, the experts. Before coding, answer on paper: which of these receives gradient from
more than one task, and how do those contributions combine? Which parameters does task k's loss
not reach at all?

The checker compares your gradients with central differences, like
``mmoe_np.gradcheck.check_model``, and names every wrong parameter from the loss back.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex06_mmoe_backward.py
"""
import numpy as np
from ex06_mmoe_forward import experts, gates, mix, towers

EXERCISE = "mmoe_backward"


def forward(X, params):
    """The MMoE forward pass on your ex06a stages; returns (preds, cache)."""
    H, G = experts(X, params), gates(X, params)                                                # (B, U, E), (K, B, E)
    F = mix(H, G)                                                                              # (K, B, U)
    return towers(F, params), dict(X=X, H=H, G=G, F=F)


def mmoe_backward(X, params, dpreds):
    p = params
    preds, c = forward(X, params)
    dout = np.stack(dpreds)                                                                    # (K, B, O)
    grads = {}
    # ---- TODO: towers, mixtures, gates, experts (about sixteen lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return grads
