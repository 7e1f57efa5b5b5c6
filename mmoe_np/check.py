"""Check students' exercise files: ``python -m mmoe_np.check FILE [FILE ...]``.

Each exercise file names its exercise (``EXERCISE = "dense_backward"``) and defines the
function(s) it asks for. For every file the checker prints one line that names the verdict, the
exercise and the file, and says what is right and what is wrong -- which output or stage, how far
off, at which index, and a hint when the answer is a typical mistake (a factor of 1/B, a flipped
sign, a missing ReLU mask, a z quantile where t belongs).

It is built for grading, so the student's code can change no verdict and harm nothing:

- the expected values are computed here, in the checker's own process, and never leave it;
- the student's functions run in a separate, contained process per file (:mod:`mmoe_np.sandbox`:
  a fresh folder with a copy of the file, ``python -I``, resource limits, no new processes, the
  whole process group killed at the end, bubblewrap's namespaces where Linux allows them);
- graded work cannot use the library's reference answers: a file that imports ``mmoe_np`` (by
  any route, or reads the course's files) gets ERROR;
- whatever the code does -- raise, call ``sys.exit``, loop, print "PASS", write files, change its
  inputs in place, signal the checker -- only the values its functions return are judged;
- every file is checked and reported, even after an error in another, and a SIGTERM to the
  checker ends every student process before it exits.

Verdicts: ``PASS``; ``FAIL`` (a wrong answer, or the student's function raised); ``TODO`` (not
done yet; a staged exercise says which stages are done); ``ERROR`` (the file could not be checked:
not found, not UTF-8, a syntax error, a missing function, an error while loading it,
``sys.exit``, a time-out, a refused action). Exit status: 0 every file passed, 1 some exercise is
wrong or unfinished, 2 some file could not be checked. ``--summary`` adds a count per verdict.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _check_guard, exercises, sandbox

DEFAULT_TIMEOUT = 60.0
SEVERITY = {"PASS": 0, "TODO": 1, "FAIL": 1, "ERROR": 2}
SIGNALS = {int(getattr(signal, n)): n for n in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGXCPU", "SIGXFSZ", "SIGBUS",
                                                "SIGTERM", "SIGFPE", "SIGILL") if hasattr(signal, n)}


class CannotCheck(Exception):
    """The file could not be checked (message says why)."""


@dataclass
class Verdict:
    status: str            # PASS, FAIL, TODO, ERROR
    exercise: str
    message: str
    path: str = ""

    def line(self):
        who = " ".join(x for x in (self.exercise, self.path) if x)
        return f"{self.status} {who}: {self.message}" if who else f"{self.status} {self.message}"


# --------------------------------------------------------------------------- reading the file
def read_source(path):
    """The file's text (a UTF-8 BOM removed); CannotCheck with a one-line reason for a missing,
    unreadable or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise CannotCheck(f"cannot find {path}: check the path (e.g. lessons/exercises/ex02_dense_backward.py)")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CannotCheck(f"not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start}); save the "
                          "file as UTF-8") from None


def _parse(path, source):
    try:
        return ast.parse(source, str(path))
    except SyntaxError as err:
        raise CannotCheck(f"line {err.lineno}: syntax error: {err.msg}") from None


def exercise_name(path, source):
    """The exercise a file is for: its ``EXERCISE = "..."`` line (read, not run), else its file name."""
    tree = _parse(path, source)
    stem = Path(path).stem
    by_stem = next((n for n in sorted(exercises.EXERCISES, key=lambda n: -len(exercises.FILES[n]))
                    if stem.endswith(exercises.FILES[n])), None)
    by_stem = by_stem or next((n for n in sorted(exercises.EXERCISES, key=len, reverse=True) if stem.endswith(n)), None)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EXERCISE" for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            name = node.value.value
            break
    else:
        name = by_stem
    if name not in exercises.EXERCISES:
        raise CannotCheck(f"does not say which exercise it is; add a line EXERCISE = one of "
                          f"{sorted(exercises.EXERCISES)}")
    if by_stem is not None and by_stem != name:
        raise CannotCheck(f"the file is named for exercise {by_stem!r} but says EXERCISE = {name!r}; "
                          "which one is it? (rename the file or fix the line)")
    return name


