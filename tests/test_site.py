"""The course site (docs/, ``python3 run.py site``): what it is built from, and every page in Chromium.

The first tests stage the sources and need neither Sphinx nor a browser. The site is then built
once for the module (about half a minute on 2 cores) and every page is opened in one headless
Chromium (Debian's, through Playwright), as docs/check_site.py does for ``run.py site --check``.
"""
import importlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import course  # noqa: E402  (docs/ is not a package)
import pages  # noqa: E402

IN_CI = bool(os.environ.get("CI"))
# the theme and myst-parser still use Sphinx APIs that Sphinx 11 removes: their business, not the site's
pytestmark = pytest.mark.filterwarnings("ignore:.*Check CHANGES for Sphinx API modifications")


def needed(module):
    """Import a module of the site's extra; skip without it on a developer's machine, never in CI."""
    if IN_CI:
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is in the site extra: pip install -e '.[site]'")


# --- the course's structure --------------------------------------------------------------

def test_course_file_lists_every_notebook_in_teaching_order():
    lessons = course.load_course(ROOT)
    numbers = [lesson.number for lesson in lessons]
    on_disk = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(numbers) == on_disk
    for lesson in lessons:
        assert all(numbers.index(n) < numbers.index(lesson.number) for n in lesson.after)
        assert lesson.class_minutes > 0 and lesson.time_text().startswith(f"{lesson.class_minutes} min")


def test_every_exercise_file_belongs_to_its_lessons_page():
    lessons = course.load_course(ROOT)
    listed = {e.path for lesson in lessons for e in lesson.exercises}
    assert listed == set((ROOT / "lessons" / "exercises").glob("ex[0-9][0-9]_*.py"))
    for lesson in lessons:
        assert all(e.path.name.startswith(f"ex{lesson.number}_") for e in lesson.exercises)


def fake_course(root: Path, *, exercise=True, instructor=False):
    """A two-lesson course in ``root``: notebooks, course.toml, an exercise and its solution."""
    (root / "notebooks").mkdir(parents=True)
    (root / "lessons" / "exercises" / "solutions").mkdir(parents=True)
    for number, name in (("01", "first"), ("02", "second")):
        notebook = {"cells": [
            {"cell_type": "markdown", "metadata": {}, "source": [f"# Lesson {number} — {name}\n", "\n", "Text $x$.\n",
                                                                  "Do `ex02_new` and `ex02_new.py`."]},
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["print(1)"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        (root / "notebooks" / f"{number}_{name}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (root / "lessons" / "course.toml").write_text(
        '[[lesson]]\nnumber = "01"\ntitle = "First"\nclass_minutes = 30\nlab_minutes = 0\nafter = []\n'
        'knowledge = ["NumPy"]\n\n'
        '[[lesson]]\nnumber = "02"\ntitle = "Second"\nclass_minutes = 45\nlab_minutes = 15\nafter = ["01"]\n'
        'knowledge = []\n', encoding="utf-8")
    if exercise:
        (root / "lessons" / "exercises" / "ex02_new.py").write_text(
            '"""Exercise 02b -- a brand new exercise (lesson 02).\n\nCheck it.\n"""\nX = 1  # TODO\n', encoding="utf-8")
        (root / "lessons" / "exercises" / "solutions" / "ex02_new.py").write_text("X = 'SOLUTION'\n", encoding="utf-8")
    (root / "README.md").write_text("# fake\n\nSee `ex02_new`, [the code](tools/code.py), [the answer]"
                                    "(lessons/exercises/solutions/ex02_new.py) and [a page](NOTES.md).\n"
                                    "```\n[not a link](tools/other.py)\n```\n", encoding="utf-8")
    (root / "tools").mkdir()
    for name in ("code.py", "other.py"):
        (root / "tools" / name).write_text("print('tool')\n", encoding="utf-8")
    (root / "NOTES.md").write_text("# notes\n", encoding="utf-8")
    (root / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.10"\n', encoding="utf-8")
    if instructor:
        (root / "lessons" / "INSTRUCTOR.md").write_text("# Guide\n\nAnswers.\n", encoding="utf-8")
    return root


def test_a_new_exercise_file_appears_on_its_lesson_without_editing_anything(tmp_path):
    lessons = course.load_course(fake_course(tmp_path))
    assert lessons[0].exercises == ()
    (exercise,) = lessons[1].exercises
    assert exercise.name == "ex02_new" and exercise.summary == "a brand new exercise"
    staged = pages.stage(tmp_path, tmp_path / "src")
    assert "lessons/exercises/ex02_new" in staged.pages
    notebook = json.loads((tmp_path / "src" / "notebooks" / "02_second.ipynb").read_text(encoding="utf-8"))
    box = notebook["cells"][0]["source"]
    assert "Lesson 02 at a glance" in box and "../lessons/exercises/ex02_new.md" in box
    assert "45 min + 15 min lab" in box and "../notebooks/01_first.ipynb" in box


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('after = ["01"]', 'after = ["03"]'), "comes after '03'"),
    (lambda t: t.replace('title = "First"\n', ""), "has no title"),
    (lambda t: t.replace('lab_minutes = 15', 'lab_minutes = "15"'), "lab_minutes must be a int"),
    (lambda t: t.replace('number = "02"', 'number = "2"'), "two digits"),
    (lambda t: t.split("[[lesson]]\nnumber = \"02\"")[0], "notebooks without a lesson"),
])
def test_a_wrong_course_file_is_named_with_what_is_wrong(tmp_path, edit, message):
    root = fake_course(tmp_path)
    path = root / "lessons" / "course.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        course.load_course(root)


def test_an_exercise_of_no_lesson_is_an_error(tmp_path):
    root = fake_course(tmp_path)
    (root / "lessons" / "exercises" / "ex07_orphan.py").write_text('"""x"""\n', encoding="utf-8")
    with pytest.raises(ValueError, match="ex07_orphan.py"):
        course.load_course(root)


# --- what the stage copies, and what it never copies ---------------------------------------

def test_the_site_holds_no_solution_and_a_student_site_no_teachers_guide(tmp_path):
    staged = pages.stage(ROOT, tmp_path / "full")
    assert "lessons/INSTRUCTOR.md" in staged.documents
    student = pages.stage(ROOT, tmp_path / "student", student=True)
    assert "lessons/INSTRUCTOR.md" not in student.documents and student.left_out
    for src in (tmp_path / "full", tmp_path / "student"):
        names = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()}
        assert not [n for n in names if "solution" in n or "exercise_answers" in n]
        for path in (src / "lessons" / "exercises").glob("ex*.py"):          # the blanks, as committed
            assert path.read_bytes() == (ROOT / "lessons" / "exercises" / path.name).read_bytes()
    start = (tmp_path / "student" / "index.md").read_text(encoding="utf-8")
    assert "solutions" not in start and "INSTRUCTOR" not in start
    assert "python3 run.py lab" in start and "python3 run.py check lessons/exercises/ex" in start


