r"""QLABGrad: the learning rate from a parabola through the loss, its slope, and one probe.

:class:`ParabolaStepRule` holds what QLABGrad and LQA (:mod:`relustep.steps.lqa`) share: the
trial step carried from one step to the next, the direction (the gradient, or another rule's),
the cap ``max_lr``, and the fallbacks of the case analysis. Each rule's own formula and case
analysis are in its :meth:`size`, to be read next to its Notes.
"""

from __future__ import annotations

import math

import numpy as np

from relustep._validation import check_float
from relustep.steps.base import Line, StepRule, get


def qlab_curvature(loss: float, slope: float, trial_step: float, probed_loss: float) -> float:
    r"""The curvature :math:`q''` of the parabola with value ``loss`` and slope ``slope`` at 0
    that passes through ``(trial_step, probed_loss)``: :math:`2A_t` in :class:`QLAB`'s Notes.

    .. math::
        q'' = \frac{2\,\big(q(\alpha_{t-1}) - q(0) - \alpha_{t-1} q'(0)\big)}{\alpha_{t-1}^2}
    """
    return 2.0 * ((probed_loss - loss) / trial_step - slope) / trial_step


class ParabolaStepRule(StepRule):
    r"""Base of the rules that fit a parabola to :math:`q(\alpha) = \mathcal L(\theta - \alpha d)`
    on the current batch and step to its minimum.

    Parameters
    ----------
    trial_step : float
        The first step probed (later ones come from the rule).
    concave_factor : float
        On a curvature estimate :math:`\le 0` the step is ``concave_factor`` times the trial step.
    shrink : float
        On a non-finite value (and on LQA's uphill estimate) the step is skipped and the next
        trial step is ``shrink`` times this one.
    resolution : float
        When the difference of losses that measures the curvature is at most ``resolution``
        machine epsilons (of the parameters' dtype) times :math:`|q(0)|`, it is rounding: the
        parabola is not determined, and the step is ``concave_factor`` times the trial step
        (``"unresolved"``).
    max_lr : float or None
        An optional cap on the step; capped steps are counted as ``"capped"``.
    direction : None, str, dict or StepRule
        ``None``: the gradient. Otherwise a rule whose :meth:`~StepRule.direction` is used
        (``"momentum"``, ``"nesterov"``, ``"adam"``, ...; its learning rate is ignored): the
        parabola is fitted along that direction, with slope :math:`q'(0) = -g^\top d`.
    """

    fallbacks = ("not_descent", "nonpositive_curvature", "unresolved", "nonfinite", "capped")
    logged = ("trial_step", "curvature")

    def __init__(
        self,
        trial_step: float,
        concave_factor: float,
        shrink: float,
        resolution: float,
        max_lr: float | None,
        direction,
    ):
        self._trial_step = check_float(trial_step, self._trial_name, low=0.0, low_inclusive=False)
        self.concave_factor = check_float(
            concave_factor, "concave_factor", low=0.0, low_inclusive=False
        )
        self.shrink = check_float(
            shrink, "shrink", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
        )
        self.resolution = check_float(resolution, "resolution", low=0.0)
        self.max_lr = (
            None if max_lr is None else check_float(max_lr, "max_lr", low=0.0, low_inclusive=False)
        )
        if direction is None:
            self.direction_rule = None
        else:
            self.direction_rule = get(direction, "direction")
            if isinstance(self.direction_rule, ParabolaStepRule):
                raise ValueError("direction must be a rule with its own direction, not a parabola")

    _trial_name = "trial_step"

    def start(self, n_parameters: int, dtype=np.float64) -> None:
        super().start(n_parameters, dtype)
        self.trial_step = self._trial_step
        if self.direction_rule is not None:
            self.direction_rule.start(n_parameters, dtype)

    def compute_direction(self, gradient: np.ndarray) -> np.ndarray:
        if self.direction_rule is None:
            return gradient
        return self.direction_rule.direction(gradient)

    def _skip_nonfinite(self) -> float:
        """A value was NaN or infinite: skip the step and probe closer next time."""
        self.count("nonfinite")
        self._shrink_trial()
        return 0.0

    def _shrink_trial(self) -> None:
        if self.trial_step * self.shrink > 0.0:  # never down to zero
            self.trial_step *= self.shrink

    def _unresolved(self, line: Line, difference: float) -> bool:
        """Whether ``difference``, a sum of probed losses whose curvature term it measures, is
        no larger than the rounding of those losses."""
        return abs(difference) <= self.resolution * np.finfo(line.theta.dtype).eps * abs(line.loss)

    def _accept(self, alpha: float, next_trial: bool = True) -> float:
        """Cap the step at ``max_lr``; make it the next trial step if ``next_trial``."""
        if not math.isfinite(alpha):
            return self._skip_nonfinite()
        if self.max_lr is not None and alpha > self.max_lr:
            self.count("capped")
            alpha = self.max_lr
        if next_trial and alpha > 0.0:
            self.trial_step = alpha
        return alpha

    def _settings(self) -> dict:
        return {
            self._trial_name: self._trial_step,
            "concave_factor": self.concave_factor,
            "shrink": self.shrink,
            "resolution": self.resolution,
            "max_lr": self.max_lr,
            "direction": None if self.direction_rule is None else self.direction_rule.get_config(),
        }


