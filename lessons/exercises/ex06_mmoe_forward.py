"""Exercise 06 -- the MMoE forward pass, stage by stage (lesson 06).

``params`` has the keys of ``mmoe_np.MMoE(...).params``:
expert_kernel (D, U, E), expert_bias (U, E), gate_kernel (K, D, E), gate_bias (K, E),
tower_kernel (K, U, T), tower_bias (K, T), output_kernel (K, T, O), output_bias (K, O).

Write the four stages; the checker tests each one on its own (with the right inputs), so
it tells you which stage is wrong:

    experts   H[b, u, e] = relu(sum_d X[b, d] W[d, u, e] + b[u, e])        H: (B, U, E)
    gates     G[k] = softmax(X @ Wg[k] + bg[k])   (softmax over experts)    G: (K, B, E)
    mix       F[k, b, u] = sum_e G[k, b, e] H[b, u, e]                      F: (K, B, U)
    towers    y_k = relu(F[k] @ Wt[k] + bt[k]) @ Wo[k] + bo[k]              a list of K (B, O)

Check your answer:  python -m mmoe_np.check lessons/exercises/ex06_mmoe_forward.py
"""
import numpy as np

EXERCISE = "mmoe_forward"


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def experts(X, params):
    # ---- TODO: all E experts at once, one line (np.einsum or a reshaped matrix product) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return H


def gates(X, params):
    # ---- TODO: one softmax gate per task, stacked to (K, B, E) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return G


def mix(H, G):
    # ---- TODO: each task's gate-weighted sum of the experts, (K, B, U) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return F


def towers(F, params):
    p = params
    # ---- TODO: task k's tower on F[k]: a list of K arrays (B, O) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return preds


def mmoe_forward(X, params):
    return towers(mix(experts(X, params), gates(X, params)), params)
