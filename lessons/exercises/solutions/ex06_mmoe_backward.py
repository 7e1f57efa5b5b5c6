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
    A = np.maximum(np.einsum("kbu,kut->kbt", c["F"], p["tower_kernel"]) + p["tower_bias"][:, None, :], 0)  # (K, B, T)
    grads["output_kernel"] = np.einsum("kbt,kbo->kto", A, dout)
    grads["output_bias"] = dout.sum(axis=1)
    dA = np.einsum("kbo,kto->kbt", dout, p["output_kernel"]) * (A > 0)
    grads["tower_kernel"] = np.einsum("kbu,kbt->kut", c["F"], dA)
    grads["tower_bias"] = dA.sum(axis=1)
    dF = np.einsum("kbt,kut->kbu", dA, p["tower_kernel"])                                      # (K, B, U)
    dH = np.einsum("kbu,kbe->bue", dF, c["G"])                                                 # every task meets here
    dG = np.einsum("kbu,bue->kbe", dF, c["H"])
    dlogits = c["G"] * (dG - (dG * c["G"]).sum(axis=-1, keepdims=True))
    grads["gate_kernel"] = np.einsum("bd,kbe->kde", X, dlogits)
    grads["gate_bias"] = dlogits.sum(axis=1)
    dZ = dH * (c["H"] > 0)
    grads["expert_kernel"] = np.einsum("bd,bue->due", X, dZ)
    grads["expert_bias"] = dZ.sum(axis=0)
    # ---- end TODO ----
    return grads
