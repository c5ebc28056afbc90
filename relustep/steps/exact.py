r"""The exact steepest-descent step: the global minimum of the loss along the direction.

Derived in relustep (METHODS section 4; the papers whose steps it scores do not contain it).

For a network with one ReLU layer and square loss, the loss along :math:`\theta - \alpha d` is a
piecewise quartic in :math:`\alpha` whose pieces end where a hidden pre-activation changes sign;
:func:`exact_line_minimum` sweeps those breakpoints in order
(:func:`relustep.kernels.linesearch.quartic_sweep`) and returns the global minimum over
:math:`\alpha \ge 0`. Elsewhere (softmax cross-entropy, deeper networks, a function given to
:func:`relustep.minimize`) :class:`ExactLineSearch` falls back to a numerical search, a grid
refined by golden section, and says so.

:func:`decrease_ratio` scores any step against this oracle: the decrease it achieved as a
fraction of the best decrease along the same direction on the same batch.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from relustep import kernels
from relustep._validation import check_float, check_int
from relustep.steps.base import Line, StepRule

GOLDEN_RATIO = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618..., the golden section's shrink factor
SWEEP_FORWARD_PASSES = 2  # the sweep's matrix products cost about two forward passes
DECREASE_TOLERANCE = 1e-12  # a best decrease below this fraction of the loss is rounding


@dataclass(frozen=True)
class LineMinimum:
    """Where the loss along the line is least.

    Attributes
    ----------
    alpha : float
        The step :math:`\\alpha^* \\ge 0` (the smallest one, when several tie).
    loss : float
        :math:`q(\\alpha^*)`, the batch loss there.
    exact : bool
        True when found by the breakpoint sweep (the global minimum up to rounding); False when
        found by the numerical search (the best of a grid, refined by golden section).
    """

    alpha: float
    loss: float
    exact: bool

    @property
    def method(self) -> str:
        """How the minimum was found, in words."""
        return "exact: breakpoint sweep" if self.exact else "numerical: grid and golden section"


@dataclass(frozen=True)
class OneReLULayerLine:
    r"""A network with one (leaky) ReLU layer and square loss, seen along a line.

    Along :math:`\theta - \alpha d` the hidden pre-activations are :math:`Z_0 - \alpha \dot Z`,
    the output weights :math:`W_2 - \alpha \dot W_2` and the output bias
    :math:`b_2 - \alpha \dot b_2`; the loss is
    ``scale`` :math:`\sum_{ik} (\sigma(Z) W_2 + b_2 - Y)_{ik}^2` plus the ridge term
    :math:`\rho_0 + \rho_1\alpha + \rho_2\alpha^2`.

    A model other than :class:`~relustep.models.DenseReLUNetwork` (an untied autoencoder with
    linear visible units, say) gets the exact line search by giving a method
    ``one_relu_layer_line(theta, direction, X, y)`` that returns this.
    """

    pre_activation: np.ndarray
    pre_activation_rate: np.ndarray
    output_weights: np.ndarray
    output_weights_rate: np.ndarray
    output_bias: np.ndarray
    output_bias_rate: np.ndarray
    targets: np.ndarray
    negative_slope: float
    scale: float
    ridge: tuple[float, float, float]


def dense_network_line(model, theta, direction, X, y) -> OneReLULayerLine | None:
    """The :class:`OneReLULayerLine` of a :class:`~relustep.models.DenseReLUNetwork` with one
    hidden layer and square loss; ``None`` for any other model."""
    from relustep.models.dense import DenseReLUNetwork  # here: models import the trainer

    if not (
        isinstance(model, DenseReLUNetwork) and model.loss_name == "square" and model.n_layers == 2
    ):
        return None
    (W1, b1), (W2, b2) = model.weights(theta)
    (dW1, db1), (dW2, db2) = model.weights(direction)
    pre_activation = X @ W1
    pre_activation += b1
    pre_activation_rate = X @ dW1
    pre_activation_rate += db1
    ridge = (0.0, 0.0, 0.0)
    if model.l2 != 0.0:
        half = 0.5 * model.l2
        ridge = (
            half * float(np.vdot(W1, W1) + np.vdot(W2, W2)),
            -model.l2 * float(np.vdot(W1, dW1) + np.vdot(W2, dW2)),
            half * float(np.vdot(dW1, dW1) + np.vdot(dW2, dW2)),
        )
    return OneReLULayerLine(
        pre_activation,
        pre_activation_rate,
        W2,
        dW2,
        b2,
        db2,
        y,
        model.negative_slope,
        0.5 / len(X),
        ridge,
    )


def exact_line_minimum(
    parts: OneReLULayerLine, max_step: float = math.inf, backend: str = "numba"
) -> tuple[float, float]:
    r"""The global minimum of the piecewise quartic loss over :math:`0 \le \alpha \le`
    ``max_step``.

    Parameters
    ----------
    parts : OneReLULayerLine
        The network along the line.
    max_step : float
        The largest step searched; ``inf`` searches every breakpoint and then the last piece's
        own minimum.
    backend : {"numba", "numpy"}
        The sweep kernel or its NumPy twin.

    Returns
    -------
    alpha, loss : float
        The smallest minimiser and the loss there (by :func:`line_loss`).

    Notes
    -----
    Derived in relustep; the formulas are in :mod:`relustep.kernels.linesearch`. The pattern
    on the first piece is the one just after :math:`\alpha = 0`: unit :math:`(i, j)` is active
    if :math:`Z_{0,ij} > 0`, or if :math:`Z_{0,ij} = 0` and :math:`\dot Z_{ij} < 0` (it is
    about to become positive). The breakpoints :math:`\alpha = Z_{0,ij}/\dot Z_{ij} > 0` are
    sorted by a radix sort (:func:`relustep.kernels.linesearch.sorted_breakpoints`, whose twin
    is NumPy's stable sort) and swept in :math:`O(n h q)`, after the matrix products: the
    first-layer products :math:`Z_0` and :math:`\dot Z`, and two products with
    :math:`[W_2, \dot W_2]` for each of the first and the last piece's residual coefficients
    (:func:`residual_coefficients`; the last piece's pattern is known without the sweep: beyond
    every breakpoint a unit is on where :math:`\dot Z_{ij} < 0`).
    """
    if not (isinstance(max_step, numbers.Real) and max_step > 0.0):  # inf allowed, nan not
        raise ValueError(f"max_step must be a positive number or inf, got {max_step!r}")
    z0 = np.ascontiguousarray(parts.pre_activation, dtype=np.float64)
    z_rate = np.ascontiguousarray(parts.pre_activation_rate, dtype=np.float64)
    order, breakpoints, rates = kernels.get("sorted_breakpoints", backend)(z0, z_rate, max_step)
    first_active = (z0 > 0) | ((z0 == 0) & (z_rate < 0))
    if math.isinf(max_step):  # beyond every breakpoint: active where Z0 - alpha Zdot grows
        last_active = (z_rate < 0) | ((z_rate == 0) & (z0 > 0))
    else:  # the units that cross in (0, max_step] change state
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = z0 / z_rate
        last_active = first_active ^ ((ratio > 0) & (ratio <= max_step))
    sweep = kernels.get("quartic_sweep", backend)
    alpha, _ = sweep(
        order,
        breakpoints,
        rates,
        z0.shape[1],
        *residual_coefficients(parts, z0, z_rate, first_active),
        *residual_coefficients(parts, z0, z_rate, last_active),
        np.ascontiguousarray(parts.output_weights, dtype=np.float64),
        np.ascontiguousarray(parts.output_weights_rate, dtype=np.float64),
        float(parts.negative_slope),
        float(parts.scale),
        np.array(parts.ridge, dtype=np.float64),
        float(max_step),
    )
    return float(alpha), line_loss(parts, float(alpha))


def residual_coefficients(
    parts: OneReLULayerLine, z0: np.ndarray, z_rate: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The residual's coefficients :math:`r^{(0)}, r^{(1)}, r^{(2)}` on a piece where the units
    ``active`` are on (slope 1) and the others have slope :math:`a`; see
    :mod:`relustep.kernels.linesearch`. Two matrix products, with :math:`[W_2, \dot W_2]`."""
    unit_slope = np.where(active, 1.0, parts.negative_slope)
    both = np.hstack([parts.output_weights, parts.output_weights_rate])
    along_z0 = (unit_slope * z0) @ both  # [s Z0 W2, s Z0 dW2]
    along_rate = (unit_slope * z_rate) @ both  # [s Zdot W2, s Zdot dW2]
    q = parts.output_weights.shape[1]
    residual0 = along_z0[:, :q] + parts.output_bias - parts.targets
    residual1 = -(along_rate[:, :q] + along_z0[:, q:]) - parts.output_bias_rate
    residual2 = along_rate[:, q:]
    return tuple(
        np.ascontiguousarray(r, dtype=np.float64) for r in (residual0, residual1, residual2)
    )


def line_loss(parts: OneReLULayerLine, alpha: float) -> float:
    r"""The loss at :math:`\theta - \alpha d`, computed from the line's parts: a forward pass
    without the first layer's matrix product (:math:`Z = Z_0 - \alpha\dot Z`).

    The sweep's own value of the quartic is not returned: its monomial coefficients, summed over
    many breakpoints, lose digits to cancellation when :math:`\alpha` is large; this is as
    accurate as a forward pass."""
    pre_activation = parts.pre_activation - alpha * parts.pre_activation_rate
    hidden = np.maximum(pre_activation, parts.negative_slope * pre_activation)
    output = hidden @ (parts.output_weights - alpha * parts.output_weights_rate)
    output += parts.output_bias - alpha * parts.output_bias_rate
    residual = output - parts.targets
    ridge = parts.ridge[0] + alpha * (parts.ridge[1] + alpha * parts.ridge[2])
    return parts.scale * float(np.vdot(residual, residual)) + ridge


def one_relu_layer_line(line: Line) -> OneReLULayerLine | None:
    """The structure the exact search needs, if the line's objective is a network with one ReLU
    layer and square loss; ``None`` otherwise."""
    model = getattr(line.objective, "model", None)
    if model is None:
        return None
    X, y = line.objective.X, line.objective.y
    if hasattr(model, "one_relu_layer_line"):
        return model.one_relu_layer_line(line.theta, line.direction, X, y)
    return dense_network_line(model, line.theta, line.direction, X, y)


class ExactLineSearch(StepRule):
    r"""Step to the global minimum of the batch loss along the gradient (the oracle).

    Parameters
    ----------
    max_step : float or None
        The largest step searched. ``None``: no bound for the exact search (every breakpoint,
        then the last piece's own minimum); the numerical search then ends at
        ``grid_largest``.
    grid_smallest, grid_largest : float
        The numerical search's geometric grid of ``grid_points`` steps runs from
        ``grid_smallest`` to ``grid_largest`` (or ``max_step`` if smaller); 0 is also tried.
    grid_points : int
        Points of that grid.
    golden_iterations : int
        Golden-section iterations that refine the best grid point between its neighbours: two
        probes to start, then one probe per iteration, each shrinking the bracket by the
        factor 0.618.
    numerical : bool
        Use the numerical search even where the exact one applies (to compare them).

    Notes
    -----
    Derived in relustep (METHODS section 4). Where the objective is a network with one ReLU
    layer and square loss (:func:`one_relu_layer_line`), the step is
    :math:`\alpha^* = \arg\min_{\alpha \ge 0} \mathcal L(\theta - \alpha g)`, exactly: see
    :func:`exact_line_minimum`. The sweep is counted as ``SWEEP_FORWARD_PASSES`` forward passes
    in the history (its matrix products are two first-layer products, as a forward pass has
    one, plus four small ones with the output weights).

    Elsewhere the loss is probed at 0 and on the grid, and golden section refines the best grid
    point :math:`\alpha_b` inside :math:`[\alpha_{b-1}, \alpha_{b+1}]`: the result is the best
    point probed, which is not guaranteed to be the global minimum. Each probe is one forward
    pass, counted; each such step is counted in the fallback column ``"numerical"``. A step whose
    minimum is not finite (non-finite parameters or data) is skipped and counted as
    ``"nonfinite"``.

    Examples
    --------
    >>> import numpy as np, relustep
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = np.abs(X[:, 0])
    >>> model = relustep.ReLURegressor((8,), step="exact", epochs=5, random_state=0).fit(X, y)
    >>> int(model.history_.total("numerical"))  # every step was exact
    0
    """

    name = "exact"
    fallbacks = ("numerical", "nonfinite")

    def __init__(
        self,
        max_step: float | None = None,
        grid_smallest: float = 1e-6,
        grid_largest: float = 1e3,
        grid_points: int = 64,
        golden_iterations: int = 40,
        numerical: bool = False,
    ):
        self.max_step = (
            None
            if max_step is None
            else check_float(max_step, "max_step", low=0.0, low_inclusive=False)
        )
        self.grid_smallest = check_float(
            grid_smallest, "grid_smallest", low=0.0, low_inclusive=False
        )
        self.grid_largest = check_float(
            grid_largest, "grid_largest", low=self.grid_smallest, low_inclusive=False
        )
        self.grid_points = check_int(grid_points, "grid_points", low=2)
        self.golden_iterations = check_int(golden_iterations, "golden_iterations", low=0)
        if not isinstance(numerical, bool | np.bool_):
            raise TypeError(f"numerical must be True or False, got {numerical!r}")
        self.numerical = bool(numerical)

    def start(self, n_parameters: int, dtype=np.float64) -> None:
        super().start(n_parameters, dtype)
        _warm_up_sweep()

    def size(self, line: Line) -> float:
        minimum = self.search(line)
        if not minimum.exact:
            self.count("numerical")
        if not (math.isfinite(minimum.alpha) and math.isfinite(minimum.loss)):
            self.count("nonfinite")
            return 0.0
        return minimum.alpha

    def search(self, line: Line) -> LineMinimum:
        """The minimum of the loss along ``line`` over :math:`\\alpha \\ge 0`: exact where the
        model allows it, else numerical. Probes (and the sweep's work) are counted on ``line``."""
        parts = None if self.numerical else one_relu_layer_line(line)
        if parts is None:
            return self._numerical_search(line)
        backend = getattr(line.objective.model, "backend", "numba")
        max_step = math.inf if self.max_step is None else self.max_step
        alpha, loss = exact_line_minimum(parts, max_step, backend)
        line.n_probes += SWEEP_FORWARD_PASSES
        return LineMinimum(alpha, loss, exact=True)

    def _numerical_search(self, line: Line) -> LineMinimum:
        largest = (
            self.grid_largest if self.max_step is None else min(self.grid_largest, self.max_step)
        )
        smallest = min(self.grid_smallest, largest)
        grid = np.concatenate([[0.0], np.geomspace(smallest, largest, self.grid_points)])
        values = np.array([line.loss] + [_finite_or_inf(line.probe(a)) for a in grid[1:]])
        best = int(np.argmin(values))
        best_alpha, best_value = float(grid[best]), float(values[best])
        low = grid[max(best - 1, 0)]
        high = grid[min(best + 1, len(grid) - 1)]
        # golden section on [low, high]: keep the two inner points at the golden ratios
        inner_low = high - GOLDEN_RATIO * (high - low)
        inner_high = low + GOLDEN_RATIO * (high - low)
        if self.golden_iterations == 0:
            return LineMinimum(best_alpha, best_value, exact=False)
        value_low = _finite_or_inf(line.probe(inner_low))
        value_high = _finite_or_inf(line.probe(inner_high))
        for _ in range(self.golden_iterations):
            if value_low <= value_high:
                high, inner_high, value_high = inner_high, inner_low, value_low
                inner_low = high - GOLDEN_RATIO * (high - low)
                value_low = _finite_or_inf(line.probe(inner_low))
            else:
                low, inner_low, value_low = inner_low, inner_high, value_high
                inner_high = low + GOLDEN_RATIO * (high - low)
                value_high = _finite_or_inf(line.probe(inner_high))
        for alpha, value in ((inner_low, value_low), (inner_high, value_high)):
            if value < best_value:
                best_alpha, best_value = float(alpha), value
        return LineMinimum(best_alpha, best_value, exact=False)

    def _settings(self) -> dict:
        return {
            "max_step": self.max_step,
            "grid_smallest": self.grid_smallest,
            "grid_largest": self.grid_largest,
            "grid_points": self.grid_points,
            "golden_iterations": self.golden_iterations,
            "numerical": self.numerical,
        }


def decrease_ratio(line: Line, alpha: float, oracle: ExactLineSearch | None = None) -> float:
    r"""How near a step comes to the best step along its direction, on its batch.

    .. math::
        \rho = \frac{q(0) - q(\alpha)}{q(0) - \min_{\beta \ge 0} q(\beta)}, \qquad
        q(\beta) = \mathcal L(\theta - \beta d),

    1 for the best step, 0 for no progress, negative when the step raised the loss.

    Parameters
    ----------
    line : Line
        The line the step was taken on (``line.theta`` not yet moved).
    alpha : float
        The step taken.
    oracle : ExactLineSearch, optional
        Finds :math:`\min q` (a default one if not given).

    Returns
    -------
    float
        :math:`\rho`, or ``nan`` when the best decrease is not positive (at most
        ``DECREASE_TOLERANCE`` times the loss: no descent is possible along :math:`d`) or a value
        is not finite. With the numerical search the denominator
        may fall short of the true best, so :math:`\rho` may exceed 1.

    Notes
    -----
    The oracle probes a copy of the line, so its forward passes are not added to
    ``line.n_probes`` (they are not the rule's cost). :math:`q(\alpha)` costs one more forward
    pass, also not counted.
    """
    oracle = ExactLineSearch() if oracle is None else oracle
    private = Line(line.theta, line.gradient, line.direction, line.loss, line.objective)
    best = oracle.search(private)
    achieved = line.loss if alpha == 0.0 else private.probe(alpha)
    best_decrease = line.loss - best.loss
    meaningful = best_decrease > DECREASE_TOLERANCE * abs(line.loss) and best.alpha > 0.0
    if not (meaningful and math.isfinite(achieved) and math.isfinite(best_decrease)):
        return math.nan
    return (line.loss - achieved) / best_decrease


def _finite_or_inf(value: float) -> float:
    return value if math.isfinite(value) else math.inf


_SWEEP_WARM: list[bool] = []


def _warm_up_sweep() -> None:
    """Load (or compile) the sweep kernel once per process, before a trainer's clock starts."""
    if _SWEEP_WARM:
        return
    z = np.array([[1.0, -1.0]])
    kernels.get("sorted_breakpoints")(z, z, math.inf)
    residual = np.zeros((1, 1))
    weights = np.ones((2, 1))
    kernels.get("quartic_sweep")(
        np.array([0], dtype=np.int64),
        np.ones(1),
        np.ones(1),
        2,
        *[residual] * 6,
        weights,
        weights,
        0.0,
        0.5,
        np.zeros(3),
        math.inf,
    )
    _SWEEP_WARM.append(True)
