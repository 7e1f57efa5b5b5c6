"""Exercise 14 -- a paired comparison of two models over many runs (lesson 14).

``a`` and ``b`` hold two models' final losses, one entry per run, from the same runs (the
same data and initial conditions): pair r is (a[r], b[r]). Return the geometric-mean ratio
of a to b and its 95% interval, ``(ratio, low, high)``:

1. the per-run log ratios  l_r = log(a_r / b_r);
2. their mean m and standard error  se = std(l, ddof=1) / sqrt(R);
3. ratio = exp(m), low = exp(m - 1.96 se), high = exp(m + 1.96 se).

Check your answer:  python -m mmoe_np.check lessons/exercises/ex14_paired_ratio.py
"""
import numpy as np

EXERCISE = "paired_ratio"


def paired_ratio(a, b):
    # ---- TODO: log ratios, their mean and standard error, back to ratios (four lines) ----
    log_ratio = np.log(a / b)
    m = log_ratio.mean()
    se = log_ratio.std(ddof=1) / np.sqrt(len(log_ratio))
    ratio, low, high = np.exp(m), np.exp(m - 1.96 * se), np.exp(m + 1.96 * se)
    # ---- end TODO ----
    return ratio, low, high
