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
