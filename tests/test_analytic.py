"""The two-layer analytic solver (relustep.solvers.analytic): each step against an explicit
least-squares solve, fixed points against the gradient checker, the safeguard, dead units, the
memory guard, the estimator, bad input; its kernels against their NumPy twins."""

import math

import numpy as np
import pytest

import relustep
from relustep import kernels
from relustep.datasets import teacher_network
from relustep.gradcheck import numerical_gradient
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.solvers import analytic
from relustep.solvers._solver import COUNTED_COLUMNS as ITERATION_COUNTS
from relustep.solvers._solver import forward_pass
from relustep.solvers.analytic import fit_two_layer, hidden_step, hidden_system, output_step

SLOPES = [0.0, 0.2]
OUTPUTS = [1, 2]


def random_point(n=60, d=3, h=4, q=1, seed=0):
    """Data and a random network whose units are all active on some rows and not on others."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.normal(size=(n, q))
    W1, b1 = rng.normal(size=(d, h)), 0.3 * rng.normal(size=h)
    W2, b2 = rng.normal(size=(h, q)), rng.normal(size=q)
    return X, y, W1, b1, W2, b2


def explicit_Z(X, W1, b1, W2, slope):
    """Rows (i, k) of the hidden step's design matrix, one block of p columns per unit:
    W2[j, k] S_ij x~_i, stacked output after output (shape (n q, h p))."""
    n = len(X)
    augmented = np.hstack([X, np.ones((n, 1))])
    pattern = np.where(X @ W1 + b1 > 0, 1.0, slope)
    blocks = [(pattern * W2[:, k])[:, :, None] * augmented[:, None, :] for k in range(W2.shape[1])]
    return np.concatenate([block.reshape(n, -1) for block in blocks])


def weight_rows(h, d, n, l2):
    """Rows that add n l2 times the squared weights of every unit, not its bias, to a
    least-squares problem in the unit-major order of the hidden step (the ridge, times 2 n)."""
    p = d + 1
    penalised = np.flatnonzero(np.arange(h * p) % p < d)
    rows = np.zeros((penalised.size, h * p))
    rows[np.arange(penalised.size), penalised] = math.sqrt(n * l2)
    return rows


# -- the output step -----------------------------------------------------------------------------
@pytest.mark.parametrize("q", [1, 3])
def test_output_step_is_lstsq_on_the_features(q):
    rng = np.random.default_rng(1)
    hidden = np.maximum(rng.normal(size=(40, 5)), 0.0)
    y = rng.normal(size=(40, q))
    W2, b2 = output_step(hidden, y)
    solution = np.linalg.lstsq(np.hstack([hidden, np.ones((40, 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(W2, solution[:-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b2, solution[-1], rtol=1e-10, atol=1e-12)


def test_output_step_with_ridge_penalises_the_weights_only():
    rng = np.random.default_rng(2)
    n, h, l2 = 30, 4, 0.3
    hidden, y = rng.normal(size=(n, h)), rng.normal(size=(n, 2))
    W2, b2 = output_step(hidden, y, l2)
    design = np.vstack(
        [
            np.hstack([hidden, np.ones((n, 1))]),
            np.hstack([math.sqrt(n * l2) * np.eye(h), np.zeros((h, 1))]),
        ]
    )
    solution = np.linalg.lstsq(design, np.vstack([y, np.zeros((h, 2))]), rcond=None)[0]
    np.testing.assert_allclose(np.vstack([W2, b2]), solution, rtol=1e-10, atol=1e-12)


def test_output_step_gives_dead_columns_zero_weights():
    rng = np.random.default_rng(3)
    hidden, y = np.maximum(rng.normal(size=(30, 4)), 0.0), rng.normal(size=30)
    hidden[:, 1] = 0.0
    W2, b2 = output_step(hidden, y)
    assert np.all(W2[1] == 0.0)
    live = hidden[:, [0, 2, 3]]
    solution = np.linalg.lstsq(np.hstack([live, np.ones((30, 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(W2[[0, 2, 3], 0], solution[:-1], rtol=1e-10)


# -- the hidden step -----------------------------------------------------------------------------
@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("q", OUTPUTS)
@pytest.mark.parametrize("slope", SLOPES)
def test_hidden_step_is_lstsq_on_explicit_Z(slope, q, l2):
    X, y, W1, b1, W2, b2 = random_point(q=q, seed=4)
    n, d = X.shape
    h = W1.shape[1]
    W1_new, b1_new = hidden_step(X, y, W1, b1, W2, b2, negative_slope=slope, l2=l2)
    Z = explicit_Z(X, W1, b1, W2, slope)
    target = (y - b2).T.ravel()  # output by output, as the rows of Z
    if l2:
        Z = np.vstack([Z, weight_rows(h, d, n, l2)])
        target = np.concatenate([target, np.zeros(len(Z) - len(target))])
    units = np.linalg.lstsq(Z, target, rcond=None)[0].reshape(h, d + 1)
    np.testing.assert_allclose(W1_new, units[:, :d].T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b1_new, units[:, d], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("backend", kernels.BACKENDS)
@pytest.mark.parametrize("q", OUTPUTS)
@pytest.mark.parametrize("slope", SLOPES)
def test_hidden_system_is_ZtZ_and_minus_n_times_the_gradient(slope, q, backend):
    X, y, W1, b1, W2, b2 = random_point(q=q, seed=5)
    n, d = X.shape
    h, l2 = W1.shape[1], 0.1
    matrix, rhs = hidden_system(X, y, W1, b1, W2, b2, negative_slope=slope, l2=l2, backend=backend)
    Z = explicit_Z(X, W1, b1, W2, slope)
    ridge = weight_rows(h, d, n, l2)
    np.testing.assert_allclose(matrix, Z.T @ Z + ridge.T @ ridge, rtol=1e-12, atol=1e-10)
    # the right-hand side is -n times the backpropagated gradient of the hidden layer
    network = DenseReLUNetwork(d, (h,), q, l2=l2, negative_slope=slope)
    theta = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    gradient = network.layout.views(network.loss_and_gradient(theta, X, y)[1])
    expected = -n * np.vstack([gradient["W1"], gradient["b1"]]).T.ravel()
    np.testing.assert_allclose(rhs, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("slope, q, l2", [(0.0, 1, 0.0), (0.2, 2, 0.05)])
def test_per_neuron_step_is_lstsq_for_each_unit_in_turn(slope, q, l2):
    """Unit j's system (a diagonal block) is the least-squares fit of u_j alone, pattern frozen,
    against the residual left by the units before it."""
    X, y, W1, b1, W2, b2 = random_point(q=q, seed=6)
    n, d = X.shape
    weights = {"W1": W1.copy(), "b1": b1.copy(), "W2": W2, "b2": b2}
    solver = analytic._Solver({"X": X, "y": y}, weights, slope, l2, safeguard=False)
    solver.per_neuron_stage()
    augmented = np.hstack([X, np.ones((n, 1))])
    units = np.vstack([W1, b1])  # column j is u_j
    for j in range(W1.shape[1]):
        others = np.delete(np.arange(W1.shape[1]), j)
        z_others = augmented @ units[:, others]
        rest = np.maximum(z_others, slope * z_others) @ W2[others] + b2
        pattern = np.where(augmented @ units[:, j] > 0, 1.0, slope)
        design = np.concatenate(
            [np.outer(pattern * W2[j, k], np.ones(d + 1)) * augmented for k in range(q)]
        )
        target = (y - rest).T.ravel()
        design = np.vstack([design, math.sqrt(n * l2) * np.eye(d + 1)[:d]])
        target = np.concatenate([target, np.zeros(d)])
        units[:, j] = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(weights["W1"], units[:d], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weights["b1"], units[d], rtol=1e-8, atol=1e-10)


# -- the algorithm -------------------------------------------------------------------------------
# seeds where the run ends at a smooth point; on the others it stops at a kink, a row exactly
# on a unit's boundary, where the loss has no gradient (the step then finds no decrease)
SMOOTH_ENDS = [(0.0, 1, 0), (0.0, 2, 3), (0.1, 1, 10), (0.1, 2, 3)]


@pytest.mark.parametrize("slope, q, seed", SMOOTH_ENDS)
def test_a_point_both_steps_leave_unchanged_has_zero_gradient(slope, q, seed):
    data = teacher_network(100, 2, 3, n_outputs=q, noise=0.1, slope=slope, random_state=seed)
    X, y = data.X_train, data.y_train.reshape(100, -1)
    fit = fit_two_layer(X, y, 3, negative_slope=slope, tol=1e-13, max_iter=300, random_state=seed)
    weights = fit.network.layout.views(fit.parameters)
    W1, b1, W2, b2 = (weights[key] for key in ("W1", "b1", "W2", "b2"))
    W1_next, b1_next = hidden_step(X, y, W1, b1, W2, b2, negative_slope=slope)
    hidden = np.maximum(X @ W1 + b1, slope * (X @ W1 + b1))
    W2_next, b2_next = output_step(hidden, y)
    for now, after in [(W1, W1_next), (b1, b1_next), (W2, W2_next), (b2, b2_next)]:
        np.testing.assert_allclose(after, now, atol=1e-6)
    numerical = numerical_gradient(lambda theta: fit.network.loss(theta, X, y), fit.parameters)
    assert np.linalg.norm(numerical) < 1e-6
    analytic_gradient = fit.network.loss_and_gradient(fit.parameters, X, y)[1]
    assert np.linalg.norm(analytic_gradient) < 1e-6


def window_maxima(losses, window):
    """The largest of the last ``window`` entries of ``losses`` before each position, from
    position ``window`` on: the safeguard's reference, computed from the history alone."""
    return np.array([max(losses[k - window : k]) for k in range(window, len(losses))])


