"""The exercise checker: it is used for grading, so it must never give a false verdict."""
import importlib.util
from pathlib import Path

import pytest

from mmoe_np import check, exercises

EXERCISES = Path(__file__).resolve().parent.parent / "lessons" / "exercises"
TEMPLATES = sorted(EXERCISES.glob("ex*.py"))
SOLUTIONS = sorted((EXERCISES / "solutions").glob("ex*.py"))
SOLUTION = {p.stem: p for p in SOLUTIONS}


def test_every_exercise_has_a_template_and_a_solution_and_a_check():
    assert [p.name for p in TEMPLATES] == [p.name for p in SOLUTIONS]
    assert len(TEMPLATES) >= 10
    names = {check.exercise_name(p, p.read_text()): p.stem for p in SOLUTIONS}
    assert set(names) == set(exercises.EXERCISES)
    assert {"experts_backward", "mmoe_backward", "bce_with_logits"} <= set(names)
    assert names == exercises.FILES                       # each exercise's file is where the checker looks
    lessons = {p.stem[2:4] for p in SOLUTIONS}
    assert {"02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15"} <= lessons


def test_templates_are_in_sync_with_solutions():
    spec = importlib.util.spec_from_file_location("make_templates", EXERCISES / "make_templates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, text in module.templates().items():
        assert path.read_text() == text, f"{path.name} is stale: run python lessons/exercises/make_templates.py"


def test_every_blank_template_is_todo_and_every_solution_passes(capsys):
    assert check.main([str(p) for p in TEMPLATES] + ["--summary", "--jobs", "2"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith("TODO") and "not done yet" in line for line in out[:-1]), out
    assert out[-1] == f"{len(TEMPLATES)} files: 0 PASS, {len(TEMPLATES)} TODO, 0 FAIL, 0 ERROR"
    assert check.main([str(p) for p in SOLUTIONS] + ["--jobs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(SOLUTIONS) and all(line.startswith("PASS") for line in out), out


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return path


FAIL_CASES = {
    # zeroing the input in place and returning zeros once passed
    "inplace_zeros": ("EXERCISE = 'dense_backward'\nimport numpy as np\ndef dense_backward(dout, cache):\n"
                      "    x, W = cache\n    dout[...] = 0\n"
                      "    return np.zeros_like(x), np.zeros_like(W), dout.sum(0)\n",
                      "your result is all zeros"),
    "average": ("EXERCISE = 'dense_backward'\ndef dense_backward(dout, cache):\n    x, W = cache\n"
                "    return dout @ W.T, x.T @ dout / len(x), dout.sum(0)\n", "did you average over the batch?"),
    "sign": ("EXERCISE = 'dense_backward'\ndef dense_backward(dout, cache):\n    x, W = cache\n"
             "    return dout @ W.T, -(x.T @ dout), dout.sum(0)\n", "the sign is flipped"),
    "transposed": ("EXERCISE = 'dense_backward'\ndef dense_backward(dout, cache):\n    x, W = cache\n"
                   "    return dout @ W.T, (x.T @ dout).T, dout.sum(0)\n", "the transpose of the expected shape"),
    "no_mask": ("EXERCISE = 'experts_backward'\nimport numpy as np\ndef experts_backward(X, W, H, dH):\n"
                "    return np.einsum('bue,due->bd', dH, W), np.einsum('bd,bue->due', X, dH), dH.sum(0)\n",
                "without ReLU's mask"),
    "complex": ("EXERCISE = 'mse'\ndef mse(p, y):\n    return 1.0, p + 0j\n", "complex numbers"),
    "none": ("EXERCISE = 'mse'\ndef mse(p, y):\n    pass\n", "None (did you forget a return statement?)"),
    "ragged": ("EXERCISE = 'mse'\nimport numpy as np\ndef mse(p, y):\n    return float(np.mean((p - y) ** 2)), "
               "[[1.0, 2.0], [3.0]]\n", "not an array"),
    "raises": ("EXERCISE = 'softmax_backward'\ndef softmax_backward(dG, G):\n    return dG @ G\n",
               "your softmax_backward() raised ValueError at line 3"),
    "unstable_bce": ("EXERCISE = 'bce_with_logits'\nimport numpy as np\ndef bce_with_logits(z, y):\n"
                     "    s = 1 / (1 + np.exp(-z))\n    return np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s)), "
                     "(s - y) / z.size\n", "not numerically stable"),
    "wrong_gate_stage": ("EXERCISE = 'mmoe_forward'\n" + SOLUTION["ex06_mmoe_forward"].read_text().replace(
        'params["gate_bias"][:, None, :]', "0"), "G (gates) WRONG"),
}


@pytest.mark.parametrize("case", list(FAIL_CASES))
def test_wrong_answers_fail_with_a_useful_hint(tmp_path, capsys, case):
    text, expected = FAIL_CASES[case]
    assert check.main([str(write(tmp_path, case, text))]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and expected in out and out.count("\n") == 1, out


def test_a_correct_solution_that_changes_its_inputs_in_place_passes(tmp_path, capsys):
    text = ("EXERCISE = 'dense_backward'\ndef dense_backward(dout, cache):\n    x, W = cache\n"
            "    dx, dW, db = dout @ W.T, x.T @ dout, dout.sum(0)\n    x *= 0; W *= 0; dout *= 0\n"
            "    return dx, dW, db\n")
    assert check.main([str(write(tmp_path, "inplace", text))]) == 0
    assert capsys.readouterr().out.startswith("PASS")


ERROR_CASES = {
    "exit0": ("EXERCISE = 'mse'\nimport sys\nsys.exit(0)\n", "called sys.exit(0)"),
    "exit_in_function": ("EXERCISE = 'mse'\nimport sys\ndef mse(p, y):\n    sys.exit(0)\n", "called sys.exit(0)"),
    "keyboard": ("EXERCISE = 'mse'\ndef mse(p, y):\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "os_exit": ("EXERCISE = 'mse'\nimport os\ndef mse(p, y):\n    print('PASS mse: fine')\n    os._exit(0)\n",
                "the checker got no result"),
    "syntax": ("def dense_backward(dout, cache)\n    return 1\n", "line 1: syntax error"),
    "renamed": ("EXERCISE = 'dense_backward'\ndef dense_backwards(dout, cache):\n    pass\n",
                "no function named dense_backward()"),
    "import_error": ("EXERCISE = 'dense_backward'\nimport numpy as np\nnp.frobnicate()\n",
                     "running the file failed: AttributeError at line 3"),
    "unnamed": ("x = 1\n", "does not say which exercise"),
}
# a file named for one exercise that says it is another (a copy-paste slip) is not guessed at
ERROR_CASES_BY_NAME = {"ex03_mse": ("EXERCISE = 'dense_backward'\n", "named for exercise 'mse'")}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_files_that_cannot_be_checked_are_errors_with_exit_2(tmp_path, capsys, case):
    text, expected = ERROR_CASES[case]
    assert check.main([str(write(tmp_path, case, text))]) == 2
    out = capsys.readouterr().out
    assert out.startswith("ERROR") and expected in out and out.count("\n") == 1 and "Traceback" not in out, out


def test_a_file_named_for_another_exercise_is_an_error(tmp_path, capsys):
    (name, (text, expected)), = ERROR_CASES_BY_NAME.items()
    assert check.main([str(write(tmp_path, name, text))]) == 2
    assert expected in capsys.readouterr().out


def test_a_namedtuple_answer_is_judged_like_a_tuple(tmp_path, capsys):
    text = ("EXERCISE = 'dense_backward'\nfrom collections import namedtuple\n"
            "Grads = namedtuple('Grads', 'dx dW db')\n"
            "def dense_backward(dout, cache):\n    x, W = cache\n"
            "    return Grads(dout @ W.T, x.T @ dout, dout.sum(0))\n")
    assert check.main([str(write(tmp_path, "named", text))]) == 0
    assert capsys.readouterr().out.startswith("PASS")


def test_a_file_that_imports_the_library_is_an_error(tmp_path, capsys):
    text = ("EXERCISE = 'mse'\nfrom mmoe_np.nn.losses import mse as _mse\ndef mse(p, y):\n    return _mse(p, y)\n")
    assert check.main([str(write(tmp_path, "borrowed", text))]) == 2
    out = capsys.readouterr().out
    assert out.startswith("ERROR mse") and "refused: the file imports mmoe_np.nn.losses (line 2)" in out
    assert out.count("\n") == 1      # every other route: tests/test_check_sandbox.py


def test_a_checker_fault_is_an_error_not_a_verdict(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("calls")
    monkeypatch.setattr(check, "run_student", broken)
    assert check.main([str(SOLUTION["ex03_mse"])]) == 2
    out = capsys.readouterr().out
    assert out.startswith("ERROR") and "could not check" in out


def test_a_file_cannot_start_processes(tmp_path, capsys):
    marker = tmp_path / "still_running"
    child = f"import time, pathlib; time.sleep(4); pathlib.Path({str(marker)!r}).write_text('x')"
    text = (f"EXERCISE = 'mse'\nimport subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {child!r}])\n"
            "def mse(p, y):\n    while True:\n        pass\n")
    assert check.main([str(write(tmp_path, "spawner", text)), "--timeout", "2"]) == 2
    assert "refused: the file starts another program or process" in capsys.readouterr().out
    import time
    time.sleep(4.5)
    assert not marker.exists()


def test_an_exercise_runs_on_the_students_own_earlier_exercise(tmp_path, capsys):
    """ex04 imports the student's ex02, ex07 their ex14, ex10 their ex09: copied beside it, checked first."""
    ex04 = (EXERCISES / "solutions" / "ex04_shared_bottom_backward.py").read_text()
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "ex04_shared_bottom_backward.py").write_text(ex04)
    assert check.main([str(alone / "ex04_shared_bottom_backward.py")]) == 2
    assert "this exercise imports your ex02_dense_backward.py: put it in the same folder" in capsys.readouterr().out
    flat = tmp_path / "flat"                          # a class in one folder: each student's own ex02
    flat.mkdir()
    (flat / "alice_ex04_shared_bottom_backward.py").write_text(ex04)
    (flat / "alice_ex02_dense_backward.py").write_text(FAIL_CASES["sign"][0])
    (flat / "bob_ex04_shared_bottom_backward.py").write_text(ex04)
    (flat / "bob_ex02_dense_backward.py").write_text((EXERCISES / "solutions" / "ex02_dense_backward.py").read_text())
    assert check.main([str(flat / f"{n}_ex04_shared_bottom_backward.py") for n in ("alice", "bob")]) == 1
    alice, bob = capsys.readouterr().out.splitlines()
    assert alice.startswith("FAIL shared_bottom_backward") and "first mend your alice_ex02_dense_backward.py" in alice
    assert "the sign is flipped" in alice
    assert bob.startswith("PASS shared_bottom_backward"), bob
    (flat / "carol_ex04_shared_bottom_backward.py").write_text(ex04)          # no carol_ex02: whose would it be?
    assert check.main([str(flat / "carol_ex04_shared_bottom_backward.py")]) == 2
    assert "2 files here could be it" in capsys.readouterr().out


def test_an_endless_loop_times_out(tmp_path, capsys):
    path = write(tmp_path, "loop", "EXERCISE = 'mse'\ndef mse(p, y):\n    while True:\n        pass\n")
    assert check.main([str(path), "--timeout", "3"]) == 2
    assert "did not finish within 3 s" in capsys.readouterr().out


def test_a_missing_or_non_utf8_file_is_one_line_with_exit_2(tmp_path, capsys):
    assert check.main([str(tmp_path / "nope.py")]) == 2
    assert "cannot find" in capsys.readouterr().out
    path = tmp_path / "latin1.py"
    path.write_bytes(b"EXERCISE = 'mse'\n# caf\xe9\n")
    assert check.main([str(path)]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not UTF-8" in out


def test_a_batch_checks_and_reports_every_file(tmp_path, capsys):
    files = [write(tmp_path, "exit0", ERROR_CASES["exit0"][0]), SOLUTION["ex03_mse"],
             write(tmp_path, "sign", FAIL_CASES["sign"][0]), tmp_path / "missing.py"]
    assert check.main([str(p) for p in files] + ["--summary"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:4]] == ["ERROR", "PASS", "FAIL", "ERROR"]
    assert out[4] == "4 files: 1 PASS, 0 TODO, 1 FAIL, 2 ERROR"
