"""Check students' exercise files: ``python -m mmoe_np.check FILE [FILE ...]``.

Each exercise file names its exercise (``EXERCISE = "dense_backward"``) and defines the
function(s) it asks for. For every file the checker says in one line what is right and what is
wrong -- which output or stage, how far off, at which index, and a hint when the error has a
telltale shape (a factor of 1/B, a flipped sign, a transposed array).

It is built for grading, so it never gives a false verdict:

- the expected values are computed here, in the checker's own process, before and apart from
  the student's code; the student's functions run in a **separate process** (one per file) on
  copies of the inputs, with a time limit (``--timeout``, default 60 s);
- whatever the student's code does -- raise, call ``sys.exit``, loop forever, print "PASS",
  change its inputs in place -- only the values its functions return are judged;
- every file is checked and reported, even after an error in another.

Verdicts: ``PASS``; ``FAIL`` (a wrong answer, or the student's function raised); ``TODO`` (the
blank is not filled in yet); ``ERROR`` (the file could not be checked: not found, not UTF-8,
a syntax error, a missing function, an error while loading it, ``sys.exit``, a time-out).
Exit status: 0 every file passed, 1 some exercise is wrong or unfinished, 2 some file could
not be checked. ``--summary`` adds a count per verdict (for grading a class).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import exercises

DEFAULT_TIMEOUT = 60.0
SEVERITY = {"PASS": 0, "TODO": 1, "FAIL": 1, "ERROR": 2}


class CannotCheck(Exception):
    """The file could not be checked (message says why)."""


@dataclass
class Verdict:
    status: str            # PASS, FAIL, TODO, ERROR
    exercise: str
    message: str

    def line(self):
        return f"{self.status} {self.exercise}: {self.message}" if self.exercise else f"{self.status} {self.message}"


# --------------------------------------------------------------------------- reading the file
def read_source(path):
    """The file's text; CannotCheck with a one-line reason for a missing, unreadable or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise CannotCheck(f"cannot find {path}: check the path (e.g. lessons/exercises/ex02_dense_backward.py)")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CannotCheck(f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start}); save the "
                          "file as UTF-8") from None


def exercise_name(path, source):
    """The exercise a file is for: its ``EXERCISE = "..."`` line (read, not run), else its file name."""
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as err:
        raise CannotCheck(f"{path}, line {err.lineno}: syntax error: {err.msg}") from None
    by_stem = next((n for n in sorted(exercises.EXERCISES, key=len, reverse=True) if Path(path).stem.endswith(n)),
                   None)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EXERCISE" for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            name = node.value.value
            break
    else:
        name = by_stem
    if name not in exercises.EXERCISES:
        raise CannotCheck(f"{path}: does not say which exercise it is; add a line EXERCISE = one of "
                          f"{sorted(exercises.EXERCISES)}")
    if by_stem is not None and by_stem != name:
        raise CannotCheck(f"{path}: the file is named for exercise {by_stem!r} but says EXERCISE = {name!r}; "
                          "which one is it? (rename the file or fix the line)")
    return name


def imports_library(source):
    """Whether the file imports ``mmoe_np``, which holds reference answers (worth a grader's look)."""
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(n == "mmoe_np" or n.startswith("mmoe_np.") for n in names):
            return True
    return "mmoe_np" in source and ("__import__" in source or "importlib" in source)


# ---------------------------------------------------------------------- running the student
def _encode(value, key, store):
    """An argument as JSON with its arrays in ``store`` (for the child process)."""
    if isinstance(value, np.ndarray):
        store[key] = value
        return {"kind": "array", "key": key}
    if isinstance(value, (tuple, list)):               # a namedtuple is a tuple too
        return {"kind": "tuple" if isinstance(value, tuple) else "list",
                "items": [_encode(v, f"{key}_{i}", store) for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {k: _encode(v, f"{key}_{k}", store) for k, v in value.items()}}
    return {"kind": "scalar", "value": value}


def _decode(spec, arrays):
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["key"]]
    if kind in ("tuple", "list"):
        return tuple(_decode(s, arrays) for s in spec["items"])
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in spec["items"].items()}
    return exercises.Bad(spec.get("why", "an unusable value"))


