"""`reproduce report`: documents protected like results, incomplete or foreign inputs named, damaged files in one
line, and verdicts at every recorded training budget."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmoe_np import outputs
from mmoe_np.__main__ import main
from mmoe_np.experiments import budgets, report
from mmoe_np.experiments.reproduce import load_results

REPO = Path(__file__).resolve().parent.parent
TINY = ["--runs", "3", "--pilot-runs", "2", "--steps", "20", "--eval-every", "10", "--lrs", "1e-2", "1e-3",
        "--jobs", "1", "--backend", "numpy", "--no-progress"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 3-run study (main, pilot, fig3) made once for this module."""
    folder = tmp_path_factory.mktemp("study") / "out"
    assert main(["reproduce", "all", *TINY, "--out", str(folder), "--figures", str(folder / "figures")]) == 0
    return folder


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A checkout whose committed documents are copies (the real ones are never written by tests)."""
    monkeypatch.setattr(outputs, "REPO", tmp_path)
    (tmp_path / "mmoe_np").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    for name in ("REPRODUCTION.md", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_a_scratch_study_never_overwrites_the_committed_documents(study, fake_repo, capsys):
    """`report --study <3-run folder> --sensitivity /nonexistent --write REPRODUCTION.md` once exited 0 and put
    the 3-run numbers into the committed document."""
    doc = fake_repo / "REPRODUCTION.md"
    before = doc.read_text()
    code = main(["reproduce", "report", "--study", str(study), "--sensitivity", "/nonexistent", "--write", str(doc)])
    err = capsys.readouterr().err
    missing = len(report.VARIANTS)                    # one line per sensitivity variant
    assert code == 2 and err.count("\n") == 1 and f"cannot --write {doc}: {missing} input(s) are missing" in err
    assert "/nonexistent/baseline/sweep.npz (sensitivity variant 'baseline'): not found" in err
    code = main(["reproduce", "report", "--study", str(study), "--blocks", "claims", "budgets", "--write", str(doc)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"--write {doc}: a committed document" in err and "--force" in err
    assert doc.read_text() == before
    code = main(["reproduce", "report", "--study", str(study), "--blocks", "claims", "budgets", "--write", str(doc),
                 "--force"])
    assert code == 0 and doc.read_text() != before
    written = report.read_blocks(doc)
    assert "| claim | 20 steps | over all 2 recorded budgets |" in written["budgets"]
    assert written["protocol"] == report.read_blocks(REPO / "REPRODUCTION.md")["protocol"]     # the others kept


def test_a_report_on_a_scratch_file_needs_no_force(study, tmp_path, capsys):
    doc = tmp_path / "mine.md"
    doc.write_text("# mine\n<!-- BEGIN generated: claims_summary -->\n<!-- END generated: claims_summary -->\n")
    code = main(["reproduce", "report", "--study", str(study), "--blocks", "claims_summary", "--write", str(doc)])
    assert code == 0, capsys.readouterr().err
    text = doc.read_text()
    assert "After 20 steps of 3 paired runs, of the paper's 13 claims:" in text and "at 20 steps;" in text


def test_a_missing_or_foreign_fig3_is_named_and_never_written(study, tmp_path, capsys):
    """With fig3/ missing the report once dropped its rows silently; a stale fig3/ of another seed was reported as
    the Fig. 3 claim of a seed-9 study."""
    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    shutil.rmtree(copy / "fig3")
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- BEGIN generated: claims -->\n<!-- END generated: claims -->\n")
    code = main(["reproduce", "report", "--study", str(copy), "--blocks", "claims", "--write", str(doc)])
    err = capsys.readouterr().err
    assert code == 2 and f"{copy / 'fig3' / 'sweep.npz'} (the Fig. 3 study): not found" in err
    assert "BEGIN generated: claims -->\n<!--" in doc.read_text()
    other = tmp_path / "other"
    assert main(["reproduce", "fig3", *TINY, "--seed", "9", "--out", str(other), "--figures", str(tmp_path / "f")]) == 0
    shutil.copytree(other / "fig3", copy / "fig3")
    capsys.readouterr()
    code = main(["reproduce", "report", "--study", str(copy), "--blocks", "claims"])
    out, err = capsys.readouterr()
    assert code == 0 and "belongs to another study: seed 9 there, 0 here" in err
    assert "Fig. 3: Shared-Bottom (bottom of 16)" not in out


@pytest.mark.parametrize("damage, words", [
    ("truncate", "is truncated or damaged"),
    ("empty", "is empty (0 bytes)"),
    ("garbage", "is not a NumPy .npz archive"),
    ("folder", "is a folder, but the sweep results file is expected here"),
    ("no curves", "has no 'curves' array"),
])
def test_every_damaged_result_file_is_one_line_naming_it(study, tmp_path, capsys, damage, words):
    """Once: BadZipFile, KeyError, EOFError, 'pickled data' with no path, 'run the study first'."""
    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    path = copy / "sweep.npz"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"\x80\x04garbage" * 50)
    elif damage == "folder":
        path.unlink()
        path.mkdir()
    else:
        with np.load(study / "sweep.npz") as f:
            arrays = {k: f[k] for k in f.files if k != "curves"}
        np.savez(path, **arrays)
    with pytest.raises(ValueError, match=f"^{path}: {words}".replace("(", r"\(").replace(")", r"\)")):
        load_results(copy)
    code = main(["reproduce", "report", "--study", str(copy), "--blocks", "claims"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(path) in err and words in err


def test_a_damaged_chunk_or_settings_file_is_one_line(tmp_path, capsys):
    from mmoe_np.experiments.store import ChunkStore
    folder = tmp_path / "out"
    chunks = ChunkStore(folder, {"steps": 1}, runs=2, chunk_runs=1)
    chunks.chunk_file(0, 1).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=r"runs-00000-00000.npz: is truncated or damaged"):
        chunks.finished(lambda n: {})
    (folder / "chunks" / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"manifest.json: is not valid JSON"):
        ChunkStore(folder, {"steps": 1}, runs=2, chunk_runs=1)


def test_verdicts_at_every_recorded_budget(study):
    main_result, fig3 = load_results(study), load_results(study / "fig3")
    by_budget = budgets.verdicts_by_budget(main_result, fig3)
    assert list(by_budget.steps) == [10, 20] and len(by_budget.rows) == 13
    final = report.claims.evaluate_claims(main_result, fig3)
    assert [r.verdict for r in final] == [v[-1] for v in by_budget.verdicts]
    early = report.claims.evaluate_claims(dict(main_result, final=main_result["curves"][..., 0]),
                                          dict(fig3, final=fig3["curves"][..., 0]))
    np.testing.assert_array_equal([list(r.value) for r in early], [list(v[0]) for v in by_budget.values])


def test_the_budget_words_come_from_the_verdicts():
    assert budgets.table_budgets([250 * i for i in range(1, 33)]) == [1000, 2000, 4000, 8000]
    assert budgets.table_budgets([1000 * i for i in range(1, 33)]) == [1000, 2000, 4000, 8000, 16000, 32000]
    assert budgets.stability([1, 2, 3], ["holds"] * 3) == "holds at every recorded budget (1 to 3 steps)"
    text = budgets.stability([100, 200, 300, 400], ["inconclusive", "does not hold", "holds", "holds"])
    assert text == ("holds at 2 of the 4 budgets, at every one from 300 steps on; inconclusive at 1 (100 steps); "
                    "does not hold at 1 (200 steps)")
    text = budgets.stability([100, 200, 300], ["holds", "inconclusive", "inconclusive"])
    assert text.startswith("inconclusive at 2 of the 3 budgets, at every one from 200 steps on; holds at 1")


def test_the_budget_figure_is_drawn_from_raw_results(study, tmp_path, capsys):
    code = main(["reproduce", "report", "--study", str(study), "--blocks", "claims", "--figures", str(tmp_path)])
    assert code == 0
    assert (tmp_path / report.BUDGET_FIGURE).stat().st_size > 20_000
    assert (tmp_path / "reproduce_fig4.png").exists() and (tmp_path / "reproduce_fig3.png").exists()
