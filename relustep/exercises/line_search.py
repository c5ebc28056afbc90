r"""Exercises of tutorial 4: QLABGrad's and LQA's steps from their probes, the breakpoints of the
loss along a line for one ReLU layer, the quartic of one piece, and the exact line search.

Notes
-----
The expected answers come from :class:`relustep.steps.QLAB`, :class:`relustep.steps.LQA`,
:func:`relustep.kernels.linesearch.sorted_breakpoints_numpy`,
:func:`relustep.steps.exact.residual_coefficients` and
:func:`relustep.steps.exact.exact_line_minimum`. The formulas checked (derived in relustep) are

.. math::
    \alpha_{\text{QLAB}} = \frac{-q'(0)\,\alpha_{t-1}^2}{2\,(q(\alpha_{t-1}) - q(0)
    - \alpha_{t-1}q'(0))},\qquad
    \alpha_{\text{LQA}} = \frac{\delta\,(q(-\delta) - q(\delta))}{2\,(q(\delta) + q(-\delta)
    - 2q(0))},\qquad \alpha_{ij} = \frac{Z_{0,ij}}{\dot Z_{ij}} > 0,

and the quartic :math:`P(\alpha) = \frac{1}{2n}\sum_{ik}(r^{(0)}_{ik} + r^{(1)}_{ik}\alpha +
r^{(2)}_{ik}\alpha^2)^2` plus the ridge term on each piece. The exact search is checked for its
cost too: it may not evaluate the loss once per point.
"""

from __future__ import annotations

import math

import numpy as np

from relustep import steps
from relustep.exercises._checker import Case, Exercise, arrays
from relustep.kernels.linesearch import _sample_quartics, sorted_breakpoints_numpy
from relustep.models.dense import DenseReLUNetwork
from relustep.steps.base import Line
from relustep.steps.exact import (
    dense_network_line,
    exact_line_minimum,
    line_loss,
    residual_coefficients,
)
from relustep.train import BatchObjective

MOST_LOSS_CALLS = 2  # the exact search may check a value or two, never sweep a grid


class Quadratic:
    r"""The loss :math:`\frac12\theta^\top H\theta - b^\top\theta`, as a line's objective."""

    def __init__(self, hessian: np.ndarray, linear: np.ndarray):
        self.hessian, self.linear = hessian, linear

    def loss(self, theta: np.ndarray) -> float:
        return float(0.5 * theta @ self.hessian @ theta - self.linear @ theta)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.hessian @ theta - self.linear


class CountedLine(Line):
    """A :class:`~relustep.steps.base.Line` that describes itself in a check's message."""

    def describe(self) -> str:
        return f"q(0) = {self.loss:.6g}, q'(0) = {self.slope:.6g}, {self.theta.size} parameters"


def _quadratic_line(rng, size: int, uphill: bool = False) -> CountedLine:
    factor = rng.normal(size=(size, size))
    bowl = Quadratic(factor @ factor.T + 0.5 * np.eye(size), rng.normal(size=size))
    theta = rng.normal(size=size)
    gradient = bowl.gradient(theta)
    direction = -gradient if uphill else gradient
    return CountedLine(theta, gradient, direction, bowl.loss(theta), bowl)


def _network(rng, rows, inputs, hidden, outputs, slope=0.0, l2=0.0):
    network = DenseReLUNetwork(inputs, (hidden,), outputs, negative_slope=slope, l2=l2)
    theta = network.init_parameters(rng)
    network.layout.views(theta)["b1"][...] = rng.normal(scale=0.5, size=hidden)
    X, y = rng.normal(size=(rows, inputs)), rng.normal(size=(rows, outputs))
    gradient = network.loss_and_gradient(theta, X, y)[1]
    return network, theta, gradient, X, y


def _network_line(rng, rows=20, inputs=3, hidden=6, outputs=1) -> CountedLine:
    network, theta, gradient, X, y = _network(rng, rows, inputs, hidden, outputs)
    objective = BatchObjective(network, X, y)
    return CountedLine(theta, gradient, gradient, network.loss(theta, X, y), objective)


