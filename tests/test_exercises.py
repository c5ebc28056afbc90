"""The course keeps itself honest: every solution passes the checker, and a planted mistake in every
exercise fails it with the hint written for that mistake.

The solutions live apart from the students' notebooks, in ``tutorials/exercises/solutions``;
they are loaded here by path. Each planted mistake is one a student makes: it wraps the solution
and changes what it returns, or rewrites a line of it.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from relustep.exercises import EXERCISES, TUTORIALS, check

SOLUTIONS = Path(__file__).parent.parent / "tutorials" / "exercises" / "solutions"


def load_solutions(tutorial: int):
    path = SOLUTIONS / f"tutorial_{tutorial:02d}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{tutorial}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOLVED = {tutorial: load_solutions(tutorial) for tutorial in TUTORIALS}


def solution(number: str):
    return getattr(SOLVED[int(number.split(".")[0])], EXERCISES[number].function)


def test_every_tutorial_has_three_to_six_exercises():
    for _, exercises in TUTORIALS.values():
        assert 3 <= len(exercises) <= 6
        assert [exercise.number for exercise in exercises] == [
            f"{exercises[0].number[0]}.{i}" for i in range(1, len(exercises) + 1)
        ]


def test_the_course_order_lists_every_exercise_with_its_goal_and_time():
    readme = (SOLUTIONS.parent.parent / "README.rst").read_text()
    section = " ".join(
        readme[readme.index("Exercises\n---") : readme.index("Notation\n---")].split()
    )
    for exercise in EXERCISES.values():
        assert f"{exercise.number} ``{exercise.function}``" in section
        assert f"*Goal: {exercise.goal}.*" in section and f"({exercise.minutes} min)" in section
    for _, exercises in TUTORIALS.values():
        minutes = sum(exercise.minutes for exercise in exercises)
        assert f"(about {minutes} minutes)" in section


@pytest.mark.parametrize("number", EXERCISES)
def test_the_solution_passes(number):
    result = check(number, solution(number))
    assert result.passed, result.message
    assert result.status == "passed"


# -- the planted mistakes: (wrong function, words the message must contain) ------------------------


def bias_with_batch_shape(weights, biases, X, y, negative_slope=0.0, l2=0.0):
    gradients = solution("1.3")(weights, biases, X, y, negative_slope, l2)
    return [(gW, np.tile(gb, (len(X), 1)) / len(X)) for gW, gb in gradients]


def last_layer_with_relu(weights, biases, X, negative_slope=0.0):
    output, activations = solution("1.1")(weights, biases, X, negative_slope)
    return np.maximum(output, 0.0), activations


def delta_without_n(output, y):
    loss, delta = solution("1.2")(output, y)
    return loss, delta * len(output)


def nesterov_as_heavy_ball(gradients, momentum, nesterov):
    return solution("1.4")(gradients, momentum, False)


def adam_without_correction(gradients, beta1, beta2, epsilon):
    m, v, directions = 0.0, 0.0, []
    for g in gradients:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        directions.append(m / (np.sqrt(v) + epsilon))
    return np.array(directions)


def chain_without_sigmoid(W, b, c, X, k, visible):
    return solution("2.1")(W, b, c, X, k, "relu")


def cse_without_mask(W, b, c, X, k, visible):
    return (
        solution("2.3")(W, b, c, X, k, visible)
        if k == 1
        else solution("2.2")(W, b, c, X, k, visible)
    )


def cd_with_first_step(W, b, c, X, k, visible):
    return solution("2.3")(W, b, c, X, 1, visible)


def one_sample_terms(W, b, c, x):
    """A, B and the squared errors of the active units, for the one-sample mistakes."""
    (_, x1), (y0, y1) = solution("2.1")(W, b, c, x[None, :], 1, "relu")
    gamma = np.sum(((y1 - y0) ** 2)[y1 > 0])
    epsilon = np.sum(((x1 - x) ** 2)[x1 > 0])
    return 1 + np.sum(x1**2), 1 + np.sum(y0**2), gamma, epsilon


def golovko_with_swapped_norms(W, b, c, x):
    A, B, gamma, epsilon = one_sample_terms(W, b, c, x)
    return (B * gamma + A * epsilon) / (B**2 * gamma + A**2 * epsilon)


def golovko_batch_diagonal(W, b, c, X):
    # each row's sums moved by its own update only: the diagonal of the Gram matrices
    (_, X1), (Y0, Y1) = solution("2.1")(W, b, c, X, 1, "relu")
    G, Ev = (Y1 - Y0) * (Y1 > 0), (X1 - X) * (X1 > 0)
    C_h = (np.sum(X1**2, axis=1, keepdims=True) + 1) * G
    C_v = (np.sum(Y0**2, axis=1, keepdims=True) + 1) * Ev
    numerator = np.sum(G * C_h) + np.sum(Ev * C_v)
    return len(X) * numerator / (np.sum((Y1 > 0) * C_h**2) + np.sum((X1 > 0) * C_v**2))


def coupled_step_frozen(W, b, c, X, dW, db, dc, visible):
    # each layer's rate without the rate of its input: the frozen step's model (linear visibles)
    assert visible == "linear"
    y0 = np.maximum(X @ W + b, 0.0)
    x1 = y0 @ W.T + c
    y0_rate = (y0 > 0) * (X @ dW + db)
    x1_rate = y0 @ dW.T + dc
    y1_rate = (x1 @ W + b > 0) * (x1 @ dW + db)
    return y1_rate - y0_rate, x1_rate, 0.0


def output_step_penalising_intercept(H, Y, l2=0.0):
    features = np.hstack([H, np.ones((len(H), 1))])
    both = np.linalg.solve(
        features.T @ features + len(H) * l2 * np.eye(features.shape[1]), features.T @ Y
    )
    return both[:-1], both[-1]


def rhs_in_input_order(X, y, W1, b1, W2, b2, negative_slope=0.0):
    rhs = solution("3.2")(X, y, W1, b1, W2, b2, negative_slope)
    return rhs.reshape(W1.shape[1], -1).T.ravel()


def matrix_without_coupling(X, W1, b1, W2, negative_slope=0.0):
    G = solution("3.3")(X, W1, b1, W2, negative_slope)
    p = X.shape[1] + 1
    mask = np.kron(np.eye(W1.shape[1]), np.ones((p, p)))
    return G * mask


def hidden_step_with_dead_unit(X, y, W1, b1, W2, b2, negative_slope=0.0, damping=0.0):
    G = solution("3.3")(X, W1, b1, W2, negative_slope)
    r = solution("3.2")(X, y, W1, b1, W2, b2, negative_slope)
    G += (damping * np.mean(np.diag(G)) + 1e-12) * np.eye(len(G))
    increment = np.linalg.solve(G, r).reshape(W1.shape[1], -1)
    return W1 + increment[:, :-1].T, b1 + increment[:, -1]


def qlab_without_half(line, initial_step):
    return 2 * solution("4.1")(line, initial_step)


def lqa_probing_three_times(line, delta):
    line.probe(delta)
    return solution("4.2")(line, delta)


def breakpoints_keeping_negative(Z0, Zdot):
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (Z0 / Zdot).ravel()
    order = np.flatnonzero(np.isfinite(ratio))
    order = order[np.argsort(ratio[order], kind="stable")]
    return order, ratio[order]


def quartic_without_ridge(parts, active):
    coefficients = solution("4.4")(parts, active)
    coefficients[:3] -= parts.ridge
    return coefficients


def exact_step_on_a_grid(parts, loss_along):
    grid = np.linspace(0.0, 2.0, 201)
    return grid[np.argmin([loss_along(alpha) for alpha in grid])]


PLANTED = {
    "1.1": (last_layer_with_relu, "the last layer is linear"),
    "1.2": (delta_without_n, "divided by n"),
    "1.3": (bias_with_batch_shape, "the bias gradient sums over the batch; yours has the batch's"),
    "1.4": (nesterov_as_heavy_ball, "Nesterov looks ahead"),
    "1.5": (adam_without_correction, "divide m by 1 - b1^t"),
    "2.1": (chain_without_sigmoid, "apply F_v to the visible sums"),
    "2.2": (cse_without_mask, "this is the classic rule"),
    "2.3": (cd_with_first_step, "telescopes to the last step"),
    "2.4": (golovko_with_swapped_norms, "A = 1 + ||x(1)||^2 goes with the hidden errors"),
    "2.5": (golovko_batch_diagonal, "use the whole Gram matrix"),
    "2.6": (coupled_step_frozen, "the frozen step's model"),
    "3.1": (output_step_penalising_intercept, "the intercept is not penalised"),
    "3.2": (rhs_in_input_order, "the order is unit by unit"),
    "3.3": (matrix_without_coupling, "units interact through W2 W2^T"),
    "3.4": (hidden_step_with_dead_unit, "leave it out of the system"),
    "4.1": (qlab_without_half, "-q'(0)/(2A)"),
    "4.2": (lqa_probing_three_times, "called line.probe 3 times; LQA needs 2"),
    "4.3": (breakpoints_keeping_negative, "only alpha_ij > 0 are breakpoints"),
    "4.4": (quartic_without_ridge, "the ridge term"),
    "4.5": (exact_step_on_a_grid, "called loss_along 201 times"),
}


def test_every_exercise_has_a_planted_mistake():
    assert set(PLANTED) == set(EXERCISES)


@pytest.mark.parametrize("number", EXERCISES)
def test_a_planted_mistake_fails_with_its_hint(number):
    wrong, words = PLANTED[number]
    result = check(number, wrong)
    assert not result.passed
    assert words in result.message, result.message
    assert f"exercise {number}" in result.message


def test_not_done_yet():
    def gibbs_chain(W, b, c, X, k, visible):
        raise NotImplementedError("exercise 2.1")

    result = check("2.1", gibbs_chain)
    assert (result.passed, result.status) == (False, "not done")
    assert "not done yet" in str(result)


def test_an_exception_names_its_line():
    def output_step(H, Y, l2=0.0):
        weights = H.T @ Y
        return weights @ H  # shapes do not chain

    result = check("3.1", output_step)
    assert result.status == "error"
    assert "ValueError" in result.message and "line 3 of your function" in result.message


def test_a_wrong_shape_is_named():
    def square_loss_and_delta(output, y):
        return 0.5 * np.mean((output - y) ** 2), (output - y).ravel() / len(output)

    result = check("1.2", square_loss_and_delta)
    assert "delta has shape" in result.message and "expected shape" in result.message


def test_a_nan_is_named():
    def golovko_step_one_sample(W, b, c, x):
        return np.nan

    result = check("2.4", golovko_step_one_sample)
    assert result.status == "wrong" and "alpha* is NaN" in result.message


def test_a_wrong_structure_is_named():
    def dense_forward(weights, biases, X, negative_slope=0.0):
        return X @ weights[0]

    result = check("1.1", dense_forward)
    assert "it should return (output, activations)" in result.message


def test_changing_an_input_in_place_is_reported():
    def breakpoints(Z0, Zdot):
        Z0 /= Zdot
        return solution("4.3")(Z0 * Zdot, Zdot)

    result = check("4.3", breakpoints)
    assert "changed its input Z0 in place" in result.message


def test_changing_an_array_inside_a_list_in_place_is_reported():
    def dense_forward(weights, biases, X, negative_slope=0.0):
        biases[0] += 1.0
        return solution("1.1")(weights, biases, X, negative_slope)

    result = check("1.1", dense_forward)
    assert "changed its input biases in place" in result.message


def test_the_message_shows_expected_against_got_and_never_the_solution():
    result = check("1.3", bias_with_batch_shape)
    assert "case " in result.message and "inputs: weights" in result.message
    assert "expected shape" in result.message
    source = Path(SOLVED[1].__file__).read_text()
    body_lines = [line.strip() for line in source.splitlines() if "=" in line]
    assert not any(line in result.message for line in body_lines if len(line) > 20)


def test_the_same_seed_gives_the_same_report():
    first = check("4.5", exact_step_on_a_grid, seed=3).message
    assert check("4.5", exact_step_on_a_grid, seed=3).message == first


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="number must be one of"):
        check("9.9", print)
    with pytest.raises(TypeError, match="function must be"):
        check("1.1", "dense_forward")


# -- more mistakes, each with the hint written for it ----------------------------------------------


def backward_without_ridge(weights, biases, X, y, negative_slope=0.0, l2=0.0):
    return solution("1.3")(weights, biases, X, y, negative_slope, 0.0)


def backward_with_relu_mask(weights, biases, X, y, negative_slope=0.0, l2=0.0):
    output, activations = solution("1.1")(weights, biases, X, negative_slope)
    delta = (output - y) / len(X)
    gradients = []
    for layer in range(len(weights) - 1, -1, -1):
        A = activations[layer]
        gradients.append((A.T @ delta + l2 * weights[layer], delta.sum(axis=0)))
        delta = (delta @ weights[layer].T) * (A > 0)
    return gradients[::-1]


def cse_summed(W, b, c, X, k, visible):
    return tuple(len(X) * part for part in solution("2.2")(W, b, c, X, k, visible))


def golovko_without_bias(W, b, c, x):
    A, B, gamma, epsilon = one_sample_terms(W, b, c, x)
    return ((A - 1) * gamma + (B - 1) * epsilon) / ((A - 1) ** 2 * gamma + (B - 1) ** 2 * epsilon)


def golovko_batch_without_rows(W, b, c, X):
    return solution("2.5")(W, b, c, X) / len(X)


def coupled_step_times_rows(W, b, c, X, dW, db, dc, visible):
    u_hidden, u_visible, alpha = solution("2.6")(W, b, c, X, dW, db, dc, visible)
    return u_hidden, u_visible, len(X) * alpha


def output_step_ridge_without_rows(H, Y, l2=0.0):
    return solution("3.1")(H, Y, l2 / len(H))


def rhs_with_the_wrong_sign(X, y, W1, b1, W2, b2, negative_slope=0.0):
    return -solution("3.2")(X, y, W1, b1, W2, b2, negative_slope)


def qlab_probing_uphill(line, initial_step):
    probed = line.probe(initial_step)
    A = (probed - line.loss - initial_step * line.slope) / initial_step**2
    return -line.slope / (2 * A) if A > 0 else initial_step


def breakpoints_unstable(Z0, Zdot):
    order, alphas = solution("4.3")(Z0, Zdot)
    ties = np.flatnonzero(np.diff(alphas) == 0)
    order = order.copy()
    order[ties], order[ties + 1] = order[ties + 1], order[ties].copy()
    return order, alphas


def quartic_with_twice_the_scale(parts, active):
    coefficients = solution("4.4")(parts, active)
    return 2 * coefficients - np.concatenate([parts.ridge, [0.0, 0.0]])


def exact_step_on_the_first_piece(parts, loss_along):
    Z0, Zdot = parts.pre_activation, parts.pre_activation_rate
    quartic = np.polynomial.Polynomial(solution("4.4")(parts, (Z0 > 0) | ((Z0 == 0) & (Zdot < 0))))
    roots = [x.real for x in quartic.deriv().roots() if abs(x.imag) < 1e-12 and x.real > 0]
    return min([0.0, *roots], key=quartic)


MORE_MISTAKES = [
    ("1.3", backward_without_ridge, "adds l2 W_l to each weight gradient"),
    ("1.3", backward_with_relu_mask, "sigma'(z) = a (not 0)"),
    ("2.2", cse_summed, "divide the sums by L"),
    ("2.4", golovko_without_bias, "the bias moves the sums too"),
    ("2.5", golovko_batch_without_rows, "alpha* = L alpha*_sum"),
    ("2.6", coupled_step_times_rows, "with no factor L"),
    ("3.1", output_step_ridge_without_rows, "carry n l2 I"),
    ("3.2", rhs_with_the_wrong_sign, "with Y - f, not f - Y"),
    ("4.1", qlab_probing_uphill, "the direction does not descend"),
    ("4.3", breakpoints_unstable, "kind='stable'"),
    ("4.4", quartic_with_twice_the_scale, "scale = 1/(2n)"),
    ("4.5", exact_step_on_the_first_piece, "not the global minimum"),
]


@pytest.mark.parametrize(
    ("number", "wrong", "words"),
    MORE_MISTAKES,
    ids=[f"{n}-{f.__name__}" for n, f, _ in MORE_MISTAKES],
)
def test_more_mistakes_fail_with_their_hints(number, wrong, words):
    result = check(number, wrong)
    assert not result.passed
    assert words in result.message, result.message
