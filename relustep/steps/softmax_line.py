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
    bias_rate : float
        :math:`c = \mathbf 1^\top\Gamma\,\dot b_2`.
    offset : float
        :math:`D_a(a)`, so that :math:`B_a(\alpha) = f(a) + D_a(\alpha) - D_a(a)`.
    """

    alpha: float
    loss: float
    slope: float
    dual_weights: np.ndarray
    dual_weights_rate: np.ndarray
    bias_rate: float
    offset: float


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


def tangent(parts, alpha: float) -> Tangent:
    r"""Evaluate the loss, its slope and the bound's dual weights at step ``alpha``.

    Two products with :math:`[W_2, \dot W_2]` (``n x h x 2q`` each): the logits
    :math:`A_1 W_2 - \alpha A_1\dot W_2`, and :math:`\Gamma [W_2, \dot W_2]^\top` with
    :math:`\Gamma = (P - E)/n` the gradient of the data loss with respect to the logits (written
    by :func:`relustep.kernels.dense.softmax_cross_entropy`)."""
    hidden = parts.hidden(alpha)
    both = np.hstack([parts.output_weights, parts.output_weights_rate])
    n_classes = parts.output_weights.shape[1]
    moved = hidden @ both
    logits = moved[:, :n_classes] - alpha * moved[:, n_classes:]
    logits += parts.output_bias - alpha * parts.output_bias_rate
    gradient = np.empty_like(logits)
    loss = float(
        kernels.get("softmax_cross_entropy", parts.backend)(logits, parts.targets, gradient)
    )
    loss += parts.ridge_at(alpha)
    dual = gradient @ np.vstack([parts.output_weights, parts.output_weights_rate]).T
    n_units = hidden.shape[1]
    dual_weights, dual_weights_rate = dual[:, :n_units], dual[:, n_units:]
    bias_rate = float(gradient.sum(axis=0) @ parts.output_bias_rate)
    moved_dual = dual_weights - alpha * dual_weights_rate
    offset = float(np.vdot(hidden, moved_dual)) - bias_rate * alpha + parts.ridge_at(alpha)
    # the slope just after alpha: dA/dalpha = -s * Zdot, with s the pattern there
    on = (parts.pre_activation - alpha * parts.pre_activation_rate > 0) | (
        (parts.pre_activation - alpha * parts.pre_activation_rate == 0)
        & (parts.pre_activation_rate < 0)
    )
    unit_slope = np.where(on, 1.0, parts.negative_slope)
    slope = (
        -float(np.vdot(unit_slope * parts.pre_activation_rate, moved_dual))
        - float(np.vdot(hidden, dual_weights_rate))
        - bias_rate
        + parts.ridge[1]
        + 2.0 * alpha * parts.ridge[2]
    )
    return Tangent(
        alpha,
        loss,
        slope,
        np.ascontiguousarray(dual_weights),
        np.ascontiguousarray(dual_weights_rate),
        bias_rate,
        offset,
    )


class _Bounds:
    """The lower bound of the loss on an interval, from the tangents at its two ends."""

    def __init__(self, parts, order, breakpoints, backend):
        self.parts, self.order, self.breakpoints = parts, order, breakpoints
        self.kernel = kernels.get("gibbs_bound", backend)
        self.ridge = np.array(parts.ridge, dtype=np.float64)
        self.pre_activation = np.ascontiguousarray(parts.pre_activation, dtype=np.float64)
        self.pre_activation_rate = np.ascontiguousarray(parts.pre_activation_rate, dtype=np.float64)

    def __call__(self, low: Tangent, high: Tangent) -> float:
        start = int(np.searchsorted(self.breakpoints, low.alpha, side="right"))
        stop = int(np.searchsorted(self.breakpoints, high.alpha, side="left"))
        bound = -math.inf
        for end in (low, high):
            least = self.kernel(
                self.pre_activation,
                self.pre_activation_rate,
                end.dual_weights,
                end.dual_weights_rate,
                end.bias_rate,
                self.ridge,
                float(self.parts.negative_slope),
                self.order,
                self.breakpoints,
                start,
                stop,
                low.alpha,
                high.alpha,
            )
            bound = max(bound, end.loss + least - end.offset)
        return bound


def split_point(low: Tangent, high: Tangent) -> float:
    """Where to split ``[low, high]``: at the geometric mean of a wide interval; else where the
    secant of the slopes vanishes, if they change sign; else in the middle; never nearer an end
    than ``SPLIT_MARGIN`` of the width."""
    u, v = low.alpha, high.alpha
    if v > GEOMETRIC_SPLIT * u > 0.0:
        point = math.sqrt(u * v)
    elif low.slope < 0.0 < high.slope:
        point = u + (v - u) * low.slope / (low.slope - high.slope)
    else:
        point = 0.5 * (u + v)
    margin = SPLIT_MARGIN * (v - u)
    return min(max(point, u + margin), v - margin)


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
        The first split points are 0, then powers of ten from ``grid_smallest`` up to
        ``max_step``.
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
    interval :func:`relustep.kernels.networkline.gibbs_bound` finds exactly in
    :math:`O(nh)` plus :math:`O(1)` per breakpoint inside (:func:`tangent` builds :math:`U, V`
    with two ``n x h x 2q`` products).

    **The search.** Every interval :math:`[u, v]` of steps carries the bound
    :math:`\max(\min_{[u,v]} B_u, \min_{[u,v]} B_v) \le \min_{[u,v]} f`. The intervals start
    between 0 and powers of ten up to ``max_step``. The one with the lowest bound is split
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
    order, breakpoints, _ = kernels.get("sorted_breakpoints", backend)(
        np.ascontiguousarray(parts.pre_activation, dtype=np.float64),
        np.ascontiguousarray(parts.pre_activation_rate, dtype=np.float64),
        max_step,
    )
    start = tangent(parts, 0.0)
    gap = tolerance * (1.0 + abs(start.loss))
    if not math.isfinite(start.loss):
        return SoftmaxLineMinimum(0.0, start.loss, False, gap, 1)
    decades = math.ceil(math.log10(max_step / grid_smallest)) if max_step > grid_smallest else 0
    points = [0.0, *np.geomspace(max_step / 10.0**decades, max_step, decades + 1)]
    tangents = [start] + [tangent(parts, float(a)) for a in points[1:]]
    best = min(tangents, key=lambda t: finite_or_inf(t.loss))
    bounds = _Bounds(parts, order, breakpoints, backend)
    heap = []  # (bound, tie-breaker, low end, high end)
    for low, high in zip(tangents[:-1], tangents[1:], strict=True):
        heapq.heappush(heap, (bounds(low, high), len(heap), low, high))
    evaluations = len(tangents)
    certified = True
    while heap and heap[0][0] < best.loss - gap:
        _, _, low, high = heapq.heappop(heap)
        point = split_point(low, high)
        if evaluations >= max_evaluations or not low.alpha < point < high.alpha:
            certified = False  # out of evaluations, or an interval of adjacent floats
            break
        middle = tangent(parts, point)
        evaluations += 1
        if finite_or_inf(middle.loss) < best.loss:
            best = middle
        for left, right in ((low, middle), (middle, high)):
            bound = bounds(left, right)
            if bound < best.loss - gap:
                heapq.heappush(heap, (bound, evaluations + len(heap), left, right))
    return SoftmaxLineMinimum(best.alpha, parts.loss(best.alpha), certified, gap, evaluations)


def finite_or_inf(value: float) -> float:
    """``value``, or ``inf`` if it is not finite (a search's order of losses)."""
    return value if math.isfinite(value) else math.inf
