"""Exercise 03a -- the mean squared error and its gradient (lesson 03).

For predictions ``pred`` and targets ``y`` of shape (B, O), with N = B * O entries:

    L = (1 / N) * sum (pred - y)^2            dL/dpred = ?

Derive the gradient on paper first (what happens to the square? to the 1/N?), then return
``(loss, dpred)``: a float and an array shaped like pred.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex03_mse.py
"""
import numpy as np

EXERCISE = "mse"


def mse(pred, y):
    # ---- TODO: the loss and its gradient (two lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return loss, dpred
