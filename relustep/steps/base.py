r"""What a step rule is, and the line it looks along.

A training step is: the model gives the loss :math:`\mathcal L_0` and the gradient :math:`g` at
:math:`\theta`; the step rule turns :math:`g` into a direction :math:`d`
(:meth:`StepRule.direction`) and decides how far to move along it (:meth:`StepRule.size`); the
trainer moves :math:`\theta \leftarrow \theta - \alpha d`. A rule may look at the loss along the
line, :math:`q(\alpha) = \mathcal L(\theta - \alpha d)` on the same batch, through
:meth:`Line.probe`; each probe is one forward pass and is counted in the history.

Step sizes are in the mean convention: the loss is a mean over the batch, so :math:`\alpha` is
comparable with a constant learning rate whatever the batch size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from relustep import kernels


@dataclass
class Line:
    r"""The loss along :math:`\theta - \alpha d` on the current batch.

    Attributes
    ----------
    theta : ndarray
        The current parameters (read only for a step rule).
    gradient : ndarray
        :math:`g`, the gradient of the batch loss at ``theta``.
    direction : ndarray
        :math:`d`; the update is :math:`\theta - \alpha d`.
    loss : float
        :math:`q(0) = \mathcal L(\theta)`, already computed by the training pass.
    objective : object
        What is being minimised on this batch: it has ``loss(theta)`` and
        ``loss_and_gradient(theta, gradient)``; a network's batch objective
        (:class:`relustep.train.BatchObjective`) also has ``model``, ``X`` and ``y``, which a
        rule that knows the model's structure (an exact line search) may use.
    n_probes : int
        How many times :meth:`probe` has been called on this line.
    """

    theta: np.ndarray
    gradient: np.ndarray
    direction: np.ndarray
    loss: float
    objective: object = field(repr=False)
    n_probes: int = field(default=0, init=False)
    _point: np.ndarray | None = field(default=None, init=False, repr=False)

    @cached_property
    def slope(self) -> float:
        r""":math:`q'(0) = -g^\top d`, negative when :math:`d` is a descent direction."""
        return -float(np.dot(self.gradient, self.direction))

    def probe(self, alpha: float) -> float:
        r"""The batch loss :math:`q(\alpha) = \mathcal L(\theta - \alpha d)`: one forward pass."""
        if self._point is None:
            self._point = np.empty_like(self.theta)
        np.copyto(self._point, self.theta)
        kernels.steps.step_along(self._point, alpha, self.direction)
        self.n_probes += 1
        return float(self.objective.loss(self._point))


RULES: dict[str, type[StepRule]] = {}


class StepRule:
    """Base class of the step rules.

    A subclass sets ``name`` (its short name for ``step="..."``; setting it registers the class
    for :func:`relustep.steps.get`), stores its settings in ``__init__`` (validated there), and
    overrides :meth:`direction` and/or :meth:`size`.
    A rule that falls back from its main formula counts it with :meth:`count`; the names it may
    count are listed in ``fallbacks`` so that the history has one column per name. A rule that
    reports per-step values (a trial step, a curvature estimate) names them in ``logged`` and sets
    them with :meth:`log`; the history has one column per name (``nan`` on steps that set none).
    """

    name: str = ""
    fallbacks: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            RULES[cls.name] = cls

    def start(self, n_parameters: int, dtype=np.float64) -> None:
        """Reset the rule's state before training ``n_parameters`` parameters."""
        self.n_steps = 0
        self._direction = np.empty(n_parameters, dtype=dtype)
        self._counts = dict.fromkeys(self.fallbacks, 0)
        self._logged = dict.fromkeys(self.logged, math.nan)

    def direction(self, gradient: np.ndarray) -> np.ndarray:
        """The direction :math:`d` for this step (steepest descent: :math:`d = g`)."""
        return gradient

    def size(self, line: Line) -> float:
        r"""The step :math:`\alpha` along ``line.direction``, in the mean convention."""
        raise NotImplementedError

    def count(self, fallback: str) -> None:
        """Record that this step took the fallback ``fallback``."""
        self._counts[fallback] += 1

    def take_counts(self) -> dict[str, int]:
        """The fallbacks taken since the last call, by name (then reset)."""
        counts = self._counts
        self._counts = dict.fromkeys(self.fallbacks, 0)
        return counts

    def log(self, name: str, value: float) -> None:
        """Record the value ``name`` (one of ``logged``) for this step."""
        self._logged[name] = float(value)

    def take_logged(self) -> dict[str, float]:
        """The values logged since the last call, by name (then reset to ``nan``)."""
        values = self._logged
        self._logged = dict.fromkeys(self.logged, math.nan)
        return values

    def get_config(self) -> dict:
        """The rule's name and settings, enough to rebuild it with :func:`relustep.steps.get`."""
        return {"name": self.name, **self._settings()}

    def _settings(self) -> dict:
        return {}

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self._settings().items())
        return f"{type(self).__name__}({settings})"
