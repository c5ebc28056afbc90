r"""Exercises of tutorial 1: the dense network's forward and backward pass, and the directions
of momentum, Nesterov and Adam.

Notes
-----
The expected answers come from :class:`relustep.models.dense.DenseReLUNetwork` (``forward``,
``loss_and_gradient``), the square-loss kernel of :mod:`relustep.kernels.dense` and the rules
:class:`relustep.steps.Momentum` and :class:`relustep.steps.Adam`. The formulas checked are

.. math::
    Z_l = A_{l-1}W_l + b_l,\quad A_l = \max(Z_l, aZ_l),\quad
    \Delta_L = \frac{f - Y}{n},\quad
    \frac{\partial\mathcal L}{\partial W_l} = A_{l-1}^\top\Delta_l + \lambda W_l,\quad
    \frac{\partial\mathcal L}{\partial b_l} = \mathbf 1^\top\Delta_l,\quad
    \Delta_{l-1} = (\Delta_l W_l^\top)\odot\sigma'(Z_{l-1}).
"""

from __future__ import annotations

import numpy as np

from relustep import kernels, steps
from relustep.exercises._checker import AnswerShapeError, Case, Exercise, arrays
from relustep.models.dense import DenseReLUNetwork

# (description, layer sizes, rows, negative slope, ridge)
NETWORKS = [
    ("one hidden layer, random", (3, 5, 1), 8, 0.0, 0.0),
    ("two hidden layers, several outputs", (4, 6, 5, 3), 10, 0.0, 0.0),
    ("one sample", (3, 4, 2), 1, 0.0, 0.0),
    ("leaky slope a = 0.1, several outputs", (3, 5, 2), 7, 0.1, 0.0),
    ("a dead unit (its bias is -100: off on every row)", (3, 4, 1), 6, 0.0, 0.0),
    ("ridge l2 = 0.05", (3, 4, 2), 6, 0.0, 0.05),
]


def _network(sizes, slope, l2) -> DenseReLUNetwork:
    return DenseReLUNetwork(sizes[0], sizes[1:-1], sizes[-1], negative_slope=slope, l2=l2)


def _networks(rng: np.random.Generator):
    """A network, its parameters split into lists, a batch, for each of :data:`NETWORKS`."""
    for description, sizes, rows, slope, l2 in NETWORKS:
        network = _network(sizes, slope, l2)
        theta = network.init_parameters(rng)
        for _, bias in network.weights(theta):
            bias[...] = rng.normal(scale=0.3, size=bias.shape)
        if "dead" in description:
            network.weights(theta)[0][1][1] = -100.0
        weights = [w.copy() for w, _ in network.weights(theta)]
        biases = [b.copy() for _, b in network.weights(theta)]
        X = rng.normal(size=(rows, sizes[0]))
        y = rng.normal(size=(rows, sizes[-1]))
        yield description, network, theta, weights, biases, X, y, slope, l2


def _layer_labels(n_layers: int, what: str) -> list[str]:
    labels = []
    for layer in range(1, n_layers + 1):
        labels += [f"{what} W{layer}", f"{what} b{layer}"]
    return labels


# -- 1.1 the forward pass --------------------------------------------------------------------------


def _forward_cases(rng):
    for description, network, theta, weights, biases, X, _, slope, _ in _networks(rng):
        output, activations = network.forward(theta, X, keep=True)
        expected = _flatten_forward((output, activations))
        arguments = dict(weights=weights, biases=biases, X=X, negative_slope=slope)
        yield Case(description, arguments, expected)


def _flatten_forward(answer):
    try:
        output, activations = answer
        activations = list(activations)
    except (TypeError, ValueError) as error:
        raise AnswerShapeError(
            "it should return (output, activations): the array f(X) and the list [A_0, ..., "
            "A_{L-1}] with A_0 = X"
        ) from error
    labels = ["the output f(X)"] + [f"activations[{i}] (A_{i})" for i in range(len(activations))]
    return arrays(*labels)([output, *activations])


# -- 1.2 the square loss and the output error ------------------------------------------------------


def _loss_cases(rng):
    square_loss = kernels.get("square_loss", "numpy")
    for description, rows, outputs in [
        ("8 rows, one output", 8, 1),
        ("5 rows, three outputs", 5, 3),
        ("one sample", 1, 2),
    ]:
        output, y = rng.normal(size=(rows, outputs)), rng.normal(size=(rows, outputs))
        delta = np.empty_like(output)
        loss = square_loss(output, y, delta)
        yield Case(description, dict(output=output, y=y), [("the loss", loss), ("delta", delta)])


