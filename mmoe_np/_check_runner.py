"""The child process of the exercise checker: runs a student's file and calls its functions.

It is started by :mod:`mmoe_np.check`, one process per file, and never computes an expected
value: it reads the calls to make (function names and arguments) from a folder the checker
prepared, calls the student's functions on **copies** of the arguments, and writes back what
they returned. Whatever the student's code does -- raise, ``sys.exit``, loop forever, print,
write files -- the checker judges only the results this process writes, tagged with a nonce
the student's code never sees (it is read from stdin before the student's file runs).

    python -m mmoe_np._check_runner < spec.json
"""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


def _decode(spec, arrays):
    """Rebuild an argument from its JSON description and the arrays file."""
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["key"]].copy()
    if kind == "scalar":
        return spec["value"]
    if kind == "tuple":
        return tuple(_decode(s, arrays) for s in spec["items"])
    if kind == "list":
        return [_decode(s, arrays) for s in spec["items"]]
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in spec["items"].items()}
    raise ValueError(f"unknown argument kind {kind!r}")


def _encode(value, key, store, top=True):
    """What a student's function returned, as JSON plus arrays; a problem becomes ``{"kind": "bad"}``.

    Only the returned tuple, list or dict itself holds several outputs; anything inside it
    must be an array (a nested list is converted, and a ragged one is reported as such).
    """
    import numpy as np
    if top and isinstance(value, (tuple, list)):
        return {"kind": "tuple" if isinstance(value, tuple) else "list",     # a namedtuple is a tuple
                "items": [_encode(v, f"{key}_{i}", store, top=False) for i, v in enumerate(value)]}
    if top and isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): _encode(v, f"{key}_{k}", store, top=False) for k, v in value.items()}}
    if value is None:
        return {"kind": "bad", "why": "None (did you forget a return statement?)"}
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


def main():
    spec = json.loads(sys.stdin.readline())
    nonce, folder = spec.pop("nonce"), Path(spec["folder"])
    result = {"nonce": nonce, "calls": []}

    def finish(**extra):
        result.update(extra)
        (folder / "result.json").write_text(json.dumps(result))

    import numpy as np
    store = {}
    with np.load(folder / "inputs.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    path = Path(spec["file"])
    source = path.read_text(encoding="utf-8")
    module = type(sys)(path.stem)
    module.__file__ = str(path)
    sys.argv = [str(path)]
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException as err:                  # noqa: B902 - SystemExit, KeyboardInterrupt: all reported
        finish(load_error=_describe(err, path))
        return
    missing = [name for name in spec["functions"] if not callable(module.__dict__.get(name))]
    if missing:
        finish(missing=missing)
        return
    for i, call in enumerate(spec["calls"]):
        args = [_decode(a, arrays) for a in call["args"]]
        try:
            out = module.__dict__[call["function"]](*args)
        except NotImplementedError:
            result["calls"].append({"todo": True})
            continue
        except Exception as err:
            result["calls"].append({"error": _describe(err, path)})
            continue
        except BaseException as err:              # noqa: B902 - sys.exit() or Ctrl-C inside the function
            finish(fatal=_describe(err, path))
            np.savez(folder / "outputs.npz", **store)
            return
        try:
            result["calls"].append({"output": _encode(out, f"c{i}", store)})
        except Exception as err:                  # pragma: no cover - encoding never raises on purpose
            result["calls"].append({"output": {"kind": "bad", "why": f"{type(err).__name__}: {err}"}})
    np.savez(folder / "outputs.npz", **store)
    finish()


def _describe(err, path):
    """``ExceptionType at line N: message`` with the line in the student's file, if any."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == Path(path)]
    where = f" at line {frames[-1].lineno}" if frames else ""
    if isinstance(err, SystemExit):
        return f"the file called sys.exit({err.code!r}){where}, which would end the checking"
    if isinstance(err, KeyboardInterrupt):
        return f"KeyboardInterrupt{where}"
    return f"{type(err).__name__}{where}: {err}"


if __name__ == "__main__":
    main()
