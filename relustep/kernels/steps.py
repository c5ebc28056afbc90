r"""Kernels of the baseline step rules: one fused pass over the flat parameter vector.

Each updates the rule's state and writes the direction :math:`d` into ``out``; the trainer then
moves :math:`\theta \leftarrow \theta - \alpha d` with :func:`step_along`. Working on the one flat
vector is what keeps each of these a single loop.
"""

from __future__ import annotations

import math

import numpy as np

from relustep.kernels._jit import jit


def adam_direction_numpy(
    gradient: np.ndarray,
    first_moment: np.ndarray,
    second_moment: np.ndarray,
    beta1: float,
    beta2: float,
    epsilon: float,
    step_number: int,
    out: np.ndarray,
) -> None:
    r"""Adam (Kingma and Ba 2015): update the moments in place and write the direction

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2,
        \qquad d = \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}.

    The bias corrections are applied as two scale factors computed once per step.
    """
    first_moment *= beta1
    first_moment += (1.0 - beta1) * gradient
    second_moment *= beta2
    second_moment += (1.0 - beta2) * gradient * gradient
    scale1 = 1.0 / (1.0 - beta1**step_number)
    scale2 = 1.0 / math.sqrt(1.0 - beta2**step_number)
    np.divide(first_moment * scale1, np.sqrt(second_moment) * scale2 + epsilon, out=out)


@jit
def adam_direction(gradient, first_moment, second_moment, beta1, beta2, epsilon, step_number, out):
    scale1 = 1.0 / (1.0 - beta1**step_number)
    scale2 = 1.0 / math.sqrt(1.0 - beta2**step_number)
    for i in range(gradient.shape[0]):
        g = gradient[i]
        m = beta1 * first_moment[i] + (1.0 - beta1) * g
        v = beta2 * second_moment[i] + (1.0 - beta2) * g * g
        first_moment[i] = m
        second_moment[i] = v
        out[i] = (m * scale1) / (math.sqrt(v) * scale2 + epsilon)


def momentum_direction_numpy(
    gradient: np.ndarray, velocity: np.ndarray, momentum: float, nesterov: bool, out: np.ndarray
) -> None:
    r"""Heavy ball (Polyak 1964) and Nesterov momentum, in the form used by most libraries:

    .. math::
        u \leftarrow \mu u + g, \qquad d = u \;\text{(heavy ball)}, \qquad d = g + \mu u
        \;\text{(Nesterov)}.

    The Nesterov form evaluates the gradient at the current point rather than at a look-ahead
    point; with the change of variables :math:`\tilde\theta = \theta - \alpha\mu u` it is the
    same method (Sutskever et al. 2013).
    """
    velocity *= momentum
    velocity += gradient
    if nesterov:
        np.multiply(velocity, momentum, out=out)
        out += gradient
    else:
        out[:] = velocity


@jit
def momentum_direction(gradient, velocity, momentum, nesterov, out):
    for i in range(gradient.shape[0]):
        u = momentum * velocity[i] + gradient[i]
        velocity[i] = u
        out[i] = gradient[i] + momentum * u if nesterov else u


def step_along_numpy(theta: np.ndarray, alpha: float, direction: np.ndarray) -> None:
    r"""Move in place: :math:`\theta \leftarrow \theta - \alpha d`."""
    theta -= alpha * direction


@jit
def step_along(theta, alpha, direction):
    for i in range(theta.shape[0]):
        theta[i] -= alpha * direction[i]