class QLAB(ParabolaStepRule):
    r"""QLABGrad: one probe at the previous step fixes the parabola; step to its minimum.

    Parameters
    ----------
    initial_step : float
        :math:`\alpha_0`, the trial step of the first step (relustep's default, 0.01).
    concave_factor : float
        On curvature :math:`\le 0` the step is ``concave_factor`` times the trial step; 1 keeps
        :math:`\alpha_{t-1}`, as the official code does.
    shrink : float
        After a non-finite probe the step is skipped and the trial step multiplied by this.
    resolution : float
        A curvature term :math:`q(\alpha_{t-1}) - q(0) - \alpha_{t-1}q'(0)` within
        ``resolution`` machine epsilons of :math:`|q(0)|` is rounding (see the case analysis).
    max_lr : float or None
        Optional cap on the step (the official code caps at 0.5 without saying so; relustep caps
        only when asked).
    direction : None, str, dict or StepRule
        The direction: the gradient (``None``) or another rule's, e.g. ``"momentum"``.

    Notes
    -----
    Derived in relustep; the paper's exact form may differ. Along :math:`d` the loss is
    :math:`q(\alpha) = \mathcal L(\theta - \alpha d)`. The training pass gives
    :math:`q(0) = \mathcal L_0` and the slope :math:`q'(0) = -g^\top d` (:math:`-\lVert g\rVert^2`
    along the gradient) for free; one probe at the previous step :math:`\alpha_{t-1}` gives the
    third fact that fixes the parabola :math:`q(0) + q'(0)\alpha + A\alpha^2`:

    .. math::
        A_t = \frac{q(\alpha_{t-1}) - q(0) - \alpha_{t-1} q'(0)}{\alpha_{t-1}^2}, \qquad
        \alpha_t = \frac{-q'(0)}{2 A_t}
        \;\overset{d = g}{=}\; \frac{\lVert g\rVert^2}{2 A_t}.

    On an exactly quadratic loss with Hessian :math:`H`, :math:`A = \tfrac12 d^\top H d` whatever
    :math:`\alpha_{t-1}`, so :math:`\alpha_t = g^\top d / d^\top H d`, the exact line minimum
    (``tests/test_qlab_lqa.py`` checks it). The history logs ``trial_step``
    (:math:`\alpha_{t-1}`) and ``curvature`` (:math:`2A_t`, the parabola's :math:`q''`).

    Case analysis (in the manner of PAL, Mutschler and Zell 2020), each case counted:

    - :math:`q'(0) \ge 0`, not a descent direction (a zero gradient, or a momentum direction
      pointing uphill): no step, no probe, ``"not_descent"``;
    - :math:`A_t > 0`: the formula;
    - :math:`A_t \le 0` (the probe lies on or below the tangent): ``concave_factor``
      :math:`\times\,\alpha_{t-1}`, ``"nonpositive_curvature"``;
    - :math:`|q(\alpha_{t-1}) - q(0) - \alpha_{t-1}q'(0)| = |A_t|\alpha_{t-1}^2` within
      rounding of :math:`q(0)` (``resolution``): the same step, ``"unresolved"`` (a curvature
      of exactly 0 lands here too). Near a minimum, where :math:`\lVert g\rVert^2` is
      comparable to the rounding of :math:`q`, a difference quotient of losses is noise;
      without this case, noise read as a large curvature shrinks the step, the next probe is
      shorter and noisier, and the step collapses;
    - a NaN or infinite slope, probe or step: no step, the trial step times ``shrink``,
      ``"nonfinite"``;
    - a step above ``max_lr``: ``max_lr``, ``"capped"``.

    The step taken becomes the next trial step. **Departure from the official code**: it probes
    along :math:`g / \max_i |g_i|` but steps along :math:`g`, which scales the step by
    :math:`\max_i |g_i|`; relustep probes and steps along the same :math:`d`.

    References
    ----------
    QLABGrad: a hyperparameter-free and convergence-guaranteed scheme for deep learning
    (arXiv; known to relustep by its abstract).
    M. Mutschler, A. Zell (2020). Parabolic approximation line search for DNNs. NeurIPS.

    Examples
    --------
    >>> import numpy as np, relustep
    >>> bowl = lambda x: (0.5 * x @ (np.array([1.0, 10.0]) * x), np.array([1.0, 10.0]) * x)
    >>> result = relustep.minimize(bowl, [1.0, 1.0], step="qlab", maxiter=2)
    >>> g = np.array([1.0, 10.0])
    >>> bool(np.isclose(result.history["step_size"][0], (g @ g) / (g @ (g * [1.0, 10.0]))))
    True
    """

    name = "qlab"
    needs = ("gradient",)
    requirement = (
        "fits a parabola to the loss's slope -g.d, which is the slope of the loss only when g is "
        "its gradient"
    )
    _trial_name = "initial_step"

    def __init__(
        self,
        initial_step: float = 0.01,
        concave_factor: float = 1.0,
        shrink: float = 0.5,
        resolution: float = 16.0,
        max_lr: float | None = None,
        direction=None,
    ):
        super().__init__(initial_step, concave_factor, shrink, resolution, max_lr, direction)

    def size(self, line: Line) -> float:
        trial = self.trial_step
        self.log("trial_step", trial)
        slope = line.slope  # q'(0) = -g.d, known from the training pass
        if not math.isfinite(slope):
            return self._skip_nonfinite()
        if slope >= 0.0:
            self.count("not_descent")
            return 0.0
        probed = line.probe(trial)  # q(alpha_{t-1}): the one extra forward pass
        if not math.isfinite(probed):
            return self._skip_nonfinite()
        if self._unresolved(line, probed - line.loss - trial * slope):
            self.count("unresolved")
            return self._accept(self.concave_factor * trial)
        curvature = qlab_curvature(line.loss, slope, trial, probed)  # q'' = 2 A_t
        self.log("curvature", curvature)
        if not math.isfinite(curvature):
            return self._skip_nonfinite()
        if curvature > 0.0:
            return self._accept(-slope / curvature)
        self.count("nonpositive_curvature")
        return self._accept(self.concave_factor * trial)
