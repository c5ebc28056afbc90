r"""Exercises of tutorial 2: the RBM's Gibbs chain, the masked (cse) and classic (cd) learning
rules, and the analytic step of the frozen quadratic for one sample and for a batch.

Notes
-----
The expected answers come from :class:`relustep.models.rbm.RBMNetwork` (``run_chain``,
``loss_and_gradient``) and :meth:`relustep.models.rbm.RBMBatchObjective.frozen_quadratic`. The
formulas checked (derived in relustep; the paper's exact form may differ) are the chain
:math:`y(p) = \mathrm{relu}(W^\top x(p) + b)`, :math:`x(p) = F_v(W y(p-1) + c)`, the rule

.. math::
    \nabla_W = \frac1L\sum_p\bigl[x(p)\,(\gamma(p)\odot F_h')^\top + (e(p)\odot F_v')\,
    y(p-1)^\top\bigr]

and its telescoped classic form :math:`(x(k)y(k)^\top - x(0)y(0)^\top)/L`, and the step

.. math::
    \alpha^* = \frac{A\Gamma^+ + B\mathcal E^+}{A^2\Gamma^+ + B^2\mathcal E^+}\ \text{(one
    sample)}, \qquad
    \alpha^* = L\,\frac{\sum G\odot C_h + \sum E_v\odot C_v}{\sum F_h'\odot C_h^2
    + \sum F_v'\odot C_v^2}\ \text{(a batch, } C = KD),

and the coupled step (relustep's own) :math:`\alpha^* = r^\top u / u^\top u`, whose tangent
:math:`u = Jd` comes from :func:`relustep.models.rbm_tangent.chain_tangent`.
"""

from __future__ import annotations

import numpy as np

from relustep import steps
from relustep.exercises._checker import AnswerShapeError, Case, Exercise, arrays
from relustep.models.rbm import RBMBatchObjective, RBMNetwork
from relustep.steps.base import Line

# (description, visible units, hidden units, rows, k, visible transfer)
CHAINS = [
    ("6 visible, 4 hidden, 5 rows, CD-1, sigmoid visibles", 6, 4, 5, 1, "sigmoid"),
    ("CD-3", 5, 3, 4, 3, "sigmoid"),
    ("one sample", 6, 4, 1, 1, "sigmoid"),
    ("ReLU visibles, CD-2", 5, 4, 6, 2, "relu"),
    ("a dead hidden unit (bias -100), ReLU visibles", 5, 3, 4, 1, "relu"),
]


def _rbm(rng, n_visible, n_hidden, rows, k, visible, rule="cse"):
    network = RBMNetwork(n_visible, n_hidden, visible=visible, hidden="relu", k=k, rule=rule)
    theta = network.init_parameters(rng)
    views = network.layout.views(theta)
    views["b"][...] = rng.normal(scale=0.2, size=n_hidden)
    views["c"][...] = rng.normal(scale=0.2, size=n_visible)
    X = rng.random((rows, n_visible))
    return network, theta, views, X


def _chains(rng, rule="cse"):
    for description, n_visible, n_hidden, rows, k, visible in CHAINS:
        network, theta, views, X = _rbm(rng, n_visible, n_hidden, rows, k, visible, rule)
        if "dead" in description:
            views["b"][0] = -100.0
        arguments = dict(
            W=views["W"].copy(),
            b=views["b"].copy(),
            c=views["c"].copy(),
            X=X,
            k=k,
            visible=visible,
        )
        yield description, network, theta, arguments


# -- 2.1 the chain ---------------------------------------------------------------------------------


def _chain_cases(rng):
    for description, network, theta, arguments in _chains(rng):
        chain = network.run_chain(theta, arguments["X"])
        k = arguments["k"]
        expected = [(f"x({p})", chain.x(p)) for p in range(k + 1)]
        expected += [(f"y({p})", chain.y(p)) for p in range(k + 1)]
        yield Case(description, arguments, expected)


def _flatten_chain(answer):
    try:
        xs, ys = (list(states) for states in answer)
    except (TypeError, ValueError) as error:
        raise AnswerShapeError(
            "it should return (xs, ys): the lists [x(0), ..., x(k)] and [y(0), ..., y(k)]"
        ) from error
    labels = [f"x({p})" for p in range(len(xs))] + [f"y({p})" for p in range(len(ys))]
    return arrays(*labels)([*xs, *ys])


def _other_visible_transfer(case, got):
    """Whether x(1) is the chain's with the other visible transfer."""
    W, b, c, X = (case.arguments[name] for name in ("W", "b", "c", "X"))
    other = "relu" if case.arguments["visible"] == "sigmoid" else "sigmoid"
    network = RBMNetwork(len(c), len(b), visible=other, k=1)
    theta = np.concatenate([W.ravel(), b, c])
    return np.allclose(got[1][1], network.run_chain(theta, X).x(1))


