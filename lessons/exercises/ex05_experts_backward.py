"""Exercise 05c -- the experts' backward pass, with ReLU's mask (lesson 05).

Forward (all E experts at once):

    Z[b, u, e] = sum_d X[b, d] W[d, u, e] + bias[u, e]        H = relu(Z)        (B, U, E)

Given dH = dL/dH (B, U, E), derive and return dX (B, D), dW (D, U, E) and dbias (U, E):

1. ReLU passes the gradient only where the unit was on: dZ = dH * [Z > 0], and Z > 0
   exactly where H > 0, so the mask can be read from H.
2. W[d, u, e] touches Z[b, u, e] for every row b with slope X[b, d].
3. X[b, d] touches every Z[b, u, e] with slope W[d, u, e].

Check your answer:  python -m mmoe_np.check lessons/exercises/ex05_experts_backward.py
"""
import numpy as np

EXERCISE = "experts_backward"


def experts_backward(X, W, H, dH):
    # ---- TODO: the mask, then dX, dW, dbias (four lines; np.einsum or tensordot) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return dX, dW, dbias
