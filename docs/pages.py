"""Stage the site's sources: copy what the course already holds into one folder Sphinx can read.

    staged = stage(ROOT, src)                    # the full site, with the teachers' section
    staged = stage(ROOT, src, student=True)      # a site to hand to students: no teachers' guide

The folder mirrors the repository's layout, so the documents' own relative links work as they
do on GitHub (README.md's ``notebooks/01_synthetic_data.ipynb`` is the lesson's page,
``REPRODUCTION.md`` the reproduction's, ``figures/x.png`` the figure):

    index.md                           the start page for students (from docs/start.md)
    notebooks/NN_topic.ipynb           each committed notebook, outputs as committed, with a
                                       "lesson at a glance" box under its title (course.toml)
    lessons/NN_topic.py                the lesson scripts (README links them: downloads)
    lessons/exercises/exNN_name.py     each exercise file, and a page for it (exNN_name.md)
    README.md  REPRODUCTION.md  benchmarks/RESULTS.md  lessons/INSTRUCTOR.md
    figures/                           the committed figures (and _extra/figures for raw <img>)

Nothing here runs a notebook, and nothing under ``lessons/exercises/solutions/`` (nor
``lessons/exercise_answers.py``) is ever copied: the site holds no solution.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from course import Exercise, Lesson, load_course

HERE = Path(__file__).resolve().parent
START_TEMPLATE = HERE / "start.md"

# (repository path, title in the menu, section): the documents shown as pages when present
DOCUMENTS = [
    ("REPRODUCTION.md", "The paper, reproduced", "Results"),
    ("benchmarks/RESULTS.md", "Benchmarks", "Results"),
    ("lessons/INSTRUCTOR.md", "Instructor's guide", "For teachers"),
    ("README.md", "About mmoe-np", "About"),
]
TEACHERS = "lessons/INSTRUCTOR.md"
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Staged:
    """What a stage wrote: the lessons, the exercises, and the documents it found or left out."""
    src: Path
    lessons: list[Lesson]
    exercises: list[Exercise]
    documents: list[str] = field(default_factory=list)     # repository paths staged as pages
    left_out: list[str] = field(default_factory=list)      # "path (why)"
    linked: list[str] = field(default_factory=list)        # other repository files the pages link to

    @property
    def pages(self) -> list[str]:
        """Every page's document name (path without suffix), start page first."""
        names = ["index"] + [f"notebooks/{lesson.stem}" for lesson in self.lessons]
        names += [f"lessons/exercises/{e.name}" for e in self.exercises]
        return names + [d.rsplit(".", 1)[0] for d in self.documents]


# --- links -------------------------------------------------------------------------------

def relative(target: str, page: str) -> str:
    """The path of ``target`` as written on the page ``page`` (both relative to the site's root)."""
    up = page.count("/")
    return "../" * up + target


def outside_fences(text: str, edit) -> str:
    """Apply ``edit`` to the Markdown outside fenced code blocks (code keeps every character)."""
    out, block, fenced = [], [], False
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            if not fenced:
                out.append(edit("".join(block)))
                block = []
            fenced = not fenced
            out.append(line)
        elif fenced:
            out.append(line)
        else:
            block.append(line)
    out.append(edit("".join(block)) if not fenced else "".join(block))
    return "".join(out)


def link_exercises(text: str, exercises: list[Exercise], page: str) -> str:
    """Turn a code span naming an exercise (`ex02_dense_backward`, `ex02_dense_backward.py`,
    `lessons/exercises/ex02_dense_backward.py`) into a link to the exercise's page."""
    by_name = {e.name: e for e in exercises}

    def replace(match):
        word = match.group(1)
        name = Path(word).stem if word.endswith(".py") else word
        exercise = by_name.get(name)
        if exercise is None or ("/" in word and word != exercise.repo_path):
            return match.group(0)
        return f"[`{word}`]({relative(f'lessons/exercises/{name}.md', page)})"

    pattern = re.compile(r"(?<![\[`])`((?:lessons/exercises/)?ex\d\d_\w+(?:\.py)?)`(?!`)")
    return outside_fences(text, lambda block: pattern.sub(replace, block))


