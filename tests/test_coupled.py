"""The coupled analytic step of the RBM: the chain's tangents against central differences, the
tangent kernel against its twin, the step against a brute-force line minimum of its model and,
with linear units, against the identities that hold exactly; the rule's safeguards and settings;
the RBM trained with it; its decrease ratio on a small run."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import relustep
from relustep import kernels, steps
from relustep.estimators import RBM
from relustep.history import History
from relustep.kernels import rbm as rbm_kernels
from relustep.models.rbm import RBMBatchObjective, RBMNetwork
from relustep.models.rbm_tangent import TANGENT_FORWARD_PASSES, chain_tangent
from relustep.objective import ChainTangent, IncompatibleStepError
from relustep.train import Stepper

VISIBLE = ("linear", "sigmoid", "relu")
HIDDEN = ("relu", "nrelu", "binary", "linear")
EPSILON = np.finfo(np.float64).eps


def setting(visible="relu", hidden="relu", k=1, seed=0, n=6, m=4, n_rows=5):
    """A small RBM away from its initialisation, a batch, its noise and a random direction."""
    rng = np.random.default_rng(seed)
    network = RBMNetwork(n, m, visible=visible, hidden=hidden, k=k)
    theta = network.init_parameters(rng) + 0.3 * rng.normal(size=network.layout.size)
    X = rng.random((n_rows, n))
    noise = network.draw_noise(rng, n_rows)
    direction = rng.normal(size=theta.shape)
    return network, theta, X, noise, direction


def chain_residual(network, theta, X, noise):
    """The chain's local errors as the library's chain computes them, in ChainTangent's order."""
    chain = network.run_chain(theta, X, noise)
    steps_ = range(1, chain.k + 1)
    hidden = np.stack([chain.y(p) - chain.y(p - 1) for p in steps_])
    visible = np.stack([chain.x(p) - chain.x(p - 1) for p in steps_])
    return np.concatenate([hidden.ravel(), visible.ravel()])


def coupled_step(objective, theta, direction):
    """The step the rule takes on ``objective`` along ``direction``."""
    rule = steps.get("coupled")
    rule.start(theta.size)
    return rule.size(steps.Line(theta, direction, direction, objective.loss(theta), objective))


# -- the tangent pass ----------------------------------------------------------------------------
@pytest.mark.nojit
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("visible", VISIBLE)
def test_tangent_matches_central_differences(visible, hidden, k):
    network, theta, X, noise, direction = setting(visible, hidden, k)
    tangent = chain_tangent(network, theta, X, direction, noise)
    residual = chain_residual(network, theta, X, noise)
    np.testing.assert_allclose(tangent.residual, residual, rtol=0, atol=1e-13)
    loss = 0.5 * float(tangent.residual @ tangent.residual) / len(X)
    assert loss == pytest.approx(network.loss(theta, X, noise), rel=1e-13)
    h = 1e-6
    difference = (
        chain_residual(network, theta + h * direction, X, noise)
        - chain_residual(network, theta - h * direction, X, noise)
    ) / (2 * h)
    # the difference quotient's error: rounding of r over 2h, truncation h^2 r''' / 6, with a
    # factor 10 for the rounding of the chain's sums
    scale = np.max(np.abs(residual)) + 1.0
    tolerance = 10 * (EPSILON * scale / h + h**2 * (np.max(np.abs(tangent.tangent)) + 1.0))
    np.testing.assert_allclose(tangent.tangent, difference, rtol=0, atol=tolerance)
    if hidden == "binary" and visible == "sigmoid":  # every state a fixed Bernoulli sample
        assert not np.any(tangent.tangent)
    else:
        assert np.max(np.abs(tangent.tangent)) > 0.1


