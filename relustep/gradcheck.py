r"""Gradients checked against central differences.

For a function :math:`f:\mathbb R^n\to\mathbb R`, the central difference

.. math::
    \frac{f(\theta + h e_i) - f(\theta - h e_i)}{2h} = \partial_i f(\theta) + O(h^2)

approximates each partial derivative with an error of order :math:`h^2` (plus rounding of order
:math:`\epsilon_{\text{mach}} |f| / h`); :math:`h \approx 10^{-6}` balances the two in float64.
Every model's explicit gradient is tested with :func:`check_gradient`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from relustep._validation import check_array, check_float


def numerical_gradient(fun: Callable[[np.ndarray], float], theta, step: float = 1e-6) -> np.ndarray:
    """The central-difference gradient of ``fun`` at ``theta`` (2n evaluations)."""
    theta = check_array(theta, "theta", ndim=1).copy()
    step = check_float(step, "step", low=0.0, low_inclusive=False)
    gradient = np.empty_like(theta)
    for i in range(theta.size):
        original = theta[i]
        theta[i] = original + step
        above = fun(theta)
        theta[i] = original - step
        below = fun(theta)
        theta[i] = original
        gradient[i] = (above - below) / (2.0 * step)
    return gradient


def gradient_error(analytic, numerical) -> float:
    r"""The relative error :math:`\lVert a-n\rVert / \max(\lVert a\rVert, \lVert n\rVert,
    10^{-12})` between two gradients: small (about :math:`10^{-8}` or less in float64) when an
    explicit gradient is right."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numerical), 1e-12)
    return float(np.linalg.norm(analytic - numerical) / scale)


def check_gradient(
    fun: Callable[[np.ndarray], float],
    gradient: Callable[[np.ndarray], np.ndarray],
    theta,
    step: float = 1e-6,
) -> float:
    """The relative error between ``gradient(theta)`` and the central differences of ``fun``.

    Examples
    --------
    >>> import numpy as np
    >>> error = check_gradient(lambda x: np.sum(x**3), lambda x: 3 * x**2, np.array([1.0, -2.0]))
    >>> error < 1e-8
    True
    """
    theta = check_array(theta, "theta", ndim=1)
    return gradient_error(gradient(theta.copy()), numerical_gradient(fun, theta, step))
