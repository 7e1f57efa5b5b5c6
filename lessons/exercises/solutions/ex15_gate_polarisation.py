"""Exercise 15 -- measuring gate polarisation and expert collapse (lesson 15).

1. ``gate_polarisation(G)``: G (K, B, E) holds K gates' weights over E experts for B inputs. Return,
   for each gate (K,), how much it leans on a single expert *on average over the inputs*: 1/E for
   a gate whose weight is even on average, 1 for a gate that always picks the same expert. Before
   coding: a gate that puts all its weight on one expert, but a different one for each input --
   what should it score, and why is that not polarisation?
2. ``expert_similarity(W)``: W (D, U, E) holds the E experts' kernels. Return the mean cosine
   similarity between the weights of every pair of *different* experts (a float): about 0 for
   independent random experts, 1 when they have collapsed into copies of each other.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex15_gate_polarisation.py
"""
import numpy as np

EXERCISE = "gate_polarisation"


def gate_polarisation(G):
    # ---- TODO: one line ----
    polarisation = G.mean(axis=-2).max(axis=-1)
    # ---- end TODO ----
    return polarisation


def expert_similarity(W):
    D, U, E = W.shape
    # ---- TODO: one vector per expert, their cosines, the mean over pairs e != e' (about five lines) ----
    V = W.reshape(D * U, E)
    V = V / np.linalg.norm(V, axis=0)
    cosines = V.T @ V                                               # (E, E), ones on the diagonal
    similarity = (cosines.sum() - np.trace(cosines)) / (E * (E - 1))
    # ---- end TODO ----
    return similarity