@pytest.mark.parametrize("hidden_step_name", analytic.HIDDEN_STEPS)
@pytest.mark.parametrize("q", OUTPUTS)
@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_the_safeguard_holds_each_iteration_to_its_window(slope, q, hidden_step_name):
    data = teacher_network(150, 3, 6, n_outputs=q, noise=0.1, slope=slope, random_state=0)
    runs = {}
    for window in (None, 1, 3, analytic.DEFAULT_SAFEGUARD_WINDOW):
        fit = fit_two_layer(
            data.X_train,
            data.y_train,
            8,
            negative_slope=slope,
            max_iter=20,
            tol=0.0,
            safeguard=window is not None,
            safeguard_window=window or 1,
            hidden_step=hidden_step_name,
            random_state=0,
        )
        epochs = fit.history["epochs"]
        losses = np.array(epochs["train_loss"])
        initial_loss = fit.history["loss"][0]  # at the start of the first iteration
        # the best iterate is kept, and best_loss is the lowest loss so far
        assert fit.loss == min(initial_loss, losses.min()) == epochs["best_loss"][-1]
        np.testing.assert_array_equal(epochs["best_loss"], np.minimum.accumulate(losses))
        runs[window] = losses
        if window is None:
            assert np.all(np.isnan(epochs["reference_loss"]))
            continue
        reference = np.array(epochs["reference_loss"])
        assert np.all(losses <= reference)  # no accepted loss above the window's largest
        assert np.all(np.diff(reference) <= 0.0) and reference[0] < initial_loss
        # from iteration window + 1 on, the window holds recorded losses only
        np.testing.assert_array_equal(reference[window:], window_maxima(losses, window))
        assert losses[-1] < 0.1 * initial_loss
    assert np.all(np.diff(runs[1]) <= 0.0)  # a window of one: the loss never rises
    if hidden_step_name == "joint":  # a wider window does let it rise, so the check means something
        assert np.any(np.diff(runs[analytic.DEFAULT_SAFEGUARD_WINDOW]) > 0.0)
        assert np.any(np.diff(runs[None]) > 0.0)


