"""Exercises on measuring: AUC (09), transfer (10), covariance similarity (11), task weights (12),
gate polarisation and expert collapse (15)."""
from __future__ import annotations

import numpy as np

from .. import metrics, relatedness
from ..experiments.transfer import transfer as experiments_transfer
from .judging import Call, Exercise, Mistake, exercise, rng


# ------------------------------------------------------------------------------ 09: ROC AUC
def _auc(labels, scores, *, ties="half", flip=False, start=1):
    """The library's ROC AUC, right (the defaults) or with one typical mistake (counted over pairs)."""
    auc = metrics.roc_auc(labels, scores)
    positive, negative = scores[labels == 1], scores[labels == 0]
    order = np.argsort(np.argsort(scores, kind="stable"))     # ties broken by position, as ordinal ranks do
    if ties == "position":
        auc = np.mean(order[labels == 1][:, None] > order[labels == 0][None, :])
    elif ties == "lose":
        auc = np.mean(positive[:, None] > negative[None, :])
    elif ties == "win":
        auc = np.mean(positive[:, None] >= negative[None, :])
    if start == 0:
        auc -= 1 / len(negative)                           # every positive's rank one lower
    return np.asarray(1 - auc if flip else auc)


@exercise("ex09_roc_auc")
def roc_auc():
    r = rng(90)
    labels = r.integers(0, 2, 60).astype(float)
    noisy = labels + r.normal(0, 1.0, 60)
    cases = [("no ties", labels, noisy), ("many ties", labels, np.round(noisy)),
             ("perfectly separated", labels, labels * 5 + r.random(60)), ("every score tied", labels, np.zeros(60))]
    calls = [Call("roc_auc", (y, s), np.asarray(metrics.roc_auc(y, s)), "AUC", stage=label, tol=1e-12)
             for label, y, s in cases]

    def mistake(hint, **kw):
        return Mistake(hint, lambda c: _auc(*c.args, **kw))
    mistakes = [
        mistake("tied scores must share their average rank (a tie between a positive and a negative counts one "
                "half): scipy.stats.rankdata does this", ties="position"),
        mistake("tied scores must share their average rank, not the lowest (a tie counts one half)", ties="lose"),
        mistake("tied scores must share their average rank, not the highest (a tie counts one half)", ties="win"),
        mistake("this is 1 - AUC: the chance that a *negative* scores above a positive", flip=True),
        mistake("ranks start at 1 here (the smallest score has rank 1); with ranks from 0, subtract "
                "n_pos (n_pos - 1) / 2 instead", start=0),
    ]
    return Exercise(("roc_auc",), calls, "the AUC matches mmoe_np.metrics.roc_auc, ties included", mistakes,
                    stages=True)


# ------------------------------------------------------------------------------ 10: transfer
def _transfer(single, multi, *, base="single"):
    """The library's transfer (lesson 10), right (the default) or relative to the multi-task loss."""
    right = experiments_transfer(single, multi)
    return right if base == "single" else right * single / multi


def _auc_transfer(labels, single_scores, multi_scores, *, error=True, base="single"):
    K = labels.shape[1]
    single = np.array([metrics.roc_auc(labels[:, k], single_scores[:, k]) for k in range(K)])
    multi = np.array([metrics.roc_auc(labels[:, k], multi_scores[:, k]) for k in range(K)])
    if error:
        return _transfer(1 - single, 1 - multi, base=base)
    return _transfer(single, multi, base=base)


@exercise("ex10_transfer")
def transfer():
    r = rng(100)
    single = np.exp(r.normal(-1.0, 0.5, (3, 4, 2)))                  # (correlation, width, task) losses
    multi = single * np.exp(r.normal(0.0, 0.3, single.shape))
    labels = r.integers(0, 2, (80, 2)).astype(float)
    single_scores = labels + r.normal(0, 1.2, labels.shape)
    multi_scores = labels + r.normal(0, 0.9, labels.shape)
    calls = [Call("transfer", (single, multi), _transfer(single, multi), "transfer", stage="transfer of losses",
                  tol=1e-9),
             Call("auc_transfer", (labels, single_scores, multi_scores),
                  _auc_transfer(labels, single_scores, multi_scores), "transfer", stage="transfer of AUC", tol=1e-9)]
    mistakes = [
        Mistake("divide by the single-task loss: transfer is the share of the single-task loss that sharing removes",
                lambda c: _transfer(*c.args, base="multi") if c.function == "transfer"
                else _auc_transfer(*c.args, base="multi")),
        Mistake("AUC grows when the model improves: use the error 1 - AUC as the loss in the transfer formula",
                lambda c: None if c.function == "transfer" else _auc_transfer(*c.args, error=False)),
    ]
    return Exercise(("transfer", "auc_transfer"), calls, "the transfer of losses and of AUC (with your roc_auc) match",
                    mistakes, stages=True, uses=("roc_auc",))