def test_the_coupling_terms_matter():
    """Without the rates of the inputs (the frozen-activity view) the tangent is wrong: the
    central-difference test above can tell the two apart."""
    network, theta, X, noise, direction = setting("linear", "linear", 1)
    coupled = chain_tangent(network, theta, X, direction, noise)
    hidden_rate = coupled.tangent[: X.shape[0] * network.n_hidden].reshape(len(X), -1)  # p = 1
    visible_rate = coupled.tangent[hidden_rate.size :].reshape(len(X), -1)
    views, moves = network.layout.views(theta), network.layout.views(direction)
    chain = network.run_chain(theta, X, noise)
    frozen_hidden = chain.x(1) @ moves["W"] + moves["b"]  # the input x(1) held fixed
    assert np.max(np.abs(hidden_rate - frozen_hidden)) > 0.1
    exact_hidden_rate = frozen_hidden + visible_rate @ views["W"]  # x(1) moves by x'(1) = e'(1)
    exact_hidden_rate -= X @ moves["W"] + moves["b"]  # minus the rate of y(0)
    np.testing.assert_allclose(hidden_rate, exact_hidden_rate, atol=1e-12)


@pytest.mark.nojit
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(rbm_kernels.UNIT_CODES.values()))
@pytest.mark.parametrize("sampled", [False, True])
def test_transfer_tangent_matches_twin_and_the_chains_states(rng, dtype, kind, sampled):
    pre = (2 * rng.normal(size=(4, 6))).astype(dtype)
    rate = rng.normal(size=(4, 6)).astype(dtype)
    noise = np.empty((0, 0), dtype)
    if sampled:
        draw = rng.normal if kind == rbm_kernels.NRELU else rng.random
        noise = draw(size=(4, 6)).astype(dtype)
    results = []
    for function in (kernels.get("rbm_transfer_tangent", b) for b in kernels.BACKENDS):
        a, a_rate, out, out_rate = pre.copy(), rate.copy(), np.empty_like(pre), np.empty_like(pre)
        function(a, a_rate, noise, kind, out, out_rate)
        results.append((a, a_rate, out, out_rate))
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    for first, second in zip(*results, strict=True):
        np.testing.assert_allclose(first, second, rtol=tolerance, atol=1e-6)
        assert first.dtype == dtype
    states, slope = np.empty_like(pre), np.empty_like(pre)
    chain_pre = pre.copy()
    rbm_kernels.apply_transfer(
        rbm_kernels.transfer_numpy, chain_pre, np.zeros(6, dtype), noise, kind, states, slope
    )
    np.testing.assert_allclose(results[0][2], states, rtol=tolerance, atol=1e-6)
    np.testing.assert_allclose(results[0][0], chain_pre, rtol=tolerance, atol=1e-6)


