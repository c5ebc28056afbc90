"""relustep.minimize on functions whose minimum is known."""

import numpy as np
import pytest

import relustep
from relustep import steps


def bowl(x, scales):
    return 0.5 * np.sum(scales * x * x), scales * x


def rosenbrock(x):
    value = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    gradient = np.array(
        [-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)]
    )
    return value, gradient


def test_constant_step_on_a_bowl_contracts_as_theory_says():
    scales = np.array([1.0, 4.0])
    result = relustep.minimize(bowl, [1.0, 1.0], steps.Constant(lr=0.1), args=(scales,), maxiter=3)
    # each coordinate is multiplied by (1 - lr * scale) per step
    np.testing.assert_allclose(result.x, (1 - 0.1 * scales) ** 3, rtol=1e-14)
    assert result.nit == 3 and not result.success


@pytest.mark.parametrize(
    "rule",
    [steps.Constant(lr=0.1), steps.Momentum(lr=0.05, momentum=0.5), steps.Adam(lr=0.05)],
)
def test_rules_reach_the_minimum_of_a_bowl(rule):
    result = relustep.minimize(
        bowl, [3.0, -2.0, 1.0], rule, args=(np.array([1, 2, 5.0]),), maxiter=5000, gtol=1e-6
    )
    assert result.success, result.message
    np.testing.assert_allclose(result.x, 0, atol=1e-5)


@pytest.mark.parametrize(
    "rule, iterations",
    [(steps.Momentum(lr=1e-3, momentum=0.9), 20000), (steps.Adam(lr=0.02), 20000)],
)
def test_rosenbrock(rule, iterations):
    result = relustep.minimize(rosenbrock, [-1.2, 1.0], rule, maxiter=iterations, gtol=1e-5)
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-3)


def test_history_of_minimize():
    result = relustep.minimize(bowl, [1.0, 1.0], "constant", args=(np.ones(2),), maxiter=7)
    history = result.history
    assert len(history) == 7
    assert all(len(history[key]) == 7 for key in history.step_keys)
    assert history["n_forward"] == [1] * 7
    assert history["loss"][0] == pytest.approx(1.0)
    assert result.nfev == 8  # seven steps and the final evaluation


def test_divergence_is_reported_and_x_kept_finite():
    result = relustep.minimize(
        bowl, [1.0, 1.0], steps.Constant(lr=1e200), args=(np.ones(2),), maxiter=50
    )
    assert not result.success
    assert "loss became" in result.message
    assert np.all(np.isfinite(result.x))


def test_a_converged_point_is_not_moved():
    result = relustep.minimize(
        bowl, [1e-9, 0.0], steps.Constant(lr=0.5), args=(np.ones(2),), gtol=1e-6
    )
    assert result.success and result.nit == 0
    np.testing.assert_array_equal(result.x, [1e-9, 0.0])


def test_callback_can_stop():
    seen = []
    result = relustep.minimize(
        bowl,
        [1.0],
        "constant",
        args=(np.ones(1),),
        maxiter=100,
        callback=lambda x: seen.append(x) or len(seen) == 4,
    )
    assert result.nit == 4 and result.message == "stopped by callback"


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"x0": [[1.0, 2.0]]}, "x0"),
        ({"x0": [np.nan, 1.0]}, "x0"),
        ({"x0": []}, "x0"),
        ({"x0": ["a", "b"]}, "x0"),
        ({"maxiter": 0}, "maxiter"),
        ({"gtol": -1.0}, "gtol"),
        ({"step": "newton"}, "step"),
        ({"fun": 3}, "fun"),
    ],
)
def test_bad_input_is_named(kwargs, argument):
    arguments = {"fun": lambda x: (float(x @ x), 2 * x), "x0": [1.0, 2.0], **kwargs}
    with pytest.raises((ValueError, TypeError), match=argument):
        relustep.minimize(**arguments)


def test_fun_returning_the_wrong_thing_is_explained():
    with pytest.raises(TypeError, match="pair"):
        relustep.minimize(lambda x: float(x @ x), [1.0])
    with pytest.raises(ValueError, match="gradient"):
        relustep.minimize(lambda x: (float(x @ x), np.ones(5)), [1.0])


def nan_gradient(x):
    return 1.0, np.full_like(x, np.nan)


def test_a_non_finite_returned_point_is_a_failure_not_maxiter():
    result = relustep.minimize(nan_gradient, [1.0, 2.0, 3.0], "constant", maxiter=5)
    assert not result.success
    assert result.message.startswith("failed")
    assert "jac" in result.message
    if not np.all(np.isfinite(result.x)):
        assert "x" in result.message.split("not finite")[0]


def test_a_finite_run_that_stops_at_maxiter_says_so():
    result = relustep.minimize(bowl, [1.0, 1.0], "constant", args=(np.ones(2),), maxiter=2)
    assert not result.success and result.message == "reached maxiter=2"
