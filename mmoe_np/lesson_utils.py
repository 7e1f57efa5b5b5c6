"""Small helpers the lessons share: quick mode and where figures go.

- ``MMOE_QUICK=1`` shrinks every lesson (fewer steps, runs and points) so the test suite
  can run them all; the numbers are then rougher, never different in kind.
- Figures go to ``figures/`` at the repository root -- the committed figures, which only the
  full lessons write -- or to ``$MMOE_FIGURES`` when set. In quick mode, without
  ``$MMOE_FIGURES``, they go to a temporary folder: a quick run never overwrites a committed
  figure.
- A lesson that cannot run (its data are missing) says why and stops with :func:`stop_lesson`:
  no traceback and no ``SystemExit`` in a notebook, exit code 0 as a script.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from . import outputs

_quick_folder = None


def quick() -> bool:
    """True when the lesson should run its short version (``MMOE_QUICK=1``)."""
    return os.environ.get("MMOE_QUICK", "0") == "1"


def pick(full, short):
    """``short`` in quick mode, ``full`` otherwise."""
    return short if quick() else full


def figures_dir() -> Path:
    """Where this lesson's figures go (see the module docstring)."""
    global _quick_folder
    if os.environ.get("MMOE_FIGURES"):
        folder = Path(os.environ["MMOE_FIGURES"])
        if quick() and outputs.is_committed(folder):
            raise outputs.OutputError(f"MMOE_FIGURES={folder} is where the committed figures live, and "
                                      "MMOE_QUICK=1 is set: a quick run never writes there (unset one of them)")
    elif quick():
        if _quick_folder is None:
            _quick_folder = Path(tempfile.mkdtemp(prefix="mmoe-quick-figures-"))
        folder = _quick_folder
    else:
        folder = outputs.default("figures")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def savefig(fig, name: str) -> None:
    """Save a matplotlib figure under the figures folder and say where (relative to the repository
    when it is inside it, so no machine's path is printed). Returns nothing, so a notebook cell that
    ends with it shows the figure, not a path."""
    path = figures_dir() / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    shown = path
    try:
        shown = path.resolve().relative_to(outputs.REPO.resolve())
    except ValueError:
        if quick():
            shown = Path("<temporary folder>") / name
    print(f"figure saved: {shown}")


class LessonStopped(Exception):
    """Raised by :func:`stop_lesson` in Jupyter/IPython: stops "Run all" at this cell, with no traceback."""

    def _render_traceback_(self):
        # IPython shows what this returns in place of a traceback: nothing (the message is already printed)
        return []


def stop_lesson(message: str) -> None:
    """Say why the lesson cannot go on, then stop it without a traceback or a ``SystemExit`` on screen.

    As a script (``python lessons/NN_x.py``) the process ends with exit code 0. In a notebook the
    cell stops "Run all" (the cells below are not run) and shows only ``message``.
    """
    print(message)
    shell = sys.modules.get("IPython")
    if shell is not None and shell.get_ipython() is not None:
        raise LessonStopped(message)
    raise SystemExit(0)
