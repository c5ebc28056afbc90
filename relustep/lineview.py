r"""The line view: the loss along the step's direction, with the parabolas the step rules fit.

At one step of a run, on its batch, :func:`line_view` evaluates the true loss
:math:`q(\alpha) = \mathcal L(\theta - \alpha d)` on a grid of steps, fits the parabolas of
QLABGrad (value and slope at 0, one probe) and LQA (probes at :math:`\pm\delta`) with the same
formulas the rules use, finds the exact minimum along the line (:class:`~relustep.steps.
ExactLineSearch`), and evaluates any extra curves given (for example an analytic quadratic of
another model's step). :func:`plot_line_view` draws it all on one axes. :func:`capture_line`
replays a run up to a chosen step and returns the line that step looked along.

Examples
--------
>>> import numpy as np
>>> from relustep.lineview import capture_line, line_view
>>> from relustep.models import DenseReLUNetwork
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(100, 3)); y = np.abs(X[:, :1])
>>> net = DenseReLUNetwork(3, (8,), 1)
>>> captured = capture_line(net, X, y, "qlab", step=5, batch_size=20, random_state=0)
>>> view = line_view(captured.line, qlab_trial_step=captured.trial_step)
>>> bool(view.exact.loss <= view.losses.min() + 1e-12)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from relustep import steps
from relustep._validation import check_float, check_int, check_random_state
from relustep.history import History
from relustep.steps.base import Line, StepRule
from relustep.steps.exact import ExactLineSearch, LineMinimum
from relustep.steps.lqa import lqa_parabola
from relustep.steps.qlab import qlab_curvature


@dataclass(frozen=True)
class Parabola:
    r"""A fitted parabola :math:`q(0) + b\alpha + \tfrac12 c\alpha^2` and the probes it came from.

    Attributes
    ----------
    loss, slope, curvature : float
        :math:`q(0)`, :math:`b` and :math:`c`.
    probes : tuple of (float, float)
        The points :math:`(\alpha, q(\alpha))` that were probed.
    """

    loss: float
    slope: float
    curvature: float
    probes: tuple[tuple[float, float], ...]

    def __call__(self, alpha):
        alpha = np.asarray(alpha, dtype=float)
        return self.loss + self.slope * alpha + 0.5 * self.curvature * alpha**2

    @property
    def minimum(self) -> float:
        """The parabola's minimiser :math:`-b/c`, or ``nan`` when :math:`c \\le 0` or
        :math:`-b/c < 0` (the rules then fall back, see their Notes)."""
        if not (self.curvature > 0.0 and math.isfinite(self.slope)):
            return math.nan
        alpha = -self.slope / self.curvature
        return alpha if alpha >= 0.0 else math.nan


@dataclass
class LineView:
    """Everything :func:`plot_line_view` draws.

    Attributes
    ----------
    alphas, losses : ndarray
        The grid of steps and the true batch loss there.
    qlab, lqa : Parabola
        QLABGrad's and LQA's parabolas.
    exact : LineMinimum
        The minimum along the line for :math:`\\alpha \\ge 0` (exact or numerical, it says).
    curves : dict of str to ndarray
        Extra curves evaluated on ``alphas``.
    step_taken : float or None
        The step the run's rule took, when known.
    """

    alphas: np.ndarray
    losses: np.ndarray
    qlab: Parabola
    lqa: Parabola
    exact: LineMinimum
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    step_taken: float | None = None


def line_view(
    line: Line,
    *,
    qlab_trial_step: float | None = None,
    lqa_delta: float | None = None,
    n_points: int = 201,
    max_alpha: float | None = None,
    curves: dict[str, Callable[[float], float]] | None = None,
    step_taken: float | None = None,
    oracle: ExactLineSearch | None = None,
) -> LineView:
    r"""Evaluate the loss along ``line`` and the parabolas of QLABGrad and LQA.

    Parameters
    ----------
    line : Line
        The line (its ``theta`` is not changed); from :func:`capture_line`, or built by hand.
    qlab_trial_step, lqa_delta : float, optional
        Where QLABGrad probes (:math:`\alpha_{t-1}`) and LQA's :math:`\delta`. By default the
        exact minimiser :math:`\alpha^*` (or 1 when it is 0), a scale the rules aim for.
    n_points : int
        Points of the grid, at least 3.
    max_alpha : float, optional
        The grid runs from :math:`-\max(\delta, 0.2\,` ``max_alpha`` :math:`)` to ``max_alpha``;
        by default twice the largest of :math:`\alpha^*`, the parabolas' minima, the trial steps
        and ``step_taken``.
    curves : dict of str to callable, optional
        Extra curves ``alpha -> value`` to evaluate on the grid and draw, by label.
    step_taken : float, optional
        The step a rule took, marked on the plot.
    oracle : ExactLineSearch, optional
        Finds the minimum along the line (a default one if not given).

    Returns
    -------
    LineView

    Notes
    -----
    The parabolas use the rules' own formulas, :func:`relustep.steps.qlab.qlab_curvature` and
    :func:`relustep.steps.lqa.lqa_parabola` (derived in relustep; the papers' exact forms may
    differ). Every point of the grid and every probe is one forward pass on the batch.
    """
    n_points = check_int(n_points, "n_points", low=3)
    curves = {} if curves is None else dict(curves)
    for label, curve in curves.items():
        if not callable(curve):
            raise TypeError(f"curves[{label!r}] must be callable alpha -> value")
    exact = (ExactLineSearch() if oracle is None else oracle).search(_copy(line))
    scale = exact.alpha if exact.alpha > 0.0 else 1.0
    trial = (
        scale
        if qlab_trial_step is None
        else check_float(qlab_trial_step, "qlab_trial_step", low=0.0, low_inclusive=False)
    )
    delta = (
        scale
        if lqa_delta is None
        else check_float(lqa_delta, "lqa_delta", low=0.0, low_inclusive=False)
    )
    probe = _copy(line).probe
    probed = probe(trial)
    qlab = Parabola(
        line.loss,
        line.slope,
        qlab_curvature(line.loss, line.slope, trial, probed),
        ((trial, probed),),
    )
    ahead, behind = probe(delta), probe(-delta)
    lqa_slope, lqa_curvature = lqa_parabola(line.loss, delta, ahead, behind)
    lqa = Parabola(line.loss, lqa_slope, lqa_curvature, ((-delta, behind), (delta, ahead)))
    if max_alpha is None:
        candidates = [exact.alpha, qlab.minimum, lqa.minimum, trial, delta, step_taken or 0.0]
        max_alpha = 2.0 * max(value for value in candidates if math.isfinite(value))
    else:
        max_alpha = check_float(max_alpha, "max_alpha", low=0.0, low_inclusive=False)
    alphas = np.linspace(-max(delta, 0.2 * max_alpha), max_alpha, n_points)
    losses = np.array([probe(alpha) for alpha in alphas])
    evaluated = {
        label: np.array([float(curve(a)) for a in alphas]) for label, curve in curves.items()
    }
    return LineView(alphas, losses, qlab, lqa, exact, evaluated, step_taken)


def plot_line_view(view: LineView, ax=None, title: str | None = None):
    """Draw a :class:`LineView`: the true loss, both parabolas with their probes and minima,
    the exact minimum, the extra curves and the step taken.

    Parameters
    ----------
    view : LineView
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from relustep.plot import _axes

    ax = _axes(ax)
    alphas = view.alphas
    ax.plot(alphas, view.losses, color="black", linewidth=2, label="true loss on the batch")
    for parabola, label, style, color in (
        (view.qlab, "QLABGrad parabola", "--", "tab:blue"),
        (view.lqa, "LQA parabola", "-.", "tab:orange"),
    ):
        ax.plot(alphas, parabola(alphas), style, color=color, label=label)
        probes = np.array(parabola.probes)
        ax.plot(probes[:, 0], probes[:, 1], "o", color=color, markersize=5)
        if math.isfinite(parabola.minimum):
            ax.plot(
                [parabola.minimum], [parabola(parabola.minimum)], "x", color=color, markersize=9
            )
    for label, values in view.curves.items():
        ax.plot(alphas, values, ":", linewidth=2, label=label)
    kind = "exact" if view.exact.exact else "numerical"
    ax.plot(
        [view.exact.alpha],
        [view.exact.loss],
        "*",
        color="tab:red",
        markersize=14,
        label=f"minimum along the line ({kind})",
    )
    if view.step_taken is not None:
        ax.axvline(view.step_taken, color="gray", linewidth=1, label="step taken")
    low, high = np.nanmin(view.losses), np.nanmax(view.losses)
    margin = 0.15 * (high - low) if high > low else 1.0
    ax.set_ylim(low - margin, high + margin)  # parabolas may leave the frame
    ax.axvline(0.0, color="lightgray", linewidth=0.8)
    ax.set_xlabel(r"step $\alpha$ along the direction")
    ax.set_ylabel("batch loss")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax.figure


