"""Exercise 06 -- the MMoE forward pass from its parameters (lesson 06).

``params`` has the keys of ``mmoe_np.MMoE(...).params``:
expert_kernel (D, U, E), expert_bias (U, E), gate_kernel (K, D, E), gate_bias (K, E),
tower_kernel (K, U, T), tower_bias (K, T), output_kernel (K, T, O), output_bias (K, O).

    experts   H[b, u, e] = relu(sum_d X[b, d] W[d, u, e] + b[u, e])
    gates     G[k] = softmax(X @ Wg[k] + bg[k])                     (softmax over experts)
    mixtures  F[k, b, u] = sum_e G[k, b, e] H[b, u, e]
    towers    y_k = relu(F[k] @ Wt[k] + bt[k]) @ Wo[k] + bo[k]

Return a list of K arrays of shape (B, O).

Check your answer:  python -m mmoe_np.check lessons/exercises/ex06_mmoe_forward.py
"""
import numpy as np

EXERCISE = "mmoe_forward"


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def mmoe_forward(X, params):
    p = params
    K = p["gate_kernel"].shape[0]
    # ---- TODO: experts, gates, mixtures, towers (about eight lines) ----
    H = np.maximum(np.einsum("bd,due->bue", X, p["expert_kernel"]) + p["expert_bias"], 0)
    preds = []
    for k in range(K):
        G = softmax(X @ p["gate_kernel"][k] + p["gate_bias"][k])         # (B, E)
        F = np.einsum("be,bue->bu", G, H)                                 # (B, U)
        hidden = np.maximum(F @ p["tower_kernel"][k] + p["tower_bias"][k], 0)
        preds.append(hidden @ p["output_kernel"][k] + p["output_bias"][k])
    # ---- end TODO ----
    return preds
