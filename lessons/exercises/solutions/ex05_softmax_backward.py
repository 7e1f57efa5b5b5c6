"""Exercise 05a -- the softmax gate's backward pass (lesson 05).

``G = softmax(logits)`` row by row, G and logits (B, E). Given ``dG = dL/dG`` (B, E), return
``dlogits`` (B, E).

Derive it on paper: first the Jacobian dg_i/dl_j of one row, in two cases (i = j and i != j),
then the chain rule dl_j = sum_i dg_i dg_i/dl_j. Simplify until it needs no loop and no (E, E)
matrix. Check your result: why must each row of dlogits sum to 0?

Check your answer:  python -m mmoe_np.check lessons/exercises/ex05_softmax_backward.py
"""
import numpy as np

EXERCISE = "softmax_backward"


def softmax_backward(dG, G):
    # ---- TODO: one line with a sum over the last axis (keepdims=True) ----
    dlogits = G * (dG - (dG * G).sum(axis=-1, keepdims=True))
    # ---- end TODO ----
    return dlogits
