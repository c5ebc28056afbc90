"""QLABGrad and LQA: the exact line minimum on quadratics, every branch of the case analysis on a
constructed loss, the passes they cost, general directions, seeds and bad settings."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relustep
from relustep import steps
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.steps.base import Line
from relustep.steps.lqa import lqa_parabola
from relustep.steps.qlab import qlab_curvature
from relustep.train import Stepper, train


def quadratic(n, seed):
    """L(x) = x'Hx/2 - b'x with a random positive definite H."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n, n))
    hessian = factor @ factor.T + 0.1 * np.eye(n)
    shift = rng.normal(size=n)
    return hessian, shift, SimpleNamespace(loss=lambda x: float(0.5 * x @ hessian @ x - shift @ x))


def started(rule, n=1):
    rule.start(n)
    return rule


def along(q, slope=-1.0):
    """A line whose loss is the function q(alpha) given, with q'(0) = slope < 0 as the training
    pass would report it: one parameter, theta = 0 and g = d = sqrt(-slope)."""
    gradient = np.array([math.sqrt(-slope)])
    objective = SimpleNamespace(loss=lambda t: float(q(-t[0] / gradient[0])))
    return Line(np.zeros(1), gradient, gradient, float(q(0.0)), objective)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    trial_factor=st.floats(0.01, 100.0),
    name=st.sampled_from(["qlab", "lqa"]),
    general=st.booleans(),
)
def test_exact_line_minimum_on_a_quadratic_for_any_trial_step(n, seed, trial_factor, name, general):
    hessian, shift, objective = quadratic(n, seed)
    rng = np.random.default_rng(seed + 1)
    theta = rng.normal(size=n)
    gradient = hessian @ theta - shift
    direction = (
        gradient + 0.5 * rng.normal(size=n) * np.linalg.norm(gradient) if general else gradient
    )
    if gradient @ direction <= 1e-9 * np.linalg.norm(gradient) * np.linalg.norm(direction):
        direction = gradient
    best = (gradient @ direction) / (direction @ hessian @ direction)  # g'd / d'Hd
    trial = trial_factor * best
    rule = started(steps.QLAB(initial_step=trial) if name == "qlab" else steps.LQA(delta=trial), n)
    line = Line(theta, gradient, direction, objective.loss(theta), objective)
    assert rule.size(line) == pytest.approx(best, rel=1e-7)
    assert rule.take_counts() == dict.fromkeys(rule.fallbacks, 0)
    curvature = direction @ hessian @ direction
    assert rule.take_logged() == pytest.approx(
        {"trial_step": trial, "curvature": curvature}, rel=1e-6
    )


def test_parabola_formulas_on_a_known_parabola():
    # q(alpha) = 3 - 2 alpha + 5 alpha^2: q'(0) = -2, q'' = 10
    def q(alpha):
        return 3.0 - 2.0 * alpha + 5.0 * alpha**2

    assert qlab_curvature(3.0, -2.0, 0.7, q(0.7)) == pytest.approx(10.0, rel=1e-13)
    slope, curvature = lqa_parabola(3.0, 0.4, q(0.4), q(-0.4))
    assert slope == pytest.approx(-2.0, rel=1e-13) and curvature == pytest.approx(10.0, rel=1e-13)


@pytest.mark.parametrize("name", ["qlab", "lqa"])
def test_not_a_descent_direction_takes_no_step_and_no_probe(name):
    rule = started(steps.get(name))
    for gradient, direction in [(0.0, 0.0), (1.0, -1.0)]:  # a zero gradient, an uphill direction
        objective = SimpleNamespace(loss=lambda t: 0.0)
        line = Line(np.zeros(1), np.array([gradient]), np.array([direction]), 0.0, objective)
        assert rule.size(line) == 0.0 and line.n_probes == 0
        assert rule.take_counts()["not_descent"] == 1


def test_qlab_positive_curvature_and_trial_update():
    rule = started(steps.QLAB(initial_step=3.0))
    line = along(lambda a: 1.0 - a + a**2)  # q'(0) = -1, q'' = 2: minimum at 1/2
    assert rule.size(line) == pytest.approx(0.5, rel=1e-13)
    assert line.n_probes == 1 and rule.trial_step == pytest.approx(0.5, rel=1e-13)
    assert rule.take_logged() == pytest.approx({"trial_step": 3.0, "curvature": 2.0})


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_qlab_nonpositive_curvature_keeps_the_trial_step(factor):
    rule = started(steps.QLAB(initial_step=0.25, concave_factor=factor))
    line = along(lambda a: 1.0 - a - a**2)  # concave: the probe lies below the tangent
    assert rule.size(line) == pytest.approx(factor * 0.25, rel=1e-13)
    assert rule.take_counts()["nonpositive_curvature"] == 1
    line = along(lambda a: 1.0 - a)  # linear: a zero curvature cannot be told from rounding
    assert rule.size(line) == pytest.approx(factor**2 * 0.25, rel=1e-13)
    assert rule.take_counts()["unresolved"] == 1


