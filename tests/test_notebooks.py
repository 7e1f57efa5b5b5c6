"""Every lesson has an executed notebook whose cells are the lesson's (jupytext pairing)."""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is part of the test extras")

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def cells(notebook):
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_notebook_is_in_sync_with_its_lesson(lesson):
    path = ROOT / "notebooks" / f"{lesson.stem}.ipynb"
    assert path.exists(), f"{path.name} is missing: python3 run.py notebooks {lesson.name[:2]}"
    notebook = jupytext.read(path)
    assert cells(notebook) == cells(jupytext.read(lesson, fmt="py:percent")), (
        f"{path.name} is out of date with {lesson.name}: python3 run.py notebooks {lesson.name[:2]}")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{path.name} was not executed"
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in code for o in c.get("outputs", [])), f"{path.name} shows no figure"


def outputs_text(notebook):
    """Every text a reader sees in a notebook's outputs (streams, results, errors)."""
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(v if isinstance(v, str) else "".join(v) for k, v in out.get("data", {}).items()
                         if k.startswith("text/"))
            if out.get("output_type") == "error":
                parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


DIRT = {  # what a student must never see in a committed notebook's outputs
    "a machine's path": r"(?<![\w.])/(?:work|home|root|tmp|Users|private)/",
    "a warning": r"\b\w*Warning\b|IProgress not found",
    "an object's repr": r"PosixPath\(|<Figure size|<matplotlib\.|at 0x[0-9a-f]{6,}",
    "an error or exit": r"Traceback \(most recent call last\)|SystemExit",
}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_committed_notebook_outputs_are_clean(lesson):
    import re
    notebook = jupytext.read(ROOT / "notebooks" / f"{lesson.stem}.ipynb")
    text = outputs_text(notebook)
    for what, pattern in DIRT.items():
        found = re.search(pattern, text)
        context = text[max(0, found.start() - 60):found.end() + 60] if found else ""
        assert not found, (f"{lesson.stem}: an output shows {what}: ...{context}... (regenerate with "
                           "python3 run.py notebooks after fixing the lesson)")


# Lessons whose text rests on measured results, and the kinds of finding (mmoe_np.findings) that must
# carry those results in their committed outputs. Every "→" line of every notebook is read back and
# checked against its own numbers (tests/findings_reader.py).
FINDINGS_REQUIRED = {
    "01_synthetic_data": {"interval"},
    "02_network_by_hand": {"versus"},
    "03_adam": {"versus"},
    "04_shared_bottom": {"paired", "share"},
    "06_mmoe": {"versus"},
    "07_side_by_side": {"paired"},
    "08_speed": {"versus"},
    "14_trainability": {"paired", "interval", "within"},
    # lessons 09-15 (issue 18, second half of the course)
    "09_census_income": {"share", "paired", "interval"},
    "10_capacity_and_transfer": {"paired"},
    "11_per_task_inputs": {"paired"},
    "12_task_weights": {"paired", "versus"},
    "13_cgc_and_ple": {"paired", "interval"},
    "15_gate_polarisation": {"share", "paired"},
}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_measured_sentence_in_a_notebook_agrees_with_its_numbers(lesson):
    from findings_reader import check, lines
    notebook = jupytext.read(ROOT / "notebooks" / f"{lesson.stem}.ipynb")
    found = lines(outputs_text(notebook))
    kinds = {check(line) for line in found}            # raises, naming the sentence, when words and numbers disagree
    missing = FINDINGS_REQUIRED.get(lesson.stem, set()) - kinds
    assert not missing, (f"{lesson.stem} states measured results without a finding of kind {sorted(missing)} "
                         "(mmoe_np.findings) in its outputs")
