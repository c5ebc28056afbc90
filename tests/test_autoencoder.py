"""The autoencoder: gradients against central differences, the analytic (Gauss-Newton) step
against its closed form and a brute-force line minimum, every step rule, seeds, save/load and bad
input."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import relustep
from relustep.estimators import Autoencoder
from relustep.gradcheck import check_gradient
from relustep.models.autoencoder import AutoencoderNetwork
from relustep.train import BatchObjective

CASES = [
    ((6, 4), "linear", True),
    ((6, 4), "sigmoid", False),
    ((6, 4), "relu", True),
    ((6, 5, 3), "sigmoid", False),
    ((6, 5, 3), "linear", True),
]


def network_and_theta(sizes, visible, tied, seed=0):
    network = AutoencoderNetwork(sizes, visible=visible, tied=tied)
    rng = np.random.default_rng(seed)
    theta = network.init_parameters(rng)
    theta += 0.05 * rng.normal(size=theta.size)  # nonzero biases
    return network, theta


def data(n=9, d=6, seed=1):
    return np.random.default_rng(seed).random((n, d))


@pytest.mark.parametrize("sizes, visible, tied", CASES)
def test_gradient_passes_the_gradient_checker(sizes, visible, tied):
    network, theta = network_and_theta(sizes, visible, tied)
    X = data()
    error = check_gradient(
        lambda t: network.loss(t, X, X), lambda t: network.loss_and_gradient(t, X, X)[1], theta
    )
    assert error < 1e-7


def test_tied_gradient_adds_both_layers_contributions():
    tied, theta = network_and_theta((6, 4), "linear", True)
    untied = AutoencoderNetwork((6, 4), visible="linear", tied=False)
    views = tied.layout.views(theta)
    untied_theta = untied.layout.empty()
    untied_views = untied.layout.views(untied_theta)
    for name in ("W1", "b1", "c1"):
        untied_views[name][...] = views[name]
    untied_views["V1"][...] = views["W1"].T
    X = data()
    gradient = tied.layout.views(tied.loss_and_gradient(theta, X, X)[1])
    untied_gradient = untied.layout.views(untied.loss_and_gradient(untied_theta, X, X)[1])
    np.testing.assert_allclose(
        gradient["W1"], untied_gradient["W1"] + untied_gradient["V1"].T, rtol=1e-12
    )


@pytest.mark.parametrize("sizes, visible, tied", CASES)
def test_analytic_step_is_the_minimum_of_the_linearised_loss(sizes, visible, tied):
    network, theta = network_and_theta(sizes, visible, tied)
    X = data()
    _, gradient = network.loss_and_gradient(theta, X, X)
    direction = gradient + 0.3 * np.random.default_rng(2).normal(size=theta.size) * gradient
    quadratic = network.frozen_quadratic(theta, X, X, direction)
    # Jd by central differences of the reconstruction, independently of the forward-mode pass
    h = 1e-6
    jacobian_times_direction = (
        network.reconstruct(theta - h * direction, X)
        - network.reconstruct(theta + h * direction, X)
    ) / (2 * h)  # derivative of the reconstruction along -d, i.e. -J d
    residual = network.reconstruct(theta, X) - X

    def linearised_loss(alpha):
        moved = residual + alpha * jacobian_times_direction
        return 0.5 * np.sum(moved**2) / len(X)

    best = minimize_scalar(
        linearised_loss, bounds=(0, 100), method="bounded", options={"xatol": 1e-12}
    ).x
    alpha = quadratic.numerator / quadratic.denominator
    assert alpha == pytest.approx(best, rel=1e-5)
    assert quadratic.numerator == pytest.approx(float(gradient @ direction), rel=1e-10)
    assert 0.0 <= quadratic.crossing_fraction(alpha) <= 1.0


def test_along_the_gradient_the_step_is_gauss_newton():
    network, theta = network_and_theta((6, 4), "relu", True)
    X = data()
    _, gradient = network.loss_and_gradient(theta, X, X)
    quadratic = network.frozen_quadratic(theta, X, X, gradient)
    assert quadratic.numerator == pytest.approx(float(gradient @ gradient), rel=1e-10)


@pytest.mark.parametrize("tied", [True, False])
def test_partial_fit_moves_by_alpha_star_times_the_gradient(tied):
    X = data(12)
    model = Autoencoder(4, visible="linear", tied=tied, random_state=0).partial_fit(X)
    before = model.parameters_.copy()
    _, gradient = model.network_.loss_and_gradient(before, X, X)
    quadratic = model.network_.frozen_quadratic(before, X, X, gradient)
    alpha = quadratic.numerator / quadratic.denominator
    model.partial_fit(X)
    assert model.history_["step_size"][-1] == pytest.approx(alpha, rel=1e-12)
    np.testing.assert_allclose(model.parameters_, before - alpha * gradient, rtol=1e-12, atol=1e-15)
    assert model.history_["n_forward"][-1] == 2  # the step's own forward pass is counted


@pytest.mark.parametrize("step", ["constant", "momentum", "adam", "golovko"])
def test_every_step_rule_lowers_the_loss(step):
    X = relustep.datasets.load("digits").X_train[:200] / 16
    model = Autoencoder(16, step=step, epochs=4, batch_size=20, random_state=0).fit(X)
    losses = model.history_["epochs"]["train_loss"]
    untrained = Autoencoder(16, epochs=0, random_state=0).fit(X)
    assert losses[-1] < 0.5 * untrained.reconstruction_error(X)  # the loss at the start


def test_fitted_attributes_and_shapes():
    X = data(20)
    for tied in (True, False):
        model = Autoencoder(3, tied=tied, epochs=2, batch_size=5, random_state=0).fit(X)
        assert model.components_.shape == (3, 6)
        assert model.intercept_hidden_.shape == (3,) and model.intercept_visible_.shape == (6,)
        assert model.transform(X).shape == (20, 3)
        assert model.reconstruct(X).shape == X.shape
        assert ("V1" in model.network_.layout) is not tied
        assert model.score(X) == pytest.approx(-model.reconstruction_error(X))
        assert model.reconstruction_error(X) == pytest.approx(
            np.sum((model.reconstruct(X) - X) ** 2) / len(X), rel=1e-12
        )


def test_same_seed_same_bits():
    X = data(30)
    runs = [Autoencoder(4, epochs=3, batch_size=7, random_state=5).fit(X) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].parameters_, runs[1].parameters_)
    assert runs[0].history_["step_size"] == runs[1].history_["step_size"]
    other = Autoencoder(4, epochs=3, batch_size=7, random_state=6).fit(X)
    assert not np.array_equal(runs[0].parameters_, other.parameters_)


def test_save_and_load(tmp_path):
    X = data(20)
    model = Autoencoder(3, tied=False, step="adam", epochs=2, batch_size=5, random_state=0).fit(X)
    model.save(tmp_path / "ae.npz")
    loaded = relustep.load(tmp_path / "ae.npz")
    assert type(loaded) is Autoencoder
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))
    assert loaded.history_["loss"] == model.history_["loss"]


def test_the_diagonal_form_is_for_the_rbm_only():
    with pytest.raises(ValueError, match="form"):
        Autoencoder(3, step={"name": "golovko", "form": "diagonal"}, epochs=1).fit(data(5))


BAD = [
    ({"n_hidden": 0}, None, ValueError, "n_hidden"),
    ({"visible": "tanh"}, None, ValueError, "visible"),
    ({"tied": "yes"}, None, TypeError, "tied"),
    ({"step": 3}, None, TypeError, "step"),
    ({"batch_size": 0}, None, ValueError, "batch_size"),
    ({"dtype": "float16"}, None, ValueError, "dtype"),
    ({}, np.array([[np.nan, 1.0]]), ValueError, "X"),
    ({}, np.zeros((0, 2)), ValueError, "X"),
    ({}, np.zeros(4), ValueError, "X"),
]


@pytest.mark.parametrize("settings, X, error, match", BAD)
def test_bad_input_is_named(settings, X, error, match):
    with pytest.raises(error, match=match):
        Autoencoder(**{"epochs": 1, **settings}).fit(data(5) if X is None else X)


def test_mismatched_features_are_named():
    model = Autoencoder(3, epochs=1, random_state=0).fit(data(5, 4))
    with pytest.raises(ValueError, match="features"):
        model.transform(data(2, 3))
    with pytest.raises(ValueError, match="validation_data"):
        Autoencoder(3, epochs=1).fit(data(5, 4), validation_data=data(2, 3))


def test_batch_objective_of_the_trainer_is_what_the_step_sees():
    network, theta = network_and_theta((6, 4), "sigmoid", False)
    X = data()
    objective = BatchObjective(network, X, X)
    assert objective.loss(theta) == pytest.approx(network.loss(theta, X, X))
