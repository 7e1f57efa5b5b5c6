"""A sweep's folder: one study per folder, every finished chunk of runs on disk, a lock against two writers.

A long sweep is cut into chunks of runs (:mod:`.sweep`). With a folder, each chunk is written to
``FOLDER/chunks/`` the moment it finishes; killed and started again with the same settings, the
sweep reads the finished chunks and trains only the others. Runs are independent and each job
fixes its threads, so the resumed sweep's results are bit-identical to an uninterrupted one's.

::

    FOLDER/.lock                          held (flock) by the one process writing the folder
    FOLDER/chunks/manifest.json           the sweep's settings and how its runs are cut into chunks
    FOLDER/chunks/runs-00000-00024.npz    one file per finished chunk (written whole or not at all)
    FOLDER/sweep.npz, config.json, ...    the finished sweep (:func:`.reproduce.save_results`); the
                                          chunks are removed once it is written

Settings that differ from those found in the folder are refused with one line naming the
differences: a folder holds one study. Every file is read through :func:`read_npz` /
:func:`read_json`, so a damaged or missing file is one line naming the file and what is wrong.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np

from ..outputs import OutputError

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK_KEYS = ("test_curves", "train_curves", "val_final", "diverged")


class ResultFileError(ValueError):
    """A result file is missing, damaged or not what it should be (message: one line naming the file)."""


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (or SIGTERM/SIGHUP, which the CLI turns into an interruption) with its finished
    chunks saved in ``folder``: the same command continues it."""

    def __init__(self, folder, finished, total, cause=None):
        super().__init__(f"{finished} of {total} chunks of runs are saved in {folder}")
        self.folder, self.finished, self.total, self.cause = Path(folder), finished, total, cause
        if getattr(cause, "signum", None) is not None:
            self.signum = cause.signum              # the exit status follows the signal (143 for SIGTERM)


# ------------------------------------------------------------------------------ reading files
def read_npz(path, required=(), what="results") -> dict:
    """Every array of ``.npz`` file ``path`` (loaded now), checking that ``required`` keys are there.
    Raises :class:`ResultFileError` with one line for a missing, empty, truncated or foreign file."""
    path = Path(path)
    if path.is_dir():
        raise ResultFileError(f"{path}: is a folder, but the {what} file is expected here")
    if not path.exists():
        raise ResultFileError(f"{path}: not found")
    size = path.stat().st_size
    if size == 0:
        raise ResultFileError(f"{path}: is empty (0 bytes); the run that wrote it was probably killed")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] != b"PK":
        raise ResultFileError(f"{path}: is not a NumPy .npz archive (it starts with {head!r}, not 'PK')")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError) as err:
        raise ResultFileError(f"{path}: is truncated or damaged ({size:,} bytes; {err})") from None
    except (ValueError, OSError, KeyError) as err:
        raise ResultFileError(f"{path}: cannot be read as {what} ({type(err).__name__}: {err})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ResultFileError(f"{path}: has no {', '.join(repr(k) for k in missing)} array (it holds "
                              f"{', '.join(sorted(arrays)) or 'nothing'}); it is not a complete {what} file")
    return arrays


def read_json(path, what="settings") -> dict:
    """A JSON object from ``path``; :class:`ResultFileError` (one line) when missing or damaged."""
    path = Path(path)
    if path.is_dir():
        raise ResultFileError(f"{path}: is a folder, but the {what} file is expected here")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultFileError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultFileError(f"{path}: cannot be read ({err})") from None
    try:
        value = json.loads(text)
    except ValueError as err:
        raise ResultFileError(f"{path}: is not valid JSON ({err}); the file is damaged") from None
    if not isinstance(value, dict):
        raise ResultFileError(f"{path}: holds a JSON {type(value).__name__}, not the expected object of {what}")
    return value


def write_atomic(path, write):
    """Write ``path`` whole or not at all: ``write(tmp_path)`` then an atomic rename (a kill in between
    leaves the old file, or none, never half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_npz(path, **arrays):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    write_atomic(path, write)


def normalise(value):
    """``value`` as JSON gives it back (tuples as lists, numpy numbers as floats/ints): comparable to a
    value read from a file."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {value!r}")


def differences(found: dict, wanted: dict, ignore=(), known_only=False) -> list[str]:
    """``["steps 200 there, 300 here", ...]``: the keys on which ``found`` and ``wanted`` differ
    (``known_only``: only the keys ``found`` records, for files written before a key existed)."""
    out = []
    for key in sorted(set(found) | set(wanted)):
        if key in ignore or (known_only and key not in found):
            continue
        a, b = found.get(key, "(unset)"), wanted.get(key, "(unset)")
        if normalise(a) != normalise(b):
            out.append(f"{key} {_short(a)} there, {_short(b)} here")
    return out