# --- lesson pages ------------------------------------------------------------------------

def lesson_link(lesson: Lesson, page: str) -> str:
    return relative(f"notebooks/{lesson.notebook.name}", page)


def exercise_line(exercise: Exercise, page: str) -> str:
    return f"[`{exercise.name}`]({relative(f'lessons/exercises/{exercise.name}.md', page)}) ({exercise.summary})"


def glance(lesson: Lesson, lessons: dict[str, Lesson]) -> str:
    """The box under a lesson's title: time, what to know first, exercises, how to run it."""
    page = f"notebooks/{lesson.stem}"
    before = [f"[lesson {n}: {lessons[n].title}]({lesson_link(lessons[n], page)})" for n in lesson.after]
    before += list(lesson.knowledge)
    exercises = "the questions at the end of this page"
    if lesson.exercises:
        exercises += "; checked automatically: " + ", ".join(exercise_line(e, page) for e in lesson.exercises)
    run = f"`python3 run.py lab`, then open `{lesson.notebook.name}`"
    if lesson.script is not None:
        run += f"; or as a script: `python lessons/{lesson.script.name}`"
    lines = [
        f":::{{admonition}} Lesson {lesson.number} at a glance",
        ":class: course-meta tip",
        "",
        f"- **Time:** {lesson.time_text()}",
        f"- **Before this lesson:** {'; '.join(before) if before else 'nothing: start here'}",
        f"- **Exercises:** {exercises}",
        f"- **Run it yourself:** {run}",
        ":::",
    ]
    return "\n".join(lines)


def stage_notebook(lesson: Lesson, lessons: dict[str, Lesson], exercises: list[Exercise], target: Path) -> None:
    """Copy the lesson's committed notebook, its outputs untouched, with the glance box under its
    title and its exercises' names linked. The notebook is never executed."""
    notebook = json.loads(lesson.notebook.read_text(encoding="utf-8"))
    page = f"notebooks/{lesson.stem}"
    box = glance(lesson, lessons)
    cells = notebook.get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = link_exercises(source, exercises, page)
    first = next((c for c in cells if c.get("cell_type") == "markdown"), None)
    if first is not None and first["source"].lstrip().startswith("# "):
        title, _, rest = first["source"].lstrip().partition("\n")
        first["source"] = f"{title}\n\n{box}\n\n{rest.lstrip()}"
    else:
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": box})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook, ensure_ascii=False, indent=1), encoding="utf-8")


# --- exercise pages ----------------------------------------------------------------------

def exercise_page(exercise: Exercise, lesson: Lesson) -> str:
    page = f"lessons/exercises/{exercise.name}"
    return "\n".join([
        f"# {exercise.name}: {exercise.summary}",
        "",
        f"An exercise of [lesson {lesson.number}: {lesson.title}]({lesson_link(lesson, page)}), checked automatically.",
        "",
        f"**Your file** is `{exercise.repo_path}` in the course's folder "
        f"({{download}}`download it <{exercise.path.name}>`). Fill in the lines between the `TODO`",
        "fences (the docstring below says what the function receives and returns), save, and check it:",
        "",
        "```bash",
        f"python3 run.py check {exercise.repo_path}",
        "```",
        "",
        "The checker answers `PASS`; or `FAIL` with the output that is wrong, where, by how much, and",
        "often why; or `TODO` while the blank is still there. It runs your code in a separate process",
        "with a time limit, so nothing your file does can change its verdict.",
        "",
        "## The file",
        "",
        f"```{{literalinclude}} {exercise.path.name}",
        ":language: python",
        "```",
        "",
    ])


# --- the start page ----------------------------------------------------------------------

def fill(template: str, values: dict[str, str]) -> str:
    """Replace every ``{{ name }}`` of the template; a name with no value is an error."""
    def replace(match):
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{START_TEMPLATE.name}: no value for {{{{ {name} }}}} (known: {', '.join(sorted(values))})")
        return values[name]
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", replace, template)


