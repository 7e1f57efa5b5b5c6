"""How an exercise is judged: the calls to make, the expected answers, and hints that explain a mistake.

An exercise is a function returning an :class:`Exercise`: the functions the student's file must
define, the calls (arguments and expected outputs, computed here from the library's reference
code, which the test suite gradient-checks) and the typical mistakes, each a :class:`Mistake`
that computes the wrong answer it gives -- so a hint is shown only when the student's output
*is* that wrong answer, never as a guess.

Verdicts: every output is compared with its expected value (relative error, as
``mmoe_np.gradcheck.rel_error``); the message names every wrong output (with the index of the
worst entry and both numbers) and the right ones, in the order the outputs are computed (for a
backward pass: from the loss back). A staged exercise reports each stage -- ok, WRONG or not done
yet -- as soon as it is written.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import rel_error

REGISTRY = {}          # exercise name -> its factory
FILES = {}             # exercise name -> the stem of its file (ex02_dense_backward)


def exercise(stem):
    """Register an exercise factory under its function's name, for the file ``<stem>.py``."""
    def register(factory):
        REGISTRY[factory.__name__] = factory
        FILES[factory.__name__] = stem
        return factory
    return register


class Wrong(Exception):
    """The student's answer is wrong: ``text`` says where and by how much, ``hints`` maybe why."""

    def __init__(self, text, hints=()):
        super().__init__(text)
        self.text, self.hints = text, [h for h in hints if h]

    def __str__(self):
        return self.text + (f" -- {'; '.join(dict.fromkeys(self.hints))}" if self.hints else "")


@dataclass
class Bad:
    """A returned value that is not an array of real numbers (None, complex, ragged, ...)."""

    why: str


@dataclass
class Count:
    """A count whose factor in an output is a telling mistake: ``B`` rows, ``N`` entries, ``K`` tasks."""

    symbol: str
    value: int
    if_divided: str        # the hint when the output is 1/value times the answer
    if_multiplied: str     # ... and when it is value times the answer


@dataclass(eq=False)
class Mistake:
    """A typical wrong answer: ``make(call)`` computes it (the structure of ``call.expected``)."""

    hint: str
    make: Callable


@dataclass
class Call:
    function: str
    args: tuple
    expected: object                 # an array, a string, or a tuple/dict of them
    names: object                    # the output's name(s), matching ``expected`` (a dict: in backprop order)
    stage: str = ""                  # for exercises checked stage by stage
    tol: float = 1e-6
    counts: tuple = ()               # Counts for the factor hints
    mistakes: list = field(default_factory=list)     # Mistakes that apply to this call only
    canon: object = None             # makes an output comparable (e.g. fixes the sign of eigenvectors)
    _made: dict = field(default_factory=dict, repr=False)

    def mistaken(self, mistake):
        """What ``mistake`` gives on this call (computed once)."""
        key = id(mistake)
        if key not in self._made:
            try:
                self._made[key] = mistake.make(self)
            except Exception:                      # a mistake that cannot be made here explains nothing
                self._made[key] = None
        return self._made[key]


