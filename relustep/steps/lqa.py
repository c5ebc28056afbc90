r"""LQA: the learning rate from a parabola through the loss at :math:`-\delta`, 0 and
:math:`+\delta` along the direction (local quadratic approximation)."""

from __future__ import annotations

import math

from relustep._validation import check_choice
from relustep.steps.base import Line
from relustep.steps.qlab import ParabolaStepRule

DELTA_RULES = ("previous", "fixed")


def lqa_parabola(loss: float, delta: float, ahead: float, behind: float) -> tuple[float, float]:
    r"""The slope and curvature at 0 of the parabola through :math:`q(-\delta)` (``behind``),
    :math:`q(0)` (``loss``) and :math:`q(\delta)` (``ahead``), by central differences.

    .. math::
        b = \frac{q(\delta) - q(-\delta)}{2\delta}, \qquad
        c = \frac{q(\delta) + q(-\delta) - 2q(0)}{\delta^2}

    Returns
    -------
    slope, curvature : float
    """
    return (ahead - behind) / (2.0 * delta), (ahead + behind - 2.0 * loss) / delta / delta


class LQA(ParabolaStepRule):
    r"""LQA: two probes, at :math:`\theta \mp \delta d`, fix the parabola; step to its minimum.

    Parameters
    ----------
    delta : float
        :math:`\delta`, the probe distance (of the first step, with ``delta_rule="previous"``).
    delta_rule : {"previous", "fixed"}
        ``"previous"``: after the first step, :math:`\delta_t = \alpha_{t-1}`, the last step
        taken, so the probes follow the scale of the steps (relustep's default); ``"fixed"``:
        :math:`\delta` throughout, except that a non-finite value or an uphill estimate
        shrinks it for good (see ``shrink``).
    concave_factor : float
        On curvature :math:`\le 0` the step is ``concave_factor`` :math:`\times\,\delta`
        (1.05, one of the official codes' choices; another uses :math:`|\alpha|`).
    shrink : float
        After a non-finite probe or an uphill estimate the step is skipped and :math:`\delta`
        multiplied by this.
    resolution : float
        A curvature term :math:`q(\delta) + q(-\delta) - 2q(0)` within ``resolution`` machine
        epsilons of :math:`|q(0)|` is rounding (see the case analysis).
    max_lr : float or None
        Optional cap on the step.
    direction : None, str, dict or StepRule
        The direction: the gradient (``None``) or another rule's, e.g. ``"adam"``.

    Notes
    -----
    Derived in relustep; the paper's exact form may differ. With
    :math:`q(\alpha) = \mathcal L(\theta - \alpha d)`, so that
    :math:`q(\delta) = \mathcal L(\theta - \delta d)` and
    :math:`q(-\delta) = \mathcal L(\theta + \delta d)`, the parabola through
    :math:`q(-\delta), q(0), q(\delta)` has, by central differences,

    .. math::
        q''\approx c = \frac{q(\delta) + q(-\delta) - 2q(0)}{\delta^2}, \qquad
        q'(0) \approx b = \frac{q(\delta) - q(-\delta)}{2\delta}, \qquad
        \alpha_t = -\frac{b}{c}
        = \frac{\delta\,(q(-\delta) - q(\delta))}{2\,(q(\delta) + q(-\delta) - 2q(0))}.

    Both differences are exact for a quadratic, so on a quadratic loss with Hessian :math:`H`,
    :math:`\alpha_t = g^\top d / d^\top H d` for any :math:`\delta` (``tests/test_qlab_lqa.py``).
    LQA estimates the slope from its probes although :math:`q'(0) = -g^\top d` is known; the
    known slope is used only to recognise a non-descent direction. So LQA needs no gradient: on an
    objective whose direction is a learning rule's and not the loss's gradient (the RBM's CD-k
    rules), that test says nothing and the step rests on the probes alone, which measure the
    true loss along the line. The history logs
    ``trial_step`` (:math:`\delta`) and ``curvature`` (:math:`c`).

    Case analysis, each case counted:

    - :math:`q'(0) = -g^\top d \ge 0`: no step, no probe, ``"not_descent"``;
    - :math:`c > 0` and :math:`b < 0`: the formula;
    - :math:`c \le 0`: ``concave_factor`` :math:`\times\,\delta`, ``"nonpositive_curvature"``;
    - :math:`|q(\delta) + q(-\delta) - 2q(0)| = |c|\delta^2` within rounding of :math:`q(0)`
      (``resolution``): the same step, ``"unresolved"``;
    - :math:`c > 0` but :math:`b \ge 0` (the probes see the loss rising, though the true slope
      is negative: :math:`\delta` is too long for the parabola to hold): no step,
      :math:`\delta` times ``shrink``, ``"uphill_estimate"``;
    - a NaN or infinite value: no step, :math:`\delta` times ``shrink``, ``"nonfinite"``;
    - a step above ``max_lr``: ``max_lr``, ``"capped"``.

    **Departure from the official codes**: they probe along a normalised direction and step
    along the raw gradient (the step is then off by the normalising factor) and cap the step at
    0.5; relustep probes and steps along one :math:`d` and caps only when asked.

    References
    ----------
    Y. Zhu, D. Huang, Y. Gao, R. Wu, Y. Chen, B. Zhang, H. Wang (2020). Automatic, dynamic, and
    nearly optimal learning rate specification by local quadratic approximation. arXiv:2004.03260
    (known to relustep by its abstract).

    Examples
    --------
    >>> import numpy as np, relustep
    >>> bowl = lambda x: (0.5 * x @ (np.array([1.0, 10.0]) * x), np.array([1.0, 10.0]) * x)
    >>> result = relustep.minimize(bowl, [1.0, 1.0], step="lqa", maxiter=1)
    >>> result.history["n_forward"]  # the training pass and two probes
    [3]
    """

    name = "lqa"
    fallbacks = (*ParabolaStepRule.fallbacks, "uphill_estimate")
    _trial_name = "delta"

    def __init__(
        self,
        delta: float = 0.01,
        delta_rule: str = "previous",
        concave_factor: float = 1.05,
        shrink: float = 0.5,
        resolution: float = 16.0,
        max_lr: float | None = None,
        direction=None,
    ):
        super().__init__(delta, concave_factor, shrink, resolution, max_lr, direction)
        self.delta_rule = check_choice(delta_rule, "delta_rule", DELTA_RULES)

    def size(self, line: Line) -> float:
        delta = self.trial_step
        self.log("trial_step", delta)
        if not math.isfinite(line.slope):
            return self._skip_nonfinite()
        if line.slope >= 0.0:
            self.count("not_descent")
            return 0.0
        ahead = line.probe(delta)  # q(delta) = L(theta - delta d)
        behind = line.probe(-delta)  # q(-delta) = L(theta + delta d)
        if not (math.isfinite(ahead) and math.isfinite(behind)):
            return self._skip_nonfinite()
        adapt = self.delta_rule == "previous"
        if self._unresolved(line, ahead + behind - 2.0 * line.loss):
            self.count("unresolved")
            return self._accept(self.concave_factor * delta, adapt)
        estimated_slope, curvature = lqa_parabola(line.loss, delta, ahead, behind)
        self.log("curvature", curvature)
        if not (math.isfinite(curvature) and math.isfinite(estimated_slope)):
            return self._skip_nonfinite()
        if curvature <= 0.0:
            self.count("nonpositive_curvature")
            return self._accept(self.concave_factor * delta, adapt)
        if estimated_slope >= 0.0:
            self.count("uphill_estimate")
            self._shrink_trial()
            return 0.0
        return self._accept(-estimated_slope / curvature, adapt)

    def _settings(self) -> dict:
        settings = super()._settings()
        return {"delta": settings.pop("delta"), "delta_rule": self.delta_rule, **settings}
