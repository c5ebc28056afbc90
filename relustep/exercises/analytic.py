r"""Exercises of tutorial 3: the two-layer network's output step (a ridge regression) and its
hidden step with the activation pattern frozen (the Kronecker system and its Newton step).

Notes
-----
The expected answers come from :func:`relustep.solvers.analytic.output_step`,
:func:`~relustep.solvers.analytic.hidden_system` and :func:`~relustep.solvers.analytic.hidden_step`.
The formulas checked (derived in relustep; the paper's exact form may differ) are

.. math::
    (H_c^\top H_c + n\lambda I)W_2 = H_c^\top Y_c,\quad b_2 = \bar y - W_2^\top\bar h,\qquad
    G_{jl} = (W_2W_2^\top)_{jl}\,\tilde X^\top\mathrm{diag}(S_{:j}\odot S_{:l})\tilde X,\quad
    r_j = \tilde X^\top\bigl(S_{:j}\odot((Y - f)W_2^\top)_{:j}\bigr),

and the hidden step :math:`U + \Delta` with :math:`(G + \epsilon\,\overline{\mathrm{diag}\,G}\,I)
\Delta = r`.
"""

from __future__ import annotations

import numpy as np

from relustep.exercises._checker import Case, Exercise, arrays
from relustep.solvers import analytic

# (description, rows, inputs, hidden units, outputs, negative slope)
POINTS = [
    ("40 rows, 3 inputs, 3 hidden units, one output", 40, 3, 3, 1, 0.0),
    ("several outputs", 30, 2, 3, 2, 0.0),
    ("leaky slope a = 0.2", 30, 2, 2, 1, 0.2),
    ("a dead unit (bias -100: off on every row)", 30, 2, 3, 1, 0.0),
]


def _points(rng):
    for description, rows, inputs, hidden, outputs, slope in POINTS:
        X = rng.normal(size=(rows, inputs))
        y = rng.normal(size=(rows, outputs))
        W1 = rng.normal(size=(inputs, hidden))
        b1 = rng.normal(scale=0.5, size=hidden)
        W2 = rng.normal(size=(hidden, outputs))
        b2 = rng.normal(scale=0.1, size=outputs)
        if "dead" in description:
            b1[1] = -100.0
        yield description, dict(X=X, y=y, W1=W1, b1=b1, W2=W2, b2=b2, negative_slope=slope)


# -- 3.1 the output step ---------------------------------------------------------------------------


def _output_cases(rng):
    for description, rows, hidden, outputs, l2 in [
        ("30 rows, 4 features, one output", 30, 4, 1, 0.0),
        ("several outputs", 25, 3, 3, 0.0),
        ("ridge l2 = 0.1", 30, 4, 2, 0.1),
        ("a dead unit (a column of zeros), ridge", 20, 3, 1, 0.05),
    ]:
        H = np.maximum(rng.normal(size=(rows, hidden)), 0.0)
        if "dead" in description:
            H[:, 1] = 0.0
        Y = rng.normal(size=(rows, outputs)) + 2.0
        W2, b2 = analytic.output_step(H, Y, l2)
        yield Case(description, dict(H=H, Y=Y, l2=l2), [("W2", W2), ("b2", b2)])


def _penalised_intercept(case, got):
    H, Y, l2 = case.arguments["H"], case.arguments["Y"], case.arguments["l2"]
    if l2 == 0:
        return False
    rows = len(H)
    features = np.hstack([H, np.ones((rows, 1))])
    both = np.linalg.solve(
        features.T @ features + rows * l2 * np.eye(features.shape[1]), features.T @ Y
    )
    return np.allclose(got[1][1], both[-1])


def _ridge_without_rows(case, got):
    H, Y, l2 = case.arguments["H"], case.arguments["Y"], case.arguments["l2"]
    if l2 == 0:
        return False
    centred, targets = H - H.mean(axis=0), Y - Y.mean(axis=0)
    W2 = np.linalg.solve(centred.T @ centred + l2 * np.eye(H.shape[1]), centred.T @ targets)
    return np.allclose(got[0][1], W2)


# -- 3.2 the right-hand side, 3.3 the matrix, 3.4 the step ---------------------------------------


def _rhs_cases(rng):
    for description, arguments in _points(rng):
        _, rhs = analytic.hidden_system(**arguments)
        yield Case(description, arguments, [("the right-hand side", rhs)])


def _matrix_cases(rng):
    for description, arguments in _points(rng):
        matrix, _ = analytic.hidden_system(**arguments)
        del arguments["y"], arguments["b2"]
        yield Case(description, arguments, [("the matrix G", matrix)])


def _step_cases(rng):
    dampings = (1e-4, 1e-3, 1e-3, 1e-4)  # never 0: a singular G would make the solve arbitrary
    for (description, arguments), damping in zip(_points(rng), dampings, strict=True):
        W1, b1 = analytic.hidden_step(**arguments, damping=damping)
        arguments["damping"] = damping
        yield Case(f"{description}, damping {damping:g}", arguments, [("W1", W1), ("b1", b1)])