# -- 4.1 QLABGrad, 4.2 LQA -------------------------------------------------------------------------


def _parabola_cases(rule_class, trial_name):
    def cases(rng):
        lines = [
            ("a quadratic bowl, trial 0.1", _quadratic_line(rng, 5), 0.1),
            ("a quadratic bowl, trial 10 (far beyond the minimum)", _quadratic_line(rng, 4), 10.0),
            ("a one-hidden-layer network's batch loss", _network_line(rng), 0.05),
            ("a network with three outputs", _network_line(rng, outputs=3), 0.02),
            ("a direction that is not a descent direction", _quadratic_line(rng, 3, True), 0.1),
        ]
        for description, line, trial in lines:
            rule = rule_class(**{trial_name: trial})
            rule.start(line.theta.size)
            reference = CountedLine(
                line.theta, line.gradient, line.direction, line.loss, line.objective
            )
            alpha = rule.size(reference)
            arguments = {"line": line, trial_name: trial}
            context = {"line": line, "probes": reference.n_probes, "trial": trial}
            yield Case(description, arguments, [("the step", alpha)], context)

    return cases


def _probe_cost(name):
    def cost(case) -> str | None:
        used, needed = case.arguments["line"].n_probes, case.context["probes"]
        if used > needed == 0:
            return (
                f"it called line.probe {used} times where q'(0) = line.slope >= 0: the "
                "direction does not descend, so the step is 0 and no probe is needed."
            )
        if used > needed:
            return (
                f"it called line.probe {used} times; {name} needs {needed} here (each probe is "
                "a forward pass over the batch)."
            )
        return None

    return cost


def _twice_the_step(case, got):
    return np.isclose(got[0][1], 2 * case.expected[0][1]) and case.expected[0][1] > 0


# -- 4.3 the breakpoints ---------------------------------------------------------------------------


def _pre_activations(rng):
    yield "6 rows, 4 units, random", rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    z0, rate = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    rate[1, 2] = 0.0
    z0[2, 0] = 0.0
    yield "a unit that does not move (rate 0) and one exactly at 0", z0, rate
    yield "one sample", rng.normal(size=(1, 5)), rng.normal(size=(1, 5))
    z0 = rng.normal(size=(4, 3))
    yield "ties: every rate equal to its pre-activation (all breakpoints 1)", z0, z0.copy()


def _breakpoint_cases(rng):
    for description, z0, rate in _pre_activations(rng):
        order, breakpoints, _ = sorted_breakpoints_numpy(z0, rate, math.inf)
        expected = [("the order", order), ("the breakpoints", breakpoints)]
        yield Case(description, dict(Z0=z0, Zdot=rate), expected)


# -- 4.4 the quartic of one piece, 4.5 the exact search --------------------------------------------

# (description, rows, inputs, hidden, outputs, negative slope, ridge)
LINES = [
    ("20 rows, 6 hidden units", 20, 3, 6, 1, 0.0, 0.0),
    ("several outputs", 15, 2, 5, 3, 0.0, 0.0),
    ("leaky slope a = 0.1", 15, 3, 4, 1, 0.1, 0.0),
    ("one sample", 1, 3, 5, 1, 0.0, 0.0),
    ("ridge l2 = 0.01", 15, 2, 4, 2, 0.0, 0.01),
    ("a dead unit (bias -100): its gradient is 0, it never moves", 12, 2, 4, 1, 0.0, 0.0),
]


class LineParts:
    """The parts of a one-ReLU-layer network along a line, as a check's argument (a description
    for the message; the attributes of :class:`relustep.steps.exact.OneReLULayerLine`)."""

    def __init__(self, parts):
        self.__dict__.update(parts.__dict__)
        self._parts = parts

    def describe(self) -> str:
        n, h = self.pre_activation.shape
        return f"n = {n} rows, h = {h} units, q = {self.output_weights.shape[1]} outputs"


