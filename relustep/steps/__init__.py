"""Step rules: how far to move along which direction.

Each rule is a small class; :func:`get` builds one from a name (see :func:`names`: ``"constant"``,
``"momentum"``, ``"nesterov"``, ``"adam"``, ``"qlab"``, ``"lqa"``, ``"exact"``, ``"golovko"``,
``"coupled"``), from a configuration dict as saved by
:meth:`~relustep.steps.base.StepRule.get_config`, or passes a rule object through.
"""

from __future__ import annotations

from relustep.steps.adam import Adam
from relustep.steps.base import Line, StepRule, get, names
from relustep.steps.constant import Constant
from relustep.steps.coupled import CoupledGaussNewton
from relustep.steps.exact import ExactLineSearch
from relustep.steps.golovko import Golovko
from relustep.steps.lqa import LQA
from relustep.steps.momentum import Momentum
from relustep.steps.qlab import QLAB

__all__ = [
    "Adam",
    "Constant",
    "CoupledGaussNewton",
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

