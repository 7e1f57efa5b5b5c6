"""Check a student's exercise file: ``python -m mmoe_np.check lessons/exercises/ex02_dense_backward.py``.

Each exercise file names its exercise (``EXERCISE = "dense_backward"``) and defines one
function. The checker imports the file, runs that function on random inputs and compares
it with numerical gradients or with the library, then says in plain words what is right
and what is wrong (which output, how far off, at which index). Exit status: 0 all passed,
1 an exercise is wrong or unfinished, 2 the file could not be checked.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path

import numpy as np

from .gradcheck import GradientError, compare, numerical_gradient_array
from .kernels import reference
from .nn import layers

YOURS = ("yours", "expected")


class CheckFailed(Exception):
    """The student's function ran but gave a wrong answer (message says what)."""


class CannotCheck(Exception):
    """The file could not be loaded or lacks the function (message says why)."""


def _same(name, got, want, tol=1e-6):
    got = np.asarray(got, dtype=float)
    if got.shape != np.shape(want):
        raise CheckFailed(f"{name} has shape {got.shape}, expected {np.shape(want)}")
    try:
        return compare(name, got, want, tol=tol, labels=YOURS)
    except GradientError as err:
        raise CheckFailed(str(err)) from None


# ------------------------------------------------------------------------- the checks
def check_dense_backward(fn):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    result = fn(dout, (x, W))
    if not (isinstance(result, tuple) and len(result) == 3):
        raise CheckFailed("dense_backward must return three arrays: dx, dW, db")
    f = lambda: x @ W + b
    errors = [_same(name, got, numerical_gradient_array(f, wrt, dout))
              for name, got, wrt in zip(("dx", "dW", "db"), result, (x, W, b))]
    return f"dx, dW, db match the numerical gradient (worst relative error {max(errors):.1e})"


def check_softmax_backward(fn):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 4))
    dG = rng.standard_normal((6, 4))
    G = layers.softmax(logits)
    got = fn(dG, G.copy())
    err = _same("dlogits", got, numerical_gradient_array(lambda: layers.softmax(logits), logits, dG))
    return f"dlogits matches the numerical gradient (relative error {err:.1e})"


def check_gate_mix_backward(fn):
    rng = np.random.default_rng(2)
    H, G, dF = rng.standard_normal((5, 4, 3)), rng.random((2, 5, 3)), rng.standard_normal((2, 5, 4))
    result = fn(H.copy(), G.copy(), dF.copy())
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed("gate_mix_backward must return two arrays: dH, dG")
    f = lambda: reference.gate_mix_forward(H, G)
    e1 = _same("dH", result[0], numerical_gradient_array(f, H, dF))
    e2 = _same("dG", result[1], numerical_gradient_array(f, G, dF))
    return f"dH and dG match the numerical gradient (worst relative error {max(e1, e2):.1e})"


def check_adam_step(fn):
    from .optim import Adam
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(6)
    mine, m, v = theta.copy(), np.zeros(6), np.zeros(6)
    params, ref = {"w": theta.copy()}, Adam(lr=0.01, fused=False)
    for t in range(1, 4):
        g = rng.standard_normal(6)
        out = fn(mine.copy(), g, m.copy(), v.copy(), t, 0.01, 0.9, 0.999, 1e-8)
        if not (isinstance(out, tuple) and len(out) == 3):
            raise CheckFailed("adam_step must return (param, m, v)")
        mine, m, v = (np.asarray(a, dtype=float) for a in out)
        ref.step(params, {"w": g})
        _same(f"m after step {t}", m, ref.m["w"], tol=1e-12)
        _same(f"v after step {t}", v, ref.v["w"], tol=1e-12)
        _same(f"param after step {t}", mine, params["w"], tol=1e-12)
    return "three Adam steps match mmoe_np.Adam (m, v and the parameter)"


def _check_forward(fn, model, fn_name):
    """Compare a student's forward pass ``fn(X, params)`` with ``model.forward``."""
    for p in model.params.values():      # non-zero biases too, so forgotten ones show
        p += 0.1 * np.random.default_rng(6).standard_normal(p.shape)
    X = np.random.default_rng(7).standard_normal((8, model.n_features))
    want, _ = model.forward(X)
    got = fn(X.copy(), {k: v.copy() for k, v in model.params.items()})
    K = model.n_tasks
    if not isinstance(got, (list, tuple)) or len(got) != K:
        raise CheckFailed(f"{fn_name} must return a list with one (B, 1) array per task ({K} here)")
    errors = [_same(f"prediction of task {k}", got[k], want[k], tol=1e-10) for k in range(K)]
    return f"all {K} tasks' predictions match mmoe_np.{type(model).__name__} (relative error {max(errors):.1e})"


