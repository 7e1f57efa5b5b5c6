"""Sentences that state a measured result, made from the numbers they rest on.

A lesson, ``compare`` or a report that says what a measurement showed -- which is lower, by
how much, whether the runs can tell, whether something happened at all -- says it through
this module, never in a hand-written sentence. Each function takes the numbers, decides the
outcome, and returns a :class:`Finding` whose text carries those numbers:

>>> from mmoe_np import findings, stats
>>> print(findings.versus("the network's test loss", 0.31, "the best linear model's", 1.313))
→ the network's test loss (0.310) is 76% lower than the best linear model's (1.31).

Every finding's text starts with ``→`` and prints its numbers in a fixed form, so a reader
sees at once which sentences are measured results, and a test (``tests/test_findings.py``)
reads every such line back from the committed notebooks and checks that its words agree
with its numbers. When the numbers change, the sentence changes with them, including to
"this run did not show it".

The kinds:

- :func:`paired` -- two things compared over paired runs, with a t interval
  (:func:`mmoe_np.stats.paired_ratio`): lower / higher / cannot tell / too few runs;
- :func:`interval` -- any ratio with an interval against a reference value (a ratio of
  spreads, a gap), with the claim's own words for "above" and "below";
- :func:`versus` -- two single measured numbers (no runs to pair): lower / higher / within a
  stated tolerance;
- :func:`share` -- how many of n things something happened to: none / some / all;
- :func:`within` -- an equivalence claim ("comparable"): a ratio's interval inside a stated
  margin [1/m, m], wholly outside it, or overlapping its edge (cannot tell).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .stats import MIN_PAIRED_RUNS, Interval, PairedRatio

MARK = "→"


class Finding(NamedTuple):
    """A measured result: its ``kind``, the ``outcome`` the numbers gave, and the sentence."""

    kind: str
    outcome: str
    text: str

    def __str__(self):
        return self.text


def _num(x: float) -> str:
    """A number as findings print it: 3 significant digits; near 1, as many decimals as it takes to show
    which side of 1 it is on (0.9996 stays 0.9996, never "1.000")."""
    x = float(x)
    if np.isnan(x):
        return "nan"
    if 0.9 <= abs(x) < 1.1:
        for decimals in range(3, 9):
            text = f"{x:.{decimals}f}"
            if float(text) != 1.0 or x == 1.0:
                return text
        return f"{x:.9f}"
    return f"{x:#.3g}".rstrip(".")


def _num_beside(x: float, edges) -> str:
    """``x`` as :func:`_num` prints it, with more decimals where needed to show on which side of each of
    ``edges`` it lies (1.2494 next to a margin of 1.25 prints as 1.249, never as "1.25")."""
    text = _num(x)
    for decimals in range(3, 9):
        if np.isnan(x) or all((float(text) < e) == (x < e) and (float(text) > e) == (x > e) for e in edges):
            return text
        text = f"{x:.{decimals}f}"
    return text


def _interval_text(iv: Interval) -> str:
    return f"{_num(iv.estimate)} [{_num(iv.low)}, {_num(iv.high)}]"


def paired(a: str, b: str, result: PairedRatio, *, ratio: str, where: str = "") -> Finding:
    """Compare ``a`` with ``b`` over paired runs (``result = stats.paired_ratio(a_values, b_values)``).

    ``a`` and ``b`` are noun phrases ("MMoE's test loss", "Shared-Bottom's"), ``ratio`` names the
    ratio in one word ("MMoE/Shared-Bottom": no spaces), ``where`` places the comparison (" at
    correlation 0.5").
    """
    if not ratio or any(c.isspace() for c in ratio):
        raise ValueError(f"ratio must name the ratio without spaces (it is printed as one word before its numbers, "
                         f"e.g. 'MMoE/Shared-Bottom'), got {ratio!r}")
    iv, n = result.ratio, result.runs
    numbers = f"ratio {ratio} {_interval_text(iv)}, 95% t interval, {n} paired runs"
    if result.too_few:
        return Finding("paired", "too few runs",
                       f"{MARK} too few runs to compare {a} with {b}{where}: {n} paired run(s) give the ratio {ratio} "
                       f"{_num(iv.estimate)} but no interval (at least {MIN_PAIRED_RUNS} are needed).")
    verdict = result.verdict()
    if verdict == "level":
        return Finding("paired", "cannot tell",
                       f"{MARK} {n} paired runs cannot tell {a} from {b}{where}: the interval includes 1 ({numbers}). "
                       "This run did not show a difference.")
    direction = "lower" if verdict == "lower" else "higher"
    share = result.wins if direction == "lower" else 1 - result.wins
    return Finding("paired", direction,
                   f"{MARK} {a} is {direction} than {b}{where} ({numbers}; {direction} in {share:.0%} of runs).")


def interval(subject: str, value: Interval, *, above: str, below: str, reference: float = 1.0,
             statistic: str = "ratio") -> Finding:
    """A statistic with an interval against ``reference``: ``above``/``below`` say what it means when the
    interval lies wholly above/below it (``subject`` + ``above`` is a sentence: "Shared-Bottom's final
    loss" + "varies more between runs than MMoE's"). The numbers end with where the interval lies
    ("above 1", "below 1", "includes 1")."""
    runs = f", {value.runs} runs" if value.runs else ""
    numbers = f"{statistic} {_interval_text(value)}, 95% interval{runs}"
    if value.too_few:
        return Finding("interval", "too few runs",
                       f"{MARK} too few runs ({value.runs}) to tell whether {subject} {above}: {statistic} "
                       f"{_num(value.estimate)}, no interval.")
    if value.low > reference:
        return Finding("interval", "above", f"{MARK} {subject} {above} ({numbers}: above {reference:g}).")
    if value.high < reference:
        return Finding("interval", "below", f"{MARK} {subject} {below} ({numbers}: below {reference:g}).")
    return Finding("interval", "cannot tell",
                   f"{MARK} these runs cannot tell whether {subject} {above} or {below} ({numbers}: includes "
                   f"{reference:g}). This run did not show it.")


def versus(a: str, a_value: float, b: str, b_value: float, *, tolerance: float = 0.05) -> Finding:
    """Two single measured numbers (positive, e.g. two losses): ``a`` is lower, higher, or within
    ``tolerance`` (relative) of ``b``. ``a`` names the first quantity in full ("the network's test
    loss"), ``b`` the second in short ("the best linear model's")."""
    ratio = a_value / b_value
    pair = f"{a} ({_num(a_value)})"
    if abs(ratio - 1) <= tolerance:
        return Finding("versus", "same",
                       f"{MARK} {pair} and {b} ({_num(b_value)}) are within {tolerance:.0%} of each other.")
    if ratio < 1:
        return Finding("versus", "lower", f"{MARK} {pair} is {1 - ratio:.0%} lower than {b} ({_num(b_value)}).")
    if ratio < 2:
        return Finding("versus", "higher", f"{MARK} {pair} is {ratio - 1:.0%} higher than {b} ({_num(b_value)}).")
    return Finding("versus", "higher", f"{MARK} {pair} is {ratio:.3g} times {b} ({_num(b_value)}).")


def share(what: str, count: int, total: int, *, condition: str) -> Finding:
    """How many of ``total`` ``what`` meet ``condition`` (e.g. ``share("gates", 0, 16,
    condition="put more than 90% of their weight on one expert")``)."""
    count, total = int(count), int(total)
    outcome = "none" if count == 0 else "all" if count == total else "some"
    lead = {"none": f"none of the {total} {what}", "all": f"all {total} {what}",
            "some": f"{count} of the {total} {what}"}[outcome]
    tail = " This run did not show it." if outcome == "none" else ""
    return Finding("share", outcome, f"{MARK} {lead[0].upper() + lead[1:]} {condition} ({count}/{total}).{tail}")


def within(subject: str, value: Interval, *, margin: float, statistic: str = "ratio") -> Finding:
    """An equivalence claim: ``subject`` (two things, "the best runs of Shared-Bottom and of MMoE") are
    *comparable* -- their ratio within a factor ``margin`` either way -- when the whole interval lies
    inside the margin [1/margin, margin]; they *differ by more* when it lies wholly outside; otherwise
    (the interval overlaps an edge of the margin) the runs cannot tell.

    A ratio can never be shown to be exactly 1, only to be closer to 1 than a margin chosen *before*
    looking, which is why a lesson that uses this explains its margin where it uses it.
    """
    if not margin > 1:
        raise ValueError(f"margin must be a factor above 1 (the ratio allowed either way), got {margin!r}")
    band = f"[{_num(1 / margin)}, {_num(margin)}]"
    runs = f", {value.runs} runs" if value.runs else ""
    edges = (float(_num(1 / margin)), float(_num(margin)))           # the margin as printed
    shown = [_num_beside(x, edges) for x in (value.estimate, value.low, value.high)]
    numbers = f"{statistic} {shown[0]} [{shown[1]}, {shown[2]}], 95% interval{runs}"
    if value.too_few:
        return Finding("within", "too few runs",
                       f"{MARK} too few runs ({value.runs}) to tell whether {subject} are within a factor {margin:g} "
                       f"of each other: {statistic} {_num(value.estimate)}, no interval.")
    if 1 / margin <= value.low and value.high <= margin:
        return Finding("within", "within",
                       f"{MARK} {subject} are within a factor {margin:g} of each other ({numbers}: inside the margin "
                       f"{band}).")
    if value.high < 1 / margin or value.low > margin:
        return Finding("within", "outside",
                       f"{MARK} {subject} differ by more than a factor {margin:g} ({numbers}: outside the margin "
                       f"{band}).")
    return Finding("within", "cannot tell",
                   f"{MARK} these runs cannot tell whether {subject} are within a factor {margin:g} of each other "
                   f"({numbers}: overlaps the margin {band}). This run did not show it.")