# -- 2.2 and 2.3 the learning rules ----------------------------------------------------------------


def _direction_cases(rule):
    def cases(rng):
        for description, network, theta, arguments in _chains(rng, rule):
            _, direction = network.loss_and_gradient(theta, arguments["X"])
            views = network.layout.views(direction)
            expected = [(f"the {name} block", views[name]) for name in "Wbc"]
            yield Case(description, arguments, expected, {"network": network, "theta": theta})

    return cases


def _other_rule(case, got, rule):
    """Whether the answer is the other rule's direction."""
    network = case.context["network"]
    other = RBMNetwork(
        network.n_visible, network.n_hidden, visible=network.visible, k=network.k, rule=rule
    )
    _, direction = other.loss_and_gradient(case.context["theta"], case.arguments["X"])
    views = other.layout.views(direction)
    return all(
        np.allclose(array, views[name]) for name, (_, array) in zip("Wbc", got, strict=False)
    )


def _sum_not_mean(case, got):
    rows = len(case.arguments["X"])
    return rows > 1 and all(
        np.allclose(array, rows * want)
        for (_, want), (_, array) in zip(case.expected, got, strict=False)
    )


def _opposite_sign(case, got):
    return all(
        np.allclose(array, -want) for (_, want), (_, array) in zip(case.expected, got, strict=False)
    )


def _first_step_only(case, got):
    if case.arguments["k"] == 1:
        return False
    first = dict(case.arguments, k=1)
    network = case.context["network"]
    one_step = RBMNetwork(
        network.n_visible, network.n_hidden, visible=first["visible"], k=1, rule=network.rule
    )
    _, direction = one_step.loss_and_gradient(case.context["theta"], first["X"])
    return np.allclose(got[0][1], one_step.layout.views(direction)["W"])


# -- 2.4 and 2.5 the analytic step -----------------------------------------------------------------

# (description, visible, hidden, rows)
STEP_CASES = [
    ("10 visible, 6 hidden", 10, 6, 1),
    ("4 visible, 8 hidden", 4, 8, 1),
    ("hidden units all off (dead: biases -100), visibles on", 6, 4, 1),
    ("a batch of 5 rows", 8, 5, 5),
    ("a batch of 12 similar rows", 8, 5, 12),
]


def _step_cases(batch: bool):
    def cases(rng):
        for description, n_visible, n_hidden, rows in STEP_CASES:
            if rows > 1 and not batch:
                continue
            network, theta, views, X = _rbm(rng, n_visible, n_hidden, rows, 1, "relu")
            views["c"][...] = np.abs(views["c"]) + 0.1
            if "dead" in description:
                views["b"][...] = -100.0
            if "similar" in description:
                X = 0.5 + 0.1 * rng.random((rows, n_visible))
            objective = RBMBatchObjective(network, X, network.draw_noise(rng, rows))
            direction = np.empty_like(theta)
            objective.loss_and_gradient(theta, direction)
            gram = objective.frozen_quadratic(theta, direction, "gram")
            diagonal = objective.frozen_quadratic(theta, direction, "diagonal")
            arguments = dict(W=views["W"].copy(), b=views["b"].copy(), c=views["c"].copy())
            arguments["X" if batch else "x"] = X if batch else X[0]
            context = {"diagonal": diagonal.numerator / diagonal.denominator, "rows": rows}
            context["chain"] = objective.chain
            expected = [("alpha*", gram.numerator / gram.denominator)]
            yield Case(description, arguments, expected, context)

    return cases


def _one_sample_variant(case, got, bias=1.0, masked=True, swapped=False):
    """Whether the answer is the one-sample formula with a known mistake: without the bias's 1
    in A and B, with the errors of inactive units, or with A and B exchanged."""
    chain = case.context["chain"]
    A = bias + np.sum(chain.x(1) ** 2)
    B = bias + np.sum(chain.y(0) ** 2)
    gamma = (chain.y(1) - chain.y(0)) ** 2
    epsilon = (chain.x(1) - chain.x(0)) ** 2
    if masked:
        gamma, epsilon = gamma[chain.pre_hidden[1] > 0], epsilon[chain.pre_visible[0] > 0]
    if swapped:
        A, B = B, A
    gamma, epsilon = np.sum(gamma), np.sum(epsilon)
    return np.isclose(got[0][1], (A * gamma + B * epsilon) / (A**2 * gamma + B**2 * epsilon))


# -- 2.6 the coupled step -------------------------------------------------------------------------

# (description, visible units, hidden units, rows, visible transfer)
TANGENT_CASES = [
    ("linear (Gaussian) visibles, 6 rows", 6, 4, 6, "linear"),
    ("ReLU visibles", 5, 4, 5, "relu"),
    ("sigmoid visibles", 6, 3, 4, "sigmoid"),
    ("one sample, linear visibles", 5, 3, 1, "linear"),
    ("a dead hidden unit (bias -100), linear visibles", 5, 3, 4, "linear"),
]