def test_the_safeguard_follows_plain_alternation_through_a_rise():
    # plain alternation raises the loss at iteration 8, then falls below where it was: the
    # safeguard's window admits the rise, so the safeguarded run takes the same steps, bit for
    # bit; a safeguard that refuses every rise ends 20% higher
    data = teacher_network(150, 3, 6, noise=0.1, random_state=2)
    settings = {"max_iter": 25, "tol": 0.0, "random_state": 2}
    plain = fit_two_layer(data.X_train, data.y_train, 8, safeguard=False, **settings)
    safeguarded = fit_two_layer(data.X_train, data.y_train, 8, **settings)
    losses = np.array(plain.history["epochs"]["train_loss"])
    rise = np.flatnonzero(np.diff(losses) > 0.0)[0] + 1
    assert losses[rise + 1 :].min() < losses[rise - 1]  # it falls below where it rose from
    np.testing.assert_array_equal(safeguarded.history["epochs"]["train_loss"], losses)
    np.testing.assert_array_equal(safeguarded.parameters, plain.parameters)
    assert np.nansum(safeguarded.history["epochs"]["halvings"]) == 0
    monotone = fit_two_layer(data.X_train, data.y_train, 8, safeguard_window=1, **settings)
    assert monotone.loss > 1.15 * plain.loss


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_a_teacher_of_the_same_width_is_fitted_to_the_noise_level(slope):
    noise = 0.1
    train_mse, test_mse = [], []
    for seed in range(5):
        data = teacher_network(500, 3, 4, noise=noise, slope=slope, random_state=seed)
        fit = fit_two_layer(
            data.X_train,
            data.y_train,
            4,
            negative_slope=slope,
            random_state=seed,
            validation_data=(data.X_test, data.y_test),
        )
        train_mse.append(2 * fit.loss / noise**2)
        test_mse.append(2 * fit.history["epochs"]["val_loss"][-1] / noise**2)
    # in units of the noise variance; the loss starts near 100 (the targets' variance is ~1)
    assert max(train_mse) < 1.5 and np.median(train_mse) < 1.15
    assert np.median(test_mse) < 1.25


