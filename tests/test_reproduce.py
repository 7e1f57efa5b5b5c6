"""The reproduction CLI end to end on a small sweep, its outputs, and its protection of committed results."""
import json
from pathlib import Path

import pytest

from mmoe_np import outputs
from mmoe_np.__main__ import main
from mmoe_np.experiments import claims, protocol, report
from mmoe_np.experiments.reproduce import load_results

REPO = Path(__file__).resolve().parent.parent
TINY = ["--runs", "3", "--pilot-runs", "2", "--steps", "20", "--eval-every", "10", "--correlations", "0.5", "0.9",
        "1.0", "--lrs", "1e-2", "1e-3", "--jobs", "1", "--no-progress"]


def test_reproduce_all_writes_raw_results_figures_and_verdicts(tmp_path, capsys):
    out, figures = tmp_path / "out", tmp_path / "figures"
    code = main(["reproduce", "all", *TINY, "--out", str(out), "--figures", str(figures)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "| MMoE | 0.5 |" in text and "95% CI" in text and "Paired by run" in text
    assert "The paper's claims" in text and "§5.1 (3): MMoE beats Shared-Bottom" in text
    for folder in (out, out / "fig3", out / "pilot"):
        for name in ("sweep.npz", "per_run.csv", "summary.csv", "config.json"):
            assert (folder / name).stat().st_size > 0, folder / name
    config = json.loads((out / "config.json").read_text())
    assert config["runs"] == 3 and config["steps"] == 20 and config["lrs"] == [1e-2, 1e-3]
    assert config["streamed"] is True and config["n_train"] == 20 * 128
    assert set(config["chosen_lrs"]) == {"shared_bottom", "omoe", "mmoe"}
    assert json.loads((out / "fig3" / "config.json").read_text())["bottom_units"] == 16
    for fig in ("reproduce_fig2.png", "reproduce_fig3.png", "reproduce_fig4.png", "reproduce_fig5.png"):
        assert (figures / fig).stat().st_size > 5000
    result = load_results(out)
    assert result["curves"].shape == (3, 3, 3, 2)
    rows = claims.evaluate_claims(result, load_results(out / "fig3"))
    assert {r.verdict for r in rows} <= {"holds", "does not hold", "inconclusive", "too few runs"} and len(rows) == 13
    # 3 runs: a t interval for the paired ratios, but no bootstrap of spreads or of the best runs
    assert all(r.verdict == "too few runs" for r in rows if r.claim.startswith("Fig. 5"))


def test_a_run_that_is_not_the_full_run_never_writes_committed_results(tmp_path, monkeypatch, capsys):
    """`reproduce fig4 --runs 1 --steps 2` once overwrote the committed 200-run results."""
    monkeypatch.setattr(outputs, "REPO", tmp_path)                 # a fake checkout with committed results
    (tmp_path / "mmoe_np").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    committed = tmp_path / "results" / "reproduce"
    committed.mkdir(parents=True)
    (committed / "config.json").write_text("{}")
    code = main(["reproduce", "fig4", "--runs", "2", "--pilot-runs", "0", "--steps", "2", "--eval-every", "1",
                 "--lrs", "1e-2", "--jobs", "1", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0
    assert (committed / "config.json").read_text() == "{}"
    assert not (tmp_path / "figures" / "reproduce_fig4.png").exists()
    scratch = list((tmp_path / "results" / "scratch").glob("fig4-*"))
    assert len(scratch) == 1 and (scratch[0] / "sweep.npz").exists() and (scratch[0] / "reproduce_fig4.png").exists()
    assert f"results go to {scratch[0]}" in text
    code = main(["reproduce", "fig4", "--runs", "2", "--steps", "2", "--no-progress", "--out", str(committed)])
    assert code == 2 and "holds committed results" in capsys.readouterr().err
    assert (committed / "config.json").read_text() == "{}"


@pytest.mark.parametrize("option", ["--out", "--figures"])
def test_output_paths_are_checked_before_any_training(tmp_path, capsys, option):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    code = main(["reproduce", "fig4", "--runs", "1", "--steps", "100000", "--no-progress", option, str(a_file)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is a file, but a folder is needed" in err
    code = main(["reproduce", "fig4", "--runs", "1", "--steps", "100000", "--no-progress", option, str(a_file / "x")])
    assert code == 2 and "is a file, so the folder cannot be created" in capsys.readouterr().err


def test_compare_checks_its_figure_path_first(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code = main(["compare", "--runs", "1", "--steps", "100000", "--no-progress",
                 "--figure", str(tmp_path / "afile" / "x.png")])
    assert code == 2 and "cannot be created" in capsys.readouterr().err


def test_bad_options_are_one_line(capsys):
    assert main(["reproduce", "fig4", "--runs", "0", "--no-progress"]) == 2
    assert "runs must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "fig4", "--n-train", "lots"])
    assert "must be 'stream' or a positive number" in capsys.readouterr().err


def test_the_full_run_is_recognised_and_its_settings_are_the_documented_protocol():
    settings = dict(protocol.FAITHFUL, backend="numba")
    assert protocol.is_full_run(settings)
    assert not protocol.is_full_run(dict(settings, runs=1))
    assert not protocol.is_full_run(dict(settings, lrs=(1e-2,)))
    F = protocol.FAITHFUL
    assert F["lrs"] == (1e-4, 1e-3, 1e-2) and F["runs"] == 200 and F["steps"] >= 5000 and F["n_train"] is None


def test_reproduction_md_and_readme_tables_are_built_from_the_committed_raw_results():
    """REPRODUCTION.md's and README.md's generated blocks equal what the code builds from results/ (reproduce
    report), and together they hold every block."""
    if not (REPO / "results" / "reproduce" / "sweep.npz").exists():
        pytest.skip("no committed study in results/reproduce")
    written = {**report.read_blocks(REPO / "REPRODUCTION.md"), **report.read_blocks(REPO / "README.md")}
    generated = report.blocks(REPO / "results" / "reproduce", REPO / "results" / "sensitivity")
    assert set(generated) == set(report.BLOCKS) <= set(written)
    for name, body in generated.items():
        assert written.get(name) == body, (f"the '{name}' block is stale: python -m mmoe_np reproduce report "
                                           "--write REPRODUCTION.md README.md")


def test_the_long_study_is_a_documented_run_with_folders_of_its_own(tmp_path, monkeypatch):
    """32,000 steps, 100 runs: recognised as protocol.LONG, written to results/reproduce_long and figures/long,
    never over the 8,000-step study."""
    import argparse

    from mmoe_np.experiments import reproduce
    monkeypatch.setattr(outputs, "REPO", tmp_path)
    (tmp_path / "mmoe_np").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    settings = dict(protocol.LONG)
    assert protocol.documented_run(settings) == "long" and protocol.documented_run(protocol.FAITHFUL) == "faithful"
    assert protocol.documented_run(dict(settings, runs=99)) is None
    args = argparse.Namespace(out=None, figures=None, force=False)
    out, figures = reproduce.resolve_outputs(args, True, "all", "long")
    assert out == tmp_path / "results" / "reproduce_long" and figures == tmp_path / "figures" / "long"
    assert outputs.is_committed(out)
