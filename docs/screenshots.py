"""Screenshots of the site for the README: ``python3 run.py site --screenshots``.

Writes ``figures/site_start.png`` (the start page) and ``figures/site_lesson.png`` (the top of
a lesson: its title, the "at a glance" box and the first formulas), 1280 px wide, from the site
just built, opened from disk in headless Chromium once MathJax has typeset every formula.
"""
from __future__ import annotations

from pathlib import Path

from browser import chromium

WIDTH, HEIGHT = 1280, 1000
LESSON = "02"          # a lesson with formulas and a checked exercise in its box


def wait_for_math(page) -> None:
    """Wait until MathJax (when the page loads it) has typeset every formula."""
    page.wait_for_load_state("load")
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")


def take(site: Path, figures: Path, staged) -> list[Path]:
    lesson = next((lesson for lesson in staged.lessons if lesson.number == LESSON), staged.lessons[0])
    shots = {"site_start.png": "index.html", "site_lesson.png": f"notebooks/{lesson.stem}.html"}
    written = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
        for name, url in shots.items():
            page.goto((Path(site) / url).resolve().as_uri())
            wait_for_math(page)
            target = Path(figures) / name
            page.screenshot(path=str(target), full_page=False)
            written.append(target)
    return written
