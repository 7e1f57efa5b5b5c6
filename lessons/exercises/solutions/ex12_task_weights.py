"""Exercise 12 -- SVD-based task weights (lesson 12; Wu, Zhang & Re 2020, Algorithm 2).

Every task reads the same inputs X (n, d); Y (n, K) holds the K tasks' targets. Lesson 12 gives the
rule in words: each task's linear signal is theta_k = X^T y_k / n; take the best rank-r
approximation of the (d, K) matrix [theta_1 ... theta_K]; task k's weight is the length of
theta_k's projection onto the r directions that approximation keeps. Return the K weights scaled
to mean 1. With ``normalize=True`` (lesson 12's variant) every theta_k is first scaled to length 1.

Before coding: which r directions span the best rank-r approximation (Eckart-Young), and in which
order does ``np.linalg.svd`` return them? Why can a noisy task end up with the *largest* weight
when ``normalize=False``?

Check your answer:  python -m mmoe_np.check lessons/exercises/ex12_task_weights.py
"""
import numpy as np

EXERCISE = "task_weights"


def svd_task_weights(X, Y, rank=1, normalize=False):
    # ---- TODO: the signals, the top-r directions, the projections' lengths, mean 1 (about six lines) ----
    thetas = X.T @ Y / len(X)                                       # (d, K)
    if normalize:
        thetas = thetas / np.linalg.norm(thetas, axis=0)
    U, _, _ = np.linalg.svd(thetas, full_matrices=False)            # singular values largest first
    weights = np.linalg.norm(U[:, :rank].T @ thetas, axis=0)
    weights = weights / weights.mean()
    # ---- end TODO ----
    return weights
