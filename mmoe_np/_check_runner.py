"""The exercise checker's child process: runs one student file and calls its functions.

:mod:`mmoe_np.sandbox` copies this file and :mod:`mmoe_np._check_guard` into a fresh temporary
folder with a copy of the student's file, and starts ``python -I -B _runner.py`` there (inside
bubblewrap where it can). It never computes an expected value and imports nothing from
``mmoe_np``. In order, before any student code runs, it:

1. reads its whole task from stdin: which functions to call, with which arguments (an npz);
   inside bubblewrap started by root, it then becomes ``nobody``;
2. limits itself: address space, CPU time, file size, open files, no core dumps; asks the kernel
   to kill it if the checker dies;
3. imports what the exercise needs (NumPy; SciPy or Numba for some exercises);
4. allows itself no new processes or threads (``RLIMIT_NPROC`` 0: the kernel refuses every fork
   and clone of a non-root user), then installs the tripwire (:mod:`mmoe_np._check_guard`);
5. runs the student's file, then calls its functions on **copies** of the arguments.

It writes what the functions returned to the result pipe (the fd in ``$MMOE_CHECK_RESULT_FD``)
as two frames -- a JSON description and an npz of the arrays -- and the checker judges them.
Nothing here is secret: the expected values never leave the checker's process, so whatever the
student's code reads or writes in this process, it cannot learn them or forge a verdict; the
worst it can write into the pipe is answers of its own, which are judged like any others.
"""
import io
import json
import os
import sys
import traceback

LIMITS = {"RLIMIT_AS": "memory_bytes", "RLIMIT_CPU": "cpu_seconds", "RLIMIT_FSIZE": "file_bytes",
          "RLIMIT_NOFILE": "open_files", "RLIMIT_CORE": None}


def read_frame(stream):
    size = int.from_bytes(stream.read(8), "big")
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the checker's task ended early")
    return data


def become(uid, gid):
    """Drop root for ``uid``/``gid`` for good (inside bubblewrap, started by a root checker)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("the checker's child could not drop root")


def apply_limits(limits):
    """Resource limits for this process and anything it could start (Linux, macOS)."""
    try:
        import resource
    except ImportError:                            # pragma: no cover - Windows has no rlimits
        return
    for name, key in LIMITS.items():
        value = 0 if key is None else limits.get(key)
        if value is None or not hasattr(resource, name):
            continue
        soft = int(value)
        hard = soft + 1 if name == "RLIMIT_CPU" else soft          # SIGXCPU first, then SIGKILL
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError):
            pass                                   # e.g. macOS refuses some address-space limits


def no_new_processes():
    """``RLIMIT_NPROC`` 0: the kernel refuses every fork, clone and thread (not for root, who never runs this)."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    except (ImportError, AttributeError, ValueError, OSError):    # pragma: no cover - not on this platform
        pass


def die_with_parent():
    """Ask Linux to kill this process when the checker dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)    # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):             # pragma: no cover - no libc prctl
        pass


def decode(spec, arrays):
    """An argument from its JSON description and the arrays (always a fresh copy)."""
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["key"]].copy()
    if kind == "scalar":
        return spec["value"]
    if kind == "tuple":
        return tuple(decode(s, arrays) for s in spec["items"])
    if kind == "list":
        return [decode(s, arrays) for s in spec["items"]]
    if kind == "dict":
        return {k: decode(v, arrays) for k, v in spec["items"].items()}
    raise ValueError(f"unknown argument kind {kind!r}")


def encode(value, key, store, top=True):
    """What a student's function returned, as JSON plus arrays; a problem becomes ``{"kind": "bad"}``.

    Only the returned tuple, list or dict itself holds several outputs; anything inside it must
    be an array or a short string (a nested list is converted; a ragged one is reported as such).
    """
    import numpy as np
    if top and isinstance(value, (tuple, list)):
        return {"kind": "tuple" if isinstance(value, tuple) else "list",     # a namedtuple is a tuple
                "items": [encode(v, f"{key}_{i}", store, top=False) for i, v in enumerate(value)]}
    if top and isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): encode(v, f"{key}_{i}", store, top=False)
                                          for i, (k, v) in enumerate(value.items())}}
    if value is None:
        return {"kind": "bad", "why": "None (did you forget a return statement?)"}
    if isinstance(value, str):
        return {"kind": "text", "value": value[:200]}
    try:
        arr = np.asarray(value)
    except Exception as err:                      # ragged lists and the like
        return {"kind": "bad", "why": f"something that is not an array ({type(value).__name__}: {err})"}
    if arr.dtype == object:
        return {"kind": "bad", "why": f"a ragged or mixed object ({type(value).__name__}), not an array of numbers"}
    if arr.dtype.kind == "c":
        return {"kind": "bad", "why": f"complex numbers (dtype {arr.dtype}); the answer is real"}
    if arr.dtype.kind not in "biuf":
        return {"kind": "bad", "why": f"an array of dtype {arr.dtype}, not numbers"}
    store[key] = arr.astype(np.float64)
    return {"kind": "array", "key": key}


def describe(err, filename):
    """``ExceptionType at line N: message`` with the line in the student's file, if any."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == filename]
    where = f" at line {frames[-1].lineno}" if frames else ""
    if isinstance(err, SystemExit):
        return f"the file called sys.exit({err.code!r}){where}, which would end the checking"
    if isinstance(err, KeyboardInterrupt):
        return f"KeyboardInterrupt{where}"
    return f"{type(err).__name__}{where}: {str(err)[:300]}"