def test_history_per_iteration_and_bit_identical_runs():
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    runs = [
        fit_two_layer(
            data.X_train,
            data.y_train,
            6,
            max_iter=8,
            tol=0.0,
            random_state=3,
            validation_data=(data.X_test, data.y_test),
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].parameters, runs[1].parameters)
    history = runs[0].history
    epochs = history["epochs"]
    for key in ("train_loss", "val_loss", "best_loss", "reference_loss", *ITERATION_COUNTS):
        assert epochs[key] == runs[1].history["epochs"][key]
        assert len(epochs[key]) == 8
    assert all(len(history[key]) == 8 for key in history.step_keys)
    assert np.all(np.diff(epochs["seconds"]) > 0) and np.all(np.isfinite(epochs["val_loss"]))
    assert epochs["pattern_changes"][0] > 0
    # the first iteration starts with an output step; every trial point is one pass
    assert history["n_forward"][0] >= 2 and all(passes >= 1 for passes in history["n_forward"])
    other = fit_two_layer(data.X_train, data.y_train, 6, max_iter=8, tol=0.0, random_state=4)
    assert not np.array_equal(other.parameters, runs[0].parameters)
    prediction = runs[0].predict(data.X_test)
    assert prediction.shape == (1000, 1)
    assert 0.5 * np.mean((prediction[:, 0] - data.y_test) ** 2) == pytest.approx(
        epochs["val_loss"][-1], rel=1e-12
    )
    with pytest.raises(ValueError, match="X must have 3 columns"):
        runs[0].predict(data.X_test[:, :2])


def test_tolerance_stops_and_float32_is_kept():
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    fit = fit_two_layer(data.X_train, data.y_train, 4, tol=1e-3, max_iter=500, random_state=0)
    assert fit.converged and fit.n_iter < 500
    single = fit_two_layer(
        data.X_train, data.y_train, 4, max_iter=5, random_state=0, dtype="float32"
    )
    assert single.parameters.dtype == np.float32 and np.isfinite(single.loss)


def test_warm_start_epochs_come_first():
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    fit = fit_two_layer(
        data.X_train, data.y_train, 4, max_iter=3, tol=0.0, warm_start_epochs=2, random_state=0
    )
    epochs = fit.history["epochs"]
    assert len(epochs["train_loss"]) == 5
    assert np.all(np.isnan(epochs["halvings"][:2])) and not np.any(np.isnan(epochs["halvings"][2:]))
    assert epochs["step"][1] == 2 * math.ceil(200 / 32)  # mini-batch steps of the warm start
    assert fit.n_iter == 3


def test_iterations_after_a_warm_start_leave_the_rules_values_empty():
    """A solver iteration has no trial step, curvature or optimality (nan), and no fallback."""
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    model = relustep.ReLURegressor(
        (4,),
        solver="analytic",
        step="qlab",
        epochs=2,
        warm_start_epochs=1,
        batch_size=50,
        record_optimality=True,
        random_state=0,
    ).fit(data.X_train, data.y_train)
    history = model.history_
    warm, iterations = slice(0, 4), slice(4, None)
    assert len(history) == 4 + 2
    for key in ("trial_step", "curvature", "optimality"):
        assert np.all(np.isfinite(history[key][warm])), key
        assert np.all(np.isnan(history[key][iterations])), key
    assert history["not_descent"][iterations] == [0, 0]


