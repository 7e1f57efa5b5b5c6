"""Exercise 08 -- your own numba kernels for the gate-weighted sum (lesson 08).

Lesson 08 times the library's kernels; here you write two of them. With H (B, U, E) the experts'
outputs, G (K, B, E) the K gates' weights and dF (K, B, U) the gradient of the mixtures:

    forward    F[k, b, u] = sum_e G[k, b, e] H[b, u, e]            F: (K, B, U)
    backward   dH (B, U, E) and dG (K, B, E): the gradients of the forward's inputs

Write both as explicit loops compiled by ``@numba.njit`` -- inside it np.einsum does not exist,
which is the point. The checker checks that numba compiled them and compares them with the NumPy
oracle (``mmoe_np.kernels.reference``), also on strided views of the arrays. Derive the backward
on paper first (lesson 05 has the same sum). Then think about speed: which loop order reads H and G
with stride 1 when they are C-ordered, and which output entries could threads compute
independently (``numba.prange``) without two of them writing the same cell?

Check your answer:  python -m mmoe_np.check lessons/exercises/ex08_gate_mix_kernels.py
"""
import numba
import numpy as np

EXERCISE = "gate_mix_kernels"


@numba.njit
def gate_mix_forward(H, G):
    B, U, E = H.shape
    K = G.shape[0]
    F = np.zeros((K, B, U))
    # ---- TODO: nested loops over k, b, u and the sum over e ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return F


@numba.njit
def gate_mix_backward(H, G, dF):
    B, U, E = H.shape
    K = G.shape[0]
    dH = np.zeros((B, U, E))
    dG = np.zeros((K, B, E))
    # ---- TODO: loops that accumulate dH and dG ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return dH, dG