@dataclass
class Exercise:
    functions: tuple
    calls: list
    summary: str                     # what a pass means
    mistakes: list = field(default_factory=list)     # Mistakes for every call
    hint: object = None              # optional: hint(call, name, got) -> str, when no Mistake matches
    stages: bool = False             # judge every stage and report each
    uses: tuple = ()                 # exercises whose files this one imports (the student's own)
    preload: tuple = ()              # modules the child imports before the student's file (scipy.stats)
    native: bool = False             # allow ctypes in the child (numba's compiler)
    compiled: tuple = ()             # functions that must be compiled by numba
    kinds: dict = field(default_factory=dict)        # filled by the checker: what made each function

    def judge(self, outcomes):
        """``(status, message)`` with status PASS, FAIL or TODO."""
        wrong = self._not_compiled()
        mistakes = self._ranked_mistakes(outcomes)
        if not self.stages:
            if any(kind == "todo" for kind, _ in outcomes):
                return "TODO", "not done yet -- fill in the part between the TODO fences"
            if wrong:
                return "FAIL", wrong
            worst = 0.0
            try:
                for call, (kind, value) in zip(self.calls, outcomes):
                    worst = max(worst, self._one(call, kind, value, mistakes))
            except Wrong as err:
                return "FAIL", str(err)
            return "PASS", f"{self.summary} (worst relative error {worst:.1e})"
        report, failed, hints, todo = [], [], [], []
        for call, (kind, value) in zip(self.calls, outcomes):
            if kind == "todo":
                report.append(f"{call.stage} not done yet")
                todo.append(call.stage)
                continue
            try:
                self._one(call, kind, value, mistakes)
                report.append(f"{call.stage} ok")
            except Wrong as err:
                report.append(f"{call.stage} WRONG")
                failed.append(f"{call.stage}: {err.text}")
                hints += err.hints
        if wrong:
            failed.append(wrong)
        if failed:
            return "FAIL", str(Wrong("stages: " + ", ".join(report) + ". " + " | ".join(failed), hints))
        if todo:
            done = [c.stage for c in self.calls if c.stage not in todo]
            if not done:
                return "TODO", "not done yet -- fill in the part between the TODO fences"
            return "TODO", (f"right so far: {', '.join(done)}; not done yet: {', '.join(todo)} -- fill in the part "
                            "between the TODO fences")
        return "PASS", f"{self.summary}; every stage right ({', '.join(c.stage for c in self.calls)})"

    def _ranked_mistakes(self, outcomes):
        """The mistakes, those that explain every answer the student gave first (when two mistakes give the
        same wrong answer on one call, the other calls tell them apart)."""
        def explains(mistake):
            shown = False
            for call, (kind, value) in zip(self.calls, outcomes):
                if kind != "output" or mistake not in self.mistakes + call.mistakes:
                    continue
                made = call.mistaken(mistake)
                for _, got, want, wrong in _outputs(call, value, made):
                    if wrong is None:
                        continue
                    if _differs(got, wrong, call.tol, call.canon):
                        return False
                    shown = shown or _differs(wrong, want, call.tol, call.canon)
            return shown
        every = list(dict.fromkeys(self.mistakes + [m for c in self.calls for m in c.mistakes]))
        first = [m for m in every if explains(m)]
        return first + [m for m in every if m not in first]

    def _not_compiled(self):
        plain = [f for f in self.compiled if not self.kinds.get(f, "").startswith("numba.")]
        if plain:
            return (f"{', '.join(p + '()' for p in plain)} {'is' if len(plain) == 1 else 'are'} not compiled by numba "
                    f"({self.kinds.get(plain[0], 'unknown')}): decorate {'it' if len(plain) == 1 else 'each'} "
                    "with @numba.njit")
        return ""

    def _one(self, call, kind, value, mistakes):
        if kind == "error":
            raise Wrong(f"your {call.function}() raised {value}", [error_hint(value)])
        mine = self.mistakes + call.mistakes
        return compare_outputs(call, value, [m for m in mistakes if m in mine], self.hint)


def _outputs(call, got, made):
    """``(name, student's, expected, the mistake's)`` for each output of a call (the mistake's may be None)."""
    want = call.expected
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return []
        return [(n, got.get(n), want[n], made.get(n) if isinstance(made, dict) else None) for n in call.names
                if n in got]
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return []
        return [(n, g, w, made[i] if isinstance(made, tuple) and len(made) == len(want) else None)
                for i, (n, g, w) in enumerate(zip(call.names, got, want))]
    return [(call.names, got, want, made)]


# ------------------------------------------------------------------------------- comparing
def error_hint(text):
    if "TypingError" in text or "UnsupportedError" in text:
        return ("numba could not compile it: inside @njit write loops over indices and use basic NumPy "
                "(np.einsum, dicts of arrays and most keyword arguments are not supported)")
    if "could not be broadcast" in text:
        return "a sum you subtract or multiply back needs keepdims=True to keep its axis"
    return ""