def _short(value):
    text = json.dumps(normalise(value))
    return text if len(text) <= 60 else text[:57] + "..."


def describe_differences(diffs, limit=3):
    more = f" (and {len(diffs) - limit} more)" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more


# ------------------------------------------------------------------------------------ locking
_held: dict = {}          # folder -> [open lock file, depth]: the locks this process holds (re-entrant)


@contextlib.contextmanager
def lock(folder, option="--out"):
    """Hold ``FOLDER/.lock`` while the block runs: a second process writing the same folder gets a
    one-line :class:`~mmoe_np.outputs.OutputError`. The lock is the operating system's (``flock``), so
    it goes away with the process, however the process ends (no stale locks after a SIGKILL).
    Re-entrant within a process."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    handle = open(path, "a+")
    try:
        _try_lock(handle, path, option, folder)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    _held[key] = [handle, 1]
    try:
        yield
    finally:
        del _held[key]
        _unlock(handle)
        handle.close()


def _try_lock(handle, path, option, folder):
    try:
        import fcntl
    except ImportError:                  # pragma: no cover - Windows: no lock, say nothing
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = path.read_text().strip() or "another process"
        except OSError:
            holder = "another process"
        raise OutputError(f"{option} {folder}: another run is writing into this folder ({holder}); wait for it "
                          f"to finish, or choose another {option}") from None


def _unlock(handle):
    try:
        import fcntl
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except (ImportError, OSError):       # pragma: no cover
        pass


# ------------------------------------------------------------------------------------- chunks
class ChunkStore:
    """The finished chunks of one sweep in ``FOLDER/chunks`` (see the module docstring).

    ``settings``: the sweep's settings (a JSON-able dict; :func:`.sweep.config_dict`), ``runs`` and
    ``chunk_runs`` how its runs are cut. A folder whose manifest holds other settings is refused;
    one with the same settings keeps its own chunk size (so its chunks line up).
    """

    def __init__(self, folder, settings: dict, runs: int, chunk_runs: int, option="--out"):
        self.folder, self.option = Path(folder), option
        self.path = self.folder / "chunks"
        self.settings, self.runs = normalise(settings), int(runs)
        manifest = self.path / MANIFEST
        if manifest.exists():
            found = read_json(manifest, "chunk manifest")
            diffs = differences(found.get("sweep", {}), self.settings, ignore=("runs_per_job",))
            if found.get("format") != FORMAT or diffs:
                raise OutputError(f"{option} {self.folder}: holds an unfinished sweep with other settings "
                                  f"({describe_differences(diffs) or 'another format'}); run the command that "
                                  f"started it to continue it, or choose another {option}")
            self.chunk_runs = int(found["chunk_runs"])
        else:
            self.chunk_runs = int(chunk_runs)
            self.path.mkdir(parents=True, exist_ok=True)
            body = json.dumps({"format": FORMAT, "runs": self.runs, "chunk_runs": self.chunk_runs,
                               "sweep": self.settings}, indent=1) + "\n"
            write_atomic(manifest, lambda tmp: Path(tmp).write_text(body))

    def chunk_file(self, first, n):
        return self.path / f"runs-{first:05d}-{first + n - 1:05d}.npz"

    def firsts(self):
        """The first run of every chunk, in order."""
        return list(range(0, self.runs, self.chunk_runs))

    def finished(self, shapes) -> dict:
        """``{first: arrays}`` of every chunk on disk, each checked against ``shapes(n)``: the expected
        ``{key: shape}`` of a chunk of n runs. A damaged chunk is a one-line error naming it."""
        done = {}
        for first in self.firsts():
            n = min(self.chunk_runs, self.runs - first)
            path = self.chunk_file(first, n)
            if not path.exists():
                continue
            arrays = read_npz(path, CHUNK_KEYS, "chunk of runs")
            for key, shape in shapes(n).items():
                if arrays[key].shape != tuple(shape):
                    raise ResultFileError(f"{path}: {key} has shape {arrays[key].shape}, expected {tuple(shape)} "
                                          f"for these settings; delete it and run the same command again")
            done[first] = {k: arrays[k] for k in CHUNK_KEYS}
        return done

    def save(self, first, arrays):
        n = arrays["val_final"].shape[1]
        save_npz(self.chunk_file(first, n), **{k: arrays[k] for k in CHUNK_KEYS})

    def clear(self):
        """Remove the chunks (once the finished sweep is saved)."""
        shutil.rmtree(self.path, ignore_errors=True)


def has_results(folder) -> bool:
    """True when ``folder`` holds a sweep, finished or not."""
    folder = Path(folder)
    return any((folder / name).exists() for name in ("sweep.npz", "config.json", f"chunks/{MANIFEST}"))


def clear_chunks(folder):
    shutil.rmtree(Path(folder) / "chunks", ignore_errors=True)
