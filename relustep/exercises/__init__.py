"""Exercises for the tutorials, and the checker that tells a student what is wrong.

Each tutorial in ``tutorials/`` has an exercise notebook in ``tutorials/exercises/`` whose blanks
are functions that raise ``NotImplementedError``. :func:`check` runs a student's function against
relustep's own implementation on random, seeded cases and on edge cases (dead units, a single
sample, a leaky slope, several outputs), and reports the first case that differs: which input,
which entry, the expected value against the one obtained, and a hint tied to the derivation.
Where an exercise is about cost (the probes of QLABGrad and LQA, the breakpoint sweep), the
calls are counted too. The checker never shows a solution.

Examples
--------
>>> from relustep.exercises import check
>>> def square_loss_and_delta(output, y):
...     raise NotImplementedError("exercise 1.2")
>>> check("1.2", square_loss_and_delta).status
'not done'
"""

from __future__ import annotations

from collections.abc import Callable

from relustep.exercises import analytic, line_search, rbm, training_loop
from relustep.exercises._checker import CheckResult, Exercise, run_checks

TUTORIALS = {
    1: ("01_training_loop_and_step_rules", training_loop.EXERCISES),
    2: ("02_rbm_adaptive_step", rbm.EXERCISES),
    3: ("03_analytic_two_layer", analytic.EXERCISES),
    4: ("04_qlabgrad_lqa_exact", line_search.EXERCISES),
}
EXERCISES: dict[str, Exercise] = {
    exercise.number: exercise for _, listed in TUTORIALS.values() for exercise in listed
}

__all__ = ["EXERCISES", "TUTORIALS", "CheckResult", "check"]


def check(number: str, function: Callable, seed: int = 0) -> CheckResult:
    """Check a student's function for exercise ``number`` against relustep's own.

    Parameters
    ----------
    number : str
        The exercise, ``"tutorial.exercise"`` as in the notebook (``"2.3"``).
    function : callable
        The student's function, with the signature of the blank.
    seed : int
        Seeds the random cases (the edge cases are always included).

    Returns
    -------
    CheckResult
        ``passed``, a ``status`` and the ``message``; shown as the message in a notebook.
    """
    if number not in EXERCISES:
        raise ValueError(f"number must be one of {', '.join(EXERCISES)}, got {number!r}")
    if not callable(function):
        raise TypeError(f"function must be the function you wrote, got {type(function).__name__}")
    return run_checks(EXERCISES[number], function, seed)