def library_imports(path, source):
    """``[(line, module)]`` for every ``import mmoe_np...`` / ``from mmoe_np... import``: the library
    holds the reference answers, so graded work may not use it (other routes are refused at run time)."""
    found = []
    for node in ast.walk(_parse(path, source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        found += [(node.lineno, n) for n in names if n == "mmoe_np" or n.startswith("mmoe_np.")]
    return found


def _screen(path, source):
    imports = library_imports(path, source)
    if imports:
        line, module = imports[0]
        raise CannotCheck(f"refused: the file imports {module} (line {line}), which holds the reference answers "
                          "(graded work must be your own code)")


def own_file(path, name, graded):
    """The same student's file for exercise ``name``, beside ``path`` (the file for exercise ``graded``):
    with the same prefix (``bob_ex07_compare.py`` -> ``bob_ex14_paired_ratio.py``), else the plain name
    (``ex14_paired_ratio.py``), else the one file whose name ends so; None if there is none, and
    CannotCheck if several could be this student's."""
    path, stem = Path(path), exercises.FILES[name]
    own = path.stem
    prefix = own[:-len(exercises.FILES[graded])] if own.endswith(exercises.FILES[graded]) else ""
    for candidate in (path.with_name(f"{prefix}{stem}.py"), path.with_name(f"{stem}.py")):
        if candidate.is_file():
            return candidate
    found = [p for p in sorted(path.parent.glob(f"*{stem}.py")) if p.is_file()]
    if len(found) > 1:
        raise CannotCheck(f"this exercise imports the student's {stem}.py, and {len(found)} files here could be "
                          f"it ({', '.join(p.name for p in found[:3])}...): name it {prefix}{stem}.py")
    return found[0] if found else None


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
        return {"kind": "dict", "items": {k: _encode(v, f"{key}_{i}", store) for i, (k, v) in enumerate(value.items())}}
    return {"kind": "scalar", "value": value.item() if isinstance(value, np.generic) else value}


def _decode(spec, arrays):
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["key"]]
    if kind in ("tuple", "list"):
        return tuple(_decode(s, arrays) for s in spec["items"])
    if kind == "dict":
        return {str(k): _decode(v, arrays) for k, v in spec["items"].items()}
    if kind == "text":
        return str(spec["value"])
    return exercises.Bad(str(spec.get("why", "an unusable value")))


@dataclass
class Settings:
    """How files are checked: limits, the sandbox, and the verdicts of a batch so far."""

    limits: sandbox.Limits = sandbox.Limits()
    use_bwrap: bool = False
    deny: tuple = ()
    verdicts: dict = field(default_factory=dict)   # (path, size, mtime) -> Verdict: each file checked once

    def remembered(self, path, check):
        """The verdict of ``path`` from earlier in this batch, or ``check()`` (a file another one uses)."""
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self.verdicts:
            self.verdicts[key] = check()
        return self.verdicts[key]


def run_student(path, exercise, settings, files):
    """Call the student's functions in a contained process; returns the list of outcomes per call
    (``("output", value)``, ``("error", text)`` or ``("todo", None)``) or raises CannotCheck.

    ``files``: {file name in the sandbox: text}, the student's file as ``submission.py``.
    """
    store, calls = {}, []
    for i, call in enumerate(exercise.calls):
        calls.append({"function": call.function, "args": [_encode(a, f"a{i}_{j}", store)
                                                           for j, a in enumerate(call.args)]})
    buffer = io.BytesIO()
    np.savez(buffer, **store)
    task = {"file": "submission.py", "module": "submission", "functions": list(exercise.functions), "calls": calls,
            "limits": settings.limits.for_child(), "preload": list(exercise.preload), "native": exercise.native,
            "deny": [str(p) for p in settings.deny], "allow": sandbox.python_roots()}
    child = sandbox.run(task, buffer.getvalue(), files, settings.limits, settings.use_bwrap, settings.deny)
    return _outcomes(child, exercise, settings.limits)


def _ended(child):
    code = child.returncode
    if code is not None and code < 0:
        return f"signal {SIGNALS.get(-code, -code)}", SIGNALS.get(-code)
    if code is not None and code > 128 and (code - 128) in SIGNALS:        # bubblewrap passes a signal on so
        return f"signal {SIGNALS[code - 128]}", SIGNALS[code - 128]
    return f"exit status {code}", None


def _outcomes(child, exercise, limits):
    if child.timed_out:
        raise CannotCheck(f"did not finish within {limits.timeout:g} s (an endless loop?); the limit is --timeout")
    frames = child.frames()
    if child.returncode == _check_guard.REFUSED:
        try:
            why = json.loads(frames[-1])["refused"]
        except Exception:                                  # the file wrote into the channel itself
            why = "did something graded code may not do"
        raise CannotCheck(f"refused: the file {why}")
    how, sig = _ended(child)
    if child.result_overflow:
        raise CannotCheck(f"returned more than {limits.result_mib} MiB of results")
    if sig == "SIGXCPU" or (sig == "SIGKILL" and child.returncode is not None):
        raise CannotCheck(f"used more than its CPU time ({limits.timeout:g} s; see --timeout) or was killed ({how})")
    if sig == "SIGXFSZ":
        raise CannotCheck(f"wrote a file larger than {limits.file_mib} MiB")
    if not frames:
        last = [line for line in child.output.splitlines() if line.strip()][-1:]
        said = f"; its last words: {last[0][:200]!r}" if last and child.returncode not in (0, None) else ""
        raise CannotCheck(f"the checker got no result (the process ended with {how}: the file ended it itself, "
                          f"e.g. with os._exit, ran out of memory (limit {limits.memory_mib} MiB) or crashed "
                          f"Python{said})")
    try:
        if len(frames) != 2:
            raise ValueError(f"{len(frames)} frames")
        result = json.loads(frames[0])
        with np.load(io.BytesIO(frames[1]), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        for text in [result.get("load_error", "")] + [c.get("error", "") for c in result.get("calls", ())]:
            if "No module named 'mmoe_np" in str(text):          # the sandbox hides the library
                raise CannotCheck(f"refused: the file imports mmoe_np, {_check_guard.USE} ({text})")
        if "load_error" in result:
            raise CannotCheck(f"running the file failed: {result['load_error']}")
        if "missing" in result:
            raise CannotCheck(f"no function named {', '.join(str(n) + '()' for n in result['missing'])} -- did you "
                              "rename or delete it?")
        if "fatal" in result:
            raise CannotCheck(str(result["fatal"]))
        if len(result.get("calls", ())) != len(exercise.calls):
            raise ValueError(f"{len(result.get('calls', ()))} results for {len(exercise.calls)} calls")
        exercise.kinds = {str(k): str(v) for k, v in result.get("kinds", {}).items()}
        outcomes = []
        for call in result["calls"]:
            if call.get("todo"):
                outcomes.append(("todo", None))
            elif "error" in call:
                outcomes.append(("error", str(call["error"])))
            else:
                outcomes.append(("output", _decode(call["output"], arrays)))
        return outcomes
    except CannotCheck:
        raise
    except Exception as err:
        raise CannotCheck(f"the result channel holds something the checker did not ask for ({type(err).__name__}: "
                          f"{err}); did the file write into it?") from None


# ------------------------------------------------------------------------------- checking
def check_file(path, timeout=DEFAULT_TIMEOUT, settings=None, expect=None, _depth=0) -> Verdict:
    """Check one file; never raises. ``expect``: the exercise the file must be for (a batch of one
    exercise), else any."""
    if settings is None:
        use, _ = sandbox.layers("auto")
        settings = Settings(sandbox.Limits(timeout=timeout), use, tuple(sandbox.course_paths()))
    name, shown = "", str(path)
    try:
        source = read_source(path)
        name = exercise_name(path, source)
        if expect and name != expect:
            raise CannotCheck(f"this file is for exercise {name!r}, not {expect!r} (the exercise being graded)")
        _screen(path, source)
        exercise = exercises.EXERCISES[name]()            # inputs and expected values, computed here
        folder = Path(path).resolve().parent
        files = {"submission.py": source}
        for used in exercise.uses:
            own = own_file(path, used, name)
            if own is None:
                raise CannotCheck(f"this exercise imports your {exercises.file_of(used)}: put it in the same folder")
            if _depth < 3:
                dependency = settings.remembered(own, lambda own=own: check_file(own, timeout, settings,
                                                                                   _depth=_depth + 1))
                if dependency.status != "PASS":
                    what = {"TODO": "first finish", "FAIL": "first mend", "ERROR": "first make checkable"}
                    return Verdict(dependency.status, name, f"{what[dependency.status]} your {own.name}, which this "
                                   f"exercise uses ({dependency.message})", shown)
            dep_source = read_source(own)
            _screen(own, dep_source)
            files[exercises.file_of(used)] = dep_source
        deny = tuple(settings.deny) + (str(folder),)
        outcomes = run_student(path, exercise, Settings(settings.limits, settings.use_bwrap, deny), files)
    except CannotCheck as err:
        return Verdict("ERROR", name, str(err), shown)
    except sandbox.Stopped:
        return Verdict("ERROR", name, "not checked: the checker was stopped", shown)
    except Exception as err:                               # a checker fault must not look like a verdict
        return Verdict("ERROR", name, f"the checker could not check this file ({type(err).__name__}: {err}); "
                                      "please report it", shown)
    try:
        status, message = exercise.judge(outcomes)
        return Verdict(status, name, message, shown)
    except Exception as err:
        return Verdict("ERROR", name, f"the checker could not judge the answers ({type(err).__name__}: {err}); "
                                      "please report it", shown)


def _checked(path, timeout, settings, expect):
    """check_file, remembered for the files that later files of the batch use."""
    if expect is None and Path(path).is_file():
        return settings.remembered(path, lambda: check_file(path, timeout, settings))
    return check_file(path, timeout, settings, expect)


class Stopped(Exception):
    """The checker got SIGTERM or SIGINT."""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mmoe_np.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="exercise files to check")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds each file may take (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--summary", action="store_true", help="end with a count of each verdict")
    parser.add_argument("--sandbox", choices=sandbox.MODES, default="auto",
                        help="bubblewrap around the student's code: 'require' refuses to grade without it, 'auto' "
                             "(default) uses it when it works and says so when it does not, 'off' does not use it")
    parser.add_argument("--exercise", choices=sorted(exercises.EXERCISES), metavar="NAME",
                        help="every file must be for this exercise (grading one exercise of a class)")
    parser.add_argument("--memory", type=int, default=sandbox.Limits.memory_mib,
                        help=f"MiB of address space each file may use (default {sandbox.Limits.memory_mib})")
    parser.add_argument("--jobs", type=int, default=1, help="files checked at once (default 1); the output keeps "
                                                             "the order of the files")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.files:
        parser.print_help()
        return 2
    for flag, value in (("--timeout", args.timeout), ("--memory", args.memory), ("--jobs", args.jobs)):
        if not value > 0:
            print(f"ERROR {flag} must be positive, got {value}")
            return 2
    try:
        use_bwrap, layers = sandbox.layers(args.sandbox)
    except sandbox.SandboxUnavailable as err:
        print(f"ERROR {err}; no file was checked")
        return 2
    if not use_bwrap:
        print(layers, file=sys.stderr, flush=True)
    settings = Settings(sandbox.Limits(timeout=args.timeout, memory_mib=args.memory), use_bwrap,
                        tuple(sandbox.course_paths()))
    verdicts = [None] * len(args.files)
    sandbox.resume()
    previous = _on_signals()
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        with sandbox.hidden_from_our_user(use_bwrap):
            futures = [pool.submit(_checked, path, args.timeout, settings, args.exercise) for path in args.files]
            for i, future in enumerate(futures):
                verdicts[i] = future.result()
                print(verdicts[i].line(), flush=True)
    except Stopped as err:
        sandbox.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        for i, path in enumerate(args.files):
            if verdicts[i] is None:
                verdicts[i] = Verdict("ERROR", "", f"not checked: the checker was stopped ({err})", str(path))
                print(verdicts[i].line(), flush=True)
    finally:
        pool.shutdown(wait=True)
        _restore_signals(previous)
    counts = {}
    for verdict in verdicts:
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
    if args.summary:
        print(f"{len(args.files)} files: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITY))
    return max(SEVERITY[v.status] for v in verdicts)


def _on_signals():
    """SIGTERM and SIGINT stop the checking (every student process is killed first)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum, frame):
        sandbox.kill_all()
        raise Stopped(signal.Signals(signum).name)
    return {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}


def _restore_signals(previous):
    for s, handler in previous.items():
        signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())