def kind_of(obj):
    """What made a function: e.g. ``numba.core.registry.CPUDispatcher`` or ``builtins.function``."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def main():
    if "MMOE_CHECK_RESULT_FILE" in os.environ:     # Windows: no fd passing (mmoe_np.sandbox.WINDOWS)
        result_fd = os.open(os.environ["MMOE_CHECK_RESULT_FILE"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_BINARY)
    else:
        result_fd = int(os.environ["MMOE_CHECK_RESULT_FD"])
    task = json.loads(read_frame(sys.stdin.buffer))
    npz = read_frame(sys.stdin.buffer)
    if task.get("user"):
        become(*task["user"])
    apply_limits(task["limits"])
    die_with_parent()
    import importlib
    import subprocess  # noqa: F401 - loaded here, so that SciPy's own import of it meets the tripwire's patch

    import numpy as np
    for module in task["preload"]:
        importlib.import_module(module)
    with np.load(io.BytesIO(npz), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)                      # the student's own earlier exercises, copied beside it
    import _guard
    no_new_processes()
    _guard.install(here, deny=task["deny"], allow=task["allow"] + [here], result_fd=result_fd, native=task["native"])
    result, store = {"calls": []}, {}

    def finish(**extra):
        result.update(extra)
        buffer = io.BytesIO()
        np.savez(buffer, **store)
        data = memoryview(_guard.frame(json.dumps(result).encode()) + _guard.frame(buffer.getvalue()))
        while data:
            data = data[os.write(result_fd, data):]

    path = os.path.join(here, task["file"])
    with open(path, encoding="utf-8-sig") as f:  # a BOM (Windows Notepad) is not a syntax error
        source = f.read()
    module = type(sys)(task["module"])
    module.__file__ = path
    sys.modules[task["module"]] = module
    sys.argv = [path]
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except BaseException as err:                  # noqa: B902 - SystemExit, KeyboardInterrupt: all reported
        return finish(load_error=describe(err, path))
    missing = [name for name in task["functions"] if not callable(module.__dict__.get(name))]
    if missing:
        return finish(missing=missing)
    result["kinds"] = {name: kind_of(module.__dict__[name]) for name in task["functions"]}
    for i, call in enumerate(task["calls"]):
        args = [decode(a, arrays) for a in call["args"]]
        try:
            out = module.__dict__[call["function"]](*args)
        except NotImplementedError:
            result["calls"].append({"todo": True})
            continue
        except Exception as err:
            result["calls"].append({"error": describe(err, path)})
            continue
        except BaseException as err:              # noqa: B902 - sys.exit() or Ctrl-C inside the function
            return finish(fatal=describe(err, path))
        try:
            result["calls"].append({"output": encode(out, f"c{i}", store)})
        except Exception as err:                  # pragma: no cover - encoding never raises on purpose
            result["calls"].append({"output": {"kind": "bad", "why": f"{type(err).__name__}: {err}"}})
    finish()


if __name__ == "__main__":
    main()
