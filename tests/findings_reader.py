"""Reads the measured-result sentences (lines starting with "→", :mod:`mmoe_np.findings`) back from
printed text and checks each sentence's words against its own numbers.

Written apart from the module that makes the sentences: it knows only their printed form, so a
sentence whose words disagree with its numbers -- or a "→" line in no known form -- is caught
whatever produced it.
"""
from __future__ import annotations

import re

NUM = r"-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|nan)"
PAIRED = re.compile(rf"ratio (?P<name>\S+) (?P<est>{NUM}) \[(?P<lo>{NUM}), (?P<hi>{NUM})\], 95% t interval, "
                    rf"(?P<n>\d+) paired runs")
PAIRED_TOO_FEW = re.compile(rf"too few runs to compare .*: (?P<n>\d+) paired run\(s\) give the ratio \S+ {NUM} but no "
                            r"interval \(at least (?P<min>\d+) are needed\)")
INTERVAL = re.compile(rf"\S+ (?P<est>{NUM}) \[(?P<lo>{NUM}), (?P<hi>{NUM})\], 95% interval(?:, (?P<n>\d+) runs)?: "
                      rf"(?P<where>above|below|includes) (?P<ref>{NUM})\)")
VERSUS_PAIR = re.compile(rf"^→ .*?\((?P<a>{NUM})\) (?P<rest>.*) \((?P<b>{NUM})\)"
                         r"(?P<tail> are within \d+% of each other)?\.$")
SHARE = re.compile(r"\((?P<k>\d+)/(?P<n>\d+)\)\.")
WITHIN = re.compile(rf"\S+ (?P<est>{NUM}) \[(?P<lo>{NUM}), (?P<hi>{NUM})\], 95% interval(?:, (?P<n>\d+) runs)?: "
                    rf"(?P<where>inside|outside|overlaps) the margin \[(?P<mlo>{NUM}), (?P<mhi>{NUM})\]\)")


class BadFinding(AssertionError):
    pass


