"""Build the course site: ``python3 run.py site`` (this file, in the project's .venv).

    python3 run.py site                    # site/index.html: the lessons, exercises, results, teachers' guide
    python3 run.py site --student          # the same without the teachers' guide, to publish to students
    python3 run.py site --screenshots      # then figures/site_start.png and figures/site_lesson.png (1280 px)
    python3 run.py site --out DIR          # another folder (default: site/, ignored by git)
    python3 run.py site --strict           # fail on any Sphinx warning (a broken link, a missing image)
    python3 run.py site --check            # then open every page in headless Chromium (docs/check_site.py)

Builds from the committed, executed notebooks without running them (docs/pages.py stages the
sources, docs/conf.py says how Sphinx renders them) and prints the path of the site's
index.html. Everything the pages use is in the folder: open index.html in a browser, offline.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pages import Staged, stage  # noqa: E402

ROOT = HERE.parent
SITE = ROOT / "site"


@dataclass
class Built:
    index: Path                 # the site's index.html
    staged: Staged              # what went in (lessons, exercises, documents, what was left out)
    warnings: list[str]         # Sphinx's warnings, one per entry
    seconds: float


def check_out(out: Path) -> None:
    """Refuse to replace a folder that is not a site: ``out`` must be new, empty, or a Sphinx build."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / ".buildinfo").exists())):
        raise ValueError(f"out must be a new or empty folder or a site built before (with .buildinfo); "
                         f"{out} is neither, and is left as it is")


def build(out: Path = SITE, *, root: Path = ROOT, student: bool = False, strict: bool = False) -> Built:
    """Stage the sources into a temporary folder and render them with Sphinx into ``out`` (replaced)."""
    from sphinx.cmd.build import build_main

    out = Path(out).resolve()
    check_out(out)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mmoe-site-") as tmp:
        # everything Sphinx and myst-nb write goes under tmp (myst-nb puts a jupyter_execute/ folder
        # beside the output folder): only the finished site is moved to `out`
        tmp = Path(tmp)
        src, html, warnings_file = tmp / "src", tmp / "build" / "html", tmp / "warnings.txt"
        staged = stage(root, src, student=student)
        args = ["-b", "html", "-q", "-E", "-c", str(HERE), "-d", str(tmp / "doctrees"), "-w", str(warnings_file)]
        if strict:
            args += ["-W", "--keep-going"]
        log = io.StringIO()           # Sphinx's own messages: shown only when it fails
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = build_main([*args, str(src), str(html)])
        text = warnings_file.read_text(encoding="utf-8") if warnings_file.exists() else ""
        warnings = [w.replace(str(src) + "/", "") for w in text.strip().splitlines() if w.strip()]
        if code:
            raise RuntimeError(f"Sphinx failed (exit {code}):\n{log.getvalue().replace(str(src) + '/', '')}")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(html), str(out))
    index = out / "index.html"
    if not index.exists():
        raise RuntimeError(f"Sphinx wrote no {index}")
    return Built(index=index, staged=staged, warnings=warnings, seconds=time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 run.py site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SITE, help="where to write the site (default: site/)")
    parser.add_argument("--student", action="store_true", help="leave out the teachers' guide")
    parser.add_argument("--strict", action="store_true", help="fail on any Sphinx warning")
    parser.add_argument("--check", action="store_true",
                        help="open every page in headless Chromium and report what is wrong (needs Chromium)")
    parser.add_argument("--screenshots", action="store_true",
                        help="also write figures/site_start.png and figures/site_lesson.png (needs Chromium)")
    args = parser.parse_args(argv)
    if args.screenshots or args.check:         # fail before the build, not after it, when there is no browser
        from browser import NO_CHROMIUM, find_chromium
        if find_chromium() is None:
            print(NO_CHROMIUM, file=sys.stderr)
            return 2
    try:
        built = build(args.out, student=args.student, strict=args.strict)
    except (ValueError, RuntimeError) as error:
        print(f"site: {error}", file=sys.stderr)
        return 1
    staged = built.staged
    print(f"built {len(staged.pages)} pages ({len(staged.lessons)} lessons, {len(staged.exercises)} exercises, "
          f"{len(staged.documents)} documents) in {built.seconds:.0f} s")
    for item in staged.left_out:
        print(f"  left out: {item}")
    for warning in built.warnings:
        print(f"  warning: {warning}")
    code = 0
    if args.check:
        from check_site import check_site
        report = check_site(built.index.parent)
        print(report.text())
        code = 1 if report.problems else 0
    if args.screenshots:
        from screenshots import take
        for path in take(built.index.parent, ROOT / "figures", staged):
            print(f"wrote {path.relative_to(ROOT)}")
    print(built.index)
    return code


if __name__ == "__main__":
    sys.exit(main())
