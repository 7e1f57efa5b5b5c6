"""Exercise 02 -- the dense layer's backward pass (lesson 02).

The forward pass is ``z = x @ W + b`` with x (B, I), W (I, O), b (O,). Given
``dout = dL/dz`` (B, O), return ``dx`` (B, I), ``dW`` (I, O) and ``db`` (O,).

Check your answer:  python -m mmoe_np.check lessons/exercises/ex02_dense_backward.py
"""
import numpy as np

EXERCISE = "dense_backward"


def dense_backward(dout, cache):
    x, W = cache
    # ---- TODO: compute dx, dW, db (three lines) ----
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.sum(axis=0)
    # ---- end TODO ----
    return dx, dW, db