@pytest.mark.parametrize("name", ["qlab", "lqa"])
def test_nonfinite_probe_skips_the_step_and_shrinks_the_trial(name):
    rule = started(steps.get({"name": name, "shrink": 0.25}))
    before = rule.trial_step
    line = along(lambda a: 1.0 if a == 0 else math.inf)
    assert rule.size(line) == 0.0
    assert rule.take_counts()["nonfinite"] == 1
    assert rule.trial_step == pytest.approx(0.25 * before)
    nan_gradient = Line(
        np.zeros(1),
        np.array([np.nan]),
        np.array([np.nan]),
        1.0,
        SimpleNamespace(loss=lambda t: 1.0),
    )
    assert rule.size(nan_gradient) == 0.0 and rule.take_counts()["nonfinite"] == 1


@pytest.mark.parametrize("name", ["qlab", "lqa"])
def test_max_lr_caps_the_step(name):
    rule = started(steps.get({"name": name, "max_lr": 0.1}))
    line = along(lambda a: 1.0 - a + a**2)  # minimum at 1/2
    assert rule.size(line) == 0.1
    assert rule.take_counts()["capped"] == 1


def test_lqa_positive_curvature_uses_central_differences():
    rule = started(steps.LQA(delta=0.3))
    # the slope that the probes see is -1, although the line says otherwise: LQA estimates it
    line = along(lambda a: 2.0 - a + 4.0 * a**2, slope=-7.0)
    assert rule.size(line) == pytest.approx(1.0 / 8.0, rel=1e-12)
    assert line.n_probes == 2


@pytest.mark.parametrize("delta_rule, expected_next", [("previous", 1.0 / 8.0), ("fixed", 0.3)])
def test_lqa_delta_rule(delta_rule, expected_next):
    rule = started(steps.LQA(delta=0.3, delta_rule=delta_rule))
    rule.size(along(lambda a: 2.0 - a + 4.0 * a**2))
    assert rule.trial_step == pytest.approx(expected_next, rel=1e-12)


def test_lqa_nonpositive_curvature_steps_a_bit_past_delta():
    rule = started(steps.LQA(delta=0.2))
    assert rule.size(along(lambda a: 1.0 - a - a**2)) == pytest.approx(1.05 * 0.2, rel=1e-13)
    assert rule.take_counts()["nonpositive_curvature"] == 1


def test_lqa_uphill_estimate_skips_and_shrinks():
    # q = -a + a^2 + a^3 falls at 0, but seen from -2 and 2 it rises: c = 2 > 0, b = 3 > 0
    rule = started(steps.LQA(delta=2.0, shrink=0.5))
    assert rule.size(along(lambda a: -a + a**2 + a**3)) == 0.0
    assert rule.take_counts()["uphill_estimate"] == 1
    assert rule.trial_step == 1.0


def test_history_counts_the_extra_forward_passes():
    data = relustep.datasets.load("digits")
    X, y = data.X_train[:300], data.y_train[:300]
    for name, passes in [("qlab", 2), ("lqa", 3), ("constant", 1)]:
        model = relustep.MLPClassifier((16,), step=name, epochs=1, batch_size=50, random_state=0)
        history = model.fit(X, y).history_
        assert history["n_forward"] == [passes] * 6 and history["n_backward"] == [1] * 6
        if name != "constant":
            assert len(history["trial_step"]) == 6 and np.all(np.isfinite(history["curvature"]))
            assert history["trial_step"][1] == history["step_size"][0]  # alpha_{t-1} is probed


@pytest.mark.parametrize("name", ["qlab", "lqa"])
def test_general_direction_uses_the_other_rule_and_the_general_slope(name):
    hessian, shift, objective = quadratic(4, seed=3)
    theta = np.ones(4)
    rule = started(steps.get({"name": name, "direction": {"name": "momentum", "momentum": 0.5}}), 4)
    reference = started(steps.Momentum(momentum=0.5), 4)
    for _ in range(3):
        gradient = hessian @ theta - shift
        direction = rule.direction(gradient)
        np.testing.assert_allclose(direction, reference.direction(gradient), rtol=1e-14)
        line = Line(theta, gradient, direction, objective.loss(theta), objective)
        alpha = rule.size(line)
        if gradient @ direction > 0:
            assert alpha == pytest.approx(
                gradient @ direction / (direction @ hessian @ direction), rel=1e-7
            )
        theta = theta - alpha * direction
        rule.n_steps += 1
        reference.n_steps += 1


def test_minimize_reaches_the_minimum_of_a_bowl():
    hessian, shift, _ = quadratic(5, seed=0)
    solution = np.linalg.solve(hessian, shift)

    def bowl(x):
        return 0.5 * x @ hessian @ x - shift @ x, hessian @ x - shift

    for name in ("qlab", "lqa"):
        result = relustep.minimize(bowl, np.zeros(5), step=name, maxiter=5000, gtol=1e-8)
        assert result.success, (name, result.message)
        np.testing.assert_allclose(result.x, solution, atol=1e-6)


