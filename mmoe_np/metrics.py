"""Evaluation metrics: Pearson correlation and ROC AUC."""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def pearson(a, b) -> float:
    r"""Pearson correlation :math:`\mathrm{cov}(a, b) / (\sigma_a \sigma_b)` of two 1-D arrays."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"pearson needs two arrays of equal length >= 2, got {a.shape} and {b.shape}")
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a @ a) * (b @ b))
    if denom == 0:
        raise ValueError("pearson is undefined when an input is constant")
    return float(a @ b / denom)


def roc_auc(y_true, scores) -> float:
    r"""Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting one half (the Mann-Whitney U statistic).

    .. math:: \mathrm{AUC} = \frac{\sum_{i \in pos} r_i - n_+(n_+ + 1)/2}{n_+ n_-}

    with :math:`r_i` the average ranks of the scores (ties share their mean rank).
    """
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if np.isnan(s).any():
        raise ValueError(f"scores contain NaN ({int(np.isnan(s).sum())} of {s.size}, first at index "
                         f"{int(np.argmax(np.isnan(s)))}): a ranking of NaN has no meaning")
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores must have equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_auc needs both classes, got {n_pos} positives and {n_neg} negatives")
    ranks = rankdata(s)   # average ranks for ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
