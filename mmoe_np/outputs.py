"""Where experiments may write: committed results are written only by the full runs that own them.

The repository commits the results of its documented full runs (``results/reproduce*``,
``results/sensitivity``, ``results/census_group*.md``) and the figures made from them
(``figures/``). A quick or smoke run must never overwrite them:

- a run whose settings are not the documented full run's writes to a folder of its own under
  ``results/scratch/`` (ignored by git), and says where;
- naming a committed place explicitly (``--out results/reproduce``) with other settings is a
  one-line error, unless ``--force`` says it on purpose.

Every output path is checked **before** any training: a path that is a file where a folder is
needed (or the reverse), or a folder that cannot be created or written, is a one-line error.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMITTED = ("figures", "results/reproduce", "results/reproduce_fig3", "results/reproduce_long", "results/sensitivity",
             "results/census_group1.md", "results/census_group2.md", "results/census_group1.json",
             "results/census_group2.json", "notebooks")


class OutputError(ValueError):
    """An output path cannot be used (message: one line, naming the path and the option)."""


def _in_repo():
    return (REPO / "pyproject.toml").is_file() and (REPO / "mmoe_np").is_dir()


def default(relative: str) -> Path:
    """``relative`` inside the repository when mmoe-np runs from a checkout, else in the current folder."""
    return REPO / relative if _in_repo() else Path(relative)


def is_committed(path) -> bool:
    """True when ``path`` is (or lies inside) a place the repository commits results to."""
    if not _in_repo():
        return False
    path = Path(path).resolve()
    for place in COMMITTED:
        place = (REPO / place).resolve()
        if path == place or place in path.parents:
            return True
    return False


def is_committed_document(path) -> bool:
    """True when ``path`` is a file of the repository checkout (README.md, REPRODUCTION.md, ...) outside
    ``results/scratch/``: a document that ``reproduce report --write`` must not fill from other runs."""
    if not _in_repo():
        return False
    path = Path(path).resolve()
    repo = REPO.resolve()
    scratch = repo / "results" / "scratch"
    return repo in path.parents and scratch not in path.parents and ".venv" not in path.relative_to(repo).parts


def scratch_dir(label: str) -> Path:
    """A fresh folder for a run that is not a documented full run: ``results/scratch/LABEL-TIME``
    in the repository (ignored by git), or a temporary folder outside it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if _in_repo():
        folder = REPO / "results" / "scratch" / f"{label}-{stamp}"
        n = 1
        while folder.exists():
            n += 1
            folder = REPO / "results" / "scratch" / f"{label}-{stamp}-{n}"
        return folder
    return Path(tempfile.mkdtemp(prefix=f"mmoe-np-{label}-"))


def check_protected(option: str, path, *, full_run: bool, force: bool, what: str = "the documented full run"):
    """Refuse to let a run that is not ``what`` write into a committed place (unless ``force``)."""
    if path is not None and is_committed(path) and not (full_run or force):
        raise OutputError(f"{option} {path}: that holds committed results of {what}; this run's settings differ, "
                          f"so it would overwrite them. Choose another {option}, or add --force to overwrite "
                          "on purpose")


def prepare_dir(option: str, path) -> Path:
    """Create folder ``path`` (and its parents) now and check it is writable; a one-line error if not."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file, but a folder is needed")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{option} {path}: {parent} is a file, so the folder cannot be created")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{option} {path}: cannot create the folder ({err.strerror or err})") from None
    if not os.access(path, os.W_OK):
        raise OutputError(f"{option} {path}: the folder is not writable")
    return path


def prepare_file(option: str, path, suffixes=None) -> Path:
    """Check that file ``path`` can be written (its folder is created now); a one-line error if not."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder, but a file name is needed")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{option} {path}: needs one of the extensions {', '.join(suffixes)}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{option} {path}: {parent} is a file, so the folder cannot be created")
    prepare_dir(option, path.parent if str(path.parent) else Path("."))
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{option} {path}: the file is not writable")
    return path


def choose(option: str, given, committed: str, *, full_run: bool, force: bool, label: str, what: str,
           file: bool = False, suffixes=None, scratch=None) -> Path:
    """Where a run writes, checked and created before any work: ``given`` (the user's option) when set;
    else the committed place ``committed`` (relative to the repository) for the documented full run
    ``what`` or with ``force``; else a fresh scratch folder (``scratch``, or a new one named ``label``).
    ``file``: the output is one file (named like ``committed`` inside a scratch folder)."""
    if given is not None:
        path = Path(given)
    elif full_run or force:
        path = default(committed)
    else:
        folder = Path(scratch) if scratch is not None else scratch_dir(label)
        path = folder / Path(committed).name if file else folder
    check_protected(option, path, full_run=full_run, force=force, what=what)
    return prepare_file(option, path, suffixes) if file else prepare_dir(option, path)
