"""Every lesson runs top to bottom in quick mode (MMOE_QUICK=1), so none can rot."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

CENSUS_DIR = Path(os.environ.get("MMOE_NP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]_*.py"))


def test_there_are_lessons():
    assert len(LESSONS) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_quick_mode(lesson, tmp_path):
    if "census" in lesson.stem and not (CENSUS_DIR / "census-income.test.gz").exists():
        pytest.skip(f"{CENSUS_DIR}/census-income.test.gz is absent: the census lesson needs it")
    env = {**os.environ, "MMOE_QUICK": "1", "MPLBACKEND": "Agg", "MMOE_FIGURES": str(tmp_path)}
    result = subprocess.run([sys.executable, str(lesson)], cwd=lesson.parent, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{lesson.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert list(tmp_path.glob("*.png")), f"{lesson.name} saved no figure"


def test_lessons_are_percent_format_and_end_with_exercises():
    for lesson in LESSONS:
        text = lesson.read_text()
        assert text.startswith("# %% [markdown]"), lesson.name
        assert "# %%\n" in text, lesson.name
        assert "## Exercises" in text, lesson.name


def test_quick_mode_never_writes_into_the_committed_figures():
    """Quick runs once overwrote every committed lesson figure with quick-run pictures."""
    figures = Path(__file__).resolve().parent.parent / "figures"
    before = {p.name: p.stat().st_mtime_ns for p in figures.glob("*.png")}
    env = {k: v for k, v in os.environ.items() if k != "MMOE_FIGURES"}
    env.update(MMOE_QUICK="1", MPLBACKEND="Agg")
    lesson = next(p for p in LESSONS if p.stem.startswith("01_"))
    result = subprocess.run([sys.executable, str(lesson)], cwd=lesson.parent, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "figure saved: <temporary folder>/01_label_correlation.png" in result.stdout   # not figures/
    assert {p.name: p.stat().st_mtime_ns for p in figures.glob("*.png")} == before


def test_import_does_not_import_numba():
    """numba loads when a numba kernel (or the fused Adam) is first used, never on import."""
    code = ("import sys, mmoe_np as mn; import numpy as np; "
            "mn.MMoE(4).predict(np.ones((8, 4))); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("user_policy", [None, "ACTIVE"])
def test_import_asks_idle_openmp_threads_to_sleep_unless_the_user_chose(user_policy):
    """Spinning OpenMP threads starved OpenBLAS (a numba step 9x slower): import sets PASSIVE."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_policy:
        env["OMP_WAIT_POLICY"] = user_policy
    code = "import os, mmoe_np; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == (user_policy or "PASSIVE"), out.stderr


@pytest.mark.slow
def test_exercise_answers_run_in_quick_mode(tmp_path):
    """The measured answers INSTRUCTOR.md quotes come from lessons/exercise_answers.py: it must run."""
    script = LESSONS[0].parent / "exercise_answers.py"
    keys = []
    if not (CENSUS_DIR / "census-income.test.gz").exists():
        keys = sorted({line.split('"')[1].split(".")[0] for line in script.read_text().splitlines()
                       if line.startswith('@answer("') and not line.startswith('@answer("09')})
    env = {**os.environ, "MMOE_QUICK": "1", "MPLBACKEND": "Agg", "MMOE_FIGURES": str(tmp_path)}
    result = subprocess.run([sys.executable, str(script), *keys], cwd=script.parent, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"exercise_answers.py failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.count("\n## ") >= 25
