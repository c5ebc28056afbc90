r"""Gradient descent with a constant learning rate: :math:`\theta \leftarrow \theta - \eta g`."""

from __future__ import annotations

from relustep._validation import check_float
from relustep.steps.base import Line, StepRule


class Constant(StepRule):
    r"""A constant step :math:`\alpha = \eta` along the gradient (plain SGD on mini-batches).

    Parameters
    ----------
    lr : float
        The learning rate :math:`\eta > 0`.

    Examples
    --------
    >>> Constant(lr=0.1)
    Constant(lr=0.1)
    """

    name = "constant"

    def __init__(self, lr: float = 0.01):
        self.lr = check_float(lr, "lr", low=0.0, low_inclusive=False)

    def size(self, line: Line) -> float:
        return self.lr

    def fused_form(self) -> tuple[str, dict]:
        return ("constant", {"lr": self.lr})

    def _settings(self) -> dict:
        return {"lr": self.lr}
