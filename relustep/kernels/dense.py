r"""Kernels of the dense ReLU network: the losses at the output and the activation's derivative
going back.

The matrix products stay with NumPy (BLAS). What is fused here is the elementwise work around
them, which NumPy would do in several passes with temporaries.

Both losses use the mean convention over the ``n`` rows of the batch, and both write the
gradient of the loss with respect to the network's output into ``gradient`` (shape of the output).
"""

from __future__ import annotations

import math

import numpy as np

from relustep.kernels._jit import jit


def relu_backward_numpy(delta: np.ndarray, activation: np.ndarray, negative_slope: float) -> None:
    r"""Multiply ``delta`` in place by the derivative of :math:`\sigma(z) = \max(z, a z)`:
    1 where the unit is active, :math:`a` (``negative_slope``; 0 for ReLU) elsewhere.
    ``activation`` is :math:`\sigma(z)`, positive exactly where :math:`z > 0` since
    :math:`0 \le a < 1`; the derivative at :math:`z = 0` is taken as :math:`a`.

    Pass ``negative_slope`` as a scalar of ``delta``'s dtype, so that the product is rounded once,
    in that precision, whether or not the kernel is compiled."""
    delta *= np.where(activation > 0, 1, negative_slope)


@jit
def relu_backward(delta: np.ndarray, activation: np.ndarray, negative_slope: float) -> None:
    rows, cols = delta.shape
    for i in range(rows):
        for j in range(cols):
            if activation[i, j] <= 0:
                delta[i, j] = np.float64(delta[i, j]) * negative_slope


def square_loss_numpy(output: np.ndarray, target: np.ndarray, gradient: np.ndarray) -> float:
    r"""Square loss :math:`\frac{1}{2n}\sum_i \lVert f(x_i) - y_i \rVert^2` and its gradient
    :math:`(f(x_i) - y_i)/n` with respect to the output, written into ``gradient``."""
    n = output.shape[0]
    np.subtract(output, target, out=gradient)
    loss = 0.5 * float(np.sum(gradient * gradient)) / n
    gradient /= n
    return loss


@jit
def square_loss(output: np.ndarray, target: np.ndarray, gradient: np.ndarray) -> float:
    rows, cols = output.shape
    total = 0.0
    scale = 1.0 / rows
    for i in range(rows):
        for j in range(cols):
            residual = np.float64(output[i, j]) - np.float64(target[i, j])
            total += residual * residual
            gradient[i, j] = residual * scale
    return 0.5 * total / rows


def softmax_cross_entropy_numpy(
    logits: np.ndarray, labels: np.ndarray, gradient: np.ndarray
) -> float:
    r"""Softmax cross-entropy :math:`-\frac{1}{n}\sum_i \log p_{i, y_i}` with
    :math:`p_i = \mathrm{softmax}(z_i)`, and its gradient :math:`(p_i - e_{y_i})/n` with respect to
    the logits :math:`z`, written into ``gradient``. ``labels`` are integer class indices.

    The log-sum-exp is shifted by each row's maximum so that no exponential overflows.
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_normaliser = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(n)
    loss = float(np.sum(log_normaliser - shifted[rows, labels])) / n
    np.exp(shifted - log_normaliser[:, None], out=gradient)
    gradient[rows, labels] -= 1.0
    gradient /= n
    return loss


@jit
def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, gradient: np.ndarray) -> float:
    rows, cols = logits.shape
    total = 0.0
    scale = 1.0 / rows
    for i in range(rows):
        largest = np.float64(logits[i, 0])
        for j in range(1, cols):
            largest = max(largest, np.float64(logits[i, j]))
        normaliser = 0.0
        for j in range(cols):
            normaliser += math.exp(np.float64(logits[i, j]) - largest)
        log_normaliser = math.log(normaliser)
        total += log_normaliser - (np.float64(logits[i, labels[i]]) - largest)
        for j in range(cols):
            gradient[i, j] = math.exp(np.float64(logits[i, j]) - largest - log_normaliser) * scale
        gradient[i, labels[i]] = np.float64(gradient[i, labels[i]]) - scale
    return total / rows
