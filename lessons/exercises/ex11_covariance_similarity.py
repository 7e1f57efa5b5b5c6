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
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return float(score)
