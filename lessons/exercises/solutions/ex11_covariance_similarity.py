"""Exercise 11 -- the covariance similarity score of two tasks' inputs (lesson 11).

For each input X_i (n_i, d):
    X_i^T X_i = U D U^T                  (eigenvectors U, eigenvalues D, largest first)
    r_i = smallest r whose top r eigenvalues add up to >= keep * their total
    A_i = U[:, :r_i] * sqrt(D[:r_i])      (d, r_i)
then
    score = ||A_1^T A_2||_F / sqrt(||A_1^T A_1||_F * ||A_2^T A_2||_F)

Hint: the SVD of X itself, X = P S V^T, gives X^T X = V S^2 V^T (U = V, D = S^2) without
ever forming X^T X. ``np.linalg.norm`` of a matrix is its Frobenius norm.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex11_covariance_similarity.py
"""
import numpy as np

EXERCISE = "covariance_similarity"


def covariance_similarity(X1, X2, keep=0.99):
    # ---- TODO: the factors A_1, A_2, then the score (about ten lines) ----
    def factor(X):
        _, s, Vt = np.linalg.svd(X, full_matrices=False)
        eig = s**2
        r = int(np.searchsorted(np.cumsum(eig), keep * eig.sum() * (1 - 1e-12)) + 1)
        return Vt[:r].T * s[:r]

    A1, A2 = factor(X1), factor(X2)
    score = np.linalg.norm(A1.T @ A2) / np.sqrt(np.linalg.norm(A1.T @ A1) * np.linalg.norm(A2.T @ A2))
    # ---- end TODO ----
    return float(score)
