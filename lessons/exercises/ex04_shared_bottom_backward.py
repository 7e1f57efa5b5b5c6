"""Exercise 04 -- the Shared-Bottom backward pass, built on your own dense layer (lesson 04).

Shared-Bottom: one bottom layer that every task's tower reads,

    s   = relu(X Ws + bs)                        (B, S)   the shared bottom
    y_k = relu(s Wt[k] + bt[k]) Wo[k] + bo[k]    (B, O)   task k's tower, k = 1..K

``params`` holds bottom_kernel (D, S), bottom_bias (S,), tower_kernel (K, S, T), tower_bias (K, T),
output_kernel (K, T, O) and output_bias (K, O); ``forward`` below computes the predictions and keeps
what the backward pass needs. Given ``dpreds`` -- a list of K arrays (B, O), dL/dy_k for the loss
L = L_1 + ... + L_K -- return the gradient of every parameter: a dict with the keys of ``params``.

Build it from your ``dense_backward`` of ex02 for every dense layer (imported below: keep
ex02_dense_backward.py in the same folder; the checker checks it first).

Before coding, answer on paper: s is read by K towers. What is dL/ds? What would change if the
loss averaged the tasks instead of adding them?

Check your answer:  python -m mmoe_np.check lessons/exercises/ex04_shared_bottom_backward.py
"""
import numpy as np
from ex02_dense_backward import dense_backward

EXERCISE = "shared_bottom_backward"


def forward(X, params):
    """Shared-Bottom's forward pass; returns (preds, cache)."""
    p = params
    s = np.maximum(X @ p["bottom_kernel"] + p["bottom_bias"], 0)                                  # (B, S)
    A = [np.maximum(s @ Wt + bt, 0) for Wt, bt in zip(p["tower_kernel"], p["tower_bias"])]        # K x (B, T)
    preds = [a @ Wo + bo for a, Wo, bo in zip(A, p["output_kernel"], p["output_bias"])]           # K x (B, O)
    return preds, {"s": s, "A": A}


def shared_bottom_backward(X, params, dpreds):
    p = params
    _, c = forward(X, params)
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    # ---- TODO: each tower with dense_backward, then the bottom (about ten lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return grads
