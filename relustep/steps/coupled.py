r"""The coupled analytic step of the RBM: a Gauss-Newton step along the update through the whole
Gibbs chain. relustep's own step (not in the papers relustep reproduces); derived in
:mod:`relustep.models.rbm_tangent` and, with the code next to it, in
``tutorials/02_rbm_adaptive_step.ipynb``.
"""

from __future__ import annotations

from relustep._validation import check_int
from relustep.kernels.steps import SAFEGUARDS, STEP_TAKEN, frozen_step
from relustep.steps.base import Line, StepRule


class CoupledGaussNewton(StepRule):
    r"""The minimum of the Gauss-Newton model of the RBM's loss along :math:`\theta - \alpha d`,
    with the chain's residuals linearised in :math:`\alpha` through the whole chain:

    .. math::
        \alpha^* = \frac{r^\top u}{u^\top u}, \qquad u = J d ,

    where :math:`r` are the chain's local errors (:math:`E = \lVert r\rVert^2 / 2L`) and
    :math:`Jd` their exact rate along :math:`d`, from one forward-mode pass of tangents through
    the chain (:func:`relustep.models.rbm_tangent.chain_tangent`).

    Relustep's own step. Unlike the frozen-activity step
    (:class:`relustep.steps.golovko.Golovko`), which holds the input and the target of each local
    error fixed, the inputs of each half of the chain move with :math:`W` here: the update of the
    hidden layer moves the reconstruction, and the update of the visible layer the hidden states
    that follow it. It applies along any direction (the learning rule's, momentum's, ...).

    Parameters
    ----------
    verify : bool
        When the batch loss at :math:`\alpha^*` is above the loss at 0, halve :math:`\alpha` until
        it is not (each evaluation one forward pass, counted).
    max_halvings : int
        In ``verify`` mode, how many halvings before giving up and not stepping at all.

    Notes
    -----
    The model is :math:`E(\theta - \alpha d) \approx E - \alpha\,r^\top u / L + \frac12\alpha^2
    u^\top u / L` (derived in :mod:`relustep.models.rbm_tangent`); its predicted decrease at
    :math:`\alpha^*` is :math:`(r^\top u)^2 / (2L\,u^\top u)`. The rule asks the line's objective
    for :math:`r` and :math:`u` through ``objective.chain_tangent(theta, direction)`` (the
    capability ``"chain_tangent"`` of :mod:`relustep.objective`; the RBM's batch objective has it),
    whose cost in forward passes is counted. After choosing :math:`\alpha^*` the rule evaluates
    the true batch loss there (one more forward pass, counted) to report how far the model was
    right.

    Safeguards and measurements, each per step in the training history under its name (the
    first three are the frozen-activity step's, shared through
    :func:`relustep.kernels.steps.frozen_step`):

    - ``nothing_to_learn``: :math:`r^\top u = u^\top u = 0` (the direction does not move the
      residuals; with Bernoulli units everywhere, whose samples do not move, always so);
      :math:`\alpha = 0`.
    - ``non_finite``: :math:`\alpha^*` is not finite; no step.
    - ``not_descent``: :math:`\alpha^* < 0`, the direction goes uphill on the model (possible,
      since the learning rules' directions are not the gradient of :math:`E`); no step.
    - ``raised_loss``: the batch loss at :math:`\alpha^*` is above the loss at 0, where the model
      predicted a decrease (counted before any halving).
    - ``verify_halvings``, ``verify_failed``: as in :class:`~relustep.steps.golovko.Golovko`.
    - ``crossing_fraction`` (logged): the fraction of ReLU-type units whose pre-activation
      :math:`S - \alpha^*\dot S` changes sign inside the step, where the model stops being exact
      to first order; ``nan`` on steps that took no analytic step.
    - ``decrease_vs_model`` (logged): the true decrease at :math:`\alpha^*` over the model's
      predicted decrease (1 where the model is exact, negative where the loss rose).

    Examples
    --------
    >>> CoupledGaussNewton(verify=True)
    CoupledGaussNewton(verify=True, max_halvings=30)
    """

    name = "coupled"
    fallbacks = (
        "nothing_to_learn",
        "non_finite",
        "not_descent",
        "raised_loss",
        "verify_halvings",
        "verify_failed",
    )
    logged = ("crossing_fraction", "decrease_vs_model")
    needs = ("chain_tangent",)
    requirement = "needs the residuals of a Gibbs chain and their rate along the step"

    def __init__(self, verify: bool = False, max_halvings: int = 30):
        if not isinstance(verify, bool):
            raise TypeError(f"verify must be True or False, got {verify!r}")
        self.verify = verify
        self.max_halvings = check_int(max_halvings, "max_halvings", low=1)

    def size(self, line: Line) -> float:
        tangent = line.objective.chain_tangent(line.theta, line.direction)
        line.n_probes += tangent.forward_passes
        residual, rate, n_rows = tangent.residual, tangent.tangent, tangent.n_rows
        numerator = float(residual @ rate) / n_rows  # r^T u / L
        denominator = float(rate @ rate) / n_rows  # u^T u / L
        alpha, outcome = frozen_step(numerator, denominator)
        if outcome != STEP_TAKEN:
            self.count(SAFEGUARDS[outcome])
            return 0.0
        if alpha == 0.0:  # r^T u = 0: the model predicts no decrease along d
            return 0.0
        self.log("crossing_fraction", tangent.crossing_fraction(alpha))
        loss_there = line.probe(alpha)
        predicted_decrease = 0.5 * numerator * alpha
        self.log("decrease_vs_model", (line.loss - loss_there) / predicted_decrease)
        if loss_there > line.loss:
            self.count("raised_loss")
            if self.verify:
                return self._halved(line, alpha)
        return alpha

    def _halved(self, line: Line, alpha: float) -> float:
        for _ in range(self.max_halvings):
            alpha *= 0.5
            self.count("verify_halvings")
            if line.probe(alpha) <= line.loss:
                return alpha
        self.count("verify_failed")
        return 0.0

    def _settings(self) -> dict:
        return {"verify": self.verify, "max_halvings": self.max_halvings}
