"""Exercise 07 -- a verdict from paired runs (lesson 07), with your paired ratio from ex14.

Lesson 07 compares two models (or one model at two task correlations) over R paired runs: run r
trained both on the same data from the same start, and a[r], b[r] are their final test losses.
Write ``compare(a, b, margin=1.0)`` returning ``(ratio, low, high, wins, verdict)``:

- ``ratio, low, high``: the paired ratio of a to b with its 95% interval -- your ``paired_ratio``
  from ex14, imported below (do ex14 first; the checker checks it before this one);
- ``wins``: the share of runs in which a is (strictly) below b;
- ``verdict``: ``"lower"`` when the whole interval lies below ``margin``, ``"higher"`` when it lies
  above, ``"level"`` when it contains the margin; and ``"too few runs"``, with nan for low and
  high, below 3 pairs.

Answer in a sentence each: why must the verdict come from the interval, not from the ratio? Why
give no interval at all for 2 runs? When would a margin other than 1 be the right question?

Check your answer:  python -m mmoe_np.check lessons/exercises/ex07_compare.py
"""
import numpy as np
from ex14_paired_ratio import paired_ratio

EXERCISE = "compare"
MIN_RUNS = 3


def compare(a, b, margin=1.0):
    # ---- TODO: the ratio and its interval (or none), the wins, the verdict (about eight lines) ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return ratio, low, high, wins, verdict
