r"""The contract between what is minimised (an *objective*) and a step rule.

A training step is: the objective gives the loss :math:`\mathcal L_0` and a direction-giving vector
:math:`g` at :math:`\theta`; a step rule turns :math:`g` into a direction :math:`d` and decides how
far to move along it; the trainer moves :math:`\theta \leftarrow \theta - \alpha d`.

Every objective has

``loss(theta) -> float``
    the loss at ``theta`` (one forward pass on the batch);
``loss_and_gradient(theta, out) -> (float, ndarray)``
    the loss and the vector :math:`g` the model learns along, written into ``out``;
``capabilities``
    a set of names, from :data:`CAPABILITIES`, saying what else a rule may ask of it.

A step rule names in ``needs`` the capabilities it relies on; :func:`check_pairing` is called when
a rule meets a model, before any work, and refuses a pair that does not fit with an
:class:`IncompatibleStepError` naming both. Models import this module and never a step rule;
step rules import this module and never a model: neither side knows the other's classes.

The capabilities:

``"gradient"``
    :math:`g` is the true gradient of ``loss``, so :math:`q'(0) = -g^\top d` is the slope of the
    loss along the line. A learning rule's direction that is not a gradient (the RBM's CD-k rules)
    does not have it: the slope it would give is not the loss's, and a rule that fits a parabola
    to the slope (QLABGrad, LQA) would fit the wrong curve.
``"frozen_quadratic"``
    ``frozen_quadratic(theta, direction, form) -> FrozenQuadratic``: the loss along the line with
    the model's activity pattern frozen (the analytic Golovko step).
``"line"``
    ``line(theta, direction) -> object`` with ``loss(alpha)`` (a probe that reuses what does not
    change along the line), the multiply-adds it costs, and the arrays an exact line search reads
    (:class:`relustep.models.line.NetworkLine`; see :mod:`relustep.steps.exact`): the model
    seen along the line, for a search that knows the model's structure.
``"chain_tangent"``
    ``chain_tangent(theta, direction) -> ChainTangent``: the residuals of a Gibbs chain and their
    directional derivative (the coupled Gauss-Newton step of the RBM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CAPABILITIES = ("gradient", "frozen_quadratic", "line", "chain_tangent")
FROZEN_QUADRATIC_FORMS = ("gram", "diagonal")  # the RBM's exact form, and its per-sample diagonal


class IncompatibleStepError(ValueError):
    """A step rule was paired with a model that cannot give what the rule needs."""


def check_pairing(rule, capabilities, model_name: str) -> None:
    """Raise :class:`IncompatibleStepError` if ``rule`` needs a capability the model lacks.

    Parameters
    ----------
    rule : StepRule
        Its ``needs`` lists the capabilities it relies on; its ``requirement`` says why, in words.
    capabilities : set of str
        What the model's objectives provide.
    model_name : str
        The model, as the message should name it.
    """
    missing = [need for need in rule.needs if need not in capabilities]
    if missing:
        raise IncompatibleStepError(
            f"step {rule.name!r} cannot train {model_name}: the rule {rule.requirement}, "
            f"and {model_name} does not provide {', '.join(repr(m) for m in missing)}"
        )


@dataclass
class FrozenQuadratic:
    r"""The loss along the step with the model's pattern frozen:
    :math:`q(\alpha) \approx q(0) - \text{numerator}\,\alpha + \frac12\,\text{denominator}\,
    \alpha^2`, so that its minimum is :math:`\alpha^* = \text{numerator} / \text{denominator}`
    (mean convention).

    Attributes
    ----------
    numerator, denominator : float
    crossing_fraction : callable
        ``crossing_fraction(alpha)`` is the fraction of the model's ReLU units whose
        pre-activation changes sign between 0 and ``alpha``: where the frozen pattern is wrong.
    forward_passes : int
        What computing it cost, in forward passes over the batch (0 when the model kept what it
        needed from the training pass); counted with the step's probes.
    """

    numerator: float
    denominator: float
    crossing_fraction: Callable[[float], float]
    forward_passes: int = 0


@dataclass
class ChainTangent:
    r"""The residuals :math:`r` of a chain, whose loss is :math:`\lVert r\rVert^2 / 2L`, and
    their rate :math:`u = Jd = \frac{d}{dt} r(\theta + td)|_{t=0}` along a direction.

    Attributes
    ----------
    residual, tangent : ndarray
        :math:`r` and :math:`u` as flat vectors, in the same order.
    n_rows : int
        :math:`L`, the rows of the batch.
    crossing_fraction : callable
        ``crossing_fraction(alpha)`` is the fraction of the model's ReLU units whose
        pre-activation :math:`S - \alpha\dot S` changes sign between 0 and ``alpha``.
    forward_passes : int
        What computing it cost, in forward passes over the batch; counted with the step's probes.
    """

    residual: np.ndarray
    tangent: np.ndarray
    n_rows: int
    crossing_fraction: Callable[[float], float]
    forward_passes: int


class BatchObjective:
    """A model's loss on one fixed batch, as a function of the parameters alone.

    Parameters
    ----------
    model : object
        Has ``loss(theta, X, y)`` and ``loss_and_gradient(theta, X, y, out)``; optionally
        ``frozen_quadratic(theta, X, y, direction, form)`` and ``line(theta, direction, X, y)``,
        offered to the rules as the capabilities of the same names, and ``capabilities``.
    X, y : ndarray
        The batch.
    """

    def __init__(self, model, X, y):
        self.model, self.X, self.y = model, X, y
        self.capabilities = getattr(model, "capabilities", frozenset())

    def loss(self, theta) -> float:
        return self.model.loss(theta, self.X, self.y)

    def loss_and_gradient(self, theta, gradient):
        return self.model.loss_and_gradient(theta, self.X, self.y, gradient)

    def frozen_quadratic(self, theta, direction, form: str = "gram") -> FrozenQuadratic:
        return self.model.frozen_quadratic(theta, self.X, self.y, direction, form)

    def line(self, theta, direction):
        return self.model.line(theta, direction, self.X, self.y)
