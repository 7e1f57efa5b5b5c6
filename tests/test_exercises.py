"""The exercise checker: blank templates fail, solutions pass, bad files get one line."""
import importlib.util
from pathlib import Path

import pytest

from mmoe_np import check

EXERCISES = Path(__file__).resolve().parent.parent / "lessons" / "exercises"
TEMPLATES = sorted(EXERCISES.glob("ex*.py"))
SOLUTIONS = sorted((EXERCISES / "solutions").glob("ex*.py"))


def test_every_exercise_has_a_template_and_a_solution():
    assert [p.name for p in TEMPLATES] == [p.name for p in SOLUTIONS]
    assert len(TEMPLATES) >= 5


def test_templates_are_in_sync_with_solutions():
    spec = importlib.util.spec_from_file_location("make_templates", EXERCISES / "make_templates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, text in module.templates().items():
        assert path.read_text() == text, f"{path.name} is stale: run python lessons/exercises/make_templates.py"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_blank_template_fails(path, capsys):
    assert check.main([str(path)]) == 1
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_passes(path, capsys):
    assert check.main([str(path)]) == 0
    assert capsys.readouterr().out.startswith("PASS")


def test_wrong_answer_names_the_gradient_and_the_numbers(tmp_path, capsys):
    wrong = tmp_path / "ex02_dense_backward.py"
    wrong.write_text((EXERCISES / "solutions" / "ex02_dense_backward.py").read_text()
                     .replace("dW = x.T @ dout", "dW = x.T @ dout / len(x)"))
    assert check.main([str(wrong)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL dense_backward: dW: relative error")
    assert "yours" in out and "expected" in out and "index" in out


@pytest.mark.parametrize("content, expected", [
    (None, "cannot find"),
    ("def dense_backward(dout, cache)\n    return 1\n", "line 1: syntax error"),
    ("EXERCISE = 'dense_backward'\ndef dense_backwards(dout, cache):\n    pass\n",
     "no function named dense_backward()"),
    ("EXERCISE = 'dense_backward'\nimport numpy as np\nnp.frobnicate()\n", "running the file failed at line 3"),
    ("x = 1\n", "does not say which exercise"),
])
def test_bad_files_get_one_line(tmp_path, capsys, content, expected):
    path = tmp_path / "student.py"
    if content is not None:
        path.write_text(content)
    assert check.main([str(path)]) == 2
    out = capsys.readouterr().out
    assert expected in out
    assert out.count("\n") == 1 and "Traceback" not in out


def test_a_crash_inside_the_students_function_is_one_line(tmp_path, capsys):
    path = tmp_path / "ex05_softmax_backward.py"
    path.write_text("EXERCISE = 'softmax_backward'\ndef softmax_backward(dG, G):\n    return dG @ G\n")
    assert check.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL softmax_backward: your code raised ValueError at line 3")
    assert out.count("\n") == 1
