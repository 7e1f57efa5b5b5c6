"""Progress bars for long runs (``fit``, sweeps, the census runs): one place that decides how they show.

- In a terminal: tqdm's text bar.
- In Jupyter: tqdm's widget bar when ipywidgets is installed (the ``notebooks`` extra brings it),
  else the text bar -- never tqdm's "IProgress not found" warning.
- ``MMOE_PROGRESS=0`` turns every bar off, whatever the caller asked for: the committed
  notebooks are executed that way (``lessons/make_notebooks.py``), so their outputs hold results,
  not the traces of a progress bar.
"""
from __future__ import annotations

import importlib.util
import os


def enabled(requested: bool = True) -> bool:
    """Whether a bar shows: the caller asked for one and ``MMOE_PROGRESS`` is not ``0``."""
    return bool(requested) and os.environ.get("MMOE_PROGRESS", "1") != "0"


def _tqdm_class():
    from tqdm.std import tqdm as text
    if importlib.util.find_spec("ipywidgets") is None:
        return text                          # importing tqdm.auto without ipywidgets warns "IProgress not found"
    from tqdm.auto import tqdm as auto
    return auto


def bar(total=None, *, show: bool = True, **kwargs):
    """A tqdm bar of ``total`` steps (``kwargs`` go to tqdm: ``desc``, ``unit``, ``leave``...)."""
    return _tqdm_class()(total=total, disable=not enabled(show), **kwargs)


def write(message: str):
    """Print ``message`` without breaking a bar on the screen."""
    _tqdm_class().write(message)
