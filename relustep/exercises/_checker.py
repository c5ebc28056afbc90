"""How an exercise is checked: cases, the comparison of a student's answer with relustep's, and
the message a student reads.

An :class:`Exercise` names the function a student writes, draws its cases (random ones from a
seeded generator, then edge cases), computes the expected answer of each case by calling
relustep's own implementation, and flattens an answer into labelled arrays so that the first
entry that differs can be named. The message says which case, which entry, the expected and the
obtained value, and a hint tied to the derivation; it never shows how the answer is computed.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

RELATIVE_TOLERANCE = 1e-7
ABSOLUTE_TOLERANCE = 1e-10


class AnswerShapeError(Exception):
    """The answer does not have the structure the docstring asks for."""


@dataclass
class Case:
    """One input of an exercise and relustep's answer to it.

    Attributes
    ----------
    description : str
        The case in words ("one sample, leaky slope 0.1").
    arguments : dict
        Keyword arguments of the student's function.
    expected : list of (str, ndarray)
        relustep's answer, flattened into labelled arrays.
    context : dict
        What a cost check or a diagnosis needs besides the arguments (call counters, ...);
        ``context["flatten"]``, if set, replaces the exercise's ``flatten`` for this case.
    """

    description: str
    arguments: dict
    expected: list[tuple[str, np.ndarray]]
    context: dict = field(default_factory=dict)


@dataclass
class Difference:
    """The first way an answer differs from relustep's."""

    label: str
    kind: str  # "shape", "value", "nan", "count"
    expected: object = None
    got: object = None
    index: tuple = ()


@dataclass
class Exercise:
    """An exercise: the function a student writes and how to check it.

    Attributes
    ----------
    number : str
        ``"tutorial.exercise"``, e.g. ``"1.3"``.
    function : str
        The name of the function in the notebook.
    title : str
        What the function computes, in a few words.
    goal : str
        What a student learns by writing it.
    minutes : int
        The time a student needs, estimated.
    cases : callable
        ``cases(rng)`` yields the :class:`Case` objects.
    flatten : callable
        Turns an answer into labelled arrays; raises :class:`AnswerShapeError` (with a message a
        student can act on) when the answer has the wrong structure.
    hint : str
        The hint when no diagnosis below applies.
    diagnoses : list of (callable, str)
        ``test(case, got)`` on the flattened answer; the first that holds gives its message as
        the hint (a known mistake recognised from the numbers).
    cost : callable, optional
        ``cost(case)`` after the call: a message if the answer cost too much, else ``None``.
    tolerance : float
        Relative tolerance of the comparison.
    """

    number: str
    function: str
    title: str
    goal: str
    minutes: int
    cases: Callable[[np.random.Generator], Iterator[Case]]
    flatten: Callable[[object], list[tuple[str, np.ndarray]]]
    hint: str
    diagnoses: list[tuple[Callable[[Case, list], bool], str]] = field(default_factory=list)
    cost: Callable[[Case], str | None] | None = None
    tolerance: float = RELATIVE_TOLERANCE


@dataclass
class CheckResult:
    """What :func:`relustep.exercises.check` found. Shown as its message.

    Attributes
    ----------
    number : str
        The exercise.
    passed : bool
        Whether every case agreed with relustep.
    status : str
        ``"passed"``, ``"not done"``, ``"error"`` (the function raised), ``"wrong"`` (an answer
        differs, has the wrong shape or is NaN) or ``"cost"`` (too expensive, checked first where
        the exercise is about cost).
    message : str
        The report, in words.
    """

    number: str
    passed: bool
    status: str
    message: str

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__


def run_checks(exercise: Exercise, function: Callable, seed: int) -> CheckResult:
    """Run ``function`` on every case of ``exercise``; report the first that differs."""
    title = f"exercise {exercise.number}, {exercise.function}"
    cases = list(exercise.cases(np.random.default_rng(seed)))
    for position, case in enumerate(cases, start=1):
        where = f"case {position} of {len(cases)}: {case.description}\n  inputs: " + describe(
            case.arguments
        )
        found = _check_case(exercise, function, case, where)
        if found is not None:
            status, report = found
            return CheckResult(exercise.number, False, status, f"{title}: {report}")
    descriptions = "; ".join(case.description for case in cases)
    return CheckResult(
        exercise.number,
        True,
        "passed",
        f"{title}: all {len(cases)} cases agree with relustep ({descriptions}).",
    )


