"""Write the student release: a copy of the course that a teacher can hand out.

    python3 run.py student-release DIR          # or: python lessons/exercises/make_release.py DIR

The copy is made from the instructor's checkout (the files git tracks; every file when this is
not a git checkout), never edited by hand (as nbgrader and otter-grader generate the student copy):

- left out: the solutions (``lessons/exercises/solutions/``), the instructor's guide
  (``lessons/INSTRUCTOR.md``), the measured answers (``lessons/exercise_answers.py``), these two
  tools, and the course's own test suite and CI (``tests/``, ``.ci/``: they read the solutions,
  and some hold hand-written oracles -- a CGC forward pass, for one -- that would give answers away);
- every exercise file is written blank from its solution (``make_templates.blank``): everything
  between its ``# ---- TODO`` fences is a ``raise NotImplementedError``.

The checker works in the copy (``python -m mmoe_np.check lessons/exercises/ex02_dense_backward.py``):
it computes every expected value itself, from the library, and never reads a solution. The
solutions and the instructor's guide stay with the teacher. The library the lessons teach from is
in the copy -- as in any course that hands out its library -- so a student can read how
``mmoe_np`` computes, say, the experts' backward pass; what the checker prevents is graded code
that uses it (an import by any route, or reading its files, is ERROR).
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
INSTRUCTOR_ONLY = ("lessons/exercises/solutions/", "lessons/INSTRUCTOR.md", "lessons/exercise_answers.py",
                   "lessons/exercises/make_templates.py", "lessons/exercises/make_release.py", "tests/", ".ci/")


def _blank():
    spec = importlib.util.spec_from_file_location("make_templates", HERE / "make_templates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.blank


def course_files(root=ROOT):
    """The files of the course, relative to ``root``: what git tracks, or every file outside caches."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        files = [f for f in listed.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "build"}
        files = [str(p.relative_to(root)) for p in sorted(root.rglob("*"))
                 if p.is_file() and not skip & set(p.relative_to(root).parts) and not p.name.endswith(".egg-info")]
    return [f for f in files if (root / f).is_file()]


def instructor_only(relative):
    """Whether a file stays with the teacher."""
    return relative.startswith(INSTRUCTOR_ONLY)


def release(out, root=ROOT):
    """Write the student copy to ``out`` (a new or empty folder); returns the files written."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: choose a new folder for the student release")
    if out == root or root in out.parents:
        raise SystemExit(f"{out} is inside the course ({root}): choose a folder outside it")
    blank = _blank()
    written = []
    for relative in course_files(root):
        if instructor_only(relative):
            continue
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
        written.append(relative)
    for solution in sorted((root / "lessons" / "exercises" / "solutions").glob("ex*.py")):
        relative = f"lessons/exercises/{solution.name}"
        (out / relative).write_text(blank(solution.read_text()))       # blank, whatever the copy said
        if relative not in written:
            written.append(relative)
    return sorted(written)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="a new (or empty) folder outside the course")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    written = release(args.out)
    exercises = sum(f.startswith("lessons/exercises/ex") for f in written)
    print(f"wrote the student release to {Path(args.out).resolve()}: {len(written)} files, {exercises} blank "
          "exercises; left out the solutions, lessons/INSTRUCTOR.md, lessons/exercise_answers.py, tests/ and .ci/ "
          "(they stay with you)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
