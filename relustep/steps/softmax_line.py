r"""The best step along a line for a softmax classifier with one ReLU layer: branch and bound
over the steps, with a lower bound from the Gibbs inequality.

Derived in relustep (the papers whose steps it scores do not contain it).

Along :math:`\theta - \alpha d` the logits of a network with one (leaky) ReLU layer are

.. math::
    L(\alpha) = \sigma(Z_0 - \alpha\dot Z)\,(W_2 - \alpha\dot W_2) + b_2 - \alpha\dot b_2,

piecewise quadratic in :math:`\alpha`: between consecutive breakpoints
:math:`\alpha_{ij} = Z_{0,ij}/\dot Z_{ij}` no unit changes sign. The loss

.. math::
    f(\alpha) = \frac1n \sum_i \Big(\log\sum_k e^{L_{ik}(\alpha)} - L_{iy_i}(\alpha)\Big)
    + \rho(\alpha)

(:math:`\rho` the ridge's quadratic) is therefore smooth on each piece, continuous, with kinks at
the breakpoints; it is neither convex nor unimodal in general. :func:`softmax_line_minimum` finds
its least value over :math:`0 \le \alpha \le \alpha_{\max}` by branch and bound, and proves it.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from relustep import kernels
from relustep._validation import check_float, check_int

CERTIFICATE_TOLERANCE = 1e-12  # the certified gap, as a fraction of 1 + |q(0)|
MAX_EVALUATIONS = 400  # tangents evaluated before the search gives up its certificate
SPLIT_MARGIN = 1.0 / 16.0  # a split point stays this fraction of the interval from its ends
GEOMETRIC_SPLIT = 4.0  # intervals [u, v] with v > 4 u are split at their geometric mean


@dataclass(frozen=True)
class Tangent:
    r"""The loss at one step :math:`a` and what its lower bound :math:`B_a` needs.

    Attributes
    ----------
    alpha : float
        :math:`a`.
    loss : float
        :math:`f(a)`.
    slope : float
        :math:`f'(a^+)`, the slope just after :math:`a`.
    dual_weights, dual_weights_rate : ndarray, shape (n, h)
        :math:`U = \Gamma W_2^\top` and :math:`V = \Gamma\dot W_2^\top`.
    offset : float
        :math:`D_a(a)`, so that :math:`B_a(\alpha) = f(a) + D_a(\alpha) - D_a(a)`.
    after, before : ndarray, shape (3,)
        :math:`D_a`'s coefficients on the pieces just after and just before :math:`a`.
    """

    alpha: float
    loss: float
    slope: float
    dual_weights: np.ndarray
    dual_weights_rate: np.ndarray
    offset: float
    after: np.ndarray
    before: np.ndarray


@dataclass(frozen=True)
class SoftmaxLineMinimum:
    """What :func:`softmax_line_minimum` found.

    Attributes
    ----------
    alpha, loss : float
        The best step found and the loss there.
    certified : bool
        True when no step in the range has a loss below ``loss - gap`` (see the Notes of
        :func:`softmax_line_minimum`).
    gap : float
        The certified gap.
    evaluations : int
        Tangents evaluated.
    """

    alpha: float
    loss: float
    certified: bool
    gap: float
    evaluations: int


class PiecewiseSoftmaxLine:
    """The loss of a softmax classifier with one ReLU layer along a line, its tangents and the
    bounds they give (see :func:`softmax_line_minimum`).

    Parameters
    ----------
    parts : NetworkLine
        The network along the line.
    max_step : float
        The largest step of interest (breakpoints beyond it are not sorted).
    backend : {"numba", "numpy"}
        The kernels or their NumPy twins.
    """

    def __init__(self, parts, max_step: float, backend: str = "numba"):
        self.parts = parts
        self.n_classes = parts.output_weights.shape[1]
        self.weights_side_by_side = np.hstack([parts.output_weights, parts.output_weights_rate])
        self.weights_transposed = np.stack([parts.output_weights.T, parts.output_weights_rate.T])
        self.negative_slope = float(parts.negative_slope)
        self.on_at_zero, self.crossing = kernels.get("crossings", backend)(
            parts.pre_activation, parts.pre_activation_rate
        )
        self.order, self.breakpoints, _ = kernels.get("sorted_breakpoints", backend)(
            parts.pre_activation, parts.pre_activation_rate, max_step
        )
        self._softmax_cross_entropy = kernels.get("softmax_cross_entropy", backend)
        self._tangent_sums = kernels.get("tangent_sums", backend)
        self._gibbs_bound = kernels.get("gibbs_bound", backend)

    def tangent(self, alpha: float) -> Tangent:
        r"""Evaluate the loss, its slope and the bound :math:`B_a` at step :math:`a` = ``alpha``.

        Two products with :math:`[W_2, \dot W_2]` (``n x h x 2q`` each): the logits
        :math:`A_1 W_2 - a A_1\dot W_2`, and :math:`\Gamma [W_2, \dot W_2]^\top` with
        :math:`\Gamma = (P - E)/n` the gradient of the data loss with respect to the logits
        (written by :func:`relustep.kernels.dense.softmax_cross_entropy`); then one pass over
        the units (:func:`relustep.kernels.networkline.tangent_sums`)."""
        parts, n_classes = self.parts, self.n_classes
        moved = parts.hidden(alpha) @ self.weights_side_by_side
        logits = moved[:, :n_classes] - alpha * moved[:, n_classes:]
        logits += parts.output_bias - alpha * parts.output_bias_rate
        gradient = np.empty_like(logits)
        loss = self._softmax_cross_entropy(logits, parts.targets, gradient)
        dual_weights, dual_weights_rate = gradient @ self.weights_transposed  # each (n, h)
        value, after, before = self._tangent_sums(
            parts.pre_activation,
            parts.pre_activation_rate,
            self.on_at_zero,
            self.crossing,
            dual_weights,
            dual_weights_rate,
            self.negative_slope,
            float(alpha),
        )
        bias_rate = float(gradient.sum(axis=0) @ parts.output_bias_rate)
        ridge = np.array(parts.ridge) + np.array([0.0, -bias_rate, 0.0])
        after, before = after + ridge, before + ridge
        return Tangent(
            alpha=alpha,
            loss=float(loss) + parts.ridge_at(alpha),
            slope=float(after[1] + 2.0 * alpha * after[2]),
            dual_weights=dual_weights,
            dual_weights_rate=dual_weights_rate,
            offset=value - bias_rate * alpha + parts.ridge_at(alpha),
            after=after,
            before=before,
        )

    def bound(self, low: Tangent, high: Tangent, enough: float = math.inf) -> tuple[float, float]:
        """A lower bound of the loss on ``[low.alpha, high.alpha]``, the larger of the least
        values of :math:`B_u` and :math:`B_v` there, and where that larger one is least.

        With ``enough`` given, the end with the lower loss is swept first, and if its least
        value is already at least ``enough`` (the interval needs no split), that value is the
        bound and the other end is not swept."""
        start = int(np.searchsorted(self.breakpoints, low.alpha, side="right"))
        stop = int(np.searchsorted(self.breakpoints, high.alpha, side="left"))
        ends = [(low, True), (high, False)]
        if high.loss < low.loss:
            ends.reverse()
        bound, where = -math.inf, math.nan
        for end, forward in ends:
            least, at = self._gibbs_bound(
                end.after if forward else end.before,
                self.parts.pre_activation,
                self.parts.pre_activation_rate,
                end.dual_weights,
                end.dual_weights_rate,
                self.negative_slope,
                self.order,
                self.breakpoints,
                start,
                stop,
                low.alpha,
                high.alpha,
                forward,
            )
            value = end.loss + least - end.offset
            if value > bound or (value == bound and forward):
                bound, where = value, at
            if bound >= enough:
                break
        return bound, where


def split_point(low: Tangent, high: Tangent) -> float:
    r"""Where to split ``[low, high]``: at the geometric mean of a wide interval
    (``high > GEOMETRIC_SPLIT * low > 0``); else, if the slopes change sign (a minimum inside),
    where the cubic through both ends' losses and slopes is least (:func:`cubic_minimum`); else
    in the middle; never nearer an end than ``SPLIT_MARGIN`` of the width, so that every split
    shrinks the interval."""
    u, v = low.alpha, high.alpha
    if v > GEOMETRIC_SPLIT * u > 0.0:
        return math.sqrt(u * v)
    point = 0.5 * (u + v)
    if low.slope < 0.0 < high.slope:
        cubic = cubic_minimum(u, low.loss, low.slope, v, high.loss, high.slope)
        if math.isfinite(cubic):
            point = cubic
    margin = SPLIT_MARGIN * (v - u)
    return min(max(point, u + margin), v - margin)


def cubic_minimum(u: float, f_u: float, g_u: float, v: float, f_v: float, g_v: float) -> float:
    r"""The minimiser in :math:`[u, v]` of the cubic :math:`c` with :math:`c(u) = f_u`,
    :math:`c'(u) = g_u < 0`, :math:`c(v) = f_v`, :math:`c'(v) = g_v > 0`.

    Parameters
    ----------
    u, f_u, g_u : float
        The left end, the loss and the slope there.
    v, f_v, g_v : float
        The right end (``v > u``), the loss and the slope there.

    Returns
    -------
    float
        The minimiser, or ``nan`` if a value is not finite.

    Notes
    -----
    The classical interpolation step of line searches (Nocedal and Wright, *Numerical
    Optimization*, 2nd ed., eq. 3.59). With :math:`d_1 = g_u + g_v - 3\frac{f_u - f_v}{u - v}`
    and :math:`d_2 = \sqrt{d_1^2 - g_u g_v}` (real, since :math:`g_u g_v < 0`), the root of the
    quadratic :math:`c'` where :math:`c'' > 0` is

    .. math::
        x = v - (v - u)\,\frac{g_v + d_2 - d_1}{g_v - g_u + 2 d_2},

    inside :math:`[u, v]` because :math:`c'` goes from negative to positive there. Unlike the
    secant of the slopes, it uses the losses too; on the lines of an SGD run on MNIST the search
    needed about a tenth fewer tangents with it.
    """
    d1 = g_u + g_v - 3.0 * (f_u - f_v) / (u - v)
    d2 = math.sqrt(d1 * d1 - g_u * g_v)
    return v - (v - u) * (g_v + d2 - d1) / (g_v - g_u + 2.0 * d2)


def softmax_line_minimum(
    parts,
    max_step: float,
    grid_smallest: float = 1e-6,
    backend: str = "numba",
    tolerance: float = CERTIFICATE_TOLERANCE,
    max_evaluations: int = MAX_EVALUATIONS,
) -> SoftmaxLineMinimum:
    r"""The least loss of a softmax classifier with one ReLU layer over
    :math:`0 \le \alpha \le` ``max_step``, with a certificate.

    Parameters
    ----------
    parts : NetworkLine
        The network along the line (:meth:`relustep.models.DenseReLUNetwork.line`), one hidden
        layer, softmax cross-entropy.
    max_step : float
        The largest step searched (finite: along some lines the loss decreases without end).
    grid_smallest : float
        The least first split: the search starts from the intervals :math:`[0, a_0]` and
        :math:`[a_0, \alpha_{\max}]`, with :math:`a_0 = f(0)/|f'(0)|` (see the Notes) kept
        within ``[grid_smallest, max_step]``.
    backend : {"numba", "numpy"}
        The bound's kernel or its NumPy twin.
    tolerance : float
        The certified gap, as a fraction of :math:`1 + |f(0)|`.
    max_evaluations : int
        The search stops uncertified after this many tangents.

    Returns
    -------
    SoftmaxLineMinimum

    Notes
    -----
    Derived in relustep. **The bound.** For any probability vector :math:`p`, the Gibbs
    inequality :math:`\sum_k p_k \log(p_k / \mathrm{softmax}(l)_k) \ge 0` reads

    .. math::
        \log\sum_k e^{l_k} \ \ge\ p^\top l - \sum_k p_k\log p_k,

    with equality at :math:`p = \mathrm{softmax}(l)`. Take :math:`p_i = \mathrm{softmax}(L_i(a))`
    at a step :math:`a`. Then for **every** :math:`\alpha`

    .. math::
        f(\alpha) \ \ge\ B_a(\alpha) = f(a) + \frac1n\sum_i (p_i - e_{y_i})^\top
        \big(L_i(\alpha) - L_i(a)\big) + \rho(\alpha) - \rho(a),

    with equality and equal slope at :math:`\alpha = a`. With :math:`\Gamma = (P - E)/n`,
    :math:`U = \Gamma W_2^\top`, :math:`V = \Gamma\dot W_2^\top` and
    :math:`c = \mathbf 1^\top\Gamma\dot b_2`, the sum is
    :math:`D_a(\alpha) = \sum_{ij}\sigma(Z_{ij}(\alpha))(U_{ij} - \alpha V_{ij}) - c\alpha +
    \rho(\alpha)` up to a constant, so :math:`B_a(\alpha) = f(a) + D_a(\alpha) - D_a(a)`:
    a piecewise quadratic with the breakpoints of the network itself, whose least value on an
    interval :func:`relustep.kernels.networkline.gibbs_bound` finds exactly in :math:`O(1)` per
    breakpoint inside, after :meth:`PiecewiseSoftmaxLine.tangent` has built :math:`U, V` (two
    ``n x h x 2q`` products) and the coefficients at :math:`a` (:math:`O(nh)`).

    **The search.** Every interval :math:`[u, v]` of steps carries the bound
    :math:`\max(\min_{[u,v]} B_u, \min_{[u,v]} B_v) \le \min_{[u,v]} f`. The intervals start as
    :math:`[0, a_0]` and :math:`[a_0, \alpha_{\max}]` (``max_step``), split at
    :math:`a_0 = f(0)/|f'(0)|`, the step where the tangent line at 0 reaches 0, which no loss
    (cross-entropy and ridge) goes below: a first guess of the minimiser's scale (measured on
    lines along the gradient at several points of an SGD run on MNIST, 784-256-10 and
    784-32-10: between one and three times the minimiser, and about a quarter fewer tangents
    than splitting first at ``grid_smallest``). It only orders the work: the certificate does
    not depend on it. :math:`a_0` is kept within
    ``[grid_smallest, max_step]``, and is ``grid_smallest`` where :math:`f'(0) \ge 0`. The
    interval with the lowest bound is split
    (:func:`split_point`), the loss and its tangent evaluated at the split point, and each half
    bounded, until the lowest bound is at least :math:`f_{\mathrm{best}} - \varepsilon` with
    :math:`\varepsilon =` ``tolerance`` :math:`(1 + |f(0)|)`.

    **What is guaranteed.** When the search ends certified, every step
    :math:`0 \le \alpha \le` ``max_step`` has :math:`f(\alpha) \ge f(\alpha^*) - \varepsilon`:
    :math:`\alpha^*` is a global minimiser up to :math:`\varepsilon`, and up to the rounding of
    the bound's sums (sums of :math:`nh` terms in float64, accumulated over the breakpoints).
    **What is not.** :math:`\alpha^*` is the best step evaluated, not the minimiser to full
    precision: where the loss is flat near its minimum, steps far apart have losses within
    :math:`\varepsilon`. Steps beyond ``max_step`` are not searched. If ``max_evaluations``
    tangents do not suffice (never seen on the tested problems), the search returns the best
    step evaluated, uncertified.
    """
    max_step = check_float(max_step, "max_step", low=0.0, low_inclusive=False)
    grid_smallest = check_float(grid_smallest, "grid_smallest", low=0.0, low_inclusive=False)
    tolerance = check_float(tolerance, "tolerance", low=0.0, low_inclusive=False)
    max_evaluations = check_int(max_evaluations, "max_evaluations", low=3)
    line = PiecewiseSoftmaxLine(parts, max_step, backend)
    start = line.tangent(0.0)
    gap = tolerance * (1.0 + abs(start.loss))
    if not math.isfinite(start.loss):
        return SoftmaxLineMinimum(0.0, start.loss, False, gap, 1)
    first = start.loss / -start.slope if start.slope < 0.0 else grid_smallest
    first = min(max(first, grid_smallest), max_step)
    points = [first, max_step] if first < max_step else [max_step]
    tangents = [start] + [line.tangent(float(a)) for a in points]
    best = min(tangents, key=lambda t: finite_or_inf(t.loss))
    heap = []  # (bound, low step as tie-breaker, low end, high end)
    for low, high in zip(tangents[:-1], tangents[1:], strict=True):
        heapq.heappush(heap, (line.bound(low, high, best.loss - gap)[0], low.alpha, low, high))
    evaluations = len(tangents)
    certified = True
    while heap and heap[0][0] < best.loss - gap:
        _, _, low, high = heapq.heappop(heap)
        point = split_point(low, high)
        if evaluations >= max_evaluations or not low.alpha < point < high.alpha:
            certified = False  # out of evaluations, or an interval of adjacent floats
            break
        middle = line.tangent(point)
        evaluations += 1
        if finite_or_inf(middle.loss) < best.loss:
            best = middle
        for left, right in ((low, middle), (middle, high)):
            bound, _ = line.bound(left, right, best.loss - gap)
            if bound < best.loss - gap:
                heapq.heappush(heap, (bound, left.alpha, left, right))
    return SoftmaxLineMinimum(best.alpha, parts.loss(best.alpha), certified, gap, evaluations)


def finite_or_inf(value: float) -> float:
    """``value``, or ``inf`` if it is not finite (a search's order of losses)."""
    return value if math.isfinite(value) else math.inf