def _check_case(
    exercise: Exercise, function: Callable, case: Case, where: str
) -> tuple[str, str] | None:
    """``(status, report)`` if ``function`` gets ``case`` wrong (``where`` describes the case in
    the report), else ``None``."""
    arguments = {name: _copy(value) for name, value in case.arguments.items()}
    try:
        answer = function(**arguments)
    except NotImplementedError:
        return "not done", (
            "not done yet. Its body still raises NotImplementedError; write it, then run this "
            "check again."
        )
    except Exception as error:  # a student's bug: report it, whatever it is
        line = _student_line(error, function)
        return "error", f"your function raised {type(error).__name__}: {error}\n{line}  {where}"
    changed = [name for name, value in case.arguments.items() if _changed(value, arguments[name])]
    if changed:
        return "wrong", (
            f"your function changed its input {changed[0]} in place.\n  {where}\n"
            "  hint: work on new arrays (or copies); the caller still needs its inputs."
        )
    if exercise.cost is not None:
        too_much = exercise.cost(case)
        if too_much is not None:
            return "cost", f"this exercise is about cost: {too_much}\n  {where}"
    try:
        got = case.context.get("flatten", exercise.flatten)(answer)
    except AnswerShapeError as error:
        return "wrong", f"{error}\n  {where}"
    difference = compare(case.expected, got, exercise.tolerance)
    if difference is None:
        return None
    hint = next(
        (message for test, message in exercise.diagnoses if _holds(test, case, got)),
        exercise.hint,
    )
    return "wrong", f"not right yet.\n  {where}\n  {explain(difference)}\n  hint: {hint}"


def compare(
    expected: list[tuple[str, np.ndarray]], got: list[tuple[str, np.ndarray]], tolerance: float
) -> Difference | None:
    """The first difference between two flattened answers, or ``None``."""
    if len(got) != len(expected):
        return Difference("the answer", "count", len(expected), len(got))
    for (label, want), (_, have) in zip(expected, got, strict=True):
        want, have = np.asarray(want), np.asarray(have)
        if want.shape != have.shape:
            return Difference(label, "shape", want.shape, have.shape)
        bad = np.isnan(have) & ~np.isnan(want)
        if np.any(bad):
            index = _first(bad)
            return Difference(label, "nan", want[index], have[index], index)
        close = np.isclose(have, want, rtol=tolerance, atol=ABSOLUTE_TOLERANCE * _scale(want))
        if not np.all(close | (np.isnan(want) & np.isnan(have))):
            index = _first(~close)
            return Difference(label, "value", want[index], have[index], index)
    return None


def explain(difference: Difference) -> str:
    """A difference in words."""
    label, index = difference.label, difference.index
    entry = f"{label}, entry {index}" if index else label
    if difference.kind == "count":
        return f"the answer has {difference.got} parts; expected {difference.expected}"
    if difference.kind == "shape":
        return f"{label} has shape {difference.got}; expected shape {difference.expected}"
    if difference.kind == "nan":
        return (
            f"{entry} is NaN; expected {_number(difference.expected)} (a 0/0, an inf - inf or an "
            "overflow on the way)"
        )
    return f"{entry}: expected {_number(difference.expected)}, got {_number(difference.got)}"


def describe(arguments: dict) -> str:
    """The arguments of a case in a line: shapes of arrays, values of numbers."""
    parts = []
    for name, value in arguments.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{name} {value.shape}" if value.ndim else f"{name}={float(value):.6g}")
        elif isinstance(value, list | tuple) and all(isinstance(v, np.ndarray) for v in value):
            parts.append(f"{name} {[v.shape for v in value]}")
        elif isinstance(value, int | float | str | bool):
            parts.append(f"{name}={value!r}")
        elif hasattr(value, "describe"):
            parts.append(f"{name}: {value.describe()}")
        else:
            parts.append(f"{name}: {type(value).__name__}")
    return ", ".join(parts)


def arrays(*labels: str, shapes: str = "") -> Callable[[object], list[tuple[str, np.ndarray]]]:
    """A ``flatten`` for an answer that is ``len(labels)`` arrays or numbers, in that order (one
    array alone if one label). ``shapes`` says in words what the docstring asks for."""

    def flatten(answer) -> list[tuple[str, np.ndarray]]:
        parts = [answer] if len(labels) == 1 else answer
        try:
            parts = list(parts)
        except TypeError:
            parts = None
        if parts is None or len(parts) != len(labels):
            raise AnswerShapeError(
                f"it should return {shapes or ', '.join(labels)}; got {_kind(answer)}"
            )
        return [(label, _as_array(label, part)) for label, part in zip(labels, parts, strict=True)]

    return flatten


def _as_array(label: str, value) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise AnswerShapeError(f"{label} should be numbers; got {_kind(value)}") from error
    return array


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{type(value).__name__} {value!r}"[:80]


def _holds(test, case: Case, got) -> bool:
    with np.errstate(all="ignore"):
        try:
            return bool(test(case, got))
        except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError):
            return False


def _changed(original, given) -> bool:
    """Whether the function changed an argument (an array, or a list of arrays) in place."""
    if isinstance(original, np.ndarray):
        return not np.array_equal(original, given)
    if isinstance(original, list):
        return any(_changed(a, b) for a, b in zip(original, given, strict=True))
    return False


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0]) if mask.ndim else ()


def _scale(array: np.ndarray) -> float:
    finite = np.abs(array[np.isfinite(array)]) if array.size else np.zeros(0)
    return float(max(1.0, finite.max())) if finite.size else 1.0


def _number(value) -> str:
    value = float(value)
    return "NaN" if math.isnan(value) else f"{value:.6g}"


def _student_line(error: Exception, function: Callable) -> str:
    """Where in the student's function the error happened, if it did."""
    code = getattr(function, "__code__", None)
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if code is not None and frame.filename == code.co_filename
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f"  at line {frame.lineno - code.co_firstlineno + 1} of your function: {frame.line}\n"