def test_a_file_a_page_links_to_is_on_the_site_but_never_a_solution_or_another_page(tmp_path):
    staged = pages.stage(fake_course(tmp_path / "course"), tmp_path / "src")
    assert staged.linked == ["tools/code.py"]
    assert not (tmp_path / "src" / "lessons" / "exercises" / "solutions").exists()
    assert not (tmp_path / "src" / "NOTES.md").exists()


def test_a_copy_without_the_teachers_guide_builds_a_student_site(tmp_path):
    staged = pages.stage(fake_course(tmp_path / "course"), tmp_path / "src")
    assert staged.documents == ["README.md"]
    assert any("INSTRUCTOR" in item for item in staged.left_out)
    assert "INSTRUCTOR" not in (tmp_path / "src" / "index.md").read_text(encoding="utf-8")
    staged = pages.stage(fake_course(tmp_path / "teach", instructor=True), tmp_path / "src2")
    assert "lessons/INSTRUCTOR.md" in staged.documents


def test_lesson_pages_keep_the_committed_outputs_untouched(tmp_path):
    staged = pages.stage(ROOT, tmp_path / "src")
    for lesson in staged.lessons:
        committed = json.loads(lesson.notebook.read_text(encoding="utf-8"))
        shown = json.loads((tmp_path / "src" / "notebooks" / lesson.notebook.name).read_text(encoding="utf-8"))
        code = [(c["source"], c.get("outputs"), c.get("execution_count"))
                for c in committed["cells"] if c["cell_type"] == "code"]
        assert code == [(c["source"], c.get("outputs"), c.get("execution_count"))
                        for c in shown["cells"] if c["cell_type"] == "code"]
        title = shown["cells"][0]["source"]
        assert title.startswith("# ") and f"Lesson {lesson.number} at a glance" in title
        assert lesson.time_text() in title


def test_exercise_names_become_links_except_in_code():
    exercises = course.load_course(ROOT)[1].exercises
    text = ("Do `ex02_dense_backward` or `lessons/exercises/ex02_dense_backward.py`; not `ex02_other`.\n"
            "```bash\npython -m mmoe_np.check `ex02_dense_backward`\n```\n")
    out = pages.link_exercises(text, list(exercises), "notebooks/02_x")
    assert "[`ex02_dense_backward`](../lessons/exercises/ex02_dense_backward.md)" in out
    assert "[`lessons/exercises/ex02_dense_backward.py`](../lessons/exercises/ex02_dense_backward.md)" in out
    assert "`ex02_other`" in out and "[`ex02_other`]" not in out
    assert out.endswith("```bash\npython -m mmoe_np.check `ex02_dense_backward`\n```\n")


def test_the_start_page_template_has_a_value_for_every_name():
    with pytest.raises(KeyError, match="unknown_name"):
        pages.fill("{{ unknown_name }}", {"python": "3.10"})