def _tangent_cases(rng):
    for description, n_visible, n_hidden, rows, visible in TANGENT_CASES:
        network, theta, views, X = _rbm(rng, n_visible, n_hidden, rows, 1, visible)
        if "dead" in description:
            views["b"][0] = -100.0
        objective = RBMBatchObjective(network, X, network.draw_noise(rng, rows))
        direction = np.empty_like(theta)
        loss, _ = objective.loss_and_gradient(theta, direction)
        tangent = objective.chain_tangent(theta, direction).tangent
        rule = steps.CoupledGaussNewton()
        rule.start(theta.size)
        alpha = rule.size(Line(theta, direction, direction, loss, objective))
        moves = network.layout.views(direction)
        arguments = dict(
            W=views["W"].copy(),
            b=views["b"].copy(),
            c=views["c"].copy(),
            X=X,
            dW=moves["W"].copy(),
            db=moves["b"].copy(),
            dc=moves["c"].copy(),
            visible=visible,
        )
        split = rows * n_hidden
        expected = [
            ("u_hidden", tangent[:split].reshape(rows, n_hidden)),
            ("u_visible", tangent[split:].reshape(rows, n_visible)),
            ("alpha*", alpha),
        ]
        yield Case(description, arguments, expected)


def _tangent_variant(case, got, couple=True, move_first=True):
    """Whether the answer's rates are the chain's tangent with a known mistake: without the
    rates of the inputs (the frozen step's model), or with y(0) held still."""
    W, b, c, X = (case.arguments[name] for name in ("W", "b", "c", "X"))
    dW, db, dc = (case.arguments[name] for name in ("dW", "db", "dc"))
    visible = case.arguments["visible"]
    network = RBMNetwork(len(c), len(b), visible=visible, k=1)
    chain = network.run_chain(np.concatenate([W.ravel(), b, c]), X)
    y0_rate = chain.slope_hidden[0] * (X @ dW + db) if move_first else 0.0 * chain.y(0)
    visible_rate = chain.y(0) @ dW.T + dc + (y0_rate @ W.T if couple else 0.0)
    x1_rate = chain.slope_visible[0] * visible_rate
    hidden_rate = chain.x(1) @ dW + db + (x1_rate @ W if couple else 0.0)
    u_hidden = chain.slope_hidden[1] * hidden_rate - y0_rate
    return np.allclose(got[0][1], u_hidden) and np.allclose(got[1][1], x1_rate)


