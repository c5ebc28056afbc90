"""The exact line search against a dense brute-force minimum, its kernels against their twins,
the numerical fallback, and the optimality column of the history."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import relustep
from relustep import kernels, steps
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.steps.base import Line
from relustep.steps.exact import (
    ExactLineSearch,
    decrease_ratio,
    dense_network_line,
    exact_line_minimum,
)
from relustep.train import BatchObjective, Stepper, train


def network_problem(n, d, h, q, slope, l2, seed, direction_scale=1.0, use_gradient=False):
    rng = np.random.default_rng(seed)
    net = DenseReLUNetwork(d, (h,), q, negative_slope=slope, l2=l2)
    theta = net.init_parameters(rng)
    theta += 0.3 * rng.normal(size=theta.size)
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, q))
    if use_gradient:
        direction = net.loss_and_gradient(theta, X, y)[1] * direction_scale
    else:
        direction = direction_scale * rng.normal(size=theta.size)
    return net, theta, X, y, direction


def losses_along(net, theta, direction, X, y, alphas):
    """The loss at theta - alpha d for many alphas at once, straight from the network's
    definition (independent of the sweep): a brute force."""
    (W1, b1), (W2, b2) = net.weights(theta)
    (dW1, db1), (dW2, db2) = net.weights(direction)
    a = alphas[:, None, None]
    Z = (X @ W1 + b1)[None] - a * (X @ dW1 + db1)[None]
    hidden = np.maximum(Z, net.negative_slope * Z)
    output = np.einsum("anh,ahq->anq", hidden, W2[None] - a * dW2[None]) + (b2 - a * db2)
    residual = output - y[None]
    ridge = (
        0.5
        * net.l2
        * (
            np.sum((W1[None] - a * dW1[None]) ** 2, axis=(1, 2))
            + np.sum((W2[None] - a * dW2[None]) ** 2, axis=(1, 2))
        )
    )
    return 0.5 * np.sum(residual**2, axis=(1, 2)) / len(X) + ridge


def brute_force_minimum(net, theta, direction, X, y, upper, n_points=20001, per_piece=200):
    """A dense grid on [0, upper], made denser on every piece between breakpoints (so that no
    narrow dip is stepped over), then a bounded scalar search between the best point's
    neighbours."""
    (W1, b1), _ = net.weights(theta)
    (dW1, db1), _ = net.weights(direction)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ((X @ W1 + b1) / (X @ dW1 + db1)).ravel()
    edges = np.unique(np.concatenate([[0.0, upper], ratio[(ratio > 0) & (ratio < upper)]]))
    pieces = [
        np.linspace(left, right, per_piece)
        for left, right in zip(edges[:-1], edges[1:], strict=True)
    ]
    alphas = np.unique(np.concatenate([np.linspace(0.0, upper, n_points), *pieces]))
    values = losses_along(net, theta, direction, X, y, alphas)
    best = int(np.argmin(values))
    low, high = alphas[max(best - 1, 0)], alphas[min(best + 1, len(alphas) - 1)]
    refined = minimize_scalar(
        lambda a: losses_along(net, theta, direction, X, y, np.array([a]))[0],
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-13},
    )
    return min(values[best], refined.fun)


def search_range(net, theta, direction, X, alpha):
    """Beyond the last breakpoint the loss is one quartic; go well past it and past alpha."""
    (W1, b1), _ = net.weights(theta)
    (dW1, db1), _ = net.weights(direction)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (X @ W1 + b1) / (X @ dW1 + db1)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    last = ratio.max() if ratio.size else 0.0
    return 3.0 * max(last, alpha, 0.1)


def test_brute_force_helper_is_the_network_loss():
    net, theta, X, y, direction = network_problem(7, 3, 5, 2, 0.2, 0.1, seed=1)
    alphas = np.array([0.0, 0.3, 1.7])
    expected = [net.loss(theta - a * direction, X, y) for a in alphas]
    np.testing.assert_allclose(
        losses_along(net, theta, direction, X, y, alphas), expected, rtol=1e-13
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 4),
    h=st.integers(1, 7),
    q=st.integers(1, 3),
    slope=st.sampled_from([0.0, 0.0, 0.1, 0.5]),
    l2=st.sampled_from([0.0, 0.05]),
    direction_scale=st.sampled_from([0.1, 1.0, 10.0]),
    use_gradient=st.booleans(),
    seed=st.integers(0, 100_000),
)
# cases that once failed: the last piece after every unit switched off (1167, 11648), and a
# narrow dip that a uniform grid steps over (56698)
@example(n=7, d=4, h=1, q=3, slope=0.0, l2=0.0, direction_scale=0.1, use_gradient=True, seed=1167)
@example(n=1, d=1, h=2, q=1, slope=0.0, l2=0.0, direction_scale=1.0, use_gradient=True, seed=11648)
@example(n=9, d=2, h=5, q=1, slope=0.0, l2=0.0, direction_scale=0.1, use_gradient=True, seed=56698)
def test_exact_minimum_equals_brute_force(
    n, d, h, q, slope, l2, direction_scale, use_gradient, seed
):
    net, theta, X, y, direction = network_problem(
        n, d, h, q, slope, l2, seed, direction_scale, use_gradient
    )
    alpha, value = exact_line_minimum(dense_network_line(net, theta, direction, X, y))
    true_value = net.loss(theta - alpha * direction, X, y)
    scale = 1.0 + abs(net.loss(theta, X, y))
    assert alpha >= 0.0
    assert value == pytest.approx(true_value, abs=1e-10 * scale)
    upper = search_range(net, theta, direction, X, alpha)
    brute = brute_force_minimum(net, theta, direction, X, y, upper)
    assert true_value <= brute + 1e-10 * scale  # no point of the dense search is lower
    assert brute <= true_value + 1e-8 * scale  # and the dense search finds it


@pytest.mark.parametrize("slope, l2", [(0.0, 0.0), (0.2, 1e-3)])
def test_directions_crossing_many_breakpoints(slope, l2):
    """The line from random weights to a teacher's: the loss is zero at alpha = 1 (without ridge)
    and about half of the 50 x 25 units change sign on the way."""
    rng = np.random.default_rng(3)
    net = DenseReLUNetwork(4, (25,), 2, negative_slope=slope, l2=l2)
    teacher, theta = net.init_parameters(rng), net.init_parameters(rng)
    teacher += 0.3 * rng.normal(size=teacher.size)
    X = rng.normal(size=(50, 4))
    y = net.forward(teacher, X)
    direction = theta - teacher
    parts = dense_network_line(net, theta, direction, X, y)
    alpha, value = exact_line_minimum(parts)
    ratio = parts.pre_activation / parts.pre_activation_rate
    assert np.count_nonzero((ratio > 0) & (ratio < alpha)) > 400
    true_value = net.loss(theta - alpha * direction, X, y)
    assert value == pytest.approx(true_value, rel=1e-9, abs=1e-13)
    if l2 == 0.0:
        assert alpha == pytest.approx(1.0, rel=1e-7) and value == pytest.approx(0.0, abs=1e-13)
    brute = brute_force_minimum(net, theta, direction, X, y, 3.0, per_piece=10)
    assert true_value <= brute + 1e-12
    assert brute <= true_value + 1e-9


def test_zero_pre_activations_and_no_breakpoints():
    net = DenseReLUNetwork(2, (3,), 1)
    theta = np.zeros(net.layout.size)
    views = net.layout.views(theta)
    views["W1"][...] = [[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]
    views["W2"][...] = [[1.0], [1.0], [-2.0]]
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # the first row has Z = 0 exactly
    y = np.array([[1.0], [0.5], [-1.0]])
    direction = np.zeros_like(theta)
    net.layout.views(direction)["b1"][...] = [-1.0, 0.5, -2.0]  # zero units switch on or stay off
    net.layout.views(direction)["b2"][...] = [0.3]
    parts = dense_network_line(net, theta, direction, X, y)
    alpha, value = exact_line_minimum(parts)
    brute = brute_force_minimum(net, theta, direction, X, y, 20.0)
    assert value == pytest.approx(net.loss(theta - alpha * direction, X, y), rel=1e-12)
    assert value <= brute + 1e-12 and brute <= value + 1e-9
    # only the output bias moves: a parabola without breakpoints, minimum at the mean residual
    only_bias = np.zeros_like(theta)
    net.layout.views(only_bias)["b2"][...] = [1.0]
    alpha, value = exact_line_minimum(dense_network_line(net, theta, only_bias, X, y))
    residual = net.forward(theta, X) - y
    assert alpha == pytest.approx(float(np.mean(residual)), rel=1e-12)


def test_max_step_bounds_the_search():
    net, theta, X, y, direction = network_problem(10, 3, 6, 1, 0.0, 0.0, seed=5, use_gradient=True)
    parts = dense_network_line(net, theta, direction, X, y)
    alpha, _ = exact_line_minimum(parts)
    assert alpha > 0
    bounded, value = exact_line_minimum(parts, max_step=alpha / 3)
    assert bounded <= alpha / 3
    brute = brute_force_minimum(net, theta, direction, X, y, alpha / 3)
    assert value <= brute + 1e-12 and brute <= value + 1e-9
    assert (
        ExactLineSearch(max_step=alpha / 3)
        .search(Line(theta, direction, direction, net.loss(theta, X, y), BatchObjective(net, X, y)))
        .alpha
        <= alpha / 3
    )


@pytest.mark.nojit
@pytest.mark.parametrize(
    "slope, l2, q, max_step", [(0.0, 0.0, 1, math.inf), (0.3, 0.1, 3, math.inf), (0.0, 0.1, 2, 0.4)]
)
def test_sweep_matches_twin(slope, l2, q, max_step):
    net, theta, X, y, direction = network_problem(
        8, 3, 5, q, slope, l2, seed=7, direction_scale=2.0
    )
    parts = dense_network_line(net, theta, direction, X, y)
    results = [exact_line_minimum(parts, max_step, backend) for backend in kernels.BACKENDS]
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-9, abs=1e-12)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-12)


@pytest.mark.nojit
@pytest.mark.parametrize("max_step", [math.inf, 0.7])
def test_sorted_breakpoints_match_twin(rng, max_step):
    z0, z_rate = rng.normal(size=(20, 7)), rng.normal(size=(20, 7))
    z_rate[0, :2] = 0.0  # no breakpoint
    z0[1, :3] = 0.0  # breakpoint at zero: excluded
    z0[2, 0], z_rate[2, 0] = 1.0, 2.0  # a tie with the next unit
    z0[2, 1], z_rate[2, 1] = -1.5, -3.0
    kernel, twin = (kernels.get("sorted_breakpoints", b) for b in kernels.BACKENDS)
    for a, b in zip(kernel(z0, z_rate, max_step), twin(z0, z_rate, max_step), strict=True):
        np.testing.assert_array_equal(a, b)
    order, breakpoints, rates = kernel(z0, z_rate, max_step)
    assert np.all(np.diff(breakpoints) >= 0)
    assert np.all((breakpoints > 0) & (breakpoints <= max_step))
    ratio = (z0 / np.where(z_rate == 0, 1, z_rate)).ravel()
    np.testing.assert_array_equal(breakpoints, ratio[order])
    np.testing.assert_array_equal(rates, z_rate.ravel()[order])
    tie = np.flatnonzero(breakpoints == 0.5)
    np.testing.assert_array_equal(order[tie], [14, 15])  # ties keep flat-index order


def test_rule_steps_to_the_batch_minimum_and_is_counted():
    data = relustep.datasets.teacher_network(120, 3, 4, random_state=0)
    model = relustep.ReLURegressor((6,), step="exact", epochs=3, batch_size=40, random_state=0)
    model.fit(data.X_train, data.y_train)
    history = model.history_
    assert history.total("numerical") == 0 and history.total("nonfinite") == 0
    assert history["n_forward"] == [1 + 2] * len(history)  # the sweep counts as two passes
    assert history["epochs"]["train_loss"][-1] < history["loss"][0]


def test_optimality_of_the_exact_rule_is_one_and_others_at_most_one():
    net, theta, X, y, _ = network_problem(90, 3, 6, 1, 0.0, 0.0, seed=11)
    for rule, check in [("exact", "one"), ("constant", "at most one"), ("qlab", "at most one")]:
        step = steps.get(rule)
        step.start(theta.size)
        history = History(step.fallbacks)
        train(
            net,
            theta.copy(),
            X,
            y,
            step,
            history,
            epochs=2,
            batch_size=30,
            rng=np.random.default_rng(0),
            record_optimality=True,
        )
        ratios = np.array(history["optimality"])
        assert ratios.size == len(history) and np.all(np.isfinite(ratios)), rule
        if check == "one":
            np.testing.assert_allclose(ratios, 1.0, rtol=1e-9)
        else:
            assert np.all(ratios <= 1.0 + 1e-9), rule
        assert history["n_forward"][0] == {"exact": 3, "constant": 1, "qlab": 2}[rule]


def test_optimality_every_k_steps_and_not_charged():
    net, theta, X, y, _ = network_problem(60, 3, 5, 1, 0.0, 0.0, seed=2)
    runs = {}
    for every in (0, 3):
        rule = steps.Constant(lr=0.05)
        rule.start(theta.size)
        history = History()
        train(
            net,
            theta.copy(),
            X,
            y,
            rule,
            history,
            epochs=2,
            batch_size=10,
            rng=np.random.default_rng(0),
            record_optimality=every,
        )
        runs[every] = history
    assert "optimality" not in runs[0]
    ratios = np.array(runs[3]["optimality"])
    assert np.all(np.isfinite(ratios[::3]))
    assert np.all(np.isnan(np.delete(ratios, slice(None, None, 3))))
    assert runs[3]["loss"] == runs[0]["loss"]  # the oracle does not change the run
    assert runs[3]["n_forward"] == runs[0]["n_forward"]  # nor its counted passes


def test_numerical_search_on_other_models_says_so():
    data = relustep.datasets.load("digits")
    X, y = data.X_train[:200], data.y_train[:200]
    deep = relustep.MLPClassifier((8, 8), step="exact", epochs=1, batch_size=100, random_state=0)
    assert deep.fit(X, y).history_["numerical"] == [1, 1]
    shallow = relustep.MLPClassifier((8,), step="exact", epochs=1, batch_size=100, random_state=0)
    assert shallow.fit(X, y).history_["numerical"] == [0, 0]  # certified by branch and bound
    rule = ExactLineSearch()
    assert rule.get_config()["name"] == "exact"
    # on a known one-dimensional line the grid and Brent's method find the minimum
    objective = SimpleNamespace(loss=lambda t: float((t[0] + 3.0) ** 2 + 1.0))
    line = Line(np.zeros(1), np.ones(1), np.ones(1), objective.loss(np.zeros(1)), objective)
    minimum = rule.search(line)
    assert not minimum.exact and "numerical" in minimum.method
    assert minimum.alpha == pytest.approx(3.0, rel=1e-7)
    assert rule.grid_points < line.n_probes <= rule.grid_points + rule.golden_iterations


def test_numerical_search_agrees_with_the_exact_one():
    net, theta, X, y, direction = network_problem(30, 3, 5, 1, 0.0, 0.0, seed=4, use_gradient=True)
    line = Line(theta, direction, direction, net.loss(theta, X, y), BatchObjective(net, X, y))
    exact = ExactLineSearch().search(line)
    numerical = ExactLineSearch(numerical=True).search(line)
    assert exact.exact and not numerical.exact
    assert numerical.loss >= exact.loss - 1e-12
    assert numerical.loss == pytest.approx(exact.loss, rel=1e-8)


def test_minimize_with_the_exact_rule_on_a_bowl():
    scales = np.array([1.0, 3.0, 10.0])
    result = relustep.minimize(
        lambda x: (0.5 * x @ (scales * x), scales * x),
        np.ones(3),
        step="exact",
        maxiter=200,
        gtol=1e-6,
    )
    np.testing.assert_allclose(result.x, 0.0, atol=1e-5)
    assert result.history.total("numerical") == result.nit


def test_decrease_ratio_is_nan_without_descent():
    objective = SimpleNamespace(loss=lambda t: float(t[0] ** 2))
    line = Line(np.zeros(1), np.zeros(1), np.ones(1), 0.0, objective)  # at the minimum
    assert math.isnan(decrease_ratio(line, 0.1))
    line = Line(np.ones(1), np.full(1, 2.0), np.full(1, 2.0), 1.0, objective)
    assert decrease_ratio(line, 0.5) == pytest.approx(1.0, abs=1e-9)  # the exact minimum
    assert decrease_ratio(line, 1.0) == pytest.approx(0.0, abs=1e-9)  # back to the same loss
    assert line.n_probes == 0  # the oracle's probes are not the rule's


def test_same_seed_same_bits_and_float32_kept():
    data = relustep.datasets.teacher_network(80, 3, 4, random_state=1)
    fits = [
        relustep.ReLURegressor((5,), step="exact", epochs=2, batch_size=20, random_state=3).fit(
            data.X_train, data.y_train
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].parameters_, fits[1].parameters_)
    assert fits[0].history_["step_size"] == fits[1].history_["step_size"]
    single = relustep.ReLURegressor(
        (5,), step="exact", epochs=2, batch_size=20, random_state=3, dtype="float32"
    ).fit(data.X_train, data.y_train)
    assert single.parameters_.dtype == np.float32
    assert np.all(np.isfinite(single.history_["step_size"]))


@pytest.mark.parametrize(
    "make, argument, error",
    [
        (lambda: ExactLineSearch(max_step=0.0), "max_step", ValueError),
        (lambda: ExactLineSearch(max_step=float("nan")), "max_step", ValueError),
        (lambda: ExactLineSearch(grid_smallest=-1.0), "grid_smallest", ValueError),
        (lambda: ExactLineSearch(grid_largest=1e-9), "grid_largest", ValueError),
        (lambda: ExactLineSearch(grid_points=1), "grid_points", ValueError),
        (lambda: ExactLineSearch(grid_points=2.5), "grid_points", TypeError),
        (lambda: ExactLineSearch(golden_iterations=-1), "golden_iterations", ValueError),
        (lambda: ExactLineSearch(numerical="yes"), "numerical", TypeError),
        (
            lambda: Stepper(np.zeros(2), steps.get("constant"), History(), record_optimality=-1),
            "record_optimality",
            ValueError,
        ),
        (
            lambda: Stepper(np.zeros(2), steps.get("constant"), History(), record_optimality="yes"),
            "record_optimality",
            TypeError,
        ),
    ],
)
def test_bad_settings_are_named(make, argument, error):
    with pytest.raises(error, match=argument):
        make()


@pytest.mark.parametrize("max_step", [0.0, -1.0, float("nan"), "far"])
def test_bad_max_step_of_the_search_is_named(max_step):
    net, theta, X, y, direction = network_problem(5, 2, 3, 1, 0.0, 0.0, seed=0)
    parts = dense_network_line(net, theta, direction, X, y)
    with pytest.raises(ValueError, match="max_step"):
        exact_line_minimum(parts, max_step)
    with pytest.raises(ValueError, match="backend"):
        exact_line_minimum(parts, backend="cuda")


def test_nonfinite_parameters_skip_the_step():
    net, theta, X, y, direction = network_problem(10, 2, 3, 1, 0.0, 0.0, seed=0)
    theta[0] = np.nan
    rule = ExactLineSearch()
    rule.start(theta.size)
    line = Line(theta, direction, direction, 1.0, BatchObjective(net, X, y))
    assert rule.size(line) == 0.0
    assert rule.take_counts() == {"numerical": 0, "nonfinite": 1}


@pytest.mark.nojit
def test_sorted_breakpoints_order_keys_that_agree_in_their_top_bits(rng):
    """The radix sort orders by the keys' top 32 bits; keys that agree there (to about 1e-6)
    are put in order afterwards: short runs by insertion, long ones by a stable merge sort.
    Both, with exact ties among them, give NumPy's stable argsort."""
    close = 1.0 + 1e-9 * np.arange(6)[::-1]  # a short run, in reverse flat order
    many = 3.0 + 1e-9 * rng.permutation(40)  # a long run, shuffled
    z0 = np.concatenate([close, many, [1.0 + 3e-9, 3.0 + 7e-9, 0.5, 2.0]])[None, :]
    z_rate = np.ones_like(z0)
    kernel, twin = (kernels.get("sorted_breakpoints", b) for b in kernels.BACKENDS)
    for a, b in zip(kernel(z0, z_rate, math.inf), twin(z0, z_rate, math.inf), strict=True):
        np.testing.assert_array_equal(a, b)
    order, breakpoints, _ = kernel(z0, z_rate, math.inf)
    assert np.all(np.diff(breakpoints) >= 0)
    tie = np.flatnonzero(breakpoints == 1.0 + 3e-9)
    assert len(tie) == 2 and order[tie[0]] < order[tie[1]]  # ties keep flat-index order
