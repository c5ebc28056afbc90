"""Any step rule on any smooth function: :func:`minimize`."""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.optimize

from relustep import steps
from relustep._validation import check_array, check_float, check_int
from relustep.history import History
from relustep.train import DivergenceError, Stepper


class OptimizeResult(scipy.optimize.OptimizeResult):
    """scipy's result of a minimisation, printed short: the history (thousands of numbers) is
    shown as one line that says how to reach it."""

    def __repr__(self) -> str:
        shown = scipy.optimize.OptimizeResult(self)
        if isinstance(shown.get("history"), History):
            history = shown["history"]
            shown["history"] = _Shown(
                f"History of {len(history)} steps (columns {', '.join(history.step_keys)}; "
                "see result.history)"
            )
        return repr(shown)


class _Shown(str):
    """A string that prints without quotes."""

    def __repr__(self) -> str:
        return str(self)


class FunctionObjective:
    """Wraps ``fun(x) -> (value, gradient)`` and checks what it returns."""

    def __init__(self, fun, args: tuple, n: int):
        self.fun, self.args, self.n = fun, args, n
        self.n_calls = 0

    def _call(self, x: np.ndarray):
        self.n_calls += 1
        result = self.fun(x.copy(), *self.args)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                "fun must return a pair (value, gradient) as with scipy's jac=True, "
                f"got {type(result).__name__}"
            )
        value, gradient = result
        gradient = np.asarray(gradient, dtype=np.float64)
        if gradient.shape != (self.n,):
            raise ValueError(
                f"fun's gradient must have the shape of x0, ({self.n},), got {gradient.shape}"
            )
        return float(value), gradient

    def loss(self, x: np.ndarray) -> float:
        return self._call(x)[0]

    def loss_and_gradient(self, x: np.ndarray, gradient: np.ndarray):
        value, computed = self._call(x)
        np.copyto(gradient, computed)
        return value, gradient


def minimize(
    fun,
    x0,
    step="constant",
    *,
    args: tuple = (),
    maxiter: int = 1000,
    gtol: float = 1e-8,
    callback=None,
) -> OptimizeResult:
    r"""Minimise a smooth function with one of relustep's step rules.

    Works like :func:`scipy.optimize.minimize` with ``jac=True``: ``fun(x, *args)`` returns the
    value and the gradient. Each iteration is one step of the rule, exactly as in training a
    network, so a rule can be watched on a function whose shape is known (a quadratic bowl, the
    Rosenbrock valley).

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> (float, ndarray)``.
    x0 : array_like, shape (n,)
        The starting point.
    step : str, dict or StepRule
        The step rule, by name (``"constant"``, ``"momentum"``, ``"nesterov"``, ``"adam"``) or as
        an object such as ``relustep.steps.Constant(lr=0.1)``.
    args : tuple
        Extra arguments passed to ``fun``.
    maxiter : int
        The largest number of steps.
    gtol : float
        Stop when the gradient's Euclidean norm is at most ``gtol``.
    callback : callable, optional
        ``callback(x)`` after each step; returning ``True`` stops the run.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``jac`` (the gradient at ``x``), ``nit`` (steps taken), ``nfev``
        (calls of ``fun``), ``success``, ``message`` and ``history`` (a
        :class:`~relustep.history.History`; here ``n_forward`` counts calls of ``fun``). When
        ``x``, ``fun`` or ``jac`` is not finite at the returned point, ``success`` is false and
        ``message`` starts with "failed" and names them.

    Examples
    --------
    >>> import numpy as np
    >>> bowl = lambda x: (0.5 * x @ x, x)
    >>> result = minimize(bowl, np.ones(3), step=steps.Constant(lr=0.5), maxiter=100)
    >>> bool(result.success), round(result.fun, 12)
    (True, 0.0)
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    x = check_array(x0, "x0", ndim=1).copy()
    maxiter = check_int(maxiter, "maxiter")
    gtol = check_float(gtol, "gtol", low=0.0)
    rule = steps.get(step)
    rule.start(x.size, x.dtype)
    history = History()
    objective = FunctionObjective(fun, tuple(args), x.size)
    stepper = Stepper(x, rule, history)
    started = time.perf_counter()
    message = f"reached maxiter={maxiter}"
    try:
        for _ in range(maxiter):
            if stepper.step(objective, gtol) is None:
                break
            if callback is not None and callback(stepper.theta.copy()):
                message = "stopped by callback"
                break
    except DivergenceError as error:
        message = str(error)
    finally:
        stepper.finish()
    value, gradient = objective.loss_and_gradient(x, np.empty_like(x))
    success = math.sqrt(float(gradient @ gradient)) <= gtol
    if success:
        message = f"gradient norm at most gtol={gtol}"
    non_finite = [
        name
        for name, values in (("x", x), ("fun", value), ("jac", gradient))
        if not np.all(np.isfinite(values))
    ]
    if non_finite:
        success = False
        message = f"failed: {', '.join(non_finite)} not finite at the returned point ({message})"
    history.record_epoch(value, math.nan, time.perf_counter() - started)
    return OptimizeResult(
        x=x,
        fun=value,
        jac=gradient,
        nit=len(history),
        nfev=objective.n_calls,
        success=success,
        message=message,
        history=history,
    )
