"""The checked exercises: for each, the calls to make, the expected answers, and how to judge.

Everything here runs in the checker's own process (:mod:`mmoe_np.check`); the student's
functions run in another (:mod:`mmoe_np.sandbox`). The expected values are computed here from
the library's reference code, which the test suite gradient-checks -- never read from a
solution file, so the checker works in a student release that holds no solution.

To add an exercise: write the solution in ``lessons/exercises/solutions/exNN_name.py`` with
``EXERCISE = "name"`` and the blank between ``# ---- TODO`` fences; add a factory decorated
with ``@exercise("exNN_name")`` to one of the modules here (its typical mistakes as
:class:`Mistake` s, each measured on a wrong answer in ``tests/test_exercise_hints.py``); then
run ``python lessons/exercises/make_templates.py``.
"""
from . import kernels, layers, measures, models, statistics  # noqa: F401 - registers the exercises
from .judging import FILES, REGISTRY, Bad, Call, Count, Exercise, Mistake, Wrong  # noqa: F401

EXERCISES = {name: REGISTRY[name] for name in sorted(REGISTRY, key=lambda n: (FILES[n], n))}


def file_of(name):
    """The file name of an exercise's template: ``ex02_dense_backward.py``."""
    return FILES[name] + ".py"