def lessons_table(lessons: list[Lesson]) -> str:
    by_number = {lesson.number: lesson for lesson in lessons}
    rows = ["| | lesson | time (class + lab) | after | checked exercises |", "|---|---|---|---|---|"]
    for lesson in lessons:
        time = f"{lesson.class_minutes} + {lesson.lab_minutes}" if lesson.lab_minutes else f"{lesson.class_minutes}"
        before = ", ".join(f"[{n}]({lesson_link(by_number[n], 'index')})" for n in lesson.after) or "—"
        exercises = ", ".join(f"[`{e.name}`](lessons/exercises/{e.name}.md)" for e in lesson.exercises) or "—"
        rows.append(f"| {lesson.number} | [{lesson.title}]({lesson_link(lesson, 'index')}) | {time} min | {before} "
                    f"| {exercises} |")
    return "\n".join(rows)


def hours(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes % 60 else f"{minutes // 60} h"


def start_page(root: Path, lessons: list[Lesson], documents: list[str]) -> str:
    first = lessons[0]
    with_exercise = next((lesson for lesson in lessons if lesson.exercises), None)
    if with_exercise is None:
        raise ValueError("the course has no exercise (lessons/exercises/exNN_*.py): the start page has none to show")
    exercise = with_exercise.exercises[0]
    intro = (f"After lesson {with_exercise.number} ({with_exercise.title}),"
             if with_exercise is not first else "At the end of it,")
    titles = {path: (title, section) for path, title, section in DOCUMENTS}
    more = []
    for path in documents:
        title, section = titles[path]
        what = {
            "REPRODUCTION.md": "the 200-run reproduction of the paper's synthetic study, claim by claim",
            "benchmarks/RESULTS.md": "how fast the NumPy, Numba and CUDA kernels are, and how it was measured",
            "lessons/INSTRUCTOR.md": "objectives, a plan of the term, questions and answers, grading",
            "README.md": "the library: the model in one page, backends, where things are",
        }[path]
        more.append(f"- [{title}]({path}) ({section.lower()}): {what}.")
    requires = "3.10"
    match = re.search(r'requires-python\s*=\s*">=\s*([\d.]+)"', (root / "pyproject.toml").read_text(encoding="utf-8"))
    if match:
        requires = match.group(1)
    total_class = sum(lesson.class_minutes for lesson in lessons)
    total_lab = sum(lesson.lab_minutes for lesson in lessons)
    values = {
        "python": requires,
        "lesson_count": f"{len(lessons)}",
        "first_lesson_number": first.number,
        "first_lesson_notebook": first.notebook.name,
        "first_lesson_label": f"lesson {first.number}: {first.title}",
        "first_lesson_link": lesson_link(first, "index"),
        "first_exercise_intro": intro,
        "first_exercise_file": exercise.repo_path,
        "first_exercise_link": f"lessons/exercises/{exercise.name}.md",
        "lessons_table": lessons_table(lessons),
        "total_time": (f"In all: {hours(total_class)} in class and {hours(total_lab)} in the lab, "
                       f"{len(lessons)} lessons."),
        "more_pages": "\n".join(more),
    }
    return fill(START_TEMPLATE.read_text(encoding="utf-8"), values) + "\n" + toctrees(lessons, documents)


def toctrees(lessons: list[Lesson], documents: list[str]) -> str:
    """The sidebar: lessons in course order, their exercises, then the documents by section."""
    def tree(caption: str, entries: list[str]) -> str:
        return "\n".join(["```{toctree}", ":hidden:", f":caption: {caption}", "", *entries, "```", ""])

    parts = [tree("Lessons", [f"{lesson.number} · {lesson.title} <notebooks/{lesson.stem}>" for lesson in lessons])]
    exercises = [f"{e.name} <lessons/exercises/{e.name}>" for lesson in lessons for e in lesson.exercises]
    if exercises:
        parts.append(tree("Exercises", exercises))
    sections: dict[str, list[str]] = {}
    for path, title, section in DOCUMENTS:
        if path in documents:
            sections.setdefault(section, []).append(f"{title} <{path.rsplit('.', 1)[0]}>")
    parts += [tree(section, entries) for section, entries in sections.items()]
    return "\n".join(parts)


# --- the whole stage ---------------------------------------------------------------------

def stage(root: Path, src: Path, *, student: bool = False) -> Staged:
    """Write the site's sources for the course in ``root`` into the empty folder ``src``.

    student=True leaves out the teachers' guide (INSTRUCTOR.md answers the exercises), as a
    student copy of the course (which has no INSTRUCTOR.md) does by itself.
    """
    root, src = Path(root).resolve(), Path(src)
    if src.exists() and any(src.iterdir()):
        raise ValueError(f"src must be an empty folder, got {src} with {len(list(src.iterdir()))} entries")
    src.mkdir(parents=True, exist_ok=True)
    lessons = load_course(root)
    by_number = {lesson.number: lesson for lesson in lessons}
    exercises = [e for lesson in lessons for e in lesson.exercises]
    staged = Staged(src=src, lessons=lessons, exercises=exercises)

    figures = root / "figures"
    if figures.is_dir():
        shutil.copytree(figures, src / "figures")
        shutil.copytree(figures, src / "_extra" / "figures")

    for lesson in lessons:
        stage_notebook(lesson, by_number, exercises, src / "notebooks" / lesson.notebook.name)
        if lesson.script is not None:
            (src / "lessons").mkdir(exist_ok=True)
            shutil.copy2(lesson.script, src / "lessons" / lesson.script.name)
    for exercise in exercises:
        folder = src / "lessons" / "exercises"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(exercise.path, folder / exercise.path.name)
        (folder / f"{exercise.name}.md").write_text(exercise_page(exercise, by_number[exercise.lesson]),
                                                     encoding="utf-8")

    for path, _, _ in DOCUMENTS:
        source = root / path
        if path == TEACHERS and student:
            staged.left_out.append(f"{path} (a student site has no teachers' guide)")
            continue
        if not source.exists():
            staged.left_out.append(f"{path} (not in this copy of the course)")
            continue
        text = link_exercises(source.read_text(encoding="utf-8"), exercises, path)
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text, encoding="utf-8")
        staged.documents.append(path)

    (src / "index.md").write_text(start_page(root, lessons, staged.documents), encoding="utf-8")
    staged.linked = copy_linked_files(root, src, student=student)
    return staged