EXERCISES = [
    Exercise(
        "2.1",
        "gibbs_chain",
        "the mean-field Gibbs chain x(0), y(0), x(1), ..., y(k)",
        "which weights, biases and transfers each half of the chain uses",
        15,
        _chain_cases,
        _flatten_chain,
        "y(p) = relu(x(p) W + b) (rows are samples), x(p) = F_v(y(p-1) W^T + c) with F_v the "
        "sigmoid or relu; x(0) = X.",
        [
            (
                _other_visible_transfer,
                "x(p) = F_v(S_v(p)) with the transfer the argument visible names: apply F_v to "
                "the visible sums (sigmoid: 1 / (1 + exp(-S)); relu: max(S, 0)).",
            ),
        ],
    ),
    Exercise(
        "2.2",
        "cse_direction",
        "the masked learning rule (cse): the direction for W, b and c",
        "freezing the input and target of each local error, and the mask F'(S)",
        20,
        _direction_cases("cse"),
        arrays("the W block", "the b block", "the c block", shapes="(dW, db, dc)"),
        "sum over p = 1..k of x(p) (gamma(p) * F_h'(S_h(p)))^T + (e(p) * F_v'(S_v(p))) y(p-1)^T, "
        "divided by L; b and c get the sums of the masked errors over rows and steps.",
        [
            (
                lambda case, got: _other_rule(case, got, "cd"),
                "this is the classic rule: the masked rule multiplies each error by F'(S) of "
                "the same step (a unit that is off passes no error).",
            ),
            (_sum_not_mean, "E is a mean over the L rows: divide the sums by L."),
            (
                _opposite_sign,
                "the direction is the gradient (the step is theta - alpha d): "
                "x(p) gamma(p)^T, not its negative.",
            ),
        ],
    ),
    Exercise(
        "2.3",
        "cd_direction",
        "the classic rule (cd): contrastive divergence by telescoping",
        "that dropping F' makes the sum over the chain telescope to CD-k",
        10,
        _direction_cases("cd"),
        arrays("the W block", "the b block", "the c block", shapes="(dW, db, dc)"),
        "without the masks the sum telescopes: dW = (x(k) y(k)^T - x(0) y(0)^T)/L, "
        "db = mean of y(k) - y(0), dc = mean of x(k) - x(0).",
        [
            (
                _opposite_sign,
                "the sign: d = x(k)y(k)^T - x(0)y(0)^T, so that theta - alpha d raises the "
                "data's term, as CD does.",
            ),
            (
                _first_step_only,
                "the sum telescopes to the last step of the chain, x(k) y(k)^T, not x(1) y(1)^T.",
            ),
            (_sum_not_mean, "E is a mean over the L rows: divide by L."),
        ],
    ),
    Exercise(
        "2.4",
        "golovko_step_one_sample",
        "the frozen-activity step alpha* for one sample (CD-1, ReLU units)",
        "a learning rate as the minimum of a frozen quadratic: a weighted mean of 1/A and 1/B",
        20,
        _step_cases(batch=False),
        arrays("alpha*", shapes="one number, alpha*"),
        "alpha* = (A Gamma+ + B E+) / (A^2 Gamma+ + B^2 E+) with A = 1 + ||x(1)||^2, "
        "B = 1 + ||y(0)||^2, Gamma+ and E+ the squared errors of the units active at step 1.",
        [
            (
                lambda case, got: _one_sample_variant(case, got, swapped=True),
                "A = 1 + ||x(1)||^2 goes with the hidden errors (x(1) is the "
                "input of the hidden update), B = 1 + ||y(0)||^2 with the visible ones.",
            ),
            (
                lambda case, got: _one_sample_variant(case, got, bias=0.0),
                "the bias moves the sums too: A = 1 + ||x(1)||^2, not ||x(1)||^2.",
            ),
            (
                lambda case, got: _one_sample_variant(case, got, masked=False),
                "Gamma+ and E+ sum only over the units active at step 1 (S > 0): "
                "an inactive unit's error does not move with alpha.",
            ),
        ],
    ),
    Exercise(
        "2.5",
        "golovko_step_batch",
        "the frozen-activity step alpha* for a mini-batch: the Gram form",
        "how the rows of a batch move each other's sums, and the mean convention",
        25,
        _step_cases(batch=True),
        arrays("alpha*", shapes="one number, alpha*"),
        "C_h = K_x G with K_x = X(1) X(1)^T + 1 1^T, C_v = K_y E_v with K_y = Y(0) Y(0)^T + "
        "1 1^T; alpha* = L (sum G C_h + sum E_v C_v) / (sum F_h' C_h^2 + sum F_v' C_v^2).",
        [
            (
                lambda case, got: (
                    case.context["rows"] > 1 and np.isclose(got[0][1], case.context["diagonal"])
                ),
                "the rows move each other's sums: use the whole Gram matrix K = X X^T + 1 1^T, "
                "not its diagonal.",
            ),
            (
                lambda case, got: (
                    case.context["rows"] > 1
                    and np.isclose(got[0][1] * case.context["rows"], case.expected[0][1])
                ),
                "alpha* = L alpha*_sum: the loss and the direction are means over the L rows.",
            ),
        ],
    ),
    Exercise(
        "2.6",
        "coupled_step",
        "the coupled step: the rate of the chain's residuals along d, and alpha* = r.u / u.u",
        "a forward-mode pass of tangents, and what the frozen step leaves out",
        30,
        _tangent_cases,
        arrays("u_hidden", "u_visible", "alpha*", shapes="(u_hidden, u_visible, alpha)"),
        "with rows as vectors: S_h(p)' = x(p)' W + x(p) dW + db, y(p)' = F_h'(S_h(p)) * S_h(p)', "
        "S_v(1)' = y(0)' W^T + y(0) dW^T + dc, x(1)' = F_v'(S_v(1)) * S_v(1)', x(0)' = 0; "
        "u_hidden = y(1)' - y(0)', u_visible = x(1)'; alpha* = r.u / u.u (0 if negative).",
        [
            (
                lambda case, got: _tangent_variant(case, got, couple=False),
                "each state's rate carries the rate of its input: S_v(1)' has y(0)' W^T and "
                "S_h(1)' has x(1)' W. Without them you have the frozen step's model.",
            ),
            (
                lambda case, got: _tangent_variant(case, got, move_first=False),
                "y(0) moves too: W and b change, so y(0)' = F_h'(S_h(0)) * (x(0) dW + db) (only "
                "the data x(0) stay still).",
            ),
            (
                lambda case, got: (
                    len(got) == 3
                    and np.isclose(got[2][1], len(case.arguments["X"]) * case.expected[2][1])
                    and len(case.arguments["X"]) > 1
                ),
                "alpha* = r.u / u.u with no factor L: the direction is already a mean over the "
                "rows, and E = ||r||^2 / 2L has the same 1/L in both terms.",
            ),
        ],
    ),
]
