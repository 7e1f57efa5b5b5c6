"""Exercise 06b -- the whole MMoE backward pass (lesson 06).

``forward(X, params)`` below is the MMoE forward pass written out (lesson 06), returning the
predictions and everything backward needs. Given ``dpreds`` -- a list of K arrays (B, O),
dL/dpred_k -- return the gradient of every parameter as a dict with the keys of ``params``.

Work from the output back; each step is a layer you have already differentiated (ex02, ex05):
the towers, the mixtures, the gates, the experts. Before coding, answer on paper: which of
these receives gradient from more than one task, and how do those contributions combine? Which
parameters does task k's loss not reach at all?

The checker compares your gradients with central differences, like
``mmoe_np.gradcheck.check_model``, and names every wrong parameter from the loss back.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex06_mmoe_backward.py
"""
import numpy as np

EXERCISE = "mmoe_backward"


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def forward(X, params):
    """The MMoE forward pass; returns (preds, cache)."""
    p = params
    H = np.maximum(np.einsum("bd,due->bue", X, p["expert_kernel"]) + p["expert_bias"], 0)      # (B, U, E)
    G = softmax(np.einsum("bd,kde->kbe", X, p["gate_kernel"]) + p["gate_bias"][:, None, :])    # (K, B, E)
    F = np.einsum("kbe,bue->kbu", G, H)                                                        # (K, B, U)
    A = np.maximum(np.einsum("kbu,kut->kbt", F, p["tower_kernel"]) + p["tower_bias"][:, None, :], 0)  # (K, B, T)
    out = np.einsum("kbt,kto->kbo", A, p["output_kernel"]) + p["output_bias"][:, None, :]     # (K, B, O)
    return list(out), dict(X=X, H=H, G=G, F=F, A=A)


def mmoe_backward(X, params, dpreds):
    p = params
    preds, c = forward(X, params)
    dout = np.stack(dpreds)                                                                    # (K, B, O)
    grads = {}
    # ---- TODO: towers, mixtures, gates, experts (about fifteen lines) ----
    grads["output_kernel"] = np.einsum("kbt,kbo->kto", c["A"], dout)
    grads["output_bias"] = dout.sum(axis=1)
    dA = np.einsum("kbo,kto->kbt", dout, p["output_kernel"]) * (c["A"] > 0)
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
