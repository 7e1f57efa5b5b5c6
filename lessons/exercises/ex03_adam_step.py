"""Exercise 03 -- one Adam step (lesson 03).

    m <- beta1 m + (1 - beta1) g          v <- beta2 v + (1 - beta2) g^2
    m_hat = m / (1 - beta1^t)             v_hat = v / (1 - beta2^t)
    param <- param - lr * m_hat / (sqrt(v_hat) + eps)

``t`` counts from 1. Return the new ``(param, m, v)``.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex03_adam_step.py
"""
import numpy as np

EXERCISE = "adam_step"


def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    # ---- TODO: update m and v, correct their bias, update param ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return param, m, v
