"""A lesson that cannot run says why and stops: exit code 0 as a script, no traceback and no
SystemExit in a notebook (issue 18: lesson 09 without its data showed a SystemExit)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_stop_lesson_ends_a_script_cleanly():
    code = "from mmoe_np.lesson_utils import stop_lesson\nstop_lesson('no data here')\nprint('not reached')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "no data here\n" and out.stderr == ""


def test_stop_lesson_in_ipython_stops_the_cell_without_a_traceback(capfd):
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        result = shell.run_cell("from mmoe_np.lesson_utils import stop_lesson\nstop_lesson('no data here')\n"
                                "print('not reached')")
    finally:
        interactiveshell.InteractiveShell.clear_instance()
    shown = capfd.readouterr()
    from mmoe_np.lesson_utils import LessonStopped
    assert isinstance(result.error_in_exec, LessonStopped)          # "Run all" stops at this cell
    text = shown.out + shown.err
    assert "no data here" in text and "not reached" not in text
    assert "Traceback" not in text and "SystemExit" not in text and "LessonStopped" not in text


def test_the_census_lesson_without_its_data_says_so_and_stops(tmp_path):
    lesson = ROOT / "lessons" / "09_census_income.py"
    env = {**os.environ, "MMOE_NP_DATA": str(tmp_path), "MMOE_QUICK": "1", "MPLBACKEND": "Agg",
           "MMOE_FIGURES": str(tmp_path)}
    out = subprocess.run([sys.executable, str(lesson)], cwd=lesson.parent, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "census-income.test.gz not found" in out.stdout and "stopping here" in out.stdout
    assert "Traceback" not in out.stderr and not list(tmp_path.glob("*.png"))