def _lines(rng):
    for description, rows, inputs, hidden, outputs, slope, l2 in LINES:
        network, theta, gradient, X, y = _network(rng, rows, inputs, hidden, outputs, slope, l2)
        if "dead" in description:
            network.layout.views(theta)["b1"][0] = -100.0
            gradient = network.loss_and_gradient(theta, X, y)[1]
        yield description, dense_network_line(network, theta, gradient, X, y)


def _quartic_cases(rng):
    for description, parts in _lines(rng):
        for pattern in ("first", "last"):
            z0, rate = parts.pre_activation, parts.pre_activation_rate
            if pattern == "first":
                active = (z0 > 0) | ((z0 == 0) & (rate < 0))
            else:
                active = (rate < 0) | ((rate == 0) & (z0 > 0))
            coefficients = parts.scale * _sample_quartics(
                *residual_coefficients(parts, z0, rate, active)
            ).sum(axis=0)
            coefficients[:3] += parts.ridge
            arguments = dict(parts=LineParts(parts), active=active)
            expected = [("the coefficients c0..c4", coefficients)]
            yield Case(f"{description}, the {pattern} piece", arguments, expected)


def _exact_cases(rng):
    for description, parts in _lines(rng):
        alpha, best = exact_line_minimum(parts)
        calls = []

        def loss_along(step, parts=parts, calls=calls):
            calls.append(step)
            return line_loss(parts, step)

        arguments = dict(parts=LineParts(parts), loss_along=loss_along)
        order, _, _ = sorted_breakpoints_numpy(
            parts.pre_activation, parts.pre_activation_rate, math.inf
        )
        context = {"calls": calls, "breakpoints": len(order), "parts": parts, "alpha": alpha}
        yield Case(description, arguments, [("the loss at your step", best)], context)


def _flatten_exact_step(case):
    """A ``flatten`` that turns the step into the loss there: two minimisers may tie."""

    def flatten(answer):
        step = arrays("the step", shapes="one number, the step alpha*")(answer)[0][1]
        return [
            ("the loss at your step", np.asarray(line_loss(case.context["parts"], float(step))))
        ]

    return flatten


def _sweep_cost(case) -> str | None:
    used = len(case.context["calls"])
    if used > MOST_LOSS_CALLS:
        return (
            f"it called loss_along {used} times on a line with {case.context['breakpoints']} "
            "breakpoints. The sweep needs no loss per point: between breakpoints the loss is a "
            "known quartic, so minimise each piece's polynomial instead."
        )
    return None


def _exact_search_cases(rng):
    for case in _exact_cases(rng):
        case.context["flatten"] = _flatten_exact_step(case)
        yield case


