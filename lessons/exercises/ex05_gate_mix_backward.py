"""Exercise 05b -- the gate-weighted sum's backward pass (lesson 05).

Forward: ``F[k, b, u] = sum_e G[k, b, e] * H[b, u, e]`` with H (B, U, E), G (K, B, E).
Given ``dF`` (K, B, U), return ``dH`` (B, U, E) and ``dG`` (K, B, E).
``np.einsum`` makes each a one-liner; loops are fine too.

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