def test_dead_units_are_reinitialised_or_left_out():
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    network = DenseReLUNetwork(3, (5,), 1)
    init = network.init_parameters(np.random.default_rng(0))
    network.layout.views(init)["b1"][[1, 3]] = -100.0  # two units active on no row
    fit = fit_two_layer(data.X_train, data.y_train, 5, init=init, max_iter=5, random_state=0)
    assert fit.history["epochs"]["dead_units"][0] == 2
    hidden = np.maximum(
        data.X_train @ fit.network.layout.views(fit.parameters)["W1"]
        + fit.network.layout.views(fit.parameters)["b1"],
        0.0,
    )
    assert np.all(np.any(hidden > 0, axis=0))  # every unit is alive again
    kept = fit_two_layer(
        data.X_train,
        data.y_train,
        5,
        init=init,
        max_iter=5,
        tol=0.0,
        reinitialize_dead=False,
        random_state=0,
    )
    assert kept.history["epochs"]["dead_units"] == [2] * 5
    assert np.isfinite(kept.loss) and kept.loss < fit.history["epochs"]["train_loss"][0] * 10
    views = kept.network.layout.views(kept.parameters)
    assert np.all(views["W2"][[1, 3]] == 0.0) and np.all(views["b1"][[1, 3]] == -100.0)


def test_singular_systems_are_damped_and_counted():
    # more weights (h p = 24) than rows (10): the exact hidden system is singular
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 2)), rng.normal(size=10)
    fit = fit_two_layer(X, y, 8, damping=0.0, max_iter=5, tol=0.0, random_state=0)
    assert np.nansum(fit.history["epochs"]["singular_systems"]) > 0
    epochs = fit.history["epochs"]
    assert np.all(np.array(epochs["train_loss"]) <= np.array(epochs["reference_loss"]))
    assert np.isfinite(fit.loss)


def test_memory_guard_says_how_large_and_what_fits():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(100, 8)), rng.normal(size=100)
    with pytest.raises(ValueError, match=r"576 x 576 system.*hidden_step='per_neuron'.*it fits"):
        fit_two_layer(X, y, 64, max_memory=1_000_000)
    fit = fit_two_layer(X, y, 64, max_memory=1_000_000, hidden_step="per_neuron", max_iter=1)
    assert fit.n_iter == 1
    with pytest.raises(ValueError, match="No variant fits"):
        fit_two_layer(X, y, 64, max_memory=1000, hidden_step="per_neuron")
    estimate = analytic.memory_estimate(100, 8, 64, 1)
    assert estimate["system"] == 2 * 576**2 * 8 and estimate["total"] > estimate["system"]


BAD_ARGUMENTS = [
    ({"X": np.array([[np.nan, 1.0]] * 5)}, ValueError, "X must hold only finite"),
    ({"y": np.full(5, np.inf)}, ValueError, "y must hold only finite"),
    ({"y": np.ones((5, 1, 1))}, ValueError, "y must be a 1-D or 2-D"),
    ({"X": np.empty((0, 2)), "y": np.empty(0)}, ValueError, "X must not be empty"),
    ({"y": np.ones(4)}, ValueError, "same number of rows"),
    ({"X": np.array([["a", "b"]] * 5)}, TypeError, "X must hold real numbers"),
    ({"n_hidden": 0}, ValueError, "n_hidden"),
    ({"n_hidden": 2.5}, TypeError, "n_hidden"),
    ({"negative_slope": 1.0}, ValueError, "negative_slope"),
    ({"l2": -1.0}, ValueError, "l2"),
    ({"hidden_step": "diagonal"}, ValueError, "hidden_step"),
    ({"safeguard": "yes"}, TypeError, "safeguard"),
    ({"safeguard_window": 0}, ValueError, "safeguard_window must be an int >= 1"),
    ({"safeguard_window": 2.5}, TypeError, "safeguard_window must be an int"),
    ({"safeguard_window": True}, TypeError, "safeguard_window must be an int"),
    ({"tol": -1.0}, ValueError, "tol"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"max_halvings": -1}, ValueError, "max_halvings"),
    ({"damping": math.nan}, ValueError, "damping"),
    ({"max_memory": 0}, ValueError, "max_memory"),
    ({"init": np.zeros(3)}, ValueError, "init must have"),
    ({"warm_start_epochs": -1}, ValueError, "warm_start_epochs"),
    ({"warm_start_step": "newton"}, ValueError, "warm_start_step"),
    ({"validation_data": np.ones((5, 2))}, TypeError, "validation_data"),
    ({"validation_data": (np.ones((5, 3)), np.ones(5))}, ValueError, "validation_data"),
    ({"dtype": "int64"}, ValueError, "dtype"),
    ({"random_state": -1}, ValueError, "random_state"),
    ({"backend": "cuda"}, ValueError, "backend"),
]


