"""The course's structure: lessons in teaching order (``lessons/course.toml``), their notebooks,
scripts and exercises, as the site shows them.

    lessons = load_course(ROOT)          # list[Lesson], in course order, checked against the files
    lessons[1].exercises                 # (Path, ...): lessons/exercises/ex02_*.py, found by glob

A lesson's exercises are every ``lessons/exercises/exNN_*.py`` with its number: a new exercise
file appears on the site without editing anything. Solutions (``lessons/exercises/solutions/``)
are never part of the course's structure.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10
    import tomli as tomllib

COURSE_FILE = Path("lessons") / "course.toml"
FIELDS = {"number": str, "title": str, "class_minutes": int, "lab_minutes": int, "after": list, "knowledge": list}


@dataclass(frozen=True)
class Exercise:
    path: Path                    # lessons/exercises/exNN_name.py (absolute)
    lesson: str                   # "NN"
    summary: str                  # from the docstring's first line, e.g. "the dense layer's backward pass"

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def repo_path(self) -> str:
        return f"lessons/exercises/{self.path.name}"


@dataclass(frozen=True)
class Lesson:
    number: str
    title: str
    class_minutes: int
    lab_minutes: int
    after: tuple[str, ...]
    knowledge: tuple[str, ...]
    notebook: Path                # notebooks/NN_topic.ipynb (absolute)
    script: Path | None           # lessons/NN_topic.py, None where a copy of the course has no scripts
    exercises: tuple[Exercise, ...]

    @property
    def stem(self) -> str:
        return self.notebook.stem

    @property
    def minutes(self) -> int:
        return self.class_minutes + self.lab_minutes

    def time_text(self) -> str:
        if self.lab_minutes:
            return f"{self.class_minutes} min + {self.lab_minutes} min lab"
        return f"{self.class_minutes} min"


def exercise_summary(path: Path) -> str:
    """The exercise's subject from its docstring's first line, read without importing the file.

    "Exercise 02 -- the dense layer's backward pass (lesson 02)." -> "the dense layer's backward pass";
    a file without a readable docstring gives its name.
    """
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (SyntaxError, UnicodeDecodeError, ValueError):
        doc = ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    first = re.sub(r"^exercise\s+\d+[a-z]?\s*(--|—|-|:)\s*", "", first, flags=re.IGNORECASE)
    first = re.sub(r"\s*\(lessons?\s+[\d, and-]+\)\s*\.?$", "", first, flags=re.IGNORECASE).rstrip(".")
    return first or path.stem


def find_exercises(root: Path, number: str) -> tuple[Exercise, ...]:
    """Every ``lessons/exercises/exNN_*.py`` of lesson NN, sorted by name (solutions excluded)."""
    folder = Path(root) / "lessons" / "exercises"
    paths = sorted(folder.glob(f"ex{number}_*.py"))
    return tuple(Exercise(path=p, lesson=number, summary=exercise_summary(p)) for p in paths)


def _check_entry(entry: dict, index: int, source: Path) -> None:
    where = f"{source}: lesson #{index + 1}"
    missing = sorted(set(FIELDS) - set(entry))
    unknown = sorted(set(entry) - set(FIELDS))
    if missing:
        raise ValueError(f"{where} has no {', '.join(missing)} (expected the fields {', '.join(FIELDS)})")
    if unknown:
        raise ValueError(f"{where} has unknown fields {', '.join(unknown)} (expected {', '.join(FIELDS)})")
    for name, kind in FIELDS.items():
        if not isinstance(entry[name], kind):
            raise ValueError(f"{where}: {name} must be a {kind.__name__}, got {entry[name]!r}")
    if not re.fullmatch(r"\d\d", entry["number"]):
        raise ValueError(f"{where}: number must be two digits like \"01\", got {entry['number']!r}")
    if entry["class_minutes"] <= 0 or entry["lab_minutes"] < 0:
        raise ValueError(f"{where}: class_minutes must be > 0 and lab_minutes >= 0, "
                         f"got {entry['class_minutes']} and {entry['lab_minutes']}")


def load_course(root: Path, course_file: Path | None = None) -> list[Lesson]:
    """The lessons of ``lessons/course.toml`` in course order, each with its notebook and exercises.

    Raises ValueError naming the file and the lesson when an entry is malformed, when a lesson
    has no notebook (or two), when a notebook has no entry, or when ``after`` names a lesson
    that is not taught before it.
    """
    root = Path(root)
    source = course_file or root / COURSE_FILE
    if not source.exists():
        raise ValueError(f"course file not found: expected {source}")
    with open(source, "rb") as f:
        entries = tomllib.load(f).get("lesson", [])
    if not entries:
        raise ValueError(f"{source} has no [[lesson]] tables")
    lessons, seen = [], []
    for index, entry in enumerate(entries):
        _check_entry(entry, index, source)
        number = entry["number"]
        if number in seen:
            raise ValueError(f"{source}: lesson {number} appears twice")
        for before in entry["after"]:
            if before not in seen:
                raise ValueError(f"{source}: lesson {number} comes after {before!r}, which is not a lesson "
                                 f"taught before it (taught before it: {', '.join(seen) or 'none'})")
        notebooks = sorted((root / "notebooks").glob(f"{number}_*.ipynb"))
        if len(notebooks) != 1:
            raise ValueError(f"lesson {number} of {source}: expected one notebooks/{number}_*.ipynb, "
                             f"found {[p.name for p in notebooks] or 'none'}")
        script = root / "lessons" / f"{notebooks[0].stem}.py"
        lessons.append(Lesson(number=number, title=entry["title"], class_minutes=entry["class_minutes"],
                              lab_minutes=entry["lab_minutes"], after=tuple(entry["after"]),
                              knowledge=tuple(entry["knowledge"]), notebook=notebooks[0],
                              script=script if script.exists() else None,
                              exercises=find_exercises(root, number)))
        seen.append(number)
    listed = {lesson.notebook for lesson in lessons}
    unlisted = sorted(p.name for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb") if p not in listed)
    if unlisted:
        raise ValueError(f"notebooks without a lesson in {source}: {', '.join(unlisted)} "
                         f"(add a [[lesson]] table for each)")
    orphans = sorted(p.name for p in (root / "lessons" / "exercises").glob("ex*.py")
                     if re.match(r"ex\d\d_", p.name) and p.name[2:4] not in seen)
    if orphans:
        raise ValueError(f"exercises of no lesson in {source}: {', '.join(orphans)} "
                         f"(exNN_*.py belongs to lesson NN)")
    return lessons