def check_mmoe_forward(fn):
    from .models import MMoE
    return _check_forward(fn, MMoE(n_features=6, n_tasks=2, n_experts=3, expert_units=4, tower_units=3, seed=5),
                          "mmoe_forward")


def check_covariance_similarity(fn):
    from .relatedness import covariance_similarity
    rng = np.random.default_rng(8)
    X1 = rng.standard_normal((40, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    X2 = rng.standard_normal((30, 6)) @ rng.standard_normal((6, 6))
    cases = [("two different inputs", X1, X2, 0.99), ("identical inputs", X1, X1, 0.99),
             ("keep=0.5 (fewer directions)", X1, X2, 0.5), ("keep=1.0 (every direction)", X1, X2, 1.0)]
    for label, a, b, keep in cases:
        got = fn(a.copy(), b.copy(), keep)
        if not np.isscalar(got) and np.shape(got) != ():
            raise CheckFailed(f"covariance_similarity must return one number, got shape {np.shape(got)}")
        _same(f"score for {label}", got, covariance_similarity(a, b, keep), tol=1e-8)
    return "the score matches mmoe_np.relatedness.covariance_similarity on 4 cases (keep 0.5, 0.99, 1.0)"


def check_cgc_forward(fn):
    from .models import CGC
    return _check_forward(fn, CGC(n_features=6, n_tasks=3, n_task_experts=2, n_shared_experts=3, expert_units=4,
                                  tower_units=3, seed=5), "cgc_forward")


EXERCISES = {
    "dense_backward": ("dense_backward", check_dense_backward),
    "softmax_backward": ("softmax_backward", check_softmax_backward),
    "gate_mix_backward": ("gate_mix_backward", check_gate_mix_backward),
    "adam_step": ("adam_step", check_adam_step),
    "mmoe_forward": ("mmoe_forward", check_mmoe_forward),
    "covariance_similarity": ("covariance_similarity", check_covariance_similarity),
    "cgc_forward": ("cgc_forward", check_cgc_forward),
}


# ----------------------------------------------------------------------- loading files
def load(path):
    """Import the student's file; CannotCheck with a one-line reason when that fails."""
    path = Path(path)
    if not path.is_file():
        raise CannotCheck(f"cannot find {path}: check the path (e.g. lessons/exercises/ex02_dense_backward.py)")
    source = path.read_text()
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as err:
        raise CannotCheck(f"{path}, line {err.lineno}: syntax error: {err.msg}") from None
    module = type(sys)(path.stem)
    module.__file__ = str(path)
    try:
        exec(code, module.__dict__)
    except Exception as err:
        raise CannotCheck(f"{path}: running the file failed{_where(err, path)}: {type(err).__name__}: {err}") from None
    name = module.__dict__.get("EXERCISE")
    if name is None:     # fall back on the file name: ex05_gate_mix_backward.py
        name = next((n for n in EXERCISES if path.stem.endswith(n)), None)
    if name not in EXERCISES:
        raise CannotCheck(f"{path}: does not say which exercise it is; "
                          f"add a line EXERCISE = one of {sorted(EXERCISES)}")
    function_name, _ = EXERCISES[name]
    fn = module.__dict__.get(function_name)
    if not callable(fn):
        raise CannotCheck(f"{path}: no function named {function_name}() -- did you rename or delete it?")
    return name, fn


def _where(err, path):
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == Path(path)]
    return f" at line {frames[-1].lineno}" if frames else ""


def check_file(path):
    """Check one file. Returns (passed, message)."""
    name, fn = load(path)
    _, check = EXERCISES[name]
    try:
        return True, f"PASS {name}: {check(fn)}"
    except NotImplementedError:
        return False, f"TODO {name}: not done yet -- fill in the part between the TODO fences"
    except CheckFailed as err:
        return False, f"FAIL {name}: {err}"
    except Exception as err:
        return False, f"FAIL {name}: your code raised {type(err).__name__}{_where(err, path)}: {err}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    status = 0
    for path in argv:
        try:
            passed, message = check_file(path)
        except CannotCheck as err:
            print(f"ERROR {err}")
            status = 2
            continue
        print(message)
        if not passed:
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
