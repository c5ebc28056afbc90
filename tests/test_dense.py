"""The dense network's explicit gradients against central differences, and its forward pass."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relustep.gradcheck import check_gradient
from relustep.models.dense import DenseReLUNetwork


def problem(hidden, loss, n_outputs=3, n=9, d=4, l2=0.0, slope=0.0, backend="numba", seed=0):
    rng = np.random.default_rng(seed)
    net = DenseReLUNetwork(
        d, hidden, n_outputs, loss=loss, l2=l2, negative_slope=slope, backend=backend
    )
    theta = net.init_parameters(rng)
    theta += 0.1 * rng.normal(size=theta.size)  # nonzero biases, so every block is tested
    X = rng.normal(size=(n, d))
    y = rng.normal(size=(n, n_outputs)) if loss == "square" else rng.integers(0, n_outputs, n)
    return net, theta, X, y


@pytest.mark.parametrize("hidden", [(), (5,), (6, 4), (5, 4, 3)])
@pytest.mark.parametrize("loss", ["square", "softmax"])
@pytest.mark.parametrize("l2, slope", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.2)])
def test_gradient_matches_central_differences(hidden, loss, l2, slope):
    net, theta, X, y = problem(hidden, loss, l2=l2, slope=slope)
    error = check_gradient(
        lambda t: net.loss(t, X, y), lambda t: net.loss_and_gradient(t, X, y)[1], theta
    )
    assert error < 1e-7


@settings(max_examples=25, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 6), min_size=0, max_size=3),
    loss=st.sampled_from(["square", "softmax"]),
    slope=st.sampled_from([0.0, 0.01, 0.5]),
    seed=st.integers(0, 10_000),
)
def test_gradient_on_random_networks(hidden, loss, slope, seed):
    net, theta, X, y = problem(tuple(hidden), loss, n_outputs=2, slope=slope, seed=seed)
    error = check_gradient(
        lambda t: net.loss(t, X, y), lambda t: net.loss_and_gradient(t, X, y)[1], theta
    )
    assert error < 1e-7


@pytest.mark.parametrize("slope", [0.0, 0.3])
def test_forward_matches_a_plain_loop(slope):
    net, theta, X, _ = problem((5, 4), "square", slope=slope)
    layers = net.weights(theta)
    for row in range(len(X)):
        a = X[row]
        for weights, bias in layers[:-1]:
            z = [a @ weights[:, j] + bias[j] for j in range(len(bias))]
            a = np.array([max(value, slope * value) for value in z])
        expected = a @ layers[-1][0] + layers[-1][1]
        np.testing.assert_allclose(net.forward(theta, X[row : row + 1])[0], expected, rtol=1e-12)


def test_losses_have_the_documented_values():
    net, theta, X, y = problem((5,), "square")
    output = net.forward(theta, X)
    assert net.loss(theta, X, y) == pytest.approx(0.5 * np.mean(np.sum((output - y) ** 2, 1)))
    net, theta, X, labels = problem((5,), "softmax")
    logits = net.forward(theta, X)
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    assert net.loss(theta, X, labels) == pytest.approx(-np.mean(log_p[np.arange(9), labels]))


@pytest.mark.parametrize("loss", ["square", "softmax"])
def test_numpy_backend_gives_the_same_numbers(loss):
    net, theta, X, y = problem((6, 5), loss)
    twin = DenseReLUNetwork(4, (6, 5), 3, loss=loss, backend="numpy")
    loss_a, gradient_a = net.loss_and_gradient(theta, X, y)
    loss_b, gradient_b = twin.loss_and_gradient(theta, X, y)
    assert loss_a == pytest.approx(loss_b, rel=1e-13)
    np.testing.assert_allclose(gradient_a, gradient_b, rtol=1e-12, atol=1e-15)


def test_float32_is_kept():
    net, theta, X, y = problem((5,), "square")
    loss, gradient = net.loss_and_gradient(
        theta.astype(np.float32), X.astype(np.float32), y.astype(np.float32)
    )
    assert gradient.dtype == np.float32


def test_weights_are_views_of_theta():
    net, theta, _, _ = problem((5,), "square")
    net.weights(theta)[0][0][0, 0] = 42.0
    assert 42.0 in theta


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        DenseReLUNetwork(3, (4, 0), 1)
    with pytest.raises(ValueError, match="loss"):
        DenseReLUNetwork(3, (4,), 1, loss="hinge")
    with pytest.raises(ValueError, match="l2"):
        DenseReLUNetwork(3, (4,), 1, l2=-1.0)
    with pytest.raises(ValueError, match="n_inputs"):
        DenseReLUNetwork(0, (4,), 1)
    with pytest.raises(ValueError, match="negative_slope"):
        DenseReLUNetwork(3, (4,), 1, negative_slope=1.0)
