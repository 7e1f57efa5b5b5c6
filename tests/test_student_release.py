"""The student release holds no solution and no instructor's file, and its checker works."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "lessons" / "exercises"
FENCE = re.compile(r"# ---- TODO[^\n]*\n(?P<body>.*?)# ---- end TODO ----", re.DOTALL)


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXERCISES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "course"
    done = subprocess.run([sys.executable, str(EXERCISES / "make_release.py"), str(out)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "left out the solutions" in done.stdout
    return out


def _normalise(text):
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def test_the_release_holds_no_solution_anywhere(release):
    """No solution's answer appears in any file of the release: not its whole body, and not half or more
    of the lines of a longer one (a near-copy with other names around it)."""
    files = [p for p in release.rglob("*") if p.is_file()]
    texts = {p: _normalise(p.read_text(errors="replace")) for p in files}
    lines_of = {p: set(text.splitlines()) for p, text in texts.items()}
    assert not (release / "lessons" / "exercises" / "solutions").exists()
    assert not (release / "lessons" / "INSTRUCTOR.md").exists()
    assert not (release / "lessons" / "exercise_answers.py").exists()
    assert not (release / "tests").exists()
    solutions = sorted((EXERCISES / "solutions").glob("ex*.py"))
    assert len(solutions) >= 19
    for solution in solutions:
        bodies = [_normalise(m["body"]) for m in FENCE.finditer(solution.read_text())]
        assert bodies, solution.name
        for body in bodies:
            code = [line for line in body.splitlines() if not line.startswith("#")]
            for path, text in texts.items():
                where = f"{solution.name}'s answer is in {path.relative_to(release)}"
                assert body not in text, where
                if len(code) >= 3:
                    assert sum(line in lines_of[path] for line in code) < len(code) / 2, where


def test_every_exercise_in_the_release_is_blank_and_nothing_else_changed(release):
    blank = _load("make_templates").blank
    for solution in sorted((EXERCISES / "solutions").glob("ex*.py")):
        copy = release / "lessons" / "exercises" / solution.name
        assert copy.read_text() == blank(solution.read_text())
        assert "raise NotImplementedError" in copy.read_text()
    for name in ("README.md", "mmoe_np/check.py", "mmoe_np/sandbox.py", "lessons/02_network_by_hand.py"):
        assert (release / name).read_bytes() == (ROOT / name).read_bytes()


def test_the_checker_works_in_the_release(release, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(release))
    blank = release / "lessons" / "exercises" / "ex14_paired_ratio.py"
    answer = tmp_path / "ex14_paired_ratio.py"                            # a student's finished file
    answer.write_text((EXERCISES / "solutions" / "ex14_paired_ratio.py").read_text())
    code = "import mmoe_np, sys; from mmoe_np import check; print(mmoe_np.__file__); sys.exit(check.main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, str(blank), str(answer)], capture_output=True, text=True,
                          timeout=600, cwd=release, env=env)
    out = done.stdout.splitlines()
    assert out[0] == str(release / "mmoe_np" / "__init__.py")             # the release's own checker
    assert out[1].startswith("TODO paired_ratio") and out[2].startswith("PASS paired_ratio"), done.stdout
    assert done.returncode == 1


def test_the_release_refuses_a_folder_that_is_not_empty_or_inside_the_course(tmp_path):
    (tmp_path / "x").write_text("")
    for out in (tmp_path, ROOT / "results" / "release"):
        done = subprocess.run([sys.executable, str(EXERCISES / "make_release.py"), str(out)], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode != 0 and ("not empty" in done.stderr or "inside the course" in done.stderr)
    assert not (ROOT / "results" / "release").exists()