@pytest.mark.nojit
@pytest.mark.parametrize("visible, hidden", [("relu", "nrelu"), ("sigmoid", "relu")])
def test_chain_tangent_is_the_same_on_both_backends(visible, hidden):
    network, theta, X, noise, direction = setting(visible, hidden, 2)
    twin = RBMNetwork(6, 4, visible=visible, hidden=hidden, k=2, backend="numpy")
    results = [chain_tangent(net, theta, X, direction, noise) for net in (network, twin)]
    np.testing.assert_allclose(results[0].residual, results[1].residual, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(results[0].tangent, results[1].tangent, rtol=1e-12, atol=1e-14)
    assert results[0].crossing_fraction(0.3) == results[1].crossing_fraction(0.3)


def test_crossing_fraction_counts_the_units_whose_linearised_sum_changes_sign():
    """The crossings are counted on S - alpha S' for every hidden pre-activation of the chain
    (visible linear units have no kink), with S' checked here by central differences."""
    network, theta, X, noise, direction = setting("linear", "relu", 2, n_rows=40)
    tangent = chain_tangent(network, theta, X, direction, noise)
    pre = network.run_chain(theta, X, noise).pre_hidden
    h = 1e-6
    rate = (
        network.run_chain(theta + h * direction, X, noise).pre_hidden
        - network.run_chain(theta - h * direction, X, noise).pre_hidden
    ) / (2 * h)
    for alpha in (0.05, 0.3):
        crossed = np.count_nonzero((pre > 0) != (pre - alpha * rate > 0))
        assert crossed > 0
        assert tangent.crossing_fraction(alpha) == crossed / pre.size
    assert tangent.crossing_fraction(0.0) == 0.0


# -- the step against its model and exact identities ---------------------------------------------
@pytest.mark.parametrize("visible, hidden, k", [("relu", "relu", 1), ("sigmoid", "nrelu", 2)])
def test_alpha_is_the_minimum_of_the_gauss_newton_model(visible, hidden, k):
    network, theta, X, noise, direction = setting(visible, hidden, k)
    tangent = chain_tangent(network, theta, X, direction, noise)
    residual, rate = tangent.residual, tangent.tangent
    if residual @ rate < 0:  # a descent direction for the model
        direction, rate = -direction, -rate
    alpha = coupled_step(RBMBatchObjective(network, X, noise), theta, direction)
    assert alpha > 0

    def model(step):  # the linearised residuals, evaluated without the formula
        moved = residual - step * rate
        return 0.5 * float(moved @ moved) / len(X)

    brute = minimize_scalar(
        model, bounds=(0, 10 * alpha), method="bounded", options={"xatol": 1e-12}
    )
    assert brute.x == pytest.approx(alpha, rel=1e-6)
    predicted = model(0) - 0.5 * (residual @ rate) ** 2 / (rate @ rate) / len(X)
    assert model(alpha) == pytest.approx(predicted, rel=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_linear_chain_is_a_polynomial_whose_linear_coefficient_is_minus_the_tangent(k):
    """With linear units every state is a polynomial in the step, y(p) of degree 2p + 1: a fit of
    that degree through more points than it needs is exact, and its linear coefficient is -Jd."""
    network, theta, X, noise, direction = setting("linear", "linear", k)
    direction *= 0.1
    tangent = chain_tangent(network, theta, X, direction, noise)
    steps_along = np.cos(np.pi * (np.arange(2 * k + 5) + 0.5) / (2 * k + 5))  # Chebyshev nodes
    values = np.stack(
        [chain_residual(network, theta - a * direction, X, noise) for a in steps_along]
    )
    coefficients, (fit_residual, *_) = np.polynomial.polynomial.polyfit(
        steps_along, values, 2 * k + 1, full=True
    )
    scale = np.max(np.abs(values))
    assert np.sqrt(np.max(fit_residual)) < 1e-11 * scale
    np.testing.assert_allclose(coefficients[0], tangent.residual, atol=1e-11 * scale)
    np.testing.assert_allclose(coefficients[1], -tangent.tangent, atol=1e-10 * scale)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_along_the_biases_a_linear_chain_is_exactly_quadratic(k):
    """Moving only b and c, a linear chain's residuals are linear in the step: the model is E
    itself, and alpha* is the true line minimum."""
    network, theta, X, noise, direction = setting("linear", "linear", k)
    direction[network.layout.slices["W"]] = 0.0
    tangent = chain_tangent(network, theta, X, direction, noise)
    residual, rate = tangent.residual, tangent.tangent
    if residual @ rate < 0:
        direction, rate = -direction, -rate
    alpha = coupled_step(RBMBatchObjective(network, X, noise), theta, direction)
    assert alpha == pytest.approx(residual @ rate / (rate @ rate), rel=1e-12)
    for step in (0.3 * alpha, alpha, 2.5 * alpha):
        moved = residual - step * rate
        model = 0.5 * float(moved @ moved) / len(X)
        assert network.loss(theta - step * direction, X, noise) == pytest.approx(model, rel=1e-10)
    brute = minimize_scalar(
        lambda step: network.loss(theta - step * direction, X, noise),
        bounds=(0, 5 * alpha),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert brute.x == pytest.approx(alpha, rel=1e-5)


# -- the rule -----------------------------------------------------------------------------------
class _StubObjective:
    """An objective whose chain residuals r and rates u are given (one row), and whose loss is
    sum(theta^2)."""

    capabilities = frozenset({"chain_tangent"})

    def __init__(self, residual, tangent):
        self.residual, self.tangent = np.array(residual, float), np.array(tangent, float)

    def chain_tangent(self, theta, direction):
        return ChainTangent(self.residual, self.tangent, 1, lambda alpha: 0.25, 2)

    def loss(self, theta):
        return float(np.sum(theta**2))


def stub_line(residual, tangent, uphill=False):
    theta = np.ones(3)
    direction = -theta if uphill else theta
    return steps.Line(theta, theta, direction, 3.0, _StubObjective(residual, tangent))


@pytest.mark.parametrize(
    "residual, tangent, counted, alpha",
    [
        ([1.0, 2.0], [0.0, 0.0], "nothing_to_learn", 0.0),
        ([np.nan], [1.0], "non_finite", 0.0),
        ([1.0], [np.inf], "non_finite", 0.0),
        ([-0.5], [1.0], "not_descent", 0.0),
        ([0.0, 1.0], [1.0, 0.0], None, 0.0),  # r^T u = 0: no decrease predicted, no step
        ([0.5, 0.0], [2.0, 0.0], None, 0.25),
    ],
)
def test_each_safeguard_is_counted_by_name(residual, tangent, counted, alpha):
    rule = steps.get("coupled")
    rule.start(3)
    line = stub_line(residual, tangent)
    assert rule.size(line) == alpha
    counts = rule.take_counts()
    for name in rule.fallbacks:
        assert counts[name] == (1 if name == counted else 0)
    logged = rule.take_logged()
    if alpha > 0:
        assert logged["crossing_fraction"] == 0.25
        # true decrease 3 - 3 (1 - 1/4)^2 over the model's 1/2 (r^T u) alpha = 1/2 * 1 * 1/4
        assert logged["decrease_vs_model"] == pytest.approx((3 - 3 * 0.75**2) / 0.125)
        assert line.n_probes == 2 + 1
    else:
        assert np.isnan(logged["crossing_fraction"]) and np.isnan(logged["decrease_vs_model"])
        assert line.n_probes == 2


def test_a_step_that_raises_the_loss_is_counted_and_verify_halves_it():
    rule = steps.CoupledGaussNewton()
    rule.start(3)
    assert rule.size(stub_line([1.0], [1.0], uphill=True)) == 1.0  # taken, but counted
    assert rule.take_counts()["raised_loss"] == 1
    assert rule.take_logged()["decrease_vs_model"] < 0
    rule = steps.CoupledGaussNewton(verify=True)
    rule.start(3)
    assert rule.size(stub_line([2.5], [1.0])) == 1.25  # 3 (1 - 2.5)^2 > 3, 3 (1 - 1.25)^2 < 3
    counts = rule.take_counts()
    assert counts["raised_loss"] == 1 and counts["verify_halvings"] == 1
    rule = steps.CoupledGaussNewton(verify=True, max_halvings=3)
    rule.start(3)
    line = stub_line([1.0], [1.0], uphill=True)
    assert rule.size(line) == 0.0
    counts = rule.take_counts()
    assert counts["verify_halvings"] == 3 and counts["verify_failed"] == 1
    assert line.n_probes == 2 + 1 + 3


@pytest.mark.parametrize(
    "settings, error, match",
    [
        ({"verify": "yes"}, TypeError, "verify"),
        ({"max_halvings": 0}, ValueError, "max_halvings"),
        ({"max_halvings": 2.5}, TypeError, "max_halvings"),
        ({"form": "gram"}, TypeError, "form"),
    ],
)
def test_bad_settings_are_named(settings, error, match):
    with pytest.raises(error, match=match):
        steps.get({"name": "coupled", **settings})


def test_a_model_without_a_chain_is_refused_before_any_work():
    message = "step 'coupled' cannot train .* residuals of a Gibbs chain"
    with pytest.raises(IncompatibleStepError, match=message):
        relustep.ReLURegressor((4,), step="coupled", epochs=1).fit(np.ones((5, 2)), np.ones(5))
    with pytest.raises(IncompatibleStepError, match=message):
        RBM(3, rule="cd", persistent=True, step="coupled", epochs=1).fit(np.ones((5, 2)) / 2)


# -- the RBM trained with it ---------------------------------------------------------------------
@pytest.mark.parametrize("visible, hidden, k", [("linear", "relu", 1), ("sigmoid", "nrelu", 2)])
def test_partial_fit_moves_by_alpha_star_times_the_direction(visible, hidden, k):
    X = np.random.default_rng(3).random((10, 7))
    model = RBM(5, visible=visible, hidden=hidden, k=k, step="coupled", random_state=0)
    model.partial_fit(X)
    theta = model.parameters_.copy()
    rng_state = model._rng.bit_generator.state
    noise = model.network_.draw_noise(model._rng, len(X))
    model._rng.bit_generator.state = rng_state
    objective = RBMBatchObjective(model.network_, X, noise)
    gradient = np.empty_like(theta)
    objective.loss_and_gradient(theta, gradient)
    tangent = chain_tangent(model.network_, theta, X, gradient, noise)
    alpha = (tangent.residual @ tangent.tangent) / (tangent.tangent @ tangent.tangent)
    model.partial_fit(X)
    assert model.history_["step_size"][-1] == pytest.approx(alpha, rel=1e-12)
    np.testing.assert_allclose(model.parameters_, theta - alpha * gradient, rtol=0, atol=1e-12)
    assert model.history_["n_forward"][-1] == 1 + TANGENT_FORWARD_PASSES + 1


@pytest.mark.parametrize("batch_size", [1, 8])
def test_rbm_with_the_coupled_step_learns_and_repeats_its_bits(batch_size):
    X = relustep.datasets.load("digits").X_train[:40]
    fits = [
        RBM(
            8, visible="linear", step="coupled", batch_size=batch_size, epochs=2, random_state=0
        ).fit(X)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].parameters_, fits[1].parameters_)
    history = fits[0].history_
    for column in ("raised_loss", "not_descent", "crossing_fraction", "decrease_vs_model"):
        assert len(history[column]) == len(history["loss"])
    losses = history["epochs"]["train_loss"]
    assert losses[-1] < fits[0].network_.cse(
        fits[0].network_.init_parameters(np.random.default_rng(0)), X
    )


def test_decrease_ratio_against_the_exact_search_on_a_small_run():
    """On standardised digits with linear visibles, the coupled step comes near the best step
    along its line and does not raise the batch loss; the frozen-activity step does less well."""
    X = relustep.datasets.load("digits").X_train[:200]
    spread = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    medians, raised = {}, {}
    for name in ("coupled", "golovko"):
        network = RBMNetwork(64, 16, visible="linear", hidden="relu")
        rng = np.random.default_rng(0)
        theta = network.init_parameters(rng)
        rule = steps.get(name)
        rule.start(theta.size)
        history = History(rule.fallbacks)
        stepper = Stepper(theta, rule, history, record_optimality=True)
        raised[name] = 0
        for start in range(0, 120, 8):
            objective = RBMBatchObjective(network, X[start : start + 8], network.draw_noise(rng, 8))
            loss = stepper.step(objective)
            raised[name] += objective.loss(stepper.theta) > loss
        medians[name] = float(np.nanmedian(history["optimality"]))
    assert medians["coupled"] > 0.9
    assert raised["coupled"] == 0
    assert medians["coupled"] > medians["golovko"]