def _rhs_in_input_order(case, got):
    hidden = case.arguments["W1"].shape[1]
    want = case.expected[0][1].reshape(hidden, -1)
    return np.allclose(np.asarray(got[0][1]), want.T.ravel())


def _has_dead_unit(case, got):
    """Whether a unit is off on every row (with slope 0), so that it must be left out."""
    X, W1, b1 = (case.arguments[name] for name in ("X", "W1", "b1"))
    return case.arguments["negative_slope"] == 0 and not np.all(np.any(X @ W1 + b1 > 0, axis=0))


def _only_diagonal_blocks(case, got):
    hidden = case.arguments["W1"].shape[1]
    want = case.expected[0][1]
    p = want.shape[0] // hidden
    block_diagonal = np.zeros_like(want)
    for j in range(hidden):
        block_diagonal[j * p : (j + 1) * p, j * p : (j + 1) * p] = want[
            j * p : (j + 1) * p, j * p : (j + 1) * p
        ]
    return hidden > 1 and np.allclose(got[0][1], block_diagonal)


EXERCISES = [
    Exercise(
        "3.1",
        "output_step",
        "the output layer's ridge solve with an unpenalised intercept",
        "that fitting the last layer is a least-squares problem, and how centring removes the "
        "intercept",
        15,
        _output_cases,
        arrays("W2", "b2", shapes="(W2, b2) with shapes (h, q) and (q,)"),
        "centre H and Y by their column means, solve (H_c^T H_c + n l2 I) W2 = H_c^T Y_c, then "
        "b2 = mean(Y) - W2^T mean(H).",
        [
            (
                _penalised_intercept,
                "the intercept is not penalised: centre H and Y and solve "
                "for W2 alone, then recover b2 from the means.",
            ),
            (
                _ridge_without_rows,
                "the loss is (1/2n)||...||^2 + (l2/2)||W2||^2, so the normal "
                "equations carry n l2 I, not l2 I.",
            ),
        ],
    ),
    Exercise(
        "3.2",
        "hidden_rhs",
        "the right-hand side of the hidden step, -n times the gradient with respect to U",
        "that the frozen-pattern system's right-hand side is the backpropagated gradient",
        20,
        _rhs_cases,
        arrays("the right-hand side", shapes="a vector of length h (d + 1)"),
        "r_j = X~^T (S_{:j} * ((Y - f) W2^T)_{:j}), with X~ = [X, 1] and S = 1 where Z > 0, a "
        "elsewhere; stack unit by unit: unit j's d weights, then its bias.",
        [
            (
                _rhs_in_input_order,
                "the order is unit by unit (unit j's d weights, then its "
                "bias), as vec(U) stacks the columns u_j.",
            ),
            (
                lambda case, got: np.allclose(got[0][1], -case.expected[0][1]),
                "the sign: r = -n grad = X~^T (S * ((Y - f) W2^T)), with Y - f, not f - Y.",
            ),
            (
                lambda case, got: case.arguments["negative_slope"] > 0,
                "with a leaky slope the pattern S is a (not 0) where Z <= 0: inactive rows still "
                "pass a times their error.",
            ),
        ],
    ),
    Exercise(
        "3.3",
        "hidden_matrix",
        "the matrix of the hidden step: Kronecker blocks G_jl",
        "the block structure of the frozen-pattern least-squares problem",
        25,
        _matrix_cases,
        arrays("the matrix G", shapes="an array of shape (h (d + 1), h (d + 1))"),
        "G_jl = (W2 W2^T)_jl X~^T diag(S_{:j} * S_{:l}) X~, block (j, l) of size (d+1) x (d+1); "
        "equivalently the sum over rows of kron(diag(S_i) W2 W2^T diag(S_i), x~_i x~_i^T).",
        [
            (
                _only_diagonal_blocks,
                "units interact through W2 W2^T: the blocks G_jl with "
                "j != l are not zero (that would be the per-neuron system).",
            ),
            (
                lambda case, got: case.arguments["negative_slope"] > 0,
                "with a leaky slope S_ij is a (not 0) where Z_ij <= 0, so S_j * S_l is 1, a or "
                "a^2.",
            ),
        ],
    ),
    Exercise(
        "3.4",
        "hidden_step",
        "the hidden layer after one Newton step with the pattern frozen",
        "turning a frozen activation pattern into a least-squares problem, and damping it",
        20,
        _step_cases,
        arrays("W1", "b1", shapes="(W1, b1) with shapes (d, h) and (h,)"),
        "solve (G + damping * mean(diag G) I) Delta = r for the units that can change the loss "
        "and return U + Delta; a unit active on no row (with a = 0) keeps its weights.",
        [
            (
                _has_dead_unit,
                "a unit that is off on every row has zero rows and columns in G: leave it out of "
                "the system (its weights stay as they are) and take the mean diagonal over the "
                "others.",
            ),
            (
                lambda case, got: case.arguments["damping"] > 0,
                "the damping is a fraction of the mean of G's diagonal: add damping * mean(diag G) "
                "to every diagonal entry.",
            ),
        ],
    ),
]
