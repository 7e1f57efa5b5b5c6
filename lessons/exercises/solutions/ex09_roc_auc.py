"""Exercise 09 -- the ROC AUC from ranks, ties included (lesson 09).

Lesson 09 reports the census tasks' test AUC. The AUC is the probability that a randomly drawn
positive example scores above a randomly drawn negative one, a tie counting one half. Counting
all n_pos x n_neg pairs takes O(n^2) time; ranks do it in O(n log n) (the Mann-Whitney U
statistic). Derive on paper how the sum of the positives' ranks counts the pairs each positive
wins, what that sum is when every positive is below every negative, and what ties must do to the
ranks for a tie to count one half. Then write ``roc_auc(labels, scores)``: labels (n,) of 0 and 1,
scores (n,); return the AUC. ``scipy.stats.rankdata`` is allowed.

Your function is used again in ex10 (transfer measured in AUC).

Check your answer:  python -m mmoe_np.check lessons/exercises/ex09_roc_auc.py
"""
import numpy as np
from scipy.stats import rankdata

EXERCISE = "roc_auc"


def roc_auc(labels, scores):
    # ---- TODO: ranks of the scores, then the AUC from the positives' ranks (about five lines) ----
    positive = labels == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    ranks = rankdata(scores)                             # ties share their average rank
    auc = (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    # ---- end TODO ----
    return auc