# -------------------------------------------------------------- 11: covariance similarity
def _factor(X, keep, *, eigen="squared", power=0.5, strict=False):
    """A = U_r D_r^(1/2), right (the defaults) or with one typical mistake."""
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    eig = s**2 if eigen == "squared" else s
    cum = np.cumsum(eig)
    r = int(np.searchsorted(cum, keep * eig.sum() * (1 - 1e-12), side="right" if strict else "left") + 1)
    r = min(r, len(s))
    return Vt[:r].T * (s[:r] ** (2 * power))


def _signs(A):
    """Each column times the sign of its largest entry: eigenvectors are defined up to their sign."""
    A = np.asarray(A, dtype=float)
    if A.ndim != 2 or A.size == 0:
        return A
    big = A[np.argmax(np.abs(A), axis=0), np.arange(A.shape[1])]
    return A * np.where(big < 0, -1.0, 1.0)


def _score(A1, A2, *, paper=False):
    cross = np.linalg.norm(A1.T @ A2)
    if paper:
        return np.asarray(cross / (np.linalg.norm(A1) * np.linalg.norm(A2)))
    return np.asarray(cross / np.sqrt(np.linalg.norm(A1.T @ A1) * np.linalg.norm(A2.T @ A2)))


@exercise("ex11_covariance_similarity")
def covariance_similarity():
    r = rng(8)
    X1 = r.standard_normal((40, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    X2 = r.standard_normal((30, 6)) @ r.standard_normal((6, 6))
    factor_mistakes = [
        Mistake("the eigenvalues of X^T X are the *squared* singular values of X: choose r from s**2",
                lambda c: _factor(*c.args, eigen="plain")),
        Mistake("r is the smallest rank whose top eigenvalues reach keep x their total (>=, not >)",
                lambda c: _factor(*c.args, strict=True)),
        Mistake("A = U_r D_r^(1/2): scale the columns by the square roots of the eigenvalues, i.e. by the "
                "singular values s, not s**2", lambda c: _factor(*c.args, power=1.0)),
        Mistake("A = U_r D_r^(1/2): the columns are scaled, not the bare eigenvectors",
                lambda c: _factor(*c.args, power=0.0)),
    ]
    calls = [Call("factor", (X, keep), relatedness.low_rank_covariance_factor(X, keep), "A", stage=label, tol=1e-8,
                  canon=_signs, mistakes=factor_mistakes)
             for label, X, keep in [("A of X1, keep 0.99", X1, 0.99), ("A of X1, keep 0.5", X1, 0.5),
                                    ("A of X2, keep 1.0", X2, 1.0)]]
    score_mistakes = [Mistake("the normaliser is sqrt(||A1^T A1||_F ||A2^T A2||_F); the paper's ||A1||_F ||A2||_F "
                              "gives less than 1 for identical inputs",
                              lambda c: _score(_factor(c.args[0], c.args[2]), _factor(c.args[1], c.args[2]),
                                               paper=True))]
    for label, a, b, keep in [("two different inputs", X1, X2, 0.99), ("identical inputs", X1, X1, 0.99),
                              ("keep=0.5", X1, X2, 0.5), ("keep=1.0", X1, X2, 1.0)]:
        calls.append(Call("covariance_similarity", (a, b, keep),
                          np.asarray(relatedness.covariance_similarity(a, b, keep)), "score", stage=f"score ({label})",
                          tol=1e-8, mistakes=score_mistakes))
    return Exercise(("factor", "covariance_similarity"), calls, "the factors A_i and the score match "
                    "mmoe_np.relatedness on 3 factors and 4 scores", stages=True)


# ------------------------------------------------------------------------------ 12: task weights
def _weights(X, Y, rank, normalize, *, mean_one=True, order="top", square=False, use_normalize=True):
    """SVD task weights, right (the defaults) or with one typical mistake, from the library's task signals."""
    signals = relatedness.task_signals(X, Y)
    if normalize and use_normalize:
        signals /= np.linalg.norm(signals, axis=0)
    directions = np.linalg.svd(signals, full_matrices=False)[0]
    kept = directions[:, :rank] if order == "top" else directions[:, -rank:]
    lengths = np.linalg.norm(kept.T @ signals, axis=0) ** (2 if square else 1)
    return lengths / lengths.mean() if mean_one else lengths


@exercise("ex12_task_weights")
def task_weights():
    r = rng(120)
    X = r.standard_normal((400, 8))
    base = r.standard_normal(8)
    W = np.stack([base + 0.3 * r.standard_normal(8), base + 0.3 * r.standard_normal(8), r.standard_normal(8)], axis=1)
    Y = X @ W + r.normal(0, [0.1, 0.1, 3.0], (400, 3))                # task 3: another direction, and noisy
    calls = [Call("svd_task_weights", (X, Y, rank, normalize),
                  np.asarray(relatedness.svd_task_weights(X, Y, rank=rank, normalize=normalize)), "weights",
                  stage=label, tol=1e-9)
             for label, rank, normalize in [("rank 1", 1, False), ("rank 2", 2, False), ("rank 1, normalized", 1, True),
                                            ("rank 3 (= K)", 3, False)]]

    def mistake(hint, **kw):
        return Mistake(hint, lambda c: _weights(*c.args, **kw))
    mistakes = [
        mistake("scale the weights to mean 1 (only their ratios matter to the loss)", mean_one=False),
        mistake("np.linalg.svd returns the singular values largest first: the top r directions are U[:, :r]",
                order="bottom"),
        mistake("a task's weight is the length of its projection ||U_r^T theta_k||, not its square", square=True),
        mistake("normalize=True scales every theta_k to length 1 before the SVD", use_normalize=False),
    ]
    return Exercise(("svd_task_weights",), calls, "the weights match mmoe_np.relatedness.svd_task_weights (ranks 1-3, "
                    "with and without normalize)", mistakes, stages=True)


# ------------------------------------------------------------------- 15: polarisation, collapse
def _similarity(W, *, diagonal=False, flatten=True, normalise=True):
    """The library's expert similarity, right (the defaults) or with one typical mistake."""
    E = W.shape[-1]
    if not flatten:                                     # a cosine per unit, then averaged
        return np.mean([_similarity(W[:, u:u + 1, :], diagonal=diagonal) for u in range(W.shape[1])])
    if not normalise:                                   # bare dot products
        gram = np.einsum("due,duf->ef", W, W)
        return np.asarray((gram.sum() - np.trace(gram)) / (E * (E - 1)))
    right = metrics.expert_similarity(W)
    return np.asarray(right * (E - 1) / E + 1 / E if diagonal else right)   # with the E ones of the diagonal


@exercise("ex15_gate_polarisation")
def gate_polarisation():
    r = rng(150)
    K, B, E = 2, 50, 4
    uneven = np.exp(r.normal(0, 1.5, (K, B, E)))
    uneven /= uneven.sum(-1, keepdims=True)
    picky = np.zeros((K, B, E))
    picky[0, np.arange(B), r.integers(0, E, B)] = 1.0            # gate 1: a different expert for each input
    picky[1, :, 2] = 0.97                                        # gate 2: nearly always expert 3
    picky[1, :, [0, 1, 3]] = 0.01
    calls = [Call("gate_polarisation", (G,), metrics.gate_polarisation(G), "polarisation", stage=label, tol=1e-12)
             for label, G in [("even gates", np.full((K, B, E), 1 / E)), ("uneven gates", uneven),
                              ("one-hot and polarised gates", picky)]]
    W = r.standard_normal((5, 3, 4))
    W_alike = np.repeat(W[..., :1], 4, axis=-1) + 0.05 * r.standard_normal((5, 3, 4))
    calls += [Call("expert_similarity", (w,), np.asarray(metrics.expert_similarity(w)), "similarity", stage=label,
                   tol=1e-12) for label, w in [("independent experts", W), ("near-copies", W_alike)]]
    mistakes = [
        Mistake("average the gate over the inputs first, then take its largest expert: a gate that picks a "
                "different expert for every input leans on no single expert",
                lambda c: None if c.function != "gate_polarisation" else c.args[0].max(axis=-1).mean(axis=-1)),
        Mistake("the mean runs over the inputs (axis -2) and the largest entry over the experts (axis -1)",
                lambda c: None if c.function != "gate_polarisation" else c.args[0].mean(axis=-1).max(axis=-1)),
        Mistake("leave out the pairs e = e' (each expert's cosine with itself is 1)",
                lambda c: None if c.function != "expert_similarity" else _similarity(c.args[0], diagonal=True)),
        Mistake("each expert's weights W[:, :, e] are one vector of D*U numbers: one cosine per pair of experts",
                lambda c: None if c.function != "expert_similarity" else _similarity(c.args[0], flatten=False)),
        Mistake("a cosine divides the dot product by both vectors' lengths",
                lambda c: None if c.function != "expert_similarity" else _similarity(c.args[0], normalise=False)),
    ]
    return Exercise(("gate_polarisation", "expert_similarity"), calls, "polarisation and expert similarity match "
                    "mmoe_np.metrics on 5 cases", mistakes, stages=True)
