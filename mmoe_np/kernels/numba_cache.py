"""Where numba keeps the compiled CPU kernels, so that a read-only install still works.

``njit(cache=True)`` writes compiled machine code next to the source (``__pycache__``) or, when
that folder is not writable, into the user's cache folder (``~/.cache/numba``). On a shared lab
machine with the package installed read-only and an unwritable HOME, neither works and numba
refuses to even define the functions ("cannot cache function ...: no locator available").

:func:`cache_enabled` decides once per process, before :mod:`.cpu` defines its kernels:

1. ``NUMBA_CACHE_DIR`` set by the user, the package's own ``__pycache__``, or numba's user-wide
   cache folder is writable: numba's own choice stands (nothing changes);
2. otherwise a private folder is used: ``$XDG_CACHE_HOME/mmoe-np/numba``, ``~/.cache/mmoe-np/numba``
   or ``<tmp>/mmoe-np-numba-<uid>``, the first that can be written (numba is told through
   ``NUMBA_CACHE_DIR``);
3. if none can be written, the kernels are compiled without an on-disk cache (each process
   compiles them again), and one warning line says so and how to choose a folder.

Nothing here imports numba unless :mod:`.cpu` is loaded (the numpy backend never needs numba).
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

_decision: bool | None = None


class NumbaCacheWarning(UserWarning):
    """The compiled kernels cannot be cached on disk: they are compiled in every process."""


def writable(folder) -> bool:
    """True when ``folder`` exists or can be created, and a file can be written in it (numba's own test)."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _numba_user_dir():
    """The folder numba's user-wide cache locator would use (``~/.cache/numba`` on Linux), or None."""
    try:
        from numba.misc.appdirs import AppDirs
        return AppDirs(appname="numba", appauthor=False).user_cache_dir
    except Exception:           # pragma: no cover - a numba without this helper: no user-wide guess
        return None


def fallback_folders():
    """Private cache folders to try, in order, when numba's own places are not writable."""
    folders = []
    if os.environ.get("XDG_CACHE_HOME"):
        folders.append(Path(os.environ["XDG_CACHE_HOME"]) / "mmoe-np" / "numba")
    home = os.path.expanduser("~")
    if home and home != "~":
        folders.append(Path(home) / ".cache" / "mmoe-np" / "numba")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folders.append(Path(tempfile.gettempdir()) / f"mmoe-np-numba-{uid}")
    return folders


def choose(source_file, numba_places=None, fallbacks=None):
    """``(cache, folder)``: whether to cache, and the folder to point numba at (None: numba's own choice).

    ``numba_places``: the folders numba itself would use (default: ``$NUMBA_CACHE_DIR``, the
    ``__pycache__`` next to ``source_file``, numba's user-wide folder); ``fallbacks``: ours
    (default :func:`fallback_folders`).
    """
    if numba_places is None:
        numba_places = [os.environ.get("NUMBA_CACHE_DIR") or None, Path(source_file).parent / "__pycache__",
                        _numba_user_dir()]
    if any(place and writable(place) for place in numba_places):
        return True, None
    for folder in fallback_folders() if fallbacks is None else fallbacks:
        if writable(folder):
            return True, str(folder)
    return False, None


def cache_enabled(source_file) -> bool:
    """Whether :mod:`.cpu` should define its kernels with ``cache=True`` (decided once per process)."""
    global _decision
    if _decision is None:
        cache, folder = choose(source_file)
        if folder is not None:
            os.environ["NUMBA_CACHE_DIR"] = folder          # numba re-reads its settings from the environment
            import numba
            numba.config.CACHE_DIR = folder
        if not cache:
            # one line (no source line under it): "mmoe-np:0: NumbaCacheWarning: ..."
            warnings.warn_explicit("numba's on-disk cache is off: neither the package folder, ~/.cache nor the "
                                   "temporary folder is writable, so the kernels are compiled again in each process; "
                                   "set NUMBA_CACHE_DIR to a writable folder to keep them", NumbaCacheWarning,
                                   "mmoe-np", 0, module=__name__)
        _decision = cache
    return _decision
