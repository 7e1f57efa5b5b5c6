"""Open every page of a built site in headless Chromium and say what is wrong with it.

    python3 run.py site --check            # build, then check every page (what CI's test does)
    report = check_site(Path("site"))      # Report: pages visited, problems per page

On every page, opened from disk as a reader opens it (file://, no server, no network):
- it loads, with no error in the browser's console and no uncaught script error;
- every <img> has loaded (naturalWidth > 0);
- every formula is typeset by MathJax: no raw ``$...$``, ``$$``, ``\\(`` or ``\\[`` left in the
  text outside code, no formula left untypeset, no TeX error;
- every link inside the site resolves: the file exists, and so does its #anchor;
- no request leaves the site: anything else (a CDN, a font, another folder) is blocked and
  reported.
The search page is checked too: a query finds lessons.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from browser import chromium
from playwright.sync_api import Error as PlaywrightError

SKIP_FOLDERS = {"_static", "_sources", "_downloads", "_images", "figures"}
SEARCH_WORD = "gate"            # the search page must find lesson pages for it
LOCAL_SCHEMES = ("data:", "blob:", "about:")

# every text node outside code, scripts and typeset math, joined
VISIBLE_TEXT = """() => {
  const skip = new Set(['PRE', 'CODE', 'KBD', 'SAMP', 'SCRIPT', 'STYLE', 'TEXTAREA', 'NOSCRIPT', 'MJX-CONTAINER']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode(node) {
    for (let e = node.parentElement; e; e = e.parentElement)
      if (skip.has(e.tagName) || e.classList.contains('highlight')) return NodeFilter.FILTER_REJECT;
    return NodeFilter.FILTER_ACCEPT; }});
  const parts = [];
  while (walker.nextNode()) parts.push(walker.currentNode.nodeValue);
  return parts.join(' ');
}"""

PAGE_FACTS = """async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all(Array.from(document.images).map(img => img.decode().catch(() => null)));
  return {
    title: document.title,
    broken_images: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))
                        .map(i => i.getAttribute('src')),
    images: document.images.length,
    untypeset: Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container'))
                    .map(e => e.textContent.slice(0, 80)),
    tex_errors: Array.from(document.querySelectorAll('mjx-merror'))
                     .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80)),
    formulas: document.querySelectorAll('mjx-container').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
  };
}"""

RAW_MATH = re.compile(r"\$\$|\\\(|\\\[|(?<![\w$])\$(?=[^\s$])[^$\n]{1,200}?(?<=[^\s\\$])\$(?![\w$])")


@dataclass
class Report:
    site: Path
    pages: list[str] = field(default_factory=list)                 # pages visited, relative to the site
    problems: dict[str, list[str]] = field(default_factory=dict)   # page -> what is wrong
    formulas: int = 0
    images: int = 0
    internal_links: int = 0
    external_links: set[str] = field(default_factory=set)          # linked to (never requested)

    def add(self, page: str, problem: str) -> None:
        self.problems.setdefault(page, []).append(problem)

    def text(self) -> str:
        lines = [f"{len(self.pages)} pages, {self.images} images, {self.formulas} formulas, "
                 f"{self.internal_links} internal links checked"]
        for page, problems in sorted(self.problems.items()):
            lines += [f"{page}:"] + [f"  - {p}" for p in problems]
        return "\n".join(lines)


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the site, relative to it (the theme's and Sphinx's folders left out)."""
    found = (p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    return sorted(p for p in found if p.split("/")[0] not in SKIP_FOLDERS)


def check_links(report: Report, links: dict[str, list[str]], ids: dict[Path, set[str]]) -> None:
    """Every link into the site must name a file that exists and, with #anchor, an id on that page."""
    root = report.site.resolve()
    for page, urls in links.items():
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto"):
                report.external_links.add(url)
                continue
            if parts.scheme != "file":
                if not url.startswith(("javascript:",) + LOCAL_SCHEMES):
                    report.add(page, f"link with an unexpected scheme: {url}")
                continue
            target = Path(unquote(parts.path))
            if root not in target.parents and target != root:
                report.add(page, f"link leaves the site: {url}")
                continue
            report.internal_links += 1
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                report.add(page, f"broken link: {target.relative_to(root).as_posix()} does not exist")
                continue
            anchor = unquote(parts.fragment)
            if anchor and target.suffix == ".html":
                if target not in ids:
                    text = target.read_text(encoding="utf-8", errors="replace")
                    ids[target] = set(re.findall(r'\b(?:id|name)="([^"]+)"', text))
                if anchor not in ids[target]:
                    report.add(page, f"broken anchor: {target.relative_to(root).as_posix()}#{anchor}")


def check_site(site: Path, executable: str | None = None, timeout_ms: int = 30_000) -> Report:
    """Visit every page of the built site in one headless Chromium; return what is wrong where."""
    site = Path(site).resolve()
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"site must be a built site with an index.html, got {site}")
    report = Report(site=site)
    root_uri = site.as_uri() + "/"
    links: dict[str, list[str]] = {}
    ids: dict[Path, set[str]] = {}
    current = {"page": ""}

    def inside(url: str) -> bool:
        return url.startswith(root_uri) or url.startswith(LOCAL_SCHEMES)

    def on_route(route):                    # block what leaves the site; the "request" event reports it
        if inside(route.request.url):
            route.continue_()
        else:
            route.abort()

    with chromium(executable) as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, service_workers="block")
        context.route("**/*", on_route)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.on("console", lambda m: report.add(current["page"], f"console error: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: report.add(current["page"], f"script error: {e}"))
        page.on("requestfailed", lambda r: report.add(current["page"], f"request failed: {r.url} ({r.failure})")
                if inside(r.url) else None)
        page.on("request", lambda r: None if inside(r.url) else
                report.add(current["page"], f"request leaves the site: {r.url}"))
        page.on("websocket", lambda ws: report.add(current["page"], f"websocket opened: {ws.url}"))

        for name in site_pages(site):
            current["page"] = name
            report.pages.append(name)
            try:
                page.goto(root_uri + name, wait_until="load")
                page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
                facts = page.evaluate(PAGE_FACTS)
            except PlaywrightError as error:
                report.add(name, f"the page did not load: {error.message.splitlines()[0]}")
                continue
            if not facts["title"]:
                report.add(name, "the page has no title")
            for src in facts["broken_images"]:
                report.add(name, f"image not loaded: {src}")
            for tex in facts["untypeset"]:
                report.add(name, f"formula not typeset: {tex!r}")
            for error in facts["tex_errors"]:
                report.add(name, f"TeX error: {error}")
            for raw in RAW_MATH.findall(page.evaluate(VISIBLE_TEXT)):
                report.add(name, f"raw TeX in the text: {raw!r}")
            report.formulas += facts["formulas"]
            report.images += facts["images"]
            links[name] = facts["links"]
            ids[site / name] = set(facts["ids"])

        current["page"] = f"search.html?q={SEARCH_WORD}"
        if not (site / "search.html").exists():
            report.add(current["page"], "the site has no search page")
        else:
            page.goto(root_uri + current["page"], wait_until="load")
            try:
                page.wait_for_selector("ul.search li a", timeout=timeout_ms)
                found = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.getAttribute('href'))")
            except PlaywrightError as error:
                found = []
                report.add(current["page"], f"search shows no results ({error.message.splitlines()[0]})")
            if found and not any(href.startswith("notebooks/") for href in found):
                report.add(current["page"], f"search for {SEARCH_WORD!r} finds no lesson, only {found[:5]}")
        context.close()
    check_links(report, links, ids)
    return report


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    site = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "site"
    report = check_site(site)
    print(report.text())
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
