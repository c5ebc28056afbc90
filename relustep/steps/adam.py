r"""Adam: steps scaled by running estimates of the gradient's first and second moments."""

from __future__ import annotations

import numpy as np

from relustep import kernels
from relustep._validation import check_float
from relustep.steps.base import Line, StepRule


class Adam(StepRule):
    r"""Adam (Kingma and Ba 2015).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,
        \quad d = \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}, \quad
        \theta \leftarrow \theta - \eta d.

    Parameters
    ----------
    lr : float
        :math:`\eta > 0`, recorded as the step size along :math:`d`.
    beta1, beta2 : float
        Decay rates of the moment estimates, in ``[0, 1)``.
    epsilon : float
        :math:`\epsilon > 0`, guards the division.

    Notes
    -----
    The moments start at zero and ``t`` counts steps from 1. The update is one fused pass over
    the parameter vector (:func:`relustep.kernels.steps.adam_direction`); a model whose kernel
    runs a whole epoch at once (the RBM's online epoch) takes the same update inside it.

    References
    ----------
    D. P. Kingma, J. Ba (2015). Adam: a method for stochastic optimization. ICLR.
    """

    name = "adam"

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8
    ):
        self.lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
        self.beta1 = check_float(beta1, "beta1", low=0.0, high=1.0, high_inclusive=False)
        self.beta2 = check_float(beta2, "beta2", low=0.0, high=1.0, high_inclusive=False)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, low_inclusive=False)

    def start(self, n_parameters: int, dtype=np.float64) -> None:
        super().start(n_parameters, dtype)
        self.first_moment = np.zeros(n_parameters, dtype=dtype)
        self.second_moment = np.zeros(n_parameters, dtype=dtype)

    def compute_direction(self, gradient: np.ndarray) -> np.ndarray:
        kernels.steps.adam_direction(
            gradient,
            self.first_moment,
            self.second_moment,
            self.beta1,
            self.beta2,
            self.epsilon,
            self.n_steps,
            self._direction,
        )
        return self._direction

    def fused_form(self) -> tuple[str, dict]:
        return (
            "adam",
            {
                **self._settings(),
                "first_moment": self.first_moment,
                "second_moment": self.second_moment,
                "steps_before": self.n_steps,
            },
        )

    def size(self, line: Line) -> float:
        return self.lr

    def _settings(self) -> dict:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}
