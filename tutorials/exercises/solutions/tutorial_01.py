"""Solutions of the exercises of tutorial 1 (for the teacher). Each body replaces the blank's
``raise NotImplementedError`` in ``01_training_loop_and_step_rules.ipynb``."""

import numpy as np


def dense_forward(weights, biases, X, negative_slope=0.0):
    """Exercise 1.1."""
    activations = [X]
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        Z = activations[-1] @ W + b
        activations.append(np.maximum(Z, negative_slope * Z))
    output = activations[-1] @ weights[-1] + biases[-1]
    return output, activations


def square_loss_and_delta(output, y):
    """Exercise 1.2."""
    n = len(output)
    residual = output - y
    return 0.5 * np.sum(residual**2) / n, residual / n


def dense_backward(weights, biases, X, y, negative_slope=0.0, l2=0.0):
    """Exercise 1.3."""
    output, activations = dense_forward(weights, biases, X, negative_slope)
    _, delta = square_loss_and_delta(output, y)
    gradients = []
    for layer in range(len(weights) - 1, -1, -1):
        A = activations[layer]
        gradients.append((A.T @ delta + l2 * weights[layer], delta.sum(axis=0)))
        if layer > 0:
            slope = np.where(A > 0, 1.0, negative_slope)  # sigma'(Z): A > 0 exactly where Z > 0
            delta = (delta @ weights[layer].T) * slope
    return gradients[::-1]


def momentum_directions(gradients, momentum, nesterov):
    """Exercise 1.4."""
    velocity = np.zeros(gradients.shape[1])
    directions = []
    for g in gradients:
        velocity = momentum * velocity + g
        directions.append(g + momentum * velocity if nesterov else velocity)
    return np.array(directions)


def adam_directions(gradients, beta1, beta2, epsilon):
    """Exercise 1.5."""
    m = np.zeros(gradients.shape[1])
    v = np.zeros(gradients.shape[1])
    directions = []
    for t, g in enumerate(gradients, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        directions.append((m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + epsilon))
    return np.array(directions)
