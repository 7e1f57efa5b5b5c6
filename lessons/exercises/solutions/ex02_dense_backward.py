"""Exercise 02 -- the dense layer's backward pass (lesson 02).

The forward pass is ``z = x @ W + b`` with x (B, I), W (I, O), b (O,). Given ``dout = dL/dz``
(B, O), return ``dx`` (B, I), ``dW`` (I, O) and ``db`` (O,).

Derive them on paper first, one entry at a time: which entries z[b, o] does x[b, i] change, and
with which slope? Which does W[i, o] change? Then write each sum as one matrix product and check
its shape. Why does no 1/B appear here, although the loss is a mean over the batch?

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