@pytest.mark.parametrize("changes, error, message", BAD_ARGUMENTS)
def test_bad_input_is_refused_naming_the_argument(changes, error, message):
    arguments = {"X": np.arange(10.0).reshape(5, 2), "y": np.arange(5.0), "n_hidden": 3}
    arguments.update(changes)
    with pytest.raises(error, match=message):
        fit_two_layer(
            arguments.pop("X"), arguments.pop("y"), arguments.pop("n_hidden"), **arguments
        )


def test_single_steps_check_their_arguments():
    X, y, W1, b1, W2, b2 = random_point()
    with pytest.raises(ValueError, match="W2 must have shape"):
        hidden_step(X, y, W1, b1, W2[:2], b2)
    with pytest.raises(ValueError, match="hidden and y"):
        output_step(np.ones((5, 2)), np.ones(4))
    with pytest.raises(ValueError, match="negative_slope"):
        hidden_system(X, y, W1, b1, W2, b2, negative_slope=-0.5)


# -- the estimator -------------------------------------------------------------------------------
def test_regressor_with_the_analytic_solver():
    data = teacher_network(300, 3, 4, n_outputs=2, noise=0.1, random_state=0)
    model = relustep.ReLURegressor((6,), solver="analytic", epochs=10, random_state=0)
    model.fit(data.X_train, data.y_train, validation_data=(data.X_test, data.y_test))
    assert model.coefs_[0].shape == (3, 6) and model.predict(data.X_test).shape == (1000, 2)
    assert model.n_iter_ == model.t_ == len(model.history_["epochs"]["halvings"]) <= 10
    assert model.loss_ == min(model.history_["epochs"]["train_loss"])
    assert model.loss_ == pytest.approx(
        model.network_.loss(model.parameters_, data.X_train, data.y_train), rel=1e-12
    )
    assert model.score(data.X_test, data.y_test) > 0.95
    again = relustep.ReLURegressor((6,), solver="analytic", epochs=10, random_state=0)
    again.fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(again.parameters_, model.parameters_)
    model.partial_fit(data.X_train, data.y_train)  # one more iteration
    assert model.n_iter_ == len(model.history_["epochs"]["train_loss"])


def test_regressor_warm_start_and_save_and_load(tmp_path):
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    model = relustep.ReLURegressor(
        (5,),
        solver="analytic",
        epochs=3,
        tol=0.0,
        warm_start_epochs=2,
        batch_size=50,
        hidden_step="per_neuron",
        random_state=0,
    ).fit(data.X_train, data.y_train)
    assert model.n_iter_ == 5 and np.isnan(model.history_["epochs"]["pattern_changes"][0])
    model.save(tmp_path / "model.npz")
    loaded = relustep.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(data.X_test), model.predict(data.X_test))
    assert loaded.hidden_step == "per_neuron"
    loaded.set_params(solver="gradient", warm_start_epochs=0, tol=1e-6, hidden_step="joint")
    loaded.partial_fit(data.X_train, data.y_train)  # gradient epochs after analytic iterations
    epochs = loaded.history_["epochs"]
    assert len({len(values) for values in epochs.values()}) == 1 and len(epochs["halvings"]) == 6
    History.from_json(loaded.history_.to_json()).to_csv(tmp_path / "epochs.csv", which="epochs")


@pytest.mark.parametrize(
    "Estimator, settings, message",
    [
        (relustep.ReLURegressor, {"hidden_layer_sizes": (4, 3)}, "exactly one hidden layer"),
        (relustep.MLPClassifier, {}, "ReLURegressor"),
        (relustep.ReLURegressor, {"solver": "gradient", "safeguard": False}, "safeguard only"),
        (relustep.ReLURegressor, {"hidden_step": "both"}, "hidden_step"),
        (relustep.ReLURegressor, {"max_memory": -5}, "max_memory"),
        (relustep.ReLURegressor, {"safeguard_window": 0}, "safeguard_window must be an int >= 1"),
        (
            relustep.ReLURegressor,
            {"solver": "gradient", "safeguard_window": 3},
            "safeguard_window only",
        ),
    ],
)
def test_estimator_refuses_what_the_analytic_solver_cannot_do(Estimator, settings, message):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), (rng.normal(size=20) > 0).astype(int)
    model = Estimator(**{"hidden_layer_sizes": (4,), "solver": "analytic", **settings})
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)


