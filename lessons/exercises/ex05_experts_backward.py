"""Exercise 05c -- the experts' backward pass, with ReLU's mask (lesson 05).

Forward, all E experts at once:

    Z[b, u, e] = sum_d X[b, d] W[d, u, e] + bias[u, e]        H = relu(Z)        (B, U, E)

Given dH = dL/dH (B, U, E), derive and return dX (B, D), dW (D, U, E) and dbias (U, E).
On paper first: where does ReLU pass a gradient back, and why can you read that from H alone
(without Z)? Which entries of Z does W[d, u, e] change, and with which slope? Which does X[b, d]?
Sum over what is not in the parameter's own shape.

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