def compare_outputs(call, got, mistakes=(), extra_hint=None):
    """Compare ``got`` with ``call.expected`` (same structure); the worst relative error, or Wrong
    naming every wrong output (for a dict: from the loss back) and the right ones."""
    want, names = call.expected, call.names
    if isinstance(want, dict):
        if isinstance(got, Bad) or not isinstance(got, dict):
            raise Wrong(f"{call.function}() must return a dict with keys {list(names)}, got "
                        f"{got.why if isinstance(got, Bad) else type(got).__name__}")
        missing, extra = [k for k in names if k not in got], sorted(set(got) - set(want))
        if missing or extra:
            raise Wrong(f"{call.function}() returned keys {sorted(got)}; missing {missing}, unexpected {extra}")
    elif isinstance(want, tuple):
        if isinstance(got, Bad) or not isinstance(got, tuple) or len(got) != len(want):
            what = (got.why if isinstance(got, Bad)
                    else f"{len(got)} values" if isinstance(got, tuple) else "one value")
            raise Wrong(f"{call.function}() must return {len(want)} values ({', '.join(names)}), got {what}")
    else:
        return same(names, got, want, call, mistakes, extra_hint)
    worst, right, wrong, hints = 0.0, [], [], []
    for name, g, w, _ in _outputs(call, got, None):
        try:
            worst = max(worst, same(name, g, w, call, mistakes, extra_hint))
            right.append(name)
        except Wrong as err:
            wrong.append(err.text)
            hints += err.hints
    if wrong:
        lead = "wrong, from the loss back: " if isinstance(want, dict) and len(wrong) > 1 else ""
        raise Wrong(lead + "; ".join(wrong) + (f" (right: {', '.join(right)})" if right else ""), hints)
    return worst


def same(name, got, want, call, mistakes=(), extra_hint=None):
    """One output against its expected value; Wrong with the index, both numbers and a hint."""
    def hint():
        return _mistake_hint(name, got, call, mistakes) or (extra_hint(call, name, got) if extra_hint else "")

    if isinstance(got, Bad):
        raise Wrong(f"{name}: your function returned {got.why}")
    if isinstance(want, str):
        if got != want:
            raise Wrong(f"{name} is {got!r}, expected {want!r}", [hint()])
        return 0.0
    if isinstance(got, str):
        raise Wrong(f"{name}: expected a number, got the text {got!r}")
    if isinstance(got, tuple):
        raise Wrong(f"{name}: expected one array, got {len(got)} values")
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise Wrong(f"{name} has shape {got.shape}, expected {want.shape}",
                    [_mistake_hint(name, got, call, mistakes) or shape_hint(name, got.shape, want.shape, call)])
    if call.canon is not None:
        got, want = call.canon(got), call.canon(want)
    missing = ~np.isfinite(want)                   # "no value here" (e.g. no interval below 3 runs)
    if missing.any():
        if not np.array_equal(~np.isfinite(got), missing):
            raise Wrong(f"{name} is {_show(got)}, expected {_show(want)}", [hint()])
        got, want = got[~missing], want[~missing]
    if not np.isfinite(got).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0]) if got.ndim else ()
        raise Wrong(f"{name} contains NaN or inf (first at index {bad})", [hint()])
    err = rel_error(got, want)
    if err <= call.tol:
        return err
    worst = np.unravel_index(np.argmax(np.abs(got - want)), want.shape) if want.ndim else ()
    worst = tuple(int(i) for i in worst)
    where = f"worst at index {worst}: " if want.ndim else ""
    raise Wrong(f"{name}: relative error {err:.2e} > {call.tol:.0e}; {where}yours {got[worst]:.10g}, expected "
                f"{want[worst]:.10g}", [_mistake_hint(name, got, call, mistakes) or factor_hint(got, want, call.counts)
                                        or (extra_hint(call, name, got) if extra_hint else "")])


def _show(a):
    return f"{float(a):.6g}" if np.ndim(a) == 0 else np.array2string(np.asarray(a), precision=4, threshold=8)


def _mistake_hint(name, got, call, mistakes):
    """The hint of the first mistake whose output ``name`` is what the student returned."""
    for mistake in mistakes:
        value = _value_of(call, call.mistaken(mistake), name)
        if value is None or _differs(got, value, call.tol, call.canon):
            continue
        if _differs(value, _expected(call, name), call.tol, call.canon):
            return mistake.hint                          # the mistake shows in this output, as the student's does
    return ""