def lines(text: str):
    """Every finding line of ``text``."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith("→")]


def check(line: str) -> str:
    """Check one finding line; returns its kind, or raises BadFinding saying what disagrees."""
    if line.startswith("→ too few runs to compare"):
        m = PAIRED_TOO_FEW.search(line)
        if not m or int(m["n"]) >= int(m["min"]):
            raise BadFinding(f"'too few runs' with enough runs, or in no known form: {line}")
        return "paired"
    m = PAIRED.search(line)
    if m:
        lo, hi = float(m["lo"]), float(m["hi"])
        if not lo <= float(m["est"]) <= hi:
            raise BadFinding(f"the estimate lies outside its interval: {line}")
        said = ("cannot tell" if "cannot tell" in line else "lower" if " is lower than " in line else
                "higher" if " is higher than " in line else None)
        truth = "lower" if hi < 1 else "higher" if lo > 1 else "cannot tell"
        if said != truth:
            raise BadFinding(f"the words say '{said}', the interval [{lo}, {hi}] says '{truth}': {line}")
        if truth == "cannot tell" and "did not show" not in line:
            raise BadFinding(f"an unresolved comparison must say the run did not show it: {line}")
        return "paired"
    if line.startswith("→ too few runs (") and " are within a factor " in line:
        return "within"
    if line.startswith("→ too few runs ("):
        return "interval"
    m = WITHIN.search(line)
    if m:
        return _check_within(line, m)
    m = INTERVAL.search(line)
    if m:
        lo, hi, ref = float(m["lo"]), float(m["hi"]), float(m["ref"])
        truth = "above" if lo > ref else "below" if hi < ref else "includes"
        if m["where"] != truth:
            raise BadFinding(f"the interval [{lo}, {hi}] is '{truth}' {ref}, the sentence says '{m['where']}': {line}")
        if (truth == "includes") != ("cannot tell" in line):
            raise BadFinding(f"'cannot tell' must go with an interval that includes the reference: {line}")
        return "interval"
    m = SHARE.search(line)
    if m and line.endswith((").", "did not show it.")):
        k, n = int(m["k"]), int(m["n"])
        said = ("none" if line.startswith("→ None of the") else "all" if line.startswith(f"→ All {n} ") else
                "some" if line.startswith(f"→ {k} of the {n} ") else None)
        truth = "none" if k == 0 else "all" if k == n else "some"
        if said != truth or (truth == "none") != line.endswith("did not show it."):
            raise BadFinding(f"{k} of {n} is '{truth}', the sentence says '{said}': {line}")
        return "share"
    m = VERSUS_PAIR.match(line)
    if m:
        a, b, rest = float(m["a"]), float(m["b"]), m["rest"] + (m["tail"] or "")
        within = re.search(r"are within (\d+)% of each other", rest)
        lower, higher = re.search(r"is (\d+)% lower than", rest), re.search(r"is (\d+)% higher than", rest)
        times = re.search(rf"is ({NUM}) times", rest)
        ratio = a / b
        rel = lambda x: 5e-3 * abs(x) + 1e-12                                    # noqa: E731
        lo_r, hi_r = (a - rel(a)) / (b + rel(b)), (a + rel(a)) / (b - rel(b))    # ratios the printed numbers allow
        if within:
            tol = int(within[1]) / 100
            if not (lo_r - 1 <= tol and 1 - hi_r <= tol):
                raise BadFinding(f"{a} and {b} are not within {tol:.0%}: {line}")
        elif lower:
            if not (lo_r < 1 and abs((1 - ratio) - int(lower[1]) / 100) <= 0.01 + (hi_r - lo_r)):
                raise BadFinding(f"{a} is not {lower[1]}% lower than {b}: {line}")
        elif higher:
            if not (hi_r > 1 and abs((ratio - 1) - int(higher[1]) / 100) <= 0.01 + (hi_r - lo_r)):
                raise BadFinding(f"{a} is not {higher[1]}% higher than {b}: {line}")
        elif times:
            if not (hi_r >= 2 * 0.995 and abs(ratio - float(times[1])) <= 0.01 * ratio + (hi_r - lo_r)):
                raise BadFinding(f"{a} is not {times[1]} times {b}: {line}")
        else:
            raise BadFinding(f"a comparison of two numbers in no known form: {line}")
        return "versus"
    raise BadFinding(f"a '→' line in no known form (every measured result is made by mmoe_np.findings): {line}")


def _check_within(line, m) -> str:
    """An equivalence finding: the words, the interval and the margin must agree."""
    lo, hi, mlo, mhi = (float(m[k]) for k in ("lo", "hi", "mlo", "mhi"))
    if not lo <= float(m["est"]) <= hi:
        raise BadFinding(f"the estimate lies outside its interval: {line}")
    if abs(mlo * mhi - 1) > 5e-3:
        raise BadFinding(f"the margin [{mlo}, {mhi}] is not a factor either way of 1: {line}")
    factor = re.search(rf"within a factor ({NUM}) of each other|differ by more than a factor ({NUM})", line)
    if not factor or abs(float(factor[1] or factor[2]) - mhi) > 5e-3 * mhi:
        raise BadFinding(f"the factor in the words is not the margin's ({mhi}): {line}")
    truth = ("inside" if mlo <= lo and hi <= mhi else "outside" if hi < mlo or lo > mhi else "overlaps")
    if m["where"] != truth:
        raise BadFinding(f"the interval [{lo}, {hi}] is '{truth}' the margin [{mlo}, {mhi}], the sentence says "
                         f"'{m['where']}': {line}")
    said = ("cannot tell" if "cannot tell" in line else "outside" if "differ by more than" in line else
            "inside" if " are within a factor " in line else None)
    if said != {"inside": "inside", "outside": "outside", "overlaps": "cannot tell"}[truth]:
        raise BadFinding(f"the words say '{said}', the interval is '{truth}' the margin: {line}")
    if truth == "overlaps" and "did not show it" not in line:
        raise BadFinding(f"an unresolved comparison must say the run did not show it: {line}")
    return "within"