def test_the_analytic_solver_and_adam_minimise_the_same_loss():
    data = teacher_network(200, 3, 4, noise=0.1, random_state=0)
    common = {"hidden_layer_sizes": (5,), "l2": 0.01, "negative_slope": 0.1, "random_state": 2}
    solved = relustep.ReLURegressor(solver="analytic", epochs=20, **common)
    adam = relustep.ReLURegressor(step={"name": "adam", "lr": 0.01}, epochs=1, **common)
    solved.fit(data.X_train, data.y_train)
    adam.fit(data.X_train, data.y_train)
    y = data.y_train[:, None]
    for model in (solved, adam):
        assert model.loss_ == pytest.approx(
            model.network_.loss(model.parameters_, data.X_train, y), rel=1e-10
        )
    assert solved.loss_ < adam.loss_


# -- kernels against their twins -------------------------------------------------------------------
def small_pattern(rng, n=9, d=2, h=4, slope=0.0, dtype=np.float64):
    X = rng.normal(size=(n, d)).astype(dtype)
    W1, b1 = rng.normal(size=(d, h)).astype(dtype), rng.normal(size=h).astype(dtype)
    return X, W1, b1


@pytest.mark.parametrize("slope", SLOPES)
def test_the_solvers_forward_pass_is_the_networks(rng, slope):
    X, W1, b1 = small_pattern(rng)
    W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=2)
    hidden, output = np.empty((9, 4)), np.empty((9, 2))
    forward_pass(X, W1, b1, W2, b2, slope, hidden, output)
    network = DenseReLUNetwork(2, (4,), 2, negative_slope=slope)
    theta = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    np.testing.assert_allclose(output, network.forward(theta, X), rtol=1e-13, atol=1e-13)


@pytest.mark.nojit
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pattern_sums_and_their_update_match_twins(rng, dtype):
    X, W1, b1 = small_pattern(rng, n=12, h=5, dtype=dtype)
    active = X @ W1 + b1 > 0
    changed = active.copy()
    changed[rng.random(changed.shape) < 0.3] ^= True
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    built = {}
    for backend in kernels.BACKENDS:
        sums = np.full((5, 5, 6), np.nan, dtype)
        kernels.get("pattern_sums", backend)(X, active, sums)
        kernels.get("update_pattern_sums", backend)(X, active, changed, sums)
        built[backend] = sums
    fresh = np.empty((5, 5, 6), dtype)
    kernels.get("pattern_sums", "numpy")(X, changed, fresh)
    for sums in built.values():
        np.testing.assert_allclose(sums, fresh, rtol=tolerance, atol=tolerance)
    assert np.all(fresh[np.tril_indices(5, -1)] == 0)
    # C_jj's last entry counts the rows where unit j is active
    np.testing.assert_array_equal(fresh[np.arange(5), np.arange(5), -1], changed.sum(axis=0))


@pytest.mark.nojit
@pytest.mark.parametrize("slope", SLOPES)
def test_gram_from_sums_matches_twin(rng, slope):
    X, W1, b1 = small_pattern(rng, n=10, h=5)
    active = X @ W1 + b1 > 0
    sums = np.empty((5, 5, 6))
    kernels.twolayer.pattern_sums_numpy(X, active, sums)
    row_sum = kernels.twolayer.outer_triangles(X).sum(axis=0)
    W2 = rng.normal(size=(5, 2))
    units = np.array([0, 2, 3, 4])
    grams = []
    for backend in kernels.BACKENDS:
        gram = np.empty((12, 12))
        kernels.get("gram_from_sums", backend)(sums, row_sum, slope, W2 @ W2.T, units, gram)
        grams.append(gram)
    np.testing.assert_allclose(grams[0], grams[1], rtol=1e-12, atol=1e-12)
    pattern = np.where(active, 1.0, slope)[:, units]
    augmented = np.hstack([X, np.ones((10, 1))])
    expected = sum(
        np.kron(np.diag(s) @ W2[units] @ W2[units].T @ np.diag(s), np.outer(x, x))
        for s, x in zip(pattern, augmented, strict=True)
    )  # one Kronecker product per row
    np.testing.assert_allclose(grams[0], expected, rtol=1e-12, atol=1e-12)
