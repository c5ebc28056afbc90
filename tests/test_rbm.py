"""The RBM: its chain and learning rules, the analytic step against its closed form and a
brute-force line minimum, the kernels against their twins, seeds, save/load and bad input."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import relustep
from relustep import kernels, steps
from relustep.estimators import RBM
from relustep.history import History
from relustep.kernels import rbm as rbm_kernels
from relustep.models.rbm import RBMBatchObjective, RBMNetwork, _gram_times
from relustep.objective import IncompatibleStepError
from relustep.train import Stepper

UNIT_PAIRS = [
    ("sigmoid", "relu"),
    ("relu", "relu"),
    ("linear", "relu"),
    ("sigmoid", "nrelu"),
    ("sigmoid", "binary"),
    ("linear", "linear"),
]


def data(n=12, d=7, seed=0):
    return np.random.default_rng(seed).random((n, d))


def network_and_theta(visible="sigmoid", hidden="relu", k=1, rule="cse", n=7, m=5, seed=1):
    network = RBMNetwork(n, m, visible=visible, hidden=hidden, k=k, rule=rule)
    theta = network.init_parameters(np.random.default_rng(seed))
    theta[network.layout.slices["b"]] = 0.1  # some hidden units on, some off
    return network, theta


# -- the learning rules --------------------------------------------------------------------------
def sum_of_local_terms(network, chain):
    """The direction written as the sum over the chain of x(p) d_h(p)^T + d_v(p) y(p-1)^T."""
    k = chain.k
    total = np.zeros((network.n_visible, network.n_hidden))
    for p in range(1, k + 1):
        total += chain.x(p).T @ chain.hidden[p - 1] + chain.visible[k + p].T @ chain.y(p - 1)
    return total / chain.n_rows


@pytest.mark.parametrize("k", [1, 3])
def test_rules_coincide_for_linear_units_and_telescope(k):
    X = data()
    directions = {}
    for rule in ("cse", "cd"):
        network, theta = network_and_theta("linear", "linear", k=k, rule=rule)
        theta *= 0.5  # keep the linear chain from growing
        chain = network.run_chain(theta, X)
        directions[rule] = network.direction(chain)
        telescoped = (chain.x(k).T @ chain.y(k) - chain.x(0).T @ chain.y(0)) / len(X)
        W = network.layout.views(directions[rule])["W"]
        np.testing.assert_allclose(W, telescoped, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(W, sum_of_local_terms(network, chain), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(directions["cse"], directions["cd"], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("visible, hidden", UNIT_PAIRS)
def test_cd_rule_is_the_telescoped_sum_for_any_units(visible, hidden):
    network, theta = network_and_theta(visible, hidden, k=2, rule="cd")
    X = data()
    chain = network.run_chain(theta, X, network.draw_noise(np.random.default_rng(3), len(X)))
    W = network.layout.views(network.direction(chain))["W"]
    np.testing.assert_allclose(W, sum_of_local_terms(network, chain), rtol=1e-10, atol=1e-13)


def test_cse_rule_masks_the_inactive_units():
    network, theta = network_and_theta("relu", "relu", k=1, rule="cse")
    chain = network.run_chain(theta, data())
    inactive = chain.pre_hidden[1] <= 0
    assert inactive.any() and (~inactive).any()
    assert np.all(chain.hidden[0][inactive] == 0)
    W = network.layout.views(network.direction(chain))["W"]
    np.testing.assert_allclose(W, sum_of_local_terms(network, chain), rtol=1e-10, atol=1e-13)


def test_loss_is_the_cumulative_squared_error():
    network, theta = network_and_theta("sigmoid", "relu", k=2)
    X = data()
    chain = network.run_chain(theta, X)
    expected = 0.5 * sum(
        np.sum((chain.y(p) - chain.y(p - 1)) ** 2) + np.sum((chain.x(p) - chain.x(p - 1)) ** 2)
        for p in (1, 2)
    )
    assert network.loss(theta, X) == pytest.approx(expected / len(X), rel=1e-12)
    W, b, c = (network.layout.views(theta)[name] for name in "Wbc")
    y0 = np.maximum(X @ W + b, 0)
    x1 = 1 / (1 + np.exp(-(y0 @ W.T + c)))
    np.testing.assert_allclose(chain.x(1), x1, rtol=1e-12)
    reconstruction_error = np.sum((x1 - X) ** 2) / len(X)
    assert network.reconstruction_error(theta, X) == pytest.approx(reconstruction_error, rel=1e-12)


# -- the analytic step ---------------------------------------------------------------------------
def frozen_loss(network, theta, chain, direction, alpha):
    """The decoupled frozen-error model evaluated directly: move the parameters by the hidden
    (or visible) part of the update, recompute each layer's sums with the inputs frozen, and
    linearise the transfer at the old sums (exact for ReLU on a fixed pattern)."""
    k, n_rows = chain.k, chain.n_rows
    W, b, c = (network.layout.views(theta)[name] for name in "Wbc")
    hidden_W = sum(chain.x(p).T @ chain.hidden[p - 1] for p in range(1, k + 1)) / n_rows
    hidden_b = sum(chain.hidden[p - 1].sum(axis=0) for p in range(1, k + 1)) / n_rows
    visible_W = sum(chain.visible[k + p].T @ chain.y(p - 1) for p in range(1, k + 1)) / n_rows
    visible_c = sum(chain.visible[k + p].sum(axis=0) for p in range(1, k + 1)) / n_rows
    views = network.layout.views(direction)
    np.testing.assert_allclose(hidden_W + visible_W, views["W"], rtol=1e-9, atol=1e-12)
    total = 0.0
    for p in range(1, k + 1):
        slope_h = rbm_kernels.derivative_numpy(chain.pre_hidden[p], network._hidden_code)
        moved_h = chain.x(p) @ (W - alpha * hidden_W) + (b - alpha * hidden_b)
        y = chain.y(p) + slope_h * (moved_h - (chain.x(p) @ W + b))
        slope_v = rbm_kernels.derivative_numpy(chain.pre_visible[p - 1], network._visible_code)
        moved_v = chain.y(p - 1) @ (W - alpha * visible_W).T + (c - alpha * visible_c)
        x = chain.x(p) + slope_v * (moved_v - (chain.y(p - 1) @ W.T + c))
        total += 0.5 * (np.sum((y - chain.y(p - 1)) ** 2) + np.sum((x - chain.x(p - 1)) ** 2))
    return total / n_rows


def brute_force_minimum(function):
    grid = np.geomspace(1e-6, 1e4, 400)
    values = [function(alpha) for alpha in grid]
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    return minimize_scalar(
        function, bounds=(low, high), method="bounded", options={"xatol": 1e-12 * high}
    ).x


@pytest.mark.parametrize("visible, hidden", UNIT_PAIRS)
@pytest.mark.parametrize("rule", ["cse", "cd"])
@pytest.mark.parametrize("k, n_rows", [(1, 1), (1, 9), (3, 4), (2, 60)])
def test_golovko_step_is_the_minimum_of_the_frozen_quadratic(visible, hidden, rule, k, n_rows):
    network, theta = network_and_theta(visible, hidden, k=k, rule=rule)
    X = data(n_rows)
    objective = RBMBatchObjective(network, X, network.draw_noise(np.random.default_rng(5), n_rows))
    direction = np.empty_like(theta)
    objective.loss_and_gradient(theta, direction)
    quadratic = objective.frozen_quadratic(theta, direction)
    alpha = quadratic.numerator / quadratic.denominator
    if alpha <= 0:  # the rule "cd" may point uphill on the frozen model: no minimum on alpha > 0
        assert rule == "cd"
        return
    best = brute_force_minimum(lambda a: frozen_loss(network, theta, objective.chain, direction, a))
    assert alpha == pytest.approx(best, rel=1e-6)
    # and its coefficients are the frozen model's, in the mean convention
    at_zero = frozen_loss(network, theta, objective.chain, direction, 0.0)
    for step in (0.5 * alpha, alpha):
        predicted = at_zero - quadratic.numerator * step + 0.5 * quadratic.denominator * step**2
        frozen = frozen_loss(network, theta, objective.chain, direction, step)
        assert predicted == pytest.approx(frozen, rel=1e-7, abs=1e-12)


def test_online_closed_form_for_relu_units():
    """For one sample, CD-1 and ReLU units: alpha = (A G + B E) / (A^2 G + B^2 E)."""
    network, theta = network_and_theta("relu", "relu", k=1)
    X = data(1)
    objective = RBMBatchObjective(network, X, network.draw_noise(np.random.default_rng(0), 1))
    direction = np.empty_like(theta)
    objective.loss_and_gradient(theta, direction)
    chain = objective.chain
    A = 1 + np.sum(chain.x(1) ** 2)
    B = 1 + np.sum(chain.y(0) ** 2)
    hidden_error = np.sum(((chain.y(1) - chain.y(0)) ** 2)[chain.pre_hidden[1] > 0])
    visible_error = np.sum(((chain.x(1) - chain.x(0)) ** 2)[chain.pre_visible[0] > 0])
    expected = (A * hidden_error + B * visible_error) / (A**2 * hidden_error + B**2 * visible_error)
    quadratic = objective.frozen_quadratic(theta, direction)
    assert quadratic.numerator / quadratic.denominator == pytest.approx(expected, rel=1e-12)
    diagonal = objective.frozen_quadratic(theta, direction, "diagonal")
    assert diagonal.numerator / diagonal.denominator == pytest.approx(expected, rel=1e-12)


def test_diagonal_form_overshoots_by_the_batch_size_on_identical_rows():
    network, theta = network_and_theta("relu", "relu")
    X = np.repeat(data(1), 6, axis=0)
    objective = RBMBatchObjective(network, X, network.draw_noise(np.random.default_rng(0), 6))
    direction = np.empty_like(theta)
    objective.loss_and_gradient(theta, direction)
    gram = objective.frozen_quadratic(theta, direction, "gram")
    diagonal = objective.frozen_quadratic(theta, direction, "diagonal")
    ratio = (diagonal.numerator / diagonal.denominator) / (gram.numerator / gram.denominator)
    assert ratio == pytest.approx(6.0, rel=1e-10)


def test_both_orders_of_the_gram_product_agree(rng):
    for n_rows, n_inputs, n_outputs in [(3, 20, 10), (50, 4, 3)]:
        inputs = rng.normal(size=(n_rows, n_inputs))
        directions = rng.normal(size=(n_rows, n_outputs))
        expected = (inputs @ inputs.T + 1) @ directions
        np.testing.assert_allclose(_gram_times(inputs, directions, "gram"), expected, rtol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("rule", ["cse", "cd"])
@pytest.mark.parametrize("k", [1, 2])
def test_partial_fit_moves_by_alpha_star_times_the_direction(batch_size, rule, k):
    X = data(batch_size, seed=2)
    rbm = RBM(
        5, visible="relu", rule=rule, k=k, step="golovko", batch_size=batch_size, random_state=0
    )
    rbm.partial_fit(X)  # initialises, then one step
    before = rbm.parameters_.copy()
    objective = RBMBatchObjective(rbm.network_, X, rbm.network_.draw_noise(None, batch_size))
    direction = np.empty_like(before)
    objective.loss_and_gradient(before, direction)
    quadratic = objective.frozen_quadratic(before, direction)
    alpha = quadratic.numerator / quadratic.denominator
    rbm.partial_fit(X)
    if alpha < 0:
        assert rule == "cd" and rbm.history_["not_descent"][-1] == 1
        np.testing.assert_array_equal(rbm.parameters_, before)
        return
    assert rbm.history_["step_size"][-1] == pytest.approx(alpha, rel=1e-10)
    np.testing.assert_allclose(rbm.parameters_, before - alpha * direction, rtol=1e-9, atol=1e-13)
    assert 0.0 <= rbm.history_["crossing_fraction"][-1] <= 1.0


class UnfusedGolovko(steps.Golovko):
    """The analytic step without a fused form: the loop takes its online steps one by one."""

    def fused_form(self):
        return None


def test_online_kernel_equals_the_generic_loop():
    X = data(10)
    fast = RBM(5, visible="relu", batch_size=1, epochs=1, step="golovko", random_state=0).fit(X)
    slow = RBM(5, visible="relu", batch_size=1, epochs=1, step=UnfusedGolovko(), random_state=0)
    slow.fit(X)
    np.testing.assert_allclose(fast.parameters_, slow.parameters_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.history_["step_size"], slow.history_["step_size"], rtol=1e-9)
    np.testing.assert_allclose(fast.history_["loss"], slow.history_["loss"], rtol=1e-9)
    assert fast.history_.step_keys == slow.history_.step_keys
    assert len(fast.history_) == len(X)


@pytest.mark.parametrize("batch_size", [1, 5])
def test_epoch_loss_batches_is_the_mean_batch_e_and_changes_no_step(batch_size):
    X = data(20)
    settings = {"batch_size": batch_size, "epochs": 2, "step": "constant", "random_state": 0}
    batches = RBM(4, epoch_loss="batches", **settings).fit(X)
    full = RBM(4, **settings).fit(X)
    np.testing.assert_array_equal(batches.parameters_, full.parameters_)
    per_epoch = np.reshape(batches.history_["loss"], (2, -1)).mean(axis=1)
    np.testing.assert_allclose(batches.history_["epochs"]["train_loss"], per_epoch, rtol=1e-14)
    assert full.history_["epochs"]["train_loss"][-1] == pytest.approx(full.cse(X), rel=1e-12)


class UnfusedAdam(steps.Adam):
    """Adam without a fused form: the loop takes its online steps one by one."""

    def fused_form(self):
        return None


@pytest.mark.parametrize("visible", ["sigmoid", "linear"])
def test_online_kernel_takes_adam_steps_as_the_generic_loop_does(visible):
    X = data(10) if visible == "sigmoid" else standardised_digits(10)[:, :12]
    settings = {"visible": visible, "batch_size": 1, "epochs": 3, "random_state": 0}
    fast = RBM(5, step=steps.Adam(lr=0.01), **settings).fit(X)
    slow = RBM(5, step=UnfusedAdam(lr=0.01), **settings).fit(X)
    assert fast.network_.fuses(fast.step_.fused_form())  # the kernel took the fast run's steps
    assert fast.step_.n_steps == slow.step_.n_steps == 3 * len(X)
    np.testing.assert_allclose(fast.parameters_, slow.parameters_, rtol=1e-9, atol=1e-12)
    for moment in ("first_moment", "second_moment"):  # the state goes on across epochs
        np.testing.assert_allclose(
            getattr(fast.step_, moment), getattr(slow.step_, moment), rtol=1e-9, atol=1e-15
        )
    np.testing.assert_allclose(fast.history_["loss"], slow.history_["loss"], rtol=1e-9)
    assert fast.history_["step_size"] == slow.history_["step_size"] == [0.01] * 3 * len(X)


def standardised_digits(rows=300):
    X = relustep.datasets.load("digits").X_train[:rows]
    return (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)


def test_online_kernel_verifies_as_the_generic_loop_does():
    X = standardised_digits(40)[:, :12]
    settings = {"visible": "linear", "batch_size": 1, "epochs": 2, "random_state": 0}
    verified = steps.Golovko(verify=True, max_halvings=3)
    fast = RBM(5, step=verified, **settings).fit(X)
    slow = RBM(5, step=UnfusedGolovko(verify=True, max_halvings=3), **settings).fit(X)
    assert sum(fast.history_["verify_halvings"]) > 0 and sum(fast.history_["verify_failed"]) > 0
    for key in ("verify_halvings", "verify_failed", "n_forward", "not_descent"):
        assert fast.history_[key] == slow.history_[key], key
    np.testing.assert_allclose(fast.parameters_, slow.parameters_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.history_["step_size"], slow.history_["step_size"], rtol=1e-9)
    np.testing.assert_allclose(fast.history_["loss"], slow.history_["loss"], rtol=1e-9)
    np.testing.assert_allclose(
        fast.history_["crossing_fraction"], slow.history_["crossing_fraction"], rtol=1e-12
    )


def test_online_default_does_not_raise_the_loss_on_standardised_data():
    X = standardised_digits()
    online = RBM(32, visible="linear", batch_size=1, epochs=3, random_state=0).fit(X)
    start = online.network_.cse(online.network_.init_parameters(np.random.default_rng(0)), X)
    batch = RBM(32, visible="linear", batch_size=20, epochs=3, random_state=0).fit(X)
    assert online.step_.verify and not batch.step_.verify
    assert max(online.history_["epochs"]["train_loss"]) < 2 * start
    assert online.loss_ < 1.5 * batch.loss_
    assert sum(online.history_["n_forward"]) > len(online.history_)  # the checks are counted


def test_safeguard_nothing_to_learn_gives_a_zero_step():
    rbm = RBM(4, visible="linear", batch_size=3, random_state=0)
    rbm.partial_fit(np.zeros((3, 5)))
    assert rbm.history_["nothing_to_learn"] == [1]
    assert rbm.history_["step_size"] == [0.0]


def test_verify_never_lets_the_batch_loss_increase():
    X = relustep.datasets.load("digits").X_train[:200] / 16
    network = RBMNetwork(X.shape[1], 16, visible="relu", hidden="relu")
    theta = network.init_parameters(np.random.default_rng(0))
    rule = steps.Golovko(verify=True)
    rule.start(theta.size)
    history = History(rule.fallbacks)
    stepper = Stepper(theta, rule, history)
    for start in range(0, len(X), 20):
        objective = RBMBatchObjective(network, X[start : start + 20], network.draw_noise(None, 20))
        before = stepper.step(objective)
        assert objective.loss(stepper.theta) <= before
    assert history.total("n_forward") > len(history)  # each verification is a counted pass


def test_verify_halves_until_the_loss_does_not_increase():
    network, theta = network_and_theta("sigmoid", "relu")
    X = data(6)
    objective = RBMBatchObjective(network, X, network.draw_noise(None, 6))
    rule = steps.Golovko(verify=True)
    rule.start(theta.size)
    history = History(rule.fallbacks)
    before = network.loss(theta, X)
    stepper = Stepper(theta, rule, history)
    stepper.step(objective)
    stepper.finish()
    assert network.loss(theta, X) <= before
    alpha = history["step_size"][0]
    halvings = history["verify_halvings"][0]
    direction = np.empty_like(theta)
    objective.loss_and_gradient(theta, direction)  # (new point; only checks the bookkeeping)
    assert history["n_forward"][0] == 2 + halvings - history["verify_failed"][0]
    assert alpha >= 0


# -- the estimator -------------------------------------------------------------------------------
@pytest.mark.parametrize("visible, hidden", UNIT_PAIRS)
def test_fit_lowers_the_reconstruction_error(visible, hidden):
    X = relustep.datasets.load("digits").X_train[:300]
    if visible == "linear":
        X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)
    rbm = RBM(
        16,
        visible=visible,
        hidden=hidden,
        batch_size=20,
        epochs=3,
        step={"name": "constant", "lr": 0.01 if visible != "linear" else 0.001},
        random_state=0,
    )
    start = RBM(
        16,
        visible=visible,
        hidden=hidden,
        batch_size=20,
        epochs=1,
        random_state=0,
        step={"name": "constant", "lr": 1e-12},
    ).fit(X)
    rbm.fit(X)
    assert rbm.reconstruction_error(X) < start.reconstruction_error(X)
    assert rbm.components_.shape == (16, X.shape[1])
    assert rbm.transform(X).shape == (len(X), 16)
    assert rbm.reconstruct(X).shape == X.shape
    weights = rbm.network_.layout.views(rbm.parameters_)["W"]
    np.testing.assert_array_equal(rbm.components_, weights.T)


@pytest.mark.parametrize("batch_size, hidden", [(1, "relu"), (7, "nrelu"), (7, "binary")])
def test_same_seed_same_bits(batch_size, hidden):
    X = data(30)
    runs = [
        RBM(6, hidden=hidden, batch_size=batch_size, epochs=2, random_state=3).fit(X)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].parameters_, runs[1].parameters_)
    assert runs[0].history_["loss"] == runs[1].history_["loss"]
    assert runs[0].history_["step_size"] == runs[1].history_["step_size"]
    other = RBM(6, hidden=hidden, batch_size=batch_size, epochs=2, random_state=4).fit(X)
    assert not np.array_equal(runs[0].parameters_, other.parameters_)


@pytest.mark.parametrize("step", ["constant", "momentum", "adam", "golovko"])
def test_history_has_the_common_entries(step):
    X = data(20)
    rbm = RBM(4, step=step, batch_size=5, epochs=2, random_state=0).fit(X, validation_data=X[:5])
    history = rbm.history_
    assert len(history) == 8 == rbm.t_
    for key in ("loss", "step_size", "n_forward", "n_backward", "seconds"):
        assert len(history[key]) == 8
    assert len(history["epochs"]["val_loss"]) == 2
    assert np.isfinite(history["epochs"]["val_loss"]).all()
    assert set(steps.get(step).fallbacks) <= set(history)


def test_persistent_cd_keeps_its_particles():
    X = relustep.datasets.load("digits").X_train[:200]
    rbm = RBM(
        16,
        rule="cd",
        hidden="binary",
        persistent=True,
        batch_size=20,
        epochs=3,
        step={"name": "constant", "lr": 0.05},
        random_state=0,
    ).fit(X)
    assert rbm.particles_.shape == (20, X.shape[1])
    assert set(np.unique(rbm.particles_)) <= {0.0, 1.0}  # Bernoulli visible samples
    untrained = RBM(
        16,
        rule="cd",
        hidden="binary",
        persistent=True,
        epochs=1,
        batch_size=20,
        step={"name": "constant", "lr": 1e-12},
        random_state=0,
    ).fit(X)
    assert rbm.reconstruction_error(X) < untrained.reconstruction_error(X)


def test_persistent_step_starts_from_the_kept_hidden_states():
    network, theta = network_and_theta("sigmoid", "binary", rule="cd")
    rng = np.random.default_rng(4)
    X, particles = data(6), rng.random((4, 7))
    hidden = (rng.random((4, 5)) < 0.5).astype(float)
    noise, particle_noise = network.draw_noise(rng, 6, k=0), network.draw_noise(rng, 4)
    assert noise.hidden.shape == (1, 6, 5) and noise.visible.size == 0
    objective = RBMBatchObjective(
        network, X, noise, particles.copy(), particle_noise, hidden.copy()
    )
    direction = np.empty_like(theta)
    loss, _ = objective.loss_and_gradient(theta, direction)
    W, b, c = (network.layout.views(theta)[name] for name in "Wbc")
    sigmoid = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    y0 = (noise.hidden[0] < sigmoid(X @ W + b)).astype(float)
    x1 = (particle_noise.visible[0] < sigmoid(hidden @ W.T + c)).astype(float)
    y1 = (particle_noise.hidden[1] < sigmoid(x1 @ W + b)).astype(float)
    expected = {"W": x1.T @ y1 / 4 - X.T @ y0 / 6, "b": y1.mean(0) - y0.mean(0)}
    expected["c"] = x1.mean(0) - X.mean(0)
    for name, value in expected.items():
        np.testing.assert_allclose(network.layout.views(direction)[name], value, atol=1e-12)
    particle_loss = 0.5 * (np.sum((y1 - hidden) ** 2) + np.sum((x1 - particles) ** 2)) / 4
    assert loss == pytest.approx(particle_loss, rel=1e-12)
    assert objective.loss(theta) == loss  # the loss of the same step, run again
    np.testing.assert_array_equal(objective.particles, x1)
    np.testing.assert_array_equal(objective.particle_hidden, y1)


def test_pseudo_likelihood_matches_the_free_energy_by_hand():
    X = (data(8, 6) > 0.5).astype(float)
    rbm = RBM(4, hidden="binary", batch_size=4, epochs=2, random_state=0).fit(X)

    def free_energy(V):  # F(v) = -c.v - sum_j log(1 + exp(w_j.v + b_j)) of a Bernoulli RBM
        hidden_inputs = V @ rbm.components_.T + rbm.intercept_hidden_
        return -V @ rbm.intercept_visible_ - np.logaddexp(0, hidden_inputs).sum(axis=1)

    expected = 0.0
    for i in range(X.shape[1]):
        flipped = X.copy()
        flipped[:, i] = 1 - flipped[:, i]
        expected += np.sum(-np.logaddexp(0, -(free_energy(flipped) - free_energy(X))))
    assert rbm.pseudo_likelihood(X) == pytest.approx(expected / X.size, rel=1e-10)
    relu = RBM(4, epochs=1, batch_size=4, random_state=0).fit(X)
    with pytest.raises(ValueError, match="binary"):
        relu.pseudo_likelihood(X)


def test_save_and_load(tmp_path):
    X = data(20)
    rbm = RBM(
        4, step=steps.Golovko(verify=True), batch_size=5, epochs=2, dtype="float32", random_state=0
    ).fit(X)
    rbm.save(tmp_path / "rbm.npz")
    loaded = relustep.load(tmp_path / "rbm.npz")
    assert type(loaded) is RBM and loaded.parameters_.dtype == np.float32
    np.testing.assert_array_equal(loaded.transform(X), rbm.transform(X))
    assert loaded.step.verify and loaded.history_["loss"] == rbm.history_["loss"]
    loaded.partial_fit(X[:5])
    assert loaded.t_ == rbm.t_ + 1


def test_float32_is_kept():
    X = data(20).astype(np.float32)
    for batch_size in (1, 5):
        rbm = RBM(4, batch_size=batch_size, epochs=1, dtype="float32", random_state=0).fit(X)
        assert rbm.parameters_.dtype == np.float32
        assert rbm.transform(X).dtype == np.float32


BAD_SETTINGS = [
    ({"n_hidden": 0}, ValueError, "n_hidden"),
    ({"n_hidden": 2.5}, TypeError, "n_hidden"),
    ({"visible": "tanh"}, ValueError, "visible"),
    ({"hidden": "softplus"}, ValueError, "hidden"),
    ({"k": 0}, ValueError, "k"),
    ({"rule": "pcd"}, ValueError, "rule"),
    ({"persistent": 1}, TypeError, "persistent"),
    ({"persistent": True}, ValueError, "rule='cd'"),
    ({"persistent": True, "rule": "cd"}, ValueError, "golovko"),
    ({"step": "nope"}, ValueError, "step"),
    ({"step": {"name": "golovko", "form": "full"}}, ValueError, "form"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"dtype": "int32"}, ValueError, "dtype"),
    ({"backend": "cuda"}, ValueError, "backend"),
    ({"random_state": -1}, ValueError, "random_state"),
    ({"verbose": "yes"}, TypeError, "verbose"),
    ({"epoch_loss": "none"}, ValueError, "epoch_loss"),
]


@pytest.mark.parametrize("settings, error, match", BAD_SETTINGS)
def test_bad_settings_are_named(settings, error, match):
    with pytest.raises(error, match=match):
        RBM(**settings).fit(data(5))


BAD_DATA = [
    (np.array([[0.1, np.nan]]), ValueError, "X"),
    (np.array([[0.1, np.inf]]), ValueError, "X"),
    (np.zeros((0, 3)), ValueError, "X"),
    (np.zeros(3), ValueError, "X"),
    (np.array([["a", "b"]]), TypeError, "X"),
    (None, TypeError, "X"),
]


@pytest.mark.parametrize("X, error, match", BAD_DATA)
def test_bad_data_are_named(X, error, match):
    with pytest.raises(error, match=match):
        RBM(3, epochs=1).fit(X)


def test_mismatched_features_and_unfitted_use_are_named():
    rbm = RBM(3, epochs=1, random_state=0)
    with pytest.raises(relustep.NotFittedError):
        rbm.transform(data(2))
    rbm.fit(data(5, 4))
    with pytest.raises(ValueError, match="features"):
        rbm.transform(data(2, 3))
    with pytest.raises(ValueError, match="validation_data"):
        RBM(3, epochs=1).fit(data(5, 4), validation_data=data(2, 3))
    with pytest.raises(ValueError, match="features"):
        rbm.partial_fit(data(2, 5))


def test_golovko_refuses_a_model_it_cannot_freeze():
    with pytest.raises(IncompatibleStepError, match="golovko.*ReLURegressor.*frozen_quadratic"):
        relustep.ReLURegressor((3,), step="golovko", epochs=1).fit(data(5), np.ones(5))


@pytest.mark.parametrize("step", ["qlab", {"name": "qlab", "direction": "adam"}])
def test_qlab_refuses_the_rbm_whose_direction_is_not_a_gradient(step):
    with pytest.raises(IncompatibleStepError, match="qlab.*RBM.*'gradient'"):
        RBM(3, step=step, epochs=1).fit(data(5))


@pytest.mark.parametrize("step", ["lqa", "exact"])
def test_rules_that_measure_the_loss_along_the_line_train_the_rbm(step):
    X = data(40)
    rbm = RBM(4, visible="relu", step=step, batch_size=10, epochs=2, random_state=0).fit(X)
    assert rbm.history_["epochs"]["train_loss"][-1] < rbm.history_["epochs"]["train_loss"][0]


# -- kernels against their twins (also run with NUMBA_DISABLE_JIT=1) ------------------------------
DTYPES = [np.float64, np.float32]
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}


def both(name):
    return kernels.get(name, "numba"), kernels.get(name, "numpy")


@pytest.mark.nojit
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", list(rbm_kernels.UNIT_CODES.values()))
@pytest.mark.parametrize("sampled", [False, True])
def test_transfer_matches_twin(rng, dtype, kind, sampled):
    pre = rng.normal(size=(4, 6)).astype(dtype)
    bias = rng.normal(size=6).astype(dtype)
    noise = np.empty((0, 0), dtype)
    if sampled:
        noise = (
            rng.normal(size=(4, 6)) if kind == rbm_kernels.NRELU else rng.random((4, 6))
        ).astype(dtype)
    results = []
    for function in both("rbm_transfer"):
        a, out, slope = pre.copy(), np.empty_like(pre), np.empty_like(pre)
        rbm_kernels.apply_transfer(function, a, bias, noise, kind, out, slope)
        results.append((a, out, slope))
    np.testing.assert_allclose(
        results[0][2], rbm_kernels.derivative_numpy(results[0][0], kind), rtol=1e-5, atol=1e-6
    )
    for first, second in zip(*results, strict=True):
        np.testing.assert_allclose(first, second, rtol=TOLERANCE[dtype], atol=1e-6)
        assert first.dtype == dtype


@pytest.mark.nojit
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masked", [False, True])
def test_local_errors_golovko_sums_and_crossings_match_twins(rng, dtype, masked):
    current, previous, pre, moves = (rng.normal(size=(5, 4)).astype(dtype) for _ in range(4))
    slope = np.abs(rng.normal(size=(5, 4))).astype(dtype)
    slope[0] = 0.0  # inactive units
    directions = []
    for function in both("rbm_local_errors"):
        out = np.empty_like(current)
        directions.append((function(current, previous, slope, masked, out), out))
    error = current.astype(np.float64) - previous
    assert directions[0][0] == pytest.approx(0.5 * np.sum(error**2), rel=TOLERANCE[dtype])
    assert directions[1][0] == pytest.approx(directions[0][0], rel=TOLERANCE[dtype])
    np.testing.assert_allclose(directions[0][1], directions[1][1], rtol=TOLERANCE[dtype])
    np.testing.assert_allclose(
        directions[0][1], error * slope if masked else error, rtol=TOLERANCE[dtype], atol=1e-6
    )
    sums = [function(current, previous, slope, moves) for function in both("golovko_sums")]
    np.testing.assert_allclose(sums[0], sums[1], rtol=TOLERANCE[dtype])
    expected = (np.sum(error * slope * moves), np.sum((slope * moves.astype(np.float64)) ** 2))
    np.testing.assert_allclose(sums[0], expected, rtol=TOLERANCE[dtype])
    counts = [function(pre, moves, 0.7) for function in both("zero_crossings")]
    assert counts[0] == counts[1] == np.count_nonzero((pre > 0) != (pre - 0.7 * moves > 0))


def online_epoch(function, X, W, b, c, units, masked, k, step, diagonal, verify, max_halvings):
    """Run ``function`` (the online kernel or its twin) on copies of ``W, b, c``; return the
    parameters, the per-step outputs and Adam's moments (used by the Adam step only, which
    starts as if after 3 steps, with moments of its own)."""
    W, b, c = W.copy(), b.copy(), c.copy()
    size = W.size + b.size + c.size
    moments = [np.full(size, 0.01, W.dtype), np.full(size, 1e-4, W.dtype)]
    n_steps = len(X)
    floats = [np.empty(n_steps) for _ in range(3)]  # losses, step sizes, crossing fractions
    counts = [np.empty(n_steps, dtype=np.int64) for _ in range(4)]  # status, halvings, ...
    function(
        X,
        np.arange(n_steps),
        W,
        b,
        c,
        *(rbm_kernels.UNIT_CODES[unit] for unit in units),
        masked,
        k,
        step,
        0.05,
        diagonal,
        verify,
        max_halvings,
        floats[0],
        floats[1],
        counts[0],
        floats[2],
        *counts[1:],
        *moments,
        np.array([0.9, 0.999, 1e-8, 3.0]),
    )
    return W, b, c, *floats, *moments, *counts


@pytest.mark.nojit
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "visible, hidden, masked, k, step, diagonal, verify",
    [
        ("relu", "relu", True, 1, rbm_kernels.STEP_GOLOVKO, False, False),
        ("sigmoid", "relu", False, 2, rbm_kernels.STEP_GOLOVKO, False, False),
        ("linear", "linear", True, 2, rbm_kernels.STEP_GOLOVKO, True, False),
        ("sigmoid", "relu", True, 1, rbm_kernels.STEP_CONSTANT, False, False),
        ("linear", "relu", True, 1, rbm_kernels.STEP_GOLOVKO, False, True),
        ("linear", "relu", False, 2, rbm_kernels.STEP_GOLOVKO, False, True),
        ("sigmoid", "relu", True, 2, rbm_kernels.STEP_GOLOVKO, False, True),
        ("sigmoid", "relu", True, 1, rbm_kernels.STEP_ADAM, False, False),
        ("linear", "relu", False, 2, rbm_kernels.STEP_ADAM, False, False),
    ],
)
def test_online_epoch_matches_twin(rng, dtype, visible, hidden, masked, k, step, diagonal, verify):
    X = rng.normal(size=(8, 5)) if visible == "linear" else rng.random((8, 5))
    X = X.astype(dtype)
    W0 = (0.3 * rng.normal(size=(5, 4))).astype(dtype)
    b0 = np.full(4, 0.1, dtype)
    c0 = np.zeros(5, dtype)
    settings = (visible, hidden), masked, k, step, diagonal, verify, 2
    results = [
        online_epoch(function, X, W0, b0, c0, *settings) for function in both("rbm_online_epoch")
    ]
    tolerance = 10 * TOLERANCE[dtype]
    for first, second in zip(*results, strict=True):
        np.testing.assert_allclose(first, second, rtol=tolerance, atol=tolerance)
    assert results[0][0].dtype == dtype
    assert not np.array_equal(results[0][0], W0)
    first_moment = results[0][6]
    assert (first_moment != 0.01).any() == (step == rbm_kernels.STEP_ADAM)
    halvings, failed, forward_passes = results[0][-3:]
    np.testing.assert_array_equal(forward_passes, 1 + verify * (1 + halvings - failed))
    if verify and visible == "linear":
        assert halvings.sum() > 0  # the case checks the halvings, not only the first trial


@pytest.mark.nojit
def test_verified_step_without_halvings_is_the_unverified_step_bit_for_bit(rng):
    X = rng.random((8, 6))
    W0, b0, c0 = 0.1 * rng.normal(size=(6, 4)), np.full(4, 0.1), np.zeros(6)
    for function in both("rbm_online_epoch"):
        runs = [
            online_epoch(function, X, W0, b0, c0, ("sigmoid", "relu"), True, 1, 1, False, v, 5)
            for v in (False, True)
        ]
        assert runs[1][-3].sum() == 0  # no halving was needed
        for unverified, verified in zip(runs[0][:5], runs[1][:5], strict=True):
            np.testing.assert_array_equal(unverified, verified)


@pytest.mark.nojit
def test_saturated_sigmoid_unit_is_zero_compiled_or_not():
    pre = np.array([-800.0, -709.0, 0.0, 800.0])
    out, slope = np.empty(4), np.empty(4)
    rbm_kernels._transfer_vector(pre, rbm_kernels.SIGMOID, out, slope)
    np.testing.assert_array_equal(out, [0.0, 1.0 / (1.0 + np.exp(709.0)), 0.5, 1.0])
    np.testing.assert_array_equal(out, rbm_kernels._transfer_vector_numpy(pre, rbm_kernels.SIGMOID))


class _StubObjective:
    """An objective whose frozen quadratic is given, to drive each safeguard of the rule."""

    def __init__(self, numerator, denominator):
        self.numerator, self.denominator = numerator, denominator

    def frozen_quadratic(self, theta, direction, form):
        return steps.golovko.FrozenQuadratic(self.numerator, self.denominator, lambda a: 0.25)

    def loss(self, theta):
        return float(np.sum(theta**2))


@pytest.mark.parametrize(
    "numerator, denominator, counted, alpha",
    [
        (0.0, 0.0, "nothing_to_learn", 0.0),
        (1.0, 0.0, "non_finite", 0.0),
        (np.nan, 1.0, "non_finite", 0.0),
        (-1.0, 2.0, "not_descent", 0.0),
        (1.0, 4.0, None, 0.25),
    ],
)
def test_each_safeguard_is_counted_by_name(numerator, denominator, counted, alpha):
    rule = steps.Golovko()
    rule.start(3)
    theta = np.ones(3)
    line = steps.Line(theta, theta, theta, 3.0, _StubObjective(numerator, denominator))
    assert rule.size(line) == alpha
    counts = rule.take_counts()
    for name in rule.fallbacks:
        assert counts[name] == (1 if name == counted else 0)
    logged = rule.take_logged()["crossing_fraction"]
    assert logged == 0.25 if counted is None else np.isnan(logged)


def test_verify_gives_up_after_max_halvings():
    rule = steps.Golovko(verify=True, max_halvings=3)
    rule.start(3)
    theta = np.ones(3)
    line = steps.Line(theta, theta, -theta, 3.0, _StubObjective(1.0, 1.0))  # uphill direction
    assert rule.size(line) == 0.0
    counts = rule.take_counts()
    assert counts["verify_halvings"] == 3 and counts["verify_failed"] == 1
    assert line.n_probes == 3
