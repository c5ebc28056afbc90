r"""Kernels of the step rules: one fused pass over the flat parameter vector, and the analytic
step's safeguards.

Each updates the rule's state and writes the direction :math:`d` into ``out``; the trainer then
moves :math:`\theta \leftarrow \theta - \alpha d` with :func:`step_into`. Working on the one flat
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
    scale1 = 1.0 / (1.0 - math.pow(beta1, float(step_number)))
    scale2 = 1.0 / math.sqrt(1.0 - math.pow(beta2, float(step_number)))
    np.divide(first_moment * scale1, np.sqrt(second_moment) * scale2 + epsilon, out=out)


@jit
def adam_direction(gradient, first_moment, second_moment, beta1, beta2, epsilon, step_number, out):
    scale1 = 1.0 / (1.0 - math.pow(beta1, float(step_number)))
    scale2 = 1.0 / math.sqrt(1.0 - math.pow(beta2, float(step_number)))
    for i in range(gradient.shape[0]):
        g = np.float64(gradient[i])
        m = beta1 * np.float64(first_moment[i]) + (1.0 - beta1) * g
        v = beta2 * np.float64(second_moment[i]) + (1.0 - beta2) * g * g
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
        g = np.float64(gradient[i])
        u = momentum * np.float64(velocity[i]) + g
        velocity[i] = u
        out[i] = g + momentum * u if nesterov else u


def step_into_numpy(
    out: np.ndarray, theta: np.ndarray, alpha: float, direction: np.ndarray
) -> bool:
    r"""Write the point :math:`\theta - \alpha d` into ``out`` (which may be ``theta`` itself);
    return whether every entry of it is finite.

    The trainer writes each step into a second buffer, so that the point before the step is kept
    without a copy, and learns in the same pass whether the step left the finite numbers (a
    non-finite gradient or direction does); a probe of the loss along a line writes its point the
    same way."""
    np.subtract(theta, alpha * direction, out=out)
    return bool(np.isfinite(out).all())


@jit
def step_into(out, theta, alpha, direction):
    finite = True
    for i in range(theta.shape[0]):
        value = np.float64(theta[i]) - alpha * np.float64(direction[i])
        out[i] = value
        finite &= math.isfinite(out[i])
    return finite


#: the outcomes of :func:`frozen_step`, and the names under which a history counts them
STEP_TAKEN, NOTHING_TO_LEARN, NON_FINITE, NOT_DESCENT = 0, 1, 2, 3
SAFEGUARDS = {
    NOTHING_TO_LEARN: "nothing_to_learn",
    NON_FINITE: "non_finite",
    NOT_DESCENT: "not_descent",
}


@jit
def frozen_step(numerator, denominator):
    r"""The minimum :math:`\alpha^* = \text{numerator} / \text{denominator}` of a frozen quadratic
    :math:`q(0) - \text{numerator}\,\alpha + \frac12\text{denominator}\,\alpha^2`, with the
    analytic step's safeguards; returns ``(alpha, outcome)``.

    - both zero: nothing to learn, :math:`\alpha = 0` (``NOTHING_TO_LEARN``);
    - :math:`\alpha^*` not finite: no step (``NON_FINITE``);
    - :math:`\alpha^* < 0`, uphill on the quadratic: no step (``NOT_DESCENT``).

    One function serves the step rule (:class:`relustep.steps.golovko.Golovko`) and the fused
    online kernel (:func:`relustep.kernels.rbm.online_epoch`), so the safeguards are written once.
    """
    if numerator == 0.0 and denominator == 0.0:
        return 0.0, NOTHING_TO_LEARN
    alpha = numerator / denominator if denominator != 0.0 else math.inf * numerator
    if not math.isfinite(alpha):
        return 0.0, NON_FINITE
    if alpha < 0.0:
        return 0.0, NOT_DESCENT
    return alpha, STEP_TAKEN