EXERCISES = [
    Exercise(
        "4.1",
        "qlab_step",
        "QLABGrad's step from one probe",
        "a parabola from the free value and slope at 0 and one probe",
        10,
        _parabola_cases(steps.QLAB, "initial_step"),
        arrays("the step", shapes="one number, the step alpha_t"),
        "A = (q(trial) - q(0) - trial q'(0)) / trial^2, alpha = -q'(0) / (2A); no step (0) when "
        "q'(0) >= 0, and the trial step itself when A <= 0.",
        [
            (
                _twice_the_step,
                "the parabola q(0) + q'(0) a + A a^2 has its minimum at "
                "-q'(0)/(2A): the 2 comes from differentiating A a^2.",
            ),
            (
                lambda case, got: case.arguments["line"].slope >= 0,
                "q'(0) = line.slope >= 0 here: the direction does not descend, so the step is 0 "
                "(and no probe is needed).",
            ),
        ],
        _probe_cost("QLABGrad"),
    ),
    Exercise(
        "4.2",
        "lqa_step",
        "LQA's step from two probes at -delta and +delta",
        "a parabola from central differences, and why it needs no gradient",
        10,
        _parabola_cases(steps.LQA, "delta"),
        arrays("the step", shapes="one number, the step alpha_t"),
        "b = (q(delta) - q(-delta)) / (2 delta), c = (q(delta) + q(-delta) - 2 q(0)) / delta^2, "
        "alpha = -b/c; q(-delta) is line.probe(-delta); no step (0) when q'(0) >= 0.",
        [
            (
                _twice_the_step,
                "the central difference for the slope divides by 2 delta: "
                "b = (q(delta) - q(-delta)) / (2 delta).",
            ),
            (
                lambda case, got: np.isclose(got[0][1], -case.expected[0][1]),
                "q(delta) = L(theta - delta d) is line.probe(delta): the step moves against d, so "
                "alpha = -b/c with b the slope of q, not of L along +d.",
            ),
            (
                lambda case, got: case.arguments["line"].slope >= 0,
                "q'(0) = line.slope >= 0 here: the direction does not descend, so the step is 0 "
                "(and no probe is needed).",
            ),
        ],
        _probe_cost("LQA"),
    ),
    Exercise(
        "4.3",
        "breakpoints",
        "the sorted breakpoints where hidden pre-activations change sign",
        "where the pieces of the piecewise quartic end",
        10,
        _breakpoint_cases,
        arrays("the order", "the breakpoints", shapes="(order, breakpoints)"),
        "alpha_ij = Z0_ij / Zdot_ij, kept where it is > 0 (finite); order holds the flat "
        "indices i * h + j sorted by breakpoint, ties in flat-index order (a stable sort).",
        [
            (
                lambda case, got: len(got[1][1]) > len(case.expected[1][1]),
                "only alpha_ij > 0 are breakpoints on the ray: a unit that does not move "
                "(Zdot = 0) or crossed zero behind us (alpha <= 0) never changes sign ahead.",
            ),
            (
                lambda case, got: "ties" in case.description,
                "equal breakpoints keep their flat-index order: sort with kind='stable'.",
            ),
        ],
    ),
    Exercise(
        "4.4",
        "piece_quartic",
        "the quartic of the loss on one piece, for a given pattern of active units",
        "why the loss along the line is a quartic between breakpoints",
        25,
        _quartic_cases,
        arrays("the coefficients c0..c4", shapes="an array of the 5 coefficients c0, ..., c4"),
        "with s = 1 where active and a elsewhere: r0 = (s Z0) W2 + b2 - y, r1 = -((s Zdot) W2 + "
        "(s Z0) dW2) - db2, r2 = (s Zdot) dW2; P = scale * sum (r0 + r1 a + r2 a^2)^2 plus the "
        "ridge coefficients on c0, c1, c2.",
        [
            (
                lambda case, got: (
                    np.allclose(got[0][1][3:], case.expected[0][1][3:])
                    and not np.allclose(got[0][1][:3], case.expected[0][1][:3])
                    and np.any(case.arguments["parts"].ridge)
                ),
                "the ridge term rho0 + rho1 a + rho2 a^2 (parts.ridge) adds to c0, c1 and c2.",
            ),
            (
                lambda case, got: np.allclose(got[0][1], 2 * case.expected[0][1]),
                "the loss is scale * sum of squares, with scale = 1/(2n) (parts.scale).",
            ),
        ],
    ),
    Exercise(
        "4.5",
        "exact_step",
        "the global minimum of the loss along the line, by sweeping the breakpoints",
        "an exact line search in O(n h log(n h)), without a grid",
        30,
        _exact_search_cases,
        arrays("the step", shapes="one number, the step alpha*"),
        "sweep the pieces in order of the breakpoints; on each, the minimum is at an end or "
        "at a real root of P'(alpha) inside the piece; the last piece reaches to infinity.",
        [
            (
                lambda case, got: True,
                "your step is not the global minimum: check every piece (including the last, "
                "unbounded one), and both the ends and the roots of P' inside each piece.",
            ),
        ],
        _sweep_cost,
    ),
]
