"""Exercise 10 -- measuring transfer, for losses and for AUC (lesson 10), with your roc_auc from ex09.

Lesson 10 defines a task's transfer as the share of its single-task loss that training it with
the other tasks removes: positive when the other tasks helped, negative when they hurt, 1 for a
perfect multi-task model. Write:

1. ``transfer(single, multi)``: single-task and multi-task test losses, arrays of one shape (one
   entry per setting, run and task); return the transfer of every entry.
2. ``auc_transfer(labels, single_scores, multi_scores)``: labels (n, K) of 0 and 1 and the two
   models' scores (n, K) on a test set; return each task's transfer (K,) measured with the AUC of
   lesson 09 -- your ``roc_auc`` of ex09, imported below. The AUC grows when a model improves, so
   first decide which quantity plays the loss's part, so that the three properties above still hold.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex10_transfer.py
"""
import numpy as np
from ex09_roc_auc import roc_auc

EXERCISE = "transfer"


def transfer(single, multi):
    # ---- TODO: one line ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return result


def auc_transfer(labels, single_scores, multi_scores):
    # ---- TODO: each task's AUC for both models, then the transfer of their errors (about four lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return result
