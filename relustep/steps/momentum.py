r"""Momentum: the heavy ball and Nesterov's accelerated gradient."""

from __future__ import annotations

import numpy as np

from relustep import kernels
from relustep._validation import check_float
from relustep.steps.base import Line, StepRule


class Momentum(StepRule):
    r"""Gradient descent with momentum.

    .. math::
        u \leftarrow \mu u + g, \qquad \theta \leftarrow \theta - \eta d, \qquad
        d = u \ \text{(heavy ball)} \quad\text{or}\quad d = g + \mu u \ \text{(Nesterov)}.

    Parameters
    ----------
    lr : float
        The learning rate :math:`\eta > 0`; the history records it as the step size along
        :math:`d`.
    momentum : float
        :math:`\mu \in [0, 1)`; ``0`` is plain gradient descent.
    nesterov : bool
        Nesterov's form instead of the heavy ball.

    Notes
    -----
    The velocity starts at zero. The kernel and its NumPy twin are
    :func:`relustep.kernels.steps.momentum_direction` and ``momentum_direction_numpy``.

    References
    ----------
    B. T. Polyak (1964). Some methods of speeding up the convergence of iteration methods.
    I. Sutskever, J. Martens, G. Dahl, G. Hinton (2013). On the importance of initialization and
    momentum in deep learning. ICML.
    """

    name = "momentum"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False):
        self.lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
        if not isinstance(nesterov, bool | np.bool_):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def start(self, n_parameters: int, dtype=np.float64) -> None:
        super().start(n_parameters, dtype)
        self.velocity = np.zeros(n_parameters, dtype=dtype)

    def compute_direction(self, gradient: np.ndarray) -> np.ndarray:
        kernels.steps.momentum_direction(
            gradient, self.velocity, self.momentum, self.nesterov, self._direction
        )
        return self._direction

    def size(self, line: Line) -> float:
        return self.lr

    def _settings(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}
