"""Helpers for the exercise tests: judge an answer in this process (fast), and write answers to files.

``judge_here`` runs the student's functions here, through the same encoding as the checker's child
process and the same judge, but without the sandbox: it tests what the checker *says* about an
answer in milliseconds. The sandbox itself is tested end to end in ``test_check_sandbox.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from mmoe_np import check, exercises
from mmoe_np._check_runner import decode, encode

EXERCISES = Path(__file__).resolve().parent.parent / "lessons" / "exercises"
SOLUTIONS = EXERCISES / "solutions"


def solution(stem):
    return (SOLUTIONS / f"{stem}.py").read_text()


def body(stem, old, new):
    """A solution with one piece of its text replaced (a typical mistake); fails if ``old`` is absent."""
    text = solution(stem)
    assert old in text, f"{old!r} is not in {stem}"
    return text.replace(old, new)


def judge_here(source, name=None):
    """``(status, message)`` for ``source`` judged like the checker would, run in this process.

    Imports of the student's own earlier exercises come from the solutions.
    """
    name = name or check.exercise_name("answer.py", source)
    exercise = exercises.EXERCISES[name]()
    namespace = {"__name__": "answer"}
    sys.path.insert(0, str(SOLUTIONS))
    try:
        exec(compile(source, "answer.py", "exec"), namespace)
    finally:
        sys.path.remove(str(SOLUTIONS))
    exercise.kinds = {f: f"{type(namespace[f]).__module__}.{type(namespace[f]).__qualname__}"
                      for f in exercise.functions}
    outcomes = []
    for i, call in enumerate(exercise.calls):
        store = {}
        args = [decode(check._encode(a, f"a{j}", store), store) for j, a in enumerate(call.args)]
        try:
            out = namespace[call.function](*args)
        except NotImplementedError:
            outcomes.append(("todo", None))
            continue
        except Exception as err:
            outcomes.append(("error", f"{type(err).__name__}: {err}"))
            continue
        returned = {}
        outcomes.append(("output", check._decode(encode(out, f"c{i}", returned), returned)))
    return exercise.judge(outcomes)
