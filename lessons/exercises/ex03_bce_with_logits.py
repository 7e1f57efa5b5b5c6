"""Exercise 03b -- binary cross-entropy on logits, stable, and its gradient (lesson 03).

With logits z, labels y in [0, 1] and the sigmoid s(z) = 1 / (1 + exp(-z)), averaged over the
N entries of z (shape (B, O)):

    L = (1 / N) * sum [ -y log s(z) - (1 - y) log(1 - s(z)) ]

1. Show that each term equals  max(z, 0) - z y + log(1 + exp(-|z|)).  Unlike the first form,
   it never computes exp of a large positive number: it is finite for z = +-1e4.
2. Show that dL/dz = (s(z) - y) / N.
3. Compute s(z) without overflow too: for z >= 0 it is 1 / (1 + exp(-z)); for z < 0,
   exp(z) / (1 + exp(z)). Both only need exp(-|z|).

Return ``(loss, dlogits)``: a float and an array shaped like z.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex03_bce_with_logits.py
"""
import numpy as np

EXERCISE = "bce_with_logits"


def bce_with_logits(z, y):
    # ---- TODO: the stable loss and its gradient (about five lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return loss, dlogits
