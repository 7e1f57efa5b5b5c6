"""Exercise 05b -- the gate-weighted sum's backward pass (lesson 05).

Forward: ``F[k, b, u] = sum_e G[k, b, e] * H[b, u, e]`` with H (B, U, E), G (K, B, E).
Given ``dF`` (K, B, U), derive and return ``dH`` (B, U, E) and ``dG`` (K, B, E). On paper: which
entries of F does H[b, u, e] reach (how many tasks?), and which does G[k, b, e] reach?
``np.einsum`` makes each a one-liner once you know which index is summed; loops are fine too.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex05_gate_mix_backward.py
"""
import numpy as np

EXERCISE = "gate_mix_backward"


def gate_mix_backward(H, G, dF):
    # ---- TODO: dH sums over tasks k, dG sums over units u ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return dH, dG
