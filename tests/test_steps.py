"""The baseline step rules against their formulas written out by hand."""

from types import SimpleNamespace

import numpy as np
import pytest

from relustep import steps
from relustep.steps.base import Line


def line_for(gradient, rule):
    objective = SimpleNamespace(loss=lambda t: 0.0)
    return Line(np.zeros_like(gradient), gradient, rule.direction(gradient), 1.0, objective)


def run(rule, gradients):
    rule.start(gradients[0].size)
    taken = []
    for gradient in gradients:
        line = line_for(gradient, rule)
        taken.append(rule.size(line) * line.direction.copy())
    return taken


def test_constant_moves_by_lr_times_gradient(rng):
    gradient = rng.normal(size=5)
    (move,) = run(steps.Constant(lr=0.3), [gradient])
    np.testing.assert_allclose(move, 0.3 * gradient)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_by_hand(rng, nesterov):
    gradients = [rng.normal(size=4) for _ in range(4)]
    moves = run(steps.Momentum(lr=0.1, momentum=0.8, nesterov=nesterov), gradients)
    velocity = np.zeros(4)
    for gradient, move in zip(gradients, moves, strict=True):
        velocity = 0.8 * velocity + gradient
        expected = 0.1 * (gradient + 0.8 * velocity if nesterov else velocity)
        np.testing.assert_allclose(move, expected, rtol=1e-13)


def test_momentum_zero_is_gradient_descent(rng):
    gradients = [rng.normal(size=4) for _ in range(3)]
    moves = run(steps.Momentum(lr=0.1, momentum=0.0), gradients)
    for gradient, move in zip(gradients, moves, strict=True):
        np.testing.assert_allclose(move, 0.1 * gradient, rtol=1e-14)


def test_adam_by_hand(rng):
    gradients = [rng.normal(size=6) for _ in range(5)]
    moves = run(steps.Adam(lr=0.01, beta1=0.8, beta2=0.99, epsilon=1e-6), gradients)
    m, v = np.zeros(6), np.zeros(6)
    for t, (gradient, move) in enumerate(zip(gradients, moves, strict=True), start=1):
        m = 0.8 * m + 0.2 * gradient
        v = 0.99 * v + 0.01 * gradient**2
        expected = 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.99**t)) + 1e-6)
        np.testing.assert_allclose(move, expected, rtol=1e-12)


def test_line_probe_evaluates_the_moved_point(rng):
    theta, direction = rng.normal(size=3), rng.normal(size=3)
    line = Line(theta, direction, direction, 0.0, SimpleNamespace(loss=lambda t: float(t @ t)))
    assert line.probe(0.5) == pytest.approx(np.sum((theta - 0.5 * direction) ** 2))
    assert line.n_probes == 1
    assert line.slope == pytest.approx(-direction @ direction)
    np.testing.assert_array_equal(line.theta, theta)  # probing leaves theta alone


def test_get_builds_from_names_dicts_and_objects():
    assert isinstance(steps.get("adam"), steps.Adam)
    assert steps.get("nesterov").nesterov is True
    assert steps.get("sgd").lr == steps.Constant().lr
    assert steps.get({"name": "constant", "lr": 0.5}).lr == 0.5
    rule = steps.Adam(lr=0.02)
    copy = steps.get(rule)
    assert copy is not rule and copy.lr == 0.02
    for name in steps.names():
        rebuilt = steps.get(steps.get(name).get_config())
        assert rebuilt.get_config() == steps.get(name).get_config()


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: steps.Constant(lr=0.0), "lr"),
        (lambda: steps.Constant(lr=-1), "lr"),
        (lambda: steps.Constant(lr=float("nan")), "lr"),
        (lambda: steps.Momentum(momentum=1.0), "momentum"),
        (lambda: steps.Momentum(momentum=-0.1), "momentum"),
        (lambda: steps.Adam(beta1=1.0), "beta1"),
        (lambda: steps.Adam(beta2=2.0), "beta2"),
        (lambda: steps.Adam(epsilon=0.0), "epsilon"),
        (lambda: steps.get("adagrad"), "step"),
        (lambda: steps.get({"name": "adam", "momentum": 0.9}), "step"),
    ],
)
def test_bad_settings_are_named(make, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        make()


def test_wrong_types_are_named():
    with pytest.raises(TypeError, match="lr"):
        steps.Constant(lr="fast")
    with pytest.raises(TypeError, match="nesterov"):
        steps.Momentum(nesterov="yes")
    with pytest.raises(TypeError, match="step"):
        steps.get(3.0)
