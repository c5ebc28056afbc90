r"""The exact steepest-descent step: the global minimum of the loss along the direction.

Derived in relustep (the papers whose steps it scores do not contain it); the derivation is in
:mod:`relustep.kernels.linesearch` (one layer, square loss) and :mod:`relustep.steps.softmax_line`
(one layer, softmax).

The search asks the objective for the network seen along the line (the capability ``"line"``
of :mod:`relustep.objective`: :class:`relustep.models.line.NetworkLine` for a
:class:`~relustep.models.DenseReLUNetwork`): the first layer's products with the batch are
computed once, and every probe then costs only the layers above. Then:

- one ReLU layer and square loss: the loss along :math:`\theta - \alpha d` is a piecewise
  quartic whose pieces end where a hidden pre-activation changes sign;
  :func:`exact_line_minimum` sweeps those breakpoints in order
  (:func:`relustep.kernels.linesearch.quartic_sweep`) and returns the global minimum over
  :math:`\alpha \ge 0`;
- one ReLU layer and softmax cross-entropy: the loss is smooth between the same breakpoints;
  :func:`relustep.steps.softmax_line.softmax_line_minimum` finds its global minimum up to a
  certified gap by branch and bound;
- deeper networks: :func:`numerical_line_minimum`, a grid refined by Brent's method, over the
  network's cheap probes;
- anything else (a function given to :func:`relustep.minimize`, an RBM): the same numerical
  search over full forward passes (:meth:`~relustep.steps.base.Line.probe`).

:func:`decrease_ratio` scores any step against this oracle: the decrease it achieved as a
fraction of the best decrease along the same direction on the same batch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from relustep import kernels
from relustep._validation import check_float, check_int
from relustep.steps.base import Line, StepRule
from relustep.steps.softmax_line import finite_or_inf, softmax_line_minimum

GOLDEN_SECTION = (3.0 - math.sqrt(5.0)) / 2.0  # 0.382..., the golden section's step fraction
SWEEP_FORWARD_PASSES = 2  # the sweep's matrix products cost about two forward passes
DECREASE_TOLERANCE = 1e-12  # a best decrease below this fraction of the loss is rounding
BRENT_TOLERANCE = (
    1e-4  # Brent's relative tolerance on the step: the loss to about 1e-8 of the decrease
)


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
        True when the minimum is proven global: by the breakpoint sweep (square loss, up to
        rounding) or by the certified branch and bound (softmax, up to its gap); False when
        found by the numerical search (the best of a grid, refined by Brent's method).
    kind : str
        How it was found, in words (empty: said by :attr:`method` from ``exact``).
    """

    alpha: float
    loss: float
    exact: bool
    kind: str = ""

    @property
    def method(self) -> str:
        """How the minimum was found, in words."""
        if self.kind:
            return self.kind
        return "exact: breakpoint sweep" if self.exact else "numerical: grid and Brent's method"