def test_normalised_probe_of_the_official_codes_scales_the_step_by_max_abs_gradient():
    """Probing along u = g / max|g| but stepping along g moves max|g| times too far."""
    hessian, shift, objective = quadratic(3, seed=5)
    theta = np.array([1.0, -2.0, 0.5])
    gradient = hessian @ theta - shift
    largest = np.max(np.abs(gradient))
    normalised = gradient / largest
    rule = started(steps.QLAB(initial_step=0.1), 3)
    beta = rule.size(Line(theta, gradient, normalised, objective.loss(theta), objective))
    best = gradient @ gradient / (gradient @ hessian @ gradient)
    assert beta == pytest.approx(largest * best, rel=1e-8)  # the official step along g


@pytest.mark.parametrize("name", ["qlab", "lqa"])
def test_same_seed_same_bits(name):
    data = relustep.datasets.load("digits")
    X, y = data.X_train[:200], data.y_train[:200]
    fits = [
        relustep.MLPClassifier((8,), step=name, epochs=2, batch_size=50, random_state=4).fit(X, y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].parameters_, fits[1].parameters_)
    for key in fits[0].history_.step_keys:
        if key != "seconds":
            assert fits[0].history_[key] == fits[1].history_[key], key


def test_float32_is_kept():
    data = relustep.datasets.teacher_network(100, 3, 4, random_state=0)
    model = relustep.ReLURegressor(
        (6,), step="lqa", epochs=2, batch_size=25, random_state=0, dtype="float32"
    ).fit(data.X_train, data.y_train)
    assert model.parameters_.dtype == np.float32
    assert np.all(np.isfinite(model.history_["step_size"]))


def test_config_round_trip():
    for rule in (
        steps.QLAB(initial_step=0.2, max_lr=0.5, direction="adam"),
        steps.LQA(delta=0.05, delta_rule="fixed", direction="nesterov"),
    ):
        rebuilt = steps.get(rule.get_config())
        assert rebuilt.get_config() == rule.get_config()
        assert type(rebuilt) is type(rule)


def test_trainer_logs_the_trial_step_and_curvature():
    net = DenseReLUNetwork(3, (4,), 1)
    rng = np.random.default_rng(0)
    theta = net.init_parameters(rng)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    rule = started(steps.QLAB(), theta.size)
    history = History(rule.fallbacks)
    train(net, theta, X, y, rule, history, epochs=2, batch_size=20, rng=rng)
    assert history["trial_step"][0] == 0.01
    assert len(history["curvature"]) == len(history) == 4
    stepper = Stepper(theta, steps.get("constant"), history)  # a rule without logged values
    assert stepper.history is history


@pytest.mark.parametrize(
    "make, argument, error",
    [
        (lambda: steps.QLAB(initial_step=0.0), "initial_step", ValueError),
        (lambda: steps.QLAB(initial_step=float("nan")), "initial_step", ValueError),
        (lambda: steps.QLAB(initial_step="big"), "initial_step", TypeError),
        (lambda: steps.QLAB(concave_factor=0.0), "concave_factor", ValueError),
        (lambda: steps.QLAB(shrink=1.0), "shrink", ValueError),
        (lambda: steps.QLAB(shrink=0.0), "shrink", ValueError),
        (lambda: steps.QLAB(max_lr=-1.0), "max_lr", ValueError),
        (lambda: steps.QLAB(resolution=-1.0), "resolution", ValueError),
        (lambda: steps.LQA(resolution=float("inf")), "resolution", ValueError),
        (lambda: steps.QLAB(max_lr=float("inf")), "max_lr", ValueError),
        (lambda: steps.QLAB(direction="qlab"), "direction", ValueError),
        (lambda: steps.QLAB(direction="rmsprop"), "direction", ValueError),
        (lambda: steps.QLAB(direction=3), "direction", TypeError),
        (lambda: steps.LQA(delta=-0.1), "delta", ValueError),
        (lambda: steps.LQA(delta_rule="adaptive"), "delta_rule", ValueError),
        (lambda: steps.LQA(delta_rule=None), "delta_rule", TypeError),
        (lambda: steps.LQA(direction="lqa"), "direction", ValueError),
        (lambda: steps.get({"name": "lqa", "initial_step": 0.1}), "step", TypeError),
    ],
)
def test_bad_settings_are_named(make, argument, error):
    with pytest.raises(error, match=argument):
        make()


@pytest.mark.parametrize("name, factor", [("qlab", 1.0), ("lqa", 1.05)])
def test_probe_lost_in_rounding_is_unresolved(name, factor):
    rule = started(steps.get({"name": name, "concave_factor": factor}))
    trial = rule.trial_step
    flat = along(lambda a: 1.0, slope=-1e-30)  # the probes cannot see a slope this small
    assert rule.size(flat) == pytest.approx(factor * trial, rel=1e-13)
    assert rule.take_counts()["unresolved"] == 1
