r"""What a step rule is, and the line it looks along.

A training step is: the objective gives the loss :math:`\mathcal L_0` and the gradient :math:`g` at
:math:`\theta`; the step rule turns :math:`g` into a direction :math:`d`
(:meth:`StepRule.direction`) and decides how far to move along it (:meth:`StepRule.size`); the
trainer moves :math:`\theta \leftarrow \theta - \alpha d`. A rule may look at the loss along the
line, :math:`q(\alpha) = \mathcal L(\theta - \alpha d)` on the same batch, through
:meth:`Line.probe`; each probe is one forward pass and is counted in the history.

What a rule may ask of the objective beyond the loss is written down in
:mod:`relustep.objective`: a rule lists the capabilities it relies on in ``needs``, and the trainer
checks them against the model before the first step (:func:`relustep.objective.check_pairing`).
A rule counts its own steps (``n_steps``, advanced by :meth:`StepRule.direction`, which the trainer
calls once per step), so a rule that wraps another rule leaves the inner rule's count to it.

Step sizes are in the mean convention: the loss is a mean over the batch, so :math:`\alpha` is
comparable with a constant learning rate whatever the batch size.
"""

from __future__ import annotations

import copy
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
        What is being minimised on this batch (see :mod:`relustep.objective`): it has
        ``loss(theta)``, ``loss_and_gradient(theta, gradient)``, ``capabilities`` and the methods
        those name.
    n_probes : int or float
        The forward passes spent on this line beyond the training pass: one per :meth:`probe`,
        plus what a rule that asks the model for more (a frozen quadratic, the network along the
        line) counts in forward-pass equivalents.
    """

    theta: np.ndarray
    gradient: np.ndarray
    direction: np.ndarray
    loss: float
    objective: object = field(repr=False)
    n_probes: float = field(default=0, init=False)
    _point: np.ndarray | None = field(default=None, init=False, repr=False)

    @cached_property
    def slope(self) -> float:
        r""":math:`q'(0) = -g^\top d`, negative when :math:`d` is a descent direction."""
        return -float(np.dot(self.gradient, self.direction))

    def probe(self, alpha: float) -> float:
        r"""The batch loss :math:`q(\alpha) = \mathcal L(\theta - \alpha d)`: one forward pass."""
        if self._point is None:
            self._point = np.empty_like(self.theta)
        kernels.steps.step_into(self._point, self.theta, alpha, self.direction)
        self.n_probes += 1
        return float(self.objective.loss(self._point))


RULES: dict[str, type[StepRule]] = {}
ALIASES = {"sgd": ("constant", {}), "nesterov": ("momentum", {"nesterov": True})}


class StepRule:
    """Base class of the step rules.

    A subclass sets ``name`` (its short name for ``step="..."``; setting it registers the class
    for :func:`relustep.steps.get`), stores its settings in ``__init__`` (validated there), and
    overrides :meth:`compute_direction` and/or :meth:`size`.
    A rule that falls back from its main formula counts it with :meth:`count`; the names it may
    count are listed in ``fallbacks`` so that the history has one column per name. A rule that
    reports per-step values (a trial step, a curvature estimate) names them in ``logged`` and sets
    them with :meth:`log`; the history has one column per name (``nan`` on steps that set none).

    A rule that relies on more than the loss names the capabilities in ``needs`` (see
    :mod:`relustep.objective`) and says why in ``requirement``. A rule whose step a model can
    compute inside a fused whole-epoch kernel describes it in :meth:`fused_form`.
    """

    name: str = ""
    fallbacks: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    requirement: str = "needs nothing beyond the loss"

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
        """Start a step: count it in ``n_steps`` and return its direction :math:`d` (from
        :meth:`compute_direction`). Called once per step."""
        self.n_steps += 1
        return self.compute_direction(gradient)

    def compute_direction(self, gradient: np.ndarray) -> np.ndarray:
        """The direction :math:`d` for step ``n_steps`` (counted from 1); steepest descent,
        :math:`d = g`, unless a rule says otherwise."""
        return gradient

    def count_steps(self, n: int) -> None:
        """Count ``n`` steps taken for this rule inside a fused kernel (:meth:`fused_form`)."""
        self.n_steps += n

    def fused_columns(self, result: dict) -> dict:
        """The rule's own history columns for a fused epoch's ``result`` (per-step arrays from the
        model's kernel); none by default."""
        return {}

    def fused_form(self) -> tuple[str, dict] | None:
        """How a fused whole-epoch kernel may take this rule's step, or ``None``.

        ``("constant", {"lr": ...})`` is a constant step along the model's direction;
        ``("frozen_quadratic", {"form": ...})`` the minimum of the frozen quadratic
        (:class:`relustep.objective.FrozenQuadratic`) with the safeguards of
        :class:`~relustep.steps.golovko.Golovko`; ``("adam", {...})`` Adam's step, with the
        rule's moment vectors (updated in place by the kernel) and the steps taken so far. A
        model that has a fused path for the form uses it; otherwise the trainer takes the steps
        one by one. The form is asked for again before each fused epoch, so it may carry the
        rule's current state.
        """
        return None

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


def names() -> list[str]:
    """The names :func:`get` accepts."""
    return sorted([*RULES, *ALIASES])


def get(step, name: str = "step") -> StepRule:
    """Return a fresh step rule from a name, a config dict or a rule object (copied).

    Parameters
    ----------
    step : str, dict or StepRule
        ``"adam"``; ``{"name": "adam", "lr": 0.01}``; or ``Adam(lr=0.01)``.
    name : str
        The argument's name in error messages.
    """
    if isinstance(step, StepRule):
        return copy.deepcopy(step)
    if isinstance(step, str):
        config = {"name": step}
    elif isinstance(step, dict):
        config = dict(step)
    else:
        raise TypeError(
            f"{name} must be a step rule name {names()}, a dict or a StepRule, "
            f"got {type(step).__name__}"
        )
    rule_name = config.pop("name", None)
    if rule_name in ALIASES:
        rule_name, implied = ALIASES[rule_name]
        config = {**implied, **config}
    if rule_name not in RULES:
        raise ValueError(f"{name} must be one of {names()}, got {rule_name!r}")
    try:
        return RULES[rule_name](**config)
    except TypeError as error:
        raise TypeError(f"{name}: {error}") from error