@dataclass
class CapturedLine:
    """The line of one step of a run, as :func:`capture_line` finds it.

    Attributes
    ----------
    line : Line
        Copies of the parameters, gradient and direction at the start of the step, and the
        batch's objective.
    step_taken : float
        The step the rule took there.
    trial_step : float or None
        The rule's trial step before the step (QLABGrad's :math:`\\alpha_{t-1}`, LQA's
        :math:`\\delta`), if it has one.
    """

    line: Line
    step_taken: float
    trial_step: float | None


class _StopReplay(Exception):
    pass


class _Capture(StepRule):
    """Wraps a rule; at step ``step`` copies the line and stops the run."""

    def __init__(self, rule: StepRule, step: int):
        self.rule, self.step, self.captured = rule, step, None
        self.fallbacks, self.logged = rule.fallbacks, rule.logged

    def start(self, n_parameters: int, dtype=np.float64) -> None:
        super().start(n_parameters, dtype)
        self.rule.start(n_parameters, dtype)

    def compute_direction(self, gradient):
        return self.rule.direction(gradient)

    def size(self, line: Line) -> float:
        if self.n_steps <= self.step:
            return self.rule.size(line)
        trial_step = getattr(self.rule, "trial_step", None)
        copied = Line(
            line.theta.copy(),
            line.gradient.copy(),
            line.direction.copy(),
            line.loss,
            line.objective,
        )
        self.captured = CapturedLine(copied, float(self.rule.size(line)), trial_step)
        raise _StopReplay

    def take_counts(self):
        return self.rule.take_counts()

    def take_logged(self):
        return self.rule.take_logged()