def run_student(path, exercise, timeout):
    """Call the student's functions in a separate process; returns the list of outcomes per call
    (``("output", value)``, ``("error", text)`` or ``("todo", None)``) or raises CannotCheck."""
    with tempfile.TemporaryDirectory(prefix="mmoe-check-") as folder:
        folder = Path(folder)
        store, calls = {}, []
        for i, call in enumerate(exercise.calls):
            calls.append({"function": call.function, "args": [_encode(a, f"a{i}_{j}", store)
                                                               for j, a in enumerate(call.args)]})
        np.savez(folder / "inputs.npz", **store)
        nonce = secrets.token_hex(16)
        spec = {"file": str(Path(path).resolve()), "functions": list(exercise.functions), "calls": calls,
                "folder": str(folder), "nonce": nonce}
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMOE_CHECK")}
        _run_child([sys.executable, "-m", "mmoe_np._check_runner"], json.dumps(spec) + "\n", timeout,
                   Path(path).resolve().parent, env, path)
        result_path = folder / "result.json"
        try:
            result = json.loads(result_path.read_text())
            ok = result.get("nonce") == nonce
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise CannotCheck(f"{path}: the checker got no result (the file ended the process itself, e.g. with "
                              "os._exit, or crashed Python)")
        if "load_error" in result:
            raise CannotCheck(f"{path}: running the file failed: {result['load_error']}")
        if "missing" in result:
            raise CannotCheck(f"{path}: no function named {', '.join(n + '()' for n in result['missing'])} -- did you "
                              "rename or delete it?")
        with np.load(folder / "outputs.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        if "fatal" in result:
            raise CannotCheck(f"{path}: {result['fatal']}")
        if len(result.get("calls", ())) != len(exercise.calls):
            raise CannotCheck(f"{path}: the checker got {len(result.get('calls', ()))} results for "
                              f"{len(exercise.calls)} calls")
        outcomes = []
        for call in result["calls"]:
            if call.get("todo"):
                outcomes.append(("todo", None))
            elif "error" in call:
                outcomes.append(("error", call["error"]))
            else:
                outcomes.append(("output", _decode(call["output"], arrays)))
        return outcomes


def _run_child(command, stdin, timeout, cwd, env, path):
    """Run the child in its own process group; on a time-out kill the whole group (the student's
    code may have started processes of its own that would keep the pipes open)."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=env, start_new_session=hasattr(os, "killpg"))
    try:
        proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise CannotCheck(f"{path}: did not finish within {timeout:g} s (an endless loop?); the limit is "
                          "--timeout") from None
    finally:
        _kill_group(proc)                              # whatever the student's code left running


def _kill_group(proc):
    if hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc.poll() is None:
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError):
        pass


# ------------------------------------------------------------------------------- checking
def check_file(path, timeout=DEFAULT_TIMEOUT) -> Verdict:
    """Check one file; never raises."""
    name, note = "", ""
    try:
        source = read_source(path)
        name = exercise_name(path, source)
        if imports_library(source):
            note = " (note: the file imports mmoe_np, which holds reference answers)"
        exercise = exercises.EXERCISES[name]()            # inputs and expected values, computed here
        outcomes = run_student(path, exercise, timeout)
    except CannotCheck as err:
        return Verdict("ERROR", name, str(err))
    except Exception as err:                               # a checker fault must not look like a verdict
        return Verdict("ERROR", name, f"{path}: the checker could not check this file "
                                      f"({type(err).__name__}: {err}); please report it")
    if any(kind == "todo" for kind, _ in outcomes):
        return Verdict("TODO", name, "not done yet -- fill in the part between the TODO fences" + note)
    try:
        return Verdict("PASS", name, exercise.judge(outcomes) + note)
    except exercises.Wrong as err:
        return Verdict("FAIL", name, str(err) + note)
    except Exception as err:
        return Verdict("ERROR", name, f"{path}: the checker could not judge the answers "
                                      f"({type(err).__name__}: {err}); please report it")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mmoe_np.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="exercise files to check")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds each file may take (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--summary", action="store_true", help="end with a count of each verdict")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.files:
        parser.print_help()
        return 2
    if not args.timeout > 0:
        print(f"ERROR --timeout must be a positive number of seconds, got {args.timeout}")
        return 2
    status, counts = 0, {}
    for path in args.files:
        verdict = check_file(path, args.timeout)
        print(verdict.line(), flush=True)
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
        status = max(status, SEVERITY[verdict.status])
    if args.summary:
        print(f"{len(args.files)} files: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITY))
    return status


if __name__ == "__main__":
    sys.exit(main())