# --- files the pages link to -------------------------------------------------------------

LINK = re.compile(r"""\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\b(?:src|href)=["']([^"']+)["']""")
NEVER = ("lessons/exercises/solutions/", "lessons/exercise_answers.py", ".venv/", "site/", ".git/")
PAGE_SUFFIXES = (".md", ".ipynb", ".rst")


def markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells if c.get("cell_type") == "markdown")
    return path.read_text(encoding="utf-8")


def copy_linked_files(root: Path, src: Path, *, student: bool) -> list[str]:
    """Copy into the stage every repository file a page links to that is not there yet (a script,
    a data file, an image outside figures/): the link then works on the site as on GitHub, as a
    download. Pages (.md, .ipynb) are not copied (a page joins the site in DOCUMENTS), nor is any
    solution: such a link stays unresolved, and the build warns about it."""
    copied = []
    never = NEVER + (("lessons/INSTRUCTOR.md",) if student else ())
    for page in [*src.rglob("*.md"), *src.rglob("*.ipynb")]:
        folder = page.parent.relative_to(src)
        prose: list[str] = []          # the Markdown outside code blocks: a link in code is no link
        outside_fences(markdown_of(page), lambda block: prose.append(block) or block)
        for match in LINK.finditer("".join(prose)):
            target = (match.group(1) or match.group(2)).split("#")[0].split("?")[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
                continue
            relative_path = Path(os.path.normpath(folder / target)).as_posix()
            source = root / relative_path
            if (relative_path.startswith("..") or relative_path.startswith(never)
                    or source.suffix in PAGE_SUFFIXES or not source.is_file() or (src / relative_path).exists()):
                continue
            (src / relative_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, src / relative_path)
            copied.append(relative_path)
    return sorted(copied)