def capture_line(
    model,
    X: np.ndarray,
    y: np.ndarray,
    rule,
    *,
    step: int,
    batch_size: int,
    random_state=None,
    theta: np.ndarray | None = None,
) -> CapturedLine:
    """Replay a run of :func:`relustep.train.train` up to step ``step`` and return its line.

    The run is the one that ``random_state`` fixes: the generator first draws the initial
    parameters (unless ``theta`` is given) and then shuffles the batches, as the estimators do.
    With the same arguments, the captured line is the one the original run looked along.

    Parameters
    ----------
    model : DenseReLUNetwork
        Or any model with ``init_parameters``, ``loss`` and ``loss_and_gradient``.
    X, y : ndarray
        The training data, as the trainer receives it (targets encoded).
    rule : str, dict or StepRule
        The step rule of the run (a fresh copy is started).
    step : int
        The step to capture, counted from 0.
    batch_size : int
    random_state : None, int or numpy.random.Generator
    theta : ndarray, optional
        Initial parameters instead of the model's initialisation (copied).

    Returns
    -------
    CapturedLine
    """
    from relustep.train import train

    step = check_int(step, "step", low=0)
    batch_size = check_int(batch_size, "batch_size")
    rng = check_random_state(random_state)
    theta = model.init_parameters(rng) if theta is None else np.array(theta, copy=True)
    capture = _Capture(steps.get(rule, "rule"), step)
    capture.start(theta.size, theta.dtype)
    epochs = step // -(-len(X) // batch_size) + 1
    try:  # enough epochs to reach the step, where the capture stops the run
        train(
            model,
            theta,
            X,
            y,
            capture,
            History(capture.fallbacks),
            epochs=epochs,
            batch_size=batch_size,
            rng=rng,
            epoch_loss="none",
        )
    except _StopReplay:
        pass
    return capture.captured


def _copy(line: Line) -> Line:
    """A fresh line on the same point, so that probes are not counted on the original."""
    return Line(line.theta, line.gradient, line.direction, line.loss, line.objective)
