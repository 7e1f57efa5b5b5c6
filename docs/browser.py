"""Headless Chromium to open the built site, as a reader does: from disk (file://), offline.

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto((site / "index.html").as_uri())

Chromium is the system's (Debian's ``chromium`` package, ``apt-get install chromium``), driven
by Playwright for Python; Playwright's own browser downloads are never used. Another Chromium
or Chrome can be named with the ``MMOE_CHROMIUM`` environment variable.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """The Chromium to drive: $MMOE_CHROMIUM, else the first of CANDIDATES on the PATH, else None."""
    named = os.environ.get("MMOE_CHROMIUM")
    if named:
        if not Path(named).exists():
            raise FileNotFoundError(f"MMOE_CHROMIUM names {named}, which does not exist")
        return named
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


NO_CHROMIUM = ("no Chromium found: install Debian's package (apt-get install chromium) or name one "
               "with MMOE_CHROMIUM=/path/to/chromium")


@contextmanager
def chromium(executable: str | None = None):
    """A headless Chromium (Playwright's Browser), closed on exit.

    Playwright's ``launch`` gives the browser a fresh, temporary profile (user-data-dir) of its
    own every time, deleted when the browser closes.
    """
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError(NO_CHROMIUM)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