def test_run_py_offers_the_students_commands():
    sys.path.insert(0, str(ROOT))
    import run
    assert run.JOBS["site"][0][-1][-1] == "docs/build_site.py" and run.JOBS["site"][1] == "[site]"
    assert run.JOBS["check"][0][-1][-2:] == ["-m", "mmoe_np.check"]
    lab, extras = run.JOBS["lab"]
    assert extras == "[lab]" and lab[-1][1:4] == ["-m", "jupyter", "lab"]
    assert "--LabApp.default_url=/lab/tree/notebooks" in lab[-1]
    assert "--ServerApp.jpserver_extensions=jupyterlab_jupytext=False" in lab[-1]


# --- the built site, in a real browser ----------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    needed("sphinx")
    needed("myst_nb")
    import build_site
    return build_site.build(tmp_path_factory.mktemp("course-site") / "site")


def test_the_site_builds_without_a_warning(built):
    assert built.warnings == [], "\n".join(built.warnings)
    site = built.index.parent
    for name in built.staged.pages:
        assert (site / f"{name}.html").exists(), f"{name}.html was not built"
    assert (site / "search.html").exists() and (site / "searchindex.js").exists()
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax must be served from the site"
    assert not list(site.rglob("*solution*")), "the site must hold no solution"
    assert [p.name for p in site.parent.iterdir()] == ["site"], "the build must write nothing beside the site"


def test_the_sidebar_and_the_next_buttons_follow_the_course(built):
    site = built.index.parent
    order = [f"notebooks/{lesson.stem}.html" for lesson in built.staged.lessons]
    index = (site / "index.html").read_text(encoding="utf-8")
    positions = [index.find(f'href="{href}"') for href in order]
    assert all(p > 0 for p in positions) and positions == sorted(positions), "sidebar not in course order"
    for here, after in zip(order, order[1:]):
        text = (site / here).read_text(encoding="utf-8")
        following = re.search(r'class="right-next"\s+href="([^"]+)"', text)
        assert following and following.group(1) == Path(after).name, f"{here}'s next page is not {after}"


def test_every_lesson_page_links_its_exercises(built):
    site = built.index.parent
    for lesson in built.staged.lessons:
        text = (site / "notebooks" / f"{lesson.stem}.html").read_text(encoding="utf-8")
        assert "at a glance" in text and lesson.time_text() in text
        for exercise in lesson.exercises:
            assert f'href="../lessons/exercises/{exercise.name}.html"' in text, f"{lesson.stem} misses {exercise.name}"


def test_every_page_in_chromium(built):
    """Loads with no console error, every image loaded, every formula typeset, every link inside
    the site resolves, no request leaves the site; the search page finds lessons."""
    needed("playwright")
    import check_site
    from browser import NO_CHROMIUM, find_chromium
    if find_chromium() is None:
        if IN_CI:
            pytest.fail(f"CI must test the site in a browser: {NO_CHROMIUM}")
        pytest.skip(NO_CHROMIUM)
    report = check_site.check_site(built.index.parent)
    assert not report.problems, report.text()
    assert len(report.pages) >= len(built.staged.pages)
    assert report.formulas > 100 and report.images >= len(built.staged.lessons)


def test_the_page_checker_sees_each_kind_of_fault(tmp_path):
    """docs/check_site.py is the test above: on a page with every fault, it must report each one."""
    needed("playwright")
    import check_site
    from browser import NO_CHROMIUM, find_chromium
    if find_chromium() is None:
        if IN_CI:
            pytest.fail(f"CI must test the site in a browser: {NO_CHROMIUM}")
        pytest.skip(NO_CHROMIUM)
    shutil.copy(ROOT / "figures" / "architectures.png", tmp_path / "ok.png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><title>t</title><script src="https://cdn.example.org/x.js"></script></head>'
        '<body><p>Raw $x^2$ and \\(y\\).</p><pre>code $a$ is fine</pre><img src="ok.png"><img src="missing.png">'
        '<a href="sub/p.html#there">ok</a> <a href="sub/p.html#nowhere">bad</a> <a href="gone.html">gone</a>'
        '<a href="https://example.org/">external</a><script>console.error("boom")</script></body></html>',
        encoding="utf-8")
    (tmp_path / "sub" / "p.html").write_text(
        '<!doctype html><html><head><title>p</title></head><body><h1 id="there">x</h1>'
        '<span class="math">\\(z\\)</span></body></html>', encoding="utf-8")
    report = check_site.check_site(tmp_path, timeout_ms=5000)
    found = "\n".join(p for problems in report.problems.values() for p in problems)
    for expected in ["request leaves the site: https://cdn.example.org/x.js", "console error: boom",
                     "image not loaded: missing.png", "raw TeX in the text: '$x^2$'", "raw TeX in the text: '\\\\('",
                     "broken anchor: sub/p.html#nowhere", "broken link: gone.html does not exist",
                     "formula not typeset", "the site has no search page"]:
        assert expected in found, f"not reported: {expected}\n{report.text()}"
    assert "$a$" not in found and "ok.png" not in found and "#there" not in found
    assert report.external_links == {"https://example.org/"}
