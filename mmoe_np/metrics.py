"""Evaluation metrics: Pearson correlation, ROC AUC, gate polarisation and expert similarity."""
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


def gate_polarisation(gates) -> np.ndarray:
    r"""How much each gate leans on one expert: its largest mean weight.

    .. math:: \mathrm{pol}_k = \max_e \frac{1}{B}\sum_b g^k(x_b)_e

    gates (..., K, B, E) -> (..., K). 1/E for a gate that spreads its weight evenly on average,
    1 for a gate that always picks the same expert (a polarised gate, Zhao et al. 2019 §5.2.3).
    """
    gates = np.asarray(gates)
    if gates.ndim < 3 or 0 in gates.shape[-3:]:
        raise ValueError(f"gates must have shape (..., K, B, E) with K, B, E >= 1, got {gates.shape}")
    return gates.mean(axis=-2).max(axis=-1)


def expert_similarity(expert_kernel) -> np.ndarray:
    r"""Mean cosine similarity between every pair of experts' weight vectors.

    .. math:: \frac{1}{E(E-1)} \sum_{e \ne e'} \cos(w_e, w_{e'}), \quad w_e = \mathrm{vec}(W_{:,:,e})

    expert_kernel (..., D, U, E) -> (...). Near 0 for independent random experts; near 1 when
    the experts have collapsed onto the same function.
    """
    W = np.asarray(expert_kernel, dtype=np.float64)
    if W.ndim < 3 or W.shape[-1] < 2 or 0 in W.shape[-3:]:
        raise ValueError(f"expert_kernel must have shape (..., D, U, E) with E >= 2, got {W.shape}")
    W = W.reshape(W.shape[:-3] + (-1, W.shape[-1]))                       # (..., D*U, E)
    norms = np.linalg.norm(W, axis=-2, keepdims=True)
    if (norms == 0).any():
        raise ValueError("an expert's weights are all zero: its cosine similarity is undefined")
    W = W / norms
    cos = np.swapaxes(W, -1, -2) @ W                                      # (..., E, E)
    E = cos.shape[-1]
    return (cos.sum(axis=(-2, -1)) - np.trace(cos, axis1=-2, axis2=-1)) / (E * (E - 1))
