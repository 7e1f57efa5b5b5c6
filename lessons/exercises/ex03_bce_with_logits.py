"""Exercise 03b -- binary cross-entropy on logits, stable, and its gradient (lesson 03).

With logits z, labels y in [0, 1] and the sigmoid s(z) = 1 / (1 + exp(-z)), the loss is the mean
over the N entries of z (shape (B, O)) of

    -y log s(z) - (1 - y) log(1 - s(z))

1. Show that each term can be written with exp(-|z|) as the only exponential, so that it stays
   finite for z = +-1e4 (where exp(z) overflows and 1 - s(z) rounds to 0). Treat z >= 0 and z < 0
   separately; log s(z) = -log(1 + exp(-z)) is a good start. Then merge the two cases into one
   expression.
2. Show that dL/dz takes a very simple form in s(z) and y (do not forget the mean).
3. Compute s(z) without overflow, again with exp(-|z|) only.

Return ``(loss, dlogits)``: a float and an array shaped like z. The checker grades the code; your
teacher grades the derivations (INSTRUCTOR.md has the answers and a rubric).

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