def _value_of(call, made, name):
    """Output ``name`` of a mistake's answer (None: the mistake gives nothing for it)."""
    if made is None:
        return None
    if isinstance(call.expected, dict):
        return made.get(name) if isinstance(made, dict) else None
    if isinstance(call.expected, tuple):
        names = list(call.names)
        return made[names.index(name)] if isinstance(made, tuple) and len(made) == len(names) else None
    return made


def _expected(call, name):
    if isinstance(call.expected, dict):
        return call.expected[name]
    if isinstance(call.expected, tuple):
        return call.expected[list(call.names).index(name)]
    return call.expected


def _differs(a, b, tol, canon=None):
    """Whether two answers differ beyond ``tol`` (anything that is not a number or a string differs)."""
    if isinstance(a, str) or isinstance(b, str):
        return a != b
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return True
    if a.shape != b.shape:
        return True
    if canon is not None:
        a, b = canon(a), canon(b)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return not np.array_equal(a, b, equal_nan=True)
    return rel_error(a, b) > max(tol, 1e-9)


def shape_hint(name, got, want, call):
    """Why a shape can be wrong: another output's shape, a transpose, a summed-away axis."""
    others = _other_shapes(name, call)
    for other, shape in others:
        if shape == got:
            return (f"that is {other}'s shape: return {', '.join(call.names)} in this order"
                    if isinstance(call.expected, tuple) else f"that is {other}'s shape: is it under the right key?")
    if len(got) == 2 and got == tuple(reversed(want)):
        return "the transpose of the expected shape: did you swap the operands of a product, or forget a .T?"
    if len(got) < len(want):
        kept = _kept_axes(got, want)
        if kept is not None:
            lost = [i for i in range(len(want)) if i not in kept]
            sizes = ", ".join(f"axis {i} (size {want[i]})" for i in lost)
            return (f"you summed away {sizes} as well; sum only over the axes the parameter does not have "
                    f"(for a bias: the batch axis)")
    if len(got) > len(want):
        return (f"{len(got) - len(want)} axis too many: sum over the batch axis (axis=0) without keepdims"
                if len(got) == len(want) + 1 else "more axes than expected: sum over the axes the answer does not have")
    if int(np.prod(got)) == int(np.prod(want)):
        return "the same number of entries: a reshape or transpose in the wrong order?"
    return ""


def _other_shapes(name, call):
    want = call.expected
    if isinstance(want, dict):
        items = want.items()
    elif isinstance(want, tuple):
        items = zip(call.names, want)
    else:
        return []
    return [(n, np.shape(w)) for n, w in items if n != name and not isinstance(w, str)]


def _kept_axes(got, want):
    """The axes of ``want`` that ``got`` keeps, in order, if ``got`` is ``want`` with some axes removed."""
    kept, j = [], 0
    for i, size in enumerate(want):
        if j < len(got) and got[j] == size:
            kept.append(i)
            j += 1
    return kept if j == len(got) else None


def factor_hint(got, want, counts=()):
    """A hint when ``got`` is ``want`` times a telling constant (-1, 2, 1/2, 1/B, N, ...) or all zeros."""
    if not np.any(got):
        return "your result is all zeros"
    if want.size < 2:                              # a factor between two numbers says nothing
        return ""
    norm = float(np.vdot(want, want))
    if norm == 0:
        return ""
    c = float(np.vdot(got, want)) / norm
    if rel_error(got, c * want) > 1e-6:
        return ""
    for value, text in [(-1.0, "the sign is flipped"), (2.0, "twice the expected value (a factor 2 too many?)"),
                        (0.5, "half the expected value (the derivative of a square has a factor 2)")]:
        if np.isclose(c, value, rtol=1e-6):
            return text
    for count in counts:
        if np.isclose(c, 1.0 / count.value, rtol=1e-6):
            return f"a factor 1/{count.symbol} = 1/{count.value} too small: {count.if_divided}"
        if np.isclose(c, float(count.value), rtol=1e-6):
            return f"a factor {count.symbol} = {count.value} too large: {count.if_multiplied}"
    return f"off by a constant factor {c:.4g}"


def rng(seed):
    return np.random.default_rng(seed)


def batch_count(B):
    """The batch size as a Count: the loss already averages over it."""
    return Count("B", B, "did you average over the batch? (the loss already did)",
                 "did you sum where the loss averages over the batch?")
