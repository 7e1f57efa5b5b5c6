"""Exercise 14 -- a paired comparison of two models over many runs (lesson 14).

``a`` and ``b`` hold two models' final losses, one entry per run, from the same runs (the
same data and initial conditions): pair r is (a[r], b[r]). Return the geometric-mean ratio
of a to b and its 95% interval, ``(ratio, low, high)``:

1. the per-run log ratios  l_r = log(a_r / b_r);
2. their mean m and standard error  se = std(l, ddof=1) / sqrt(R);
3. ratio = exp(m), low = exp(m - t se), high = exp(m + t se), with t Student's 97.5% quantile
   for R - 1 degrees of freedom (``scipy.stats.t.ppf(0.975, R - 1)``: 2.20 for 12 runs, 1.97
   for 200) -- not the normal 1.96, which is too small for few runs.

Check your answer:  python -m mmoe_np.check lessons/exercises/ex14_paired_ratio.py
"""
import numpy as np
from scipy.stats import t

EXERCISE = "paired_ratio"


def paired_ratio(a, b):
    # ---- TODO: log ratios, their mean and standard error, t, back to ratios (five lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return ratio, low, high
