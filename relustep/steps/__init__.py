"""Step rules: how far to move along which direction.

Each rule is a small class; :func:`get` builds one from a name (see :func:`names`: ``"constant"``,
``"momentum"``, ``"nesterov"``, ``"adam"``, ``"qlab"``, ``"lqa"``, ``"exact"``, ``"golovko"``),
from a configuration dict as saved by :meth:`~relustep.steps.base.StepRule.get_config`, or
passes a rule object through.
"""

from __future__ import annotations

import copy

from relustep.steps.adam import Adam
from relustep.steps.base import RULES, Line, StepRule
from relustep.steps.constant import Constant
from relustep.steps.exact import ExactLineSearch
from relustep.steps.golovko import Golovko
from relustep.steps.lqa import LQA
from relustep.steps.momentum import Momentum
from relustep.steps.qlab import QLAB

ALIASES = {"sgd": ("constant", {}), "nesterov": ("momentum", {"nesterov": True})}

__all__ = [
    "Adam",
    "Constant",
    "ExactLineSearch",
    "Golovko",
    "LQA",
    "Line",
    "Momentum",
    "QLAB",
    "StepRule",
    "get",
    "names",
]


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
