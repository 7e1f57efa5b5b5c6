"""No silent defaults: every option combination the CLI accepts finishes, or is refused before any training."""
import pytest

from mmoe_np.__main__ import main
from mmoe_np.experiments import sweep

BASE = ["--runs", "3", "--pilot-runs", "2", "--steps", "4", "--eval-every", "2", "--lrs", "1e-2", "--jobs", "1",
        "--backend", "numpy", "--no-progress"]


@pytest.fixture
def jobs(monkeypatch):
    """Counts the sweep jobs started (a refused combination starts none)."""
    started = []
    real = sweep.job

    def counting(*args, **kwargs):
        started.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(sweep, "job", counting)
    return started


@pytest.mark.parametrize("options, words", [
    (["--steps", "0"], "--steps must be a positive integer (>= 1), got 0"),
    (["--batch-size", "0"], "--batch-size must be a positive integer (>= 1), got 0"),
    (["--runs", "0"], "--runs must be a positive integer (>= 1), got 0"),
    (["--eval-every", "-1"], "--eval-every must be a positive integer"),
    (["--pilot-runs", "-1"], "--pilot-runs must be 0 (no pilot) or a positive number of runs, got -1"),
    (["--chunk-runs", "-2"], "--chunk-runs must be 0"),
    (["--jobs", "0"], "--jobs must be -1 (one process per core) or a positive number of processes, got 0"),
    (["--correlations", "0.5", "0.5"], "--correlations must not repeat a value"),
    (["--correlations", "1.5"], "correlations must be"),
    (["--lrs", "-0.1"], "lrs must be"),
    (["--m", "-1"], "m must be"),
    (["--c", "0"], "c must be"),
    (["--noise-std", "-1"], "noise_std must be"),
])
def test_bad_combinations_are_refused_before_any_training(tmp_path, capsys, jobs, options, words):
    code = main(["reproduce", "all", *BASE, *options, "--out", str(tmp_path / "out"),
                 "--figures", str(tmp_path / "figures")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert not jobs and not (tmp_path / "figures" / "reproduce_fig2.png").exists()


@pytest.mark.parametrize("target, options", [
    ("fig4", ["--correlations", "0.5", "0.9"]),          # once: trained 35 minutes, then 'error: 0.9 is not in list'
    ("all", ["--correlations", "0.3", "1.0"]),
    ("fig5", ["--runs", "1", "--lrs", "1e-2", "1e-3", "--pilot-runs", "0", "--eval-every", "10", "--n-train", "5"]),
    ("fig3", ["--dtype", "float64", "--alpha-beta", "google", "--m", "0", "--batch-size", "3"]),
])
def test_accepted_combinations_finish(tmp_path, capsys, target, options):
    code = main(["reproduce", target, *BASE, *options, "--out", str(tmp_path / "out"),
                 "--figures", str(tmp_path / "figures")])
    out, err = capsys.readouterr()
    assert code == 0, err
    if "0.9" in options or "0.3" in options:
        assert "**not measured**" in out and "needs correlations 0.5 and 1.0; this study has" in out


def test_two_runs_give_no_verdict_of_holds_or_does_not_hold(tmp_path, capsys):
    """`reproduce fig4 --runs 2` once printed Fig. 5 verdicts from zero-width intervals."""
    code = main(["reproduce", "fig4", *BASE, "--runs", "2", "--pilot-runs", "0", "--out", str(tmp_path / "out"),
                 "--figures", str(tmp_path / "figures")])
    out = capsys.readouterr().out
    assert code == 0
    claims = out.split("## The paper's claims")[1]
    assert "**holds**" not in claims and "**does not hold**" not in claims and "**inconclusive**" not in claims
    assert claims.count("**too few runs**") == 12                      # every claim but Fig. 3's (not run)


@pytest.mark.parametrize("options, words", [
    (["--steps", "0"], "--steps must be a positive integer (>= 1), got 0"),
    (["--batch-size", "0"], "--batch-size must be a positive integer (>= 1), got 0"),
    (["--jobs", "-3"], "--jobs must be -1"),
])
def test_compare_has_no_silent_defaults(tmp_path, capsys, jobs, options, words):
    """`compare --steps 0` once ran the full 8,000 steps; `--batch-size 0` used 128."""
    code = main(["compare", "--runs", "2", *options, "--no-progress", "--figure", str(tmp_path / "c.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err and not jobs
