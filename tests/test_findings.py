"""Sentences of measured results: made from their numbers (mmoe_np.findings), and read back and
checked by an independent reader (tests/findings_reader.py) -- here on constructed inputs where
an effect holds, reverses, is unresolved, or rests on too few runs."""
import numpy as np
import pytest
from findings_reader import BadFinding, check, lines

from mmoe_np import findings, stats


def runs(log_ratio_mean, spread=0.1, n=20, seed=0):
    rng = np.random.default_rng(seed)
    b = np.exp(rng.normal(-4, 1, n))
    return b * np.exp(rng.normal(log_ratio_mean, spread, n)), b


@pytest.mark.parametrize("shift, outcome", [(-0.3, "lower"), (0.3, "higher"), (0.0, "cannot tell")])
def test_paired_sentences_follow_the_interval(shift, outcome):
    a, b = runs(shift)
    f = findings.paired("MMoE's test loss", "Shared-Bottom's", stats.paired_ratio(a, b), ratio="MMoE/Shared-Bottom",
                        where=" at correlation 0.5")
    assert f.outcome == outcome
    assert check(f.text) == "paired"
    if outcome == "cannot tell":
        assert "This run did not show a difference" in f.text
    else:
        assert f" is {outcome} than Shared-Bottom's at correlation 0.5" in f.text


def test_paired_with_too_few_runs_gives_no_verdict():
    a, b = runs(-1.0, n=2)
    f = findings.paired("MMoE's test loss", "Shared-Bottom's", stats.paired_ratio(a, b), ratio="MMoE/Shared-Bottom")
    assert f.outcome == "too few runs" and "lower" not in f.text and check(f.text) == "paired"


@pytest.mark.parametrize("scale, outcome", [(3.0, "above"), (0.3, "below"), (1.0, "cannot tell")])
def test_interval_sentences_follow_the_interval(scale, outcome):
    rng = np.random.default_rng(3)
    b = np.exp(rng.normal(0, 1, 100))
    a = np.exp(rng.normal(0, scale, 100)) if scale != 1.0 else b * np.exp(rng.normal(0, 0.05, 100))
    f = findings.interval("Shared-Bottom's final loss", stats.ratio_of_spreads(a, b),
                          above="varies more between runs than MMoE's", below="varies less between runs than MMoE's",
                          statistic="std ratio")
    assert f.outcome == outcome and check(f.text) == "interval"


@pytest.mark.parametrize("a, b, outcome, words", [
    (0.31, 1.313, "lower", "76% lower"), (0.123, 0.031, "higher", "3.97 times"), (1.2, 1.0, "higher", "20% higher"),
    (1.313, 1.316, "same", "within 5%")])
def test_versus_sentences_follow_the_two_numbers(a, b, outcome, words):
    f = findings.versus("the network's test loss", a, "the best linear model's", b)
    assert f.outcome == outcome and words in f.text and check(f.text) == "versus"


@pytest.mark.parametrize("k, outcome", [(0, "none"), (3, "some"), (16, "all")])
def test_share_sentences(k, outcome):
    f = findings.share("gates", k, 16, condition="put more than 90% of their weight on one expert")
    assert f.outcome == outcome and check(f.text) == "share"
    assert ("did not show it" in f.text) == (k == 0)


@pytest.mark.parametrize("forged", [
    # words that contradict the numbers beside them (the kinds of sentence issue 18 found)
    "→ MMoE's test loss is lower than Shared-Bottom's at correlation 0.5 (ratio MMoE/Shared-Bottom 1.30 "
    "[0.966, 1.75], 95% t interval, 20 paired runs; lower in 40% of runs).",
    "→ 20 paired runs cannot tell MMoE's test loss from Shared-Bottom's: the interval includes 1 (ratio MMoE/SB 1.42 "
    "[1.09, 1.79], 95% t interval, 20 paired runs). This run did not show a difference.",
    "→ the network's test loss (1.31) is 10% lower than the best linear model's (1.32).",
    "→ Adam at 1e-3's final loss (0.123) is 75% lower than Adam at 1e-2's (0.0310).",
    "→ None of the 16 gates polarise (3/16). This run did not show it.",
    "→ a sentence of no known form: the linear part is learnt.",
])
def test_the_reader_catches_sentences_that_contradict_their_numbers(forged):
    with pytest.raises(BadFinding):
        check(forged)


def test_lines_picks_only_findings():
    text = "a table\n→ All 4 runs converge (4/4).\nnot this one → no"
    assert lines(text) == ["→ All 4 runs converge (4/4)."]
