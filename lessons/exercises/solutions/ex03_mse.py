"""Exercise 03a -- the mean squared error and its gradient (lesson 03).

For predictions ``pred`` and targets ``y`` of shape (B, O) the loss is the mean of the squared
errors over all N = B * O entries. Derive dL/dpred on paper (one entry at a time), then return
``(loss, dpred)``: a float and an array shaped like pred. Your gradient is what every model's
backward pass starts from.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex03_mse.py
"""
import numpy as np

EXERCISE = "mse"


def mse(pred, y):
    # ---- TODO: the loss and its gradient (two lines) ----
    diff = pred - y
    loss, dpred = np.mean(diff ** 2), 2 * diff / diff.size
    # ---- end TODO ----
    return loss, dpred