class OneReLULayerLine(Protocol):
    r"""What the breakpoint sweep reads: a network with one (leaky) ReLU layer and square loss,
    seen along a line.

    Along :math:`\theta - \alpha d` the hidden pre-activations are :math:`Z_0 - \alpha \dot Z`
    (``pre_activation``, ``pre_activation_rate``), the output weights
    :math:`W_2 - \alpha \dot W_2` and the output bias :math:`b_2 - \alpha \dot b_2`; the loss is
    ``scale`` :math:`\sum_{ik} (\sigma(Z) W_2 + b_2 - Y)_{ik}^2` plus the ridge term
    :math:`\rho_0 + \rho_1\alpha + \rho_2\alpha^2`, and ``loss(alpha)`` evaluates it.

    :class:`relustep.models.line.NetworkLine` has these attributes. Another model (an untied
    autoencoder with linear visible units, say) gets the exact line search by offering the
    capability ``"line"`` (:mod:`relustep.objective`) with an object that has them,
    ``loss_name = "square"`` and ``n_hidden_layers = 1``.
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

    def loss(self, alpha: float) -> float: ...


def network_line(line: Line):
    """The network seen along ``line`` (``objective.line(theta, direction)``) if the line's
    objective offers the capability ``"line"`` (:mod:`relustep.objective`); ``None``
    otherwise."""
    objective = line.objective
    if "line" not in getattr(objective, "capabilities", ()):
        return None
    return objective.line(line.theta, line.direction)


def _is_one_layer(parts, loss_name: str) -> bool:
    return getattr(parts, "n_hidden_layers", None) == 1 and getattr(parts, "loss_name", "") == (
        loss_name
    )


def dense_network_line(model, theta, direction, X, y) -> OneReLULayerLine | None:
    """The line of a model with one hidden layer and square loss (``model.line``); ``None`` for
    any other model."""
    if not callable(getattr(model, "line", None)):
        return None
    parts = model.line(theta, direction, X, y)
    return parts if _is_one_layer(parts, "square") else None


def one_relu_layer_line(line: Line) -> OneReLULayerLine | None:
    """The structure the breakpoint sweep needs, if the line's objective is a network with one
    ReLU layer and square loss; ``None`` otherwise."""
    parts = network_line(line)
    return parts if parts is not None and _is_one_layer(parts, "square") else None


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
        The smallest minimiser and the loss there (by ``parts.loss``).

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
    _check_max_step(max_step)
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


def _check_max_step(max_step) -> None:
    if not (isinstance(max_step, numbers.Real) and max_step > 0.0):  # inf allowed, nan not
        raise ValueError(f"max_step must be a positive number or inf, got {max_step!r}")


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
    r"""The loss at :math:`\theta - \alpha d`, computed from the line's parts (``parts.loss``):
    a forward pass without the first layer's matrix product.

    The sweep's own value of the quartic is not returned: its monomial coefficients, summed over
    many breakpoints, lose digits to cancellation when :math:`\alpha` is large; this is as
    accurate as a forward pass."""
    return float(parts.loss(alpha))


def numerical_line_minimum(
    loss: Callable[[float], float],
    loss_at_zero: float,
    largest: float,
    smallest: float = 1e-6,
    grid_points: int = 16,
    iterations: int = 40,
) -> tuple[float, float, int]:
    r"""The best step of a geometric grid, refined by Brent's method between its neighbours.

    Parameters
    ----------
    loss : callable
        :math:`\alpha \mapsto q(\alpha)` (a non-finite value counts as :math:`+\infty`).
    loss_at_zero : float
        :math:`q(0)`, already known.
    largest, smallest : float
        The grid is 0 and ``grid_points`` steps spaced geometrically from ``smallest`` to
        ``largest``.
    grid_points : int
    iterations : int
        At most this many evaluations of Brent's method.

    Returns
    -------
    alpha, value : float
        The best step evaluated and :math:`q` there.
    evaluations : int
        How many times ``loss`` was called.

    Notes
    -----
    With :math:`\alpha_b` the best grid point, Brent's method (Brent 1973, *Algorithms for
    Minimization without Derivatives*, chapter 5) searches :math:`[\alpha_{b-1}, \alpha_{b+1}]`:
    each step is the minimum of the parabola through the three best points so far when that
    parabola is trusted (its minimum inside the bracket, and the step shorter than half the one
    before last), and a golden-section step into the larger part of the bracket otherwise. It
    stops when the bracket is within :math:`2t\,|\alpha|` of the best point, with
    :math:`t` = ``BRENT_TOLERANCE`` = :math:`10^{-4}`: at a smooth minimum the loss is then
    within about :math:`t^2 = 10^{-8}` of the decrease from it (measured on MNIST lines by
    ``bench/bench_linesearch.py``: no point of a dense grid lower).
    Nothing is guaranteed beyond the grid: a minimum narrower than the grid's spacing (a factor
    :math:`(\text{largest}/\text{smallest})^{1/(\text{grid\_points} - 1)}`, about 4 by default)
    away from the best grid point can be missed. (Written for relustep from the algorithm's
    description.)
    """
    grid = np.concatenate([[0.0], np.geomspace(smallest, largest, grid_points)])
    values = np.array([loss_at_zero] + [finite_or_inf(loss(a)) for a in grid[1:]])
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    alpha, value, evaluations = brent_minimum(
        loss, float(low), float(high), float(grid[best]), float(values[best]), iterations
    )
    return alpha, value, grid_points + evaluations


def brent_minimum(
    loss: Callable[[float], float],
    low: float,
    high: float,
    best: float,
    best_value: float,
    iterations: int,
) -> tuple[float, float, int]:
    """Brent's method on ``[low, high]`` from the point ``best`` (where ``loss`` is
    ``best_value``); see :func:`numerical_line_minimum`. Returns the best point, its value and
    the number of evaluations."""
    x, value_x = best, best_value  # the best point so far
    w, value_w = x, value_x  # the second best
    v, value_v = x, value_x  # the previous value of w
    step = step_before = 0.0
    evaluations = 0
    absolute = BRENT_TOLERANCE * max(abs(low), abs(high)) * 1e-6 + np.finfo(float).tiny
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        tolerance = BRENT_TOLERANCE * abs(x) + absolute
        if abs(x - middle) <= 2.0 * tolerance - 0.5 * (high - low):
            break
        parabolic = False
        if abs(step_before) > tolerance:
            r = (x - w) * (value_x - value_v)
            q = (x - v) * (value_x - value_w)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            if abs(p) < abs(0.5 * q * step_before) and q * (low - x) < p < q * (high - x):
                step_before, step = step, p / q
                parabolic = True
                if (x + step) - low < 2.0 * tolerance or high - (x + step) < 2.0 * tolerance:
                    step = tolerance if x < middle else -tolerance
        if not parabolic:
            step_before = (high - x) if x < middle else (low - x)
            step = GOLDEN_SECTION * step_before
        trial = x + (step if abs(step) >= tolerance else math.copysign(tolerance, step))
        value = finite_or_inf(loss(trial))
        evaluations += 1
        if value <= value_x:
            if trial < x:
                high = x
            else:
                low = x
            v, value_v, w, value_w, x, value_x = w, value_w, x, value_x, trial, value
        else:
            if trial < x:
                low = trial
            else:
                high = trial
            if value <= value_w or w == x:
                v, value_v, w, value_w = w, value_w, trial, value
            elif value <= value_v or v == x or v == w:
                v, value_v = trial, value
    return x, value_x, evaluations


class ExactLineSearch(StepRule):
    r"""Step to the global minimum of the batch loss along the gradient (the oracle).

    Parameters
    ----------
    max_step : float or None
        The largest step searched. ``None``: no bound for the square-loss sweep (every
        breakpoint, then the last piece's own minimum); the other searches then end at
        ``grid_largest``.
    grid_smallest, grid_largest : float
        The numerical search's geometric grid of ``grid_points`` steps runs from
        ``grid_smallest`` to ``grid_largest`` (or ``max_step`` if smaller); 0 is also tried.
        The softmax search ends at the same largest step, and splits no nearer 0 than
        ``grid_smallest`` at first.
    grid_points : int
        Points of that grid.
    golden_iterations : int
        At most this many evaluations of Brent's method (golden-section steps, replaced by
        parabolic ones where a parabola is trusted), which refines the best grid point between
        its neighbours.
    numerical : bool
        Use the numerical search even where an exact one applies (to compare them).

    Notes
    -----
    Derived in relustep. The search asks the objective for its line,
    ``objective.line(theta, direction)`` (:func:`network_line`, the capability ``"line"``); an
    objective without it gets the numerical search over full forward passes.

    - One ReLU layer and square loss: :math:`\alpha^* = \arg\min_{\alpha \ge 0}
      \mathcal L(\theta - \alpha d)`, exactly: see :func:`exact_line_minimum`. Counted as
      ``SWEEP_FORWARD_PASSES`` forward passes in the history (its matrix products are two
      first-layer products, as a forward pass has one, plus four small ones with the output
      weights).
    - One ReLU layer and softmax cross-entropy: the global minimum over
      :math:`[0, \alpha_{\max}]` up to a certified gap, see
      :func:`relustep.steps.softmax_line.softmax_line_minimum`. A step whose search ran out
      of evaluations is counted in the column ``"numerical"``.
    - Deeper networks: :func:`numerical_line_minimum` over the line's probes, which skip the
      first layer's products with the batch; counted in ``"numerical"``.

    **Counting.** Where the model gives its line, the history's ``n_forward`` counts the search
    in forward-pass equivalents by multiply-adds: the two first-layer products, plus each probe
    (or each of the softmax search's tangents: four products of the size of the output layer's),
    divided by the multiply-adds of one forward pass on the batch; a fraction in general. The
    sorting and sweeping of breakpoints (no multiply-adds of matrix products) is not counted.
    Elsewhere each probe is one forward pass. A step whose minimum is not finite (non-finite
    parameters or data) is skipped and counted as ``"nonfinite"``.

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
        grid_points: int = 16,
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

    @property
    def largest_step(self) -> float:
        """The largest step of the softmax and numerical searches."""
        return self.grid_largest if self.max_step is None else min(self.grid_largest, self.max_step)

    def search(self, line: Line) -> LineMinimum:
        """The minimum of the loss along ``line`` over :math:`\\alpha \\ge 0`: exact where the
        model allows it, else numerical. Its cost is counted on ``line.n_probes`` in
        forward-pass equivalents (see the Notes)."""
        parts = network_line(line)
        if parts is None:
            alpha, loss, _ = self._numerical_search(line.probe, line.loss)  # probes count
            return LineMinimum(alpha, loss, exact=False)
        backend = getattr(parts, "backend", "numba")
        passes = parts.setup_multiply_adds / parts.forward_multiply_adds
        probe_passes = parts.probe_multiply_adds / parts.forward_multiply_adds
        if not self.numerical and _is_one_layer(parts, "square"):
            max_step = math.inf if self.max_step is None else self.max_step
            alpha, loss = exact_line_minimum(parts, max_step, backend)
            line.n_probes += SWEEP_FORWARD_PASSES
            return LineMinimum(alpha, loss, exact=True)
        if not self.numerical and _is_one_layer(parts, "softmax"):
            found = softmax_line_minimum(
                parts, self.largest_step, min(self.grid_smallest, self.largest_step), backend
            )
            line.n_probes += passes + (4 * found.evaluations + 1) * probe_passes
            kind = (
                "exact: branch and bound over the pieces"
                if found.certified
                else ("numerical: branch and bound, out of evaluations")
            )
            return LineMinimum(found.alpha, found.loss, found.certified, kind)
        alpha, loss, probes = self._numerical_search(parts.loss, line.loss)
        line.n_probes += passes + probes * probe_passes
        return LineMinimum(alpha, loss, exact=False)

    def _numerical_search(self, loss, loss_at_zero) -> tuple[float, float, int]:
        largest = self.largest_step
        return numerical_line_minimum(
            loss,
            loss_at_zero,
            largest,
            min(self.grid_smallest, largest),
            self.grid_points,
            self.golden_iterations,
        )

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


_SWEEP_WARM: list[bool] = []


def _warm_up_sweep() -> None:
    """Load (or compile) the search kernels once per process, before a trainer's clock starts."""
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
    kernels.get("moved_activation")(z, z, 0.5, 0.0, np.empty_like(z))
    on_at_zero, crossing = kernels.get("crossings")(z, z)
    _, after, _ = kernels.get("tangent_sums")(z, z, on_at_zero, crossing, z, z, 0.0, 0.5)
    index = np.array([0], dtype=np.int64)
    kernels.get("gibbs_bound")(after, z, z, z, z, 0.0, index, np.ones(1), 0, 1, 0.0, 2.0, True)
    _SWEEP_WARM.append(True)
