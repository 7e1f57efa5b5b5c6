"""Exercise 11 -- the covariance similarity score of two tasks' inputs (lesson 11).

For each task's input X_i (n_i, d), with X_i^T X_i = U D U^T (eigenvectors U, eigenvalues D,
largest first):

1. ``factor(X, keep)``: r is the smallest rank whose top r eigenvalues add up to at least
   ``keep`` times their total; return the factor A = U_r D_r^(1/2) (d, r), so that A A^T is the
   best rank-r approximation of X^T X. Compute it without forming X^T X (what does the SVD of X
   itself say about the eigenvectors and eigenvalues of X^T X?).
2. ``covariance_similarity(X1, X2, keep)``: with A_i = factor(X_i, keep),

       score = ||A_1^T A_2||_F / sqrt(||A_1^T A_1||_F * ||A_2^T A_2||_F)

   Show that identical inputs score exactly 1, and that the paper's normaliser
   ||A_1||_F ||A_2||_F would not give 1 for them unless r = 1.

The checker tests ``factor`` on its own (r, then A up to the sign of each column: why are the
columns' signs not determined?) and then the score.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex11_covariance_similarity.py
"""
import numpy as np

EXERCISE = "covariance_similarity"


def factor(X, keep=0.99):
    # ---- TODO: the SVD of X, the rank r, the factor A (about five lines) ----
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    eigenvalues = s**2                                              # of X^T X
    r = int(np.searchsorted(np.cumsum(eigenvalues), keep * eigenvalues.sum() * (1 - 1e-12)) + 1)
    A = Vt[:r].T * s[:r]                                            # U_r D_r^(1/2)
    # ---- end TODO ----
    return A


def covariance_similarity(X1, X2, keep=0.99):
    # ---- TODO: the two factors, then the score (about three lines) ----
    A1, A2 = factor(X1, keep), factor(X2, keep)
    score = np.linalg.norm(A1.T @ A2) / np.sqrt(np.linalg.norm(A1.T @ A1) * np.linalg.norm(A2.T @ A2))
    # ---- end TODO ----
    return float(score)