# -- 1.3 the backward pass -------------------------------------------------------------------------


def _backward_cases(rng):
    for description, network, theta, weights, biases, X, y, slope, l2 in _networks(rng):
        loss, gradient = network.loss_and_gradient(theta, X, y)
        parts = [array for pair in network.weights(gradient) for array in pair]
        expected = list(zip(_layer_labels(len(weights), "the gradient of"), parts, strict=True))
        arguments = dict(weights=weights, biases=biases, X=X, y=y, negative_slope=slope, l2=l2)
        yield Case(description, arguments, expected, {"weights": weights, "X": X})


def _flatten_backward(answer):
    try:
        pairs = [tuple(pair) for pair in answer]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError
    except (TypeError, ValueError) as error:
        raise AnswerShapeError(
            "it should return a list with one pair (gradient of W_l, gradient of b_l) per layer"
        ) from error
    labels = _layer_labels(len(pairs), "the gradient of")
    return arrays(*labels)([array for pair in pairs for array in pair])


def _bias_has_batch_shape(case, got):
    rows = len(case.arguments["X"])
    return any(
        np.shape(array) == (rows, want.shape[0]) and rows > 1
        for (label, want), (_, array) in zip(case.expected, got, strict=False)
        if " b" in label
    )


def _misses_ridge(case, got):
    l2 = case.arguments["l2"]
    return l2 > 0 and all(
        np.allclose(array, want - (l2 * case.arguments["weights"][i // 2] if i % 2 == 0 else 0))
        for i, ((_, want), (_, array)) in enumerate(zip(case.expected, got, strict=True))
    )


def _scaled_by_rows(case, got):
    rows = len(case.arguments["X"])
    return rows > 1 and all(
        np.allclose(array, rows * want)
        for (_, want), (_, array) in zip(case.expected, got, strict=False)
    )


# -- 1.4 momentum and Nesterov; 1.5 Adam -----------------------------------------------------------


def _gradient_sequences(rng):
    yield "five steps on 4 parameters", rng.normal(size=(5, 4))
    yield "one step", rng.normal(size=(1, 3))
    yield (
        "a zero gradient in the middle",
        np.vstack([rng.normal(size=(2, 3)), np.zeros((1, 3)), rng.normal(size=(2, 3))]),
    )


def _directions(rule, gradients) -> np.ndarray:
    rule.start(gradients.shape[1])
    return np.array([rule.direction(gradient).copy() for gradient in gradients])


def _momentum_cases(rng):
    for description, gradients in _gradient_sequences(rng):
        for nesterov in (False, True):
            rule = steps.Momentum(momentum=0.8, nesterov=nesterov)
            expected = [("the directions", _directions(rule, gradients))]
            form = "Nesterov" if nesterov else "heavy ball"
            arguments = dict(gradients=gradients, momentum=0.8, nesterov=nesterov)
            yield Case(f"{form}, {description}", arguments, expected)


def _adam_cases(rng):
    for description, gradients in _gradient_sequences(rng):
        for beta1, beta2 in ((0.9, 0.999), (0.5, 0.8)):
            rule = steps.Adam(beta1=beta1, beta2=beta2, epsilon=1e-8)
            expected = [("the directions", _directions(rule, gradients))]
            arguments = dict(gradients=gradients, beta1=beta1, beta2=beta2, epsilon=1e-8)
            yield Case(f"beta1={beta1}, beta2={beta2}, {description}", arguments, expected)


def _nesterov_returns_velocity(case, got):
    if not case.arguments["nesterov"]:
        return False
    velocity = np.cumsum(case.arguments["gradients"][:1], axis=0)
    return np.allclose(got[0][1][:1], velocity)


def _adam_without_correction(case, got):
    gradients = case.arguments["gradients"]
    beta1, beta2 = case.arguments["beta1"], case.arguments["beta2"]
    first = (1 - beta1) * gradients[0]
    second = (1 - beta2) * gradients[0] ** 2
    return np.allclose(got[0][1][0], first / (np.sqrt(second) + case.arguments["epsilon"]))


EXERCISES = [
    Exercise(
        "1.1",
        "dense_forward",
        "the forward pass of a dense (leaky) ReLU network",
        "the shapes of W_l, b_l and Z_l, and that the last layer is linear",
        10,
        _forward_cases,
        _flatten_forward,
        "Z_l = A_{l-1} W_l + b_l; A_l = max(Z_l, a Z_l) for the hidden layers only; f(X) = Z_L.",
        [
            (
                lambda case, got: (
                    len(got) > 1
                    and np.allclose(got[0][1], np.maximum(case.expected[0][1], 0))
                    and not np.allclose(got[0][1], case.expected[0][1])
                ),
                "the last layer is linear: f(X) = Z_L, with no ReLU on it.",
            ),
            (
                lambda case, got: (
                    case.arguments["negative_slope"] > 0
                    and any(np.all(array >= 0) for _, array in got[2:])
                ),
                "with a leaky slope a, sigma(z) = max(z, a z): negative inputs give a z, not 0.",
            ),
        ],
    ),
    Exercise(
        "1.2",
        "square_loss_and_delta",
        "the square loss and its gradient with respect to the output",
        "where the 1/n of the mean convention goes",
        5,
        _loss_cases,
        arrays("the loss", "delta", shapes="(loss, delta): a float and an array like output"),
        "L = (1/2n) sum_i ||f(x_i) - y_i||^2 and Delta_L = dL/df = (f - Y)/n.",
        [
            (
                lambda case, got: (
                    np.allclose(got[1][1], case.expected[1][1] * len(case.arguments["y"]))
                    and len(case.arguments["y"]) > 1
                ),
                "Delta_L = (f - Y)/n: the loss is a mean over the n rows, so each row's error is "
                "divided by n.",
            ),
            (
                lambda case, got: np.isclose(got[0][1], 2 * case.expected[0][1]),
                "the loss has the factor 1/2 of (1/2n) sum ||f - y||^2 (it makes Delta_L = "
                "(f - Y)/n, without a 2).",
            ),
        ],
    ),
    Exercise(
        "1.3",
        "dense_backward",
        "the backward pass: the gradient of every W_l and b_l",
        "the chain rule layer by layer, the mask sigma'(Z), and the ridge term",
        25,
        _backward_cases,
        _flatten_backward,
        "start from Delta_L = (f - Y)/n; dL/dW_l = A_{l-1}^T Delta_l + l2 W_l, "
        "dL/db_l = 1^T Delta_l, Delta_{l-1} = (Delta_l W_l^T) * sigma'(Z_{l-1}) with sigma'(z) = "
        "1 for z > 0 and a otherwise.",
        [
            (
                _bias_has_batch_shape,
                "the bias gradient sums over the batch; yours has the batch's shape (dL/db_l = "
                "1^T Delta_l).",
            ),
            (
                _misses_ridge,
                "the ridge term (l2/2)||W_l||^2 adds l2 W_l to each weight gradient (not to the "
                "biases).",
            ),
            (
                _scaled_by_rows,
                "every gradient is n times too large: Delta_L = (f - Y)/n, the loss is a mean.",
            ),
            (
                lambda case, got: case.arguments["negative_slope"] > 0,
                "with a leaky slope, sigma'(z) = a (not 0) where z <= 0: the error of a unit that "
                "is off is scaled by a, not dropped.",
            ),
        ],
    ),
    Exercise(
        "1.4",
        "momentum_directions",
        "the directions of heavy-ball momentum and Nesterov over several steps",
        "momentum as a direction: a velocity u that accumulates gradients",
        10,
        _momentum_cases,
        arrays("the directions", shapes="an array of shape (steps, parameters)"),
        "u starts at 0; each step u <- mu u + g; heavy ball d = u, Nesterov d = g + mu u (with "
        "the updated u).",
        [
            (
                _nesterov_returns_velocity,
                "Nesterov looks ahead: d = g + mu u with the updated velocity u, not u itself.",
            ),
        ],
    ),
    Exercise(
        "1.5",
        "adam_directions",
        "Adam's direction over several steps",
        "why Adam's step is not a step along the gradient: the bias-corrected moments",
        10,
        _adam_cases,
        arrays("the directions", shapes="an array of shape (steps, parameters)"),
        "m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2, d = (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + "
        "eps), with t counted from 1.",
        [
            (
                _adam_without_correction,
                "the moments start at 0, so they are biased towards 0: divide m by 1 - b1^t and "
                "v by 1 - b2^t (t = 1 on the first step).",
            ),
        ],
    ),
]
