r"""The exact line search of a network with one ReLU layer and square loss: a sweep over the
breakpoints of a piecewise quartic.

Derived in relustep (the papers it is compared with do not contain it); the derivation is below.

Moving all parameters along :math:`\theta - \alpha d` moves the hidden pre-activations on a
straight line, :math:`Z(\alpha) = Z_0 - \alpha \dot Z`. While no pre-activation changes sign,
each hidden unit is a fixed linear map :math:`s_{ij} Z_{ij}(\alpha)` with
:math:`s_{ij} \in \{1, a\}` (``a`` the negative slope), and the output layer moves on a line too,
so each residual is a quadratic in :math:`\alpha`:

.. math::
    R_{ik}(\alpha) = r^{(0)}_{ik} + r^{(1)}_{ik}\alpha + r^{(2)}_{ik}\alpha^2, \qquad
    \begin{aligned}
    r^{(0)}_{ik} &= \textstyle\sum_j s_{ij} Z_{0,ij} W_{2,jk} + b_{2,k} - y_{ik},\\
    r^{(1)}_{ik} &= -\textstyle\sum_j s_{ij} (\dot Z_{ij} W_{2,jk} + Z_{0,ij} \dot W_{2,jk})
                   - \dot b_{2,k},\\
    r^{(2)}_{ik} &= \textstyle\sum_j s_{ij} \dot Z_{ij} \dot W_{2,jk},
    \end{aligned}

and the loss :math:`\frac{1}{2n}\sum_{ik} R_{ik}^2` plus the ridge term (a quadratic in
:math:`\alpha`) is a quartic :math:`P(\alpha) = \sum_{m=0}^4 c_m \alpha^m`. Unit :math:`(i, j)`
changes sign once, at the breakpoint :math:`\alpha_{ij} = Z_{0,ij} / \dot Z_{ij}` (when positive);
there :math:`s_{ij}` jumps by :math:`\Delta s = \pm(1 - a)` and only sample :math:`i`'s residual
coefficients change, by :math:`\Delta s` times
:math:`(Z_{0,ij} W_{2,j\cdot},\; -\dot Z_{ij} W_{2,j\cdot} - Z_{0,ij}\dot W_{2,j\cdot},\;
\dot Z_{ij}\dot W_{2,j\cdot})`. Sweeping the breakpoints in increasing order and updating the
quartic's coefficients by sample :math:`i`'s change costs :math:`O(q)` per breakpoint, and on
each piece the minimum is at an end or where :math:`P'(\alpha) = 0`.

:func:`sorted_breakpoints` finds and sorts the breakpoints (a radix sort on the top 32 bits of
the positive doubles, then each run of keys equal in those bits sorted by the whole key; stable,
so ties keep their flat-index order; its twin is NumPy's stable argsort).
:func:`quartic_sweep` (Numba) sweeps them in one pass; :func:`quartic_sweep_numpy`, its twin,
builds the coefficients of every piece with cumulative sums and minimises each piece with
NumPy's polynomial roots, a different route to the same numbers.

The kernel reads :math:`Z_{0,ij}` as :math:`\alpha_{ij}\dot Z_{ij}`, so that it needs one
number per breakpoint besides the breakpoint itself: the unit switches off where
:math:`\dot Z_{ij} > 0` (its pre-activation falls through zero) and on where
:math:`\dot Z_{ij} < 0`.
"""

from __future__ import annotations

import math

import numpy as np

from relustep.kernels._jit import jit

BISECTION_ITERATIONS = 200  # enough to reach adjacent floats from any bracket of finite floats


def quartic_sweep_numpy(
    order: np.ndarray,
    breakpoints: np.ndarray,
    rates: np.ndarray,
    n_units: int,
    residual0: np.ndarray,
    residual1: np.ndarray,
    residual2: np.ndarray,
    last_residual0: np.ndarray,
    last_residual1: np.ndarray,
    last_residual2: np.ndarray,
    output_weights: np.ndarray,
    output_weights_rate: np.ndarray,
    negative_slope: float,
    scale: float,
    ridge: np.ndarray,
    max_step: float,
) -> tuple[float, float]:
    r"""The global minimum over :math:`0 \le \alpha \le` ``max_step`` of the piecewise quartic.

    Parameters
    ----------
    order : ndarray of int64, shape (k,)
        Flat indices ``i * n_units + j`` of the units that change sign at some
        :math:`0 < \alpha \le` ``max_step``, sorted by that breakpoint.
    breakpoints : ndarray, shape (k,)
        Their breakpoints :math:`\alpha_{ij} = Z_{0,ij} / \dot Z_{ij}`, sorted.
    rates : ndarray, shape (k,)
        Their :math:`\dot Z_{ij}`. (:math:`Z_{0,ij} = \alpha_{ij}\dot Z_{ij}`, and the unit
        switches off where :math:`\dot Z_{ij} > 0`, on where :math:`\dot Z_{ij} < 0`.)
    n_units : int
        :math:`h`, the number of hidden units.
    residual0, residual1, residual2 : ndarray, shape (n, q)
        :math:`r^{(0)}, r^{(1)}, r^{(2)}` on the first piece (just after :math:`\alpha = 0`).
    last_residual0, last_residual1, last_residual2 : ndarray, shape (n, q)
        The same on the last piece (after the last breakpoint), computed afresh by the caller.
        The sweep's own running coefficients would do, but a unit that switches off removes
        what it added only up to rounding, and on the last piece, which may reach to infinity,
        a leading coefficient that should be 0 and is not creates a far, false minimum.
    output_weights, output_weights_rate : ndarray, shape (h, q)
        :math:`W_2` and :math:`\dot W_2` (the output weights are :math:`W_2 - \alpha \dot W_2`).
    negative_slope : float
        :math:`a`, the activation's slope for negative inputs.
    scale : float
        The loss is ``scale`` times the sum of squared residuals (``1 / (2 n)``).
    ridge : ndarray, shape (3,)
        The ridge term's coefficients :math:`\rho_0 + \rho_1 \alpha + \rho_2 \alpha^2`.
    max_step : float
        The largest :math:`\alpha` searched (``inf`` for none).

    Returns
    -------
    alpha, value : float
        The smallest minimiser and the quartic's value there.
    """
    sample, unit = np.divmod(order, n_units)
    z_rate = rates[:, None]
    z0 = breakpoints[:, None] * z_rate
    slope_change = np.where(z_rate > 0, negative_slope - 1.0, 1.0 - negative_slope)
    weights, weights_rate = output_weights[unit], output_weights_rate[unit]
    # the change of sample i's residual coefficients at each breakpoint, shape (k, q)
    change0 = slope_change * z0 * weights
    change1 = -slope_change * (z_rate * weights + z0 * weights_rate)
    change2 = slope_change * z_rate * weights_rate
    # each sample's coefficients just after each of its breakpoints: cumulative sums within the
    # sample, in breakpoint order (a stable sort by sample keeps that order)
    by_sample = np.argsort(sample, kind="stable")
    first = np.searchsorted(sample[by_sample], sample[by_sample])  # where each sample's run starts
    after = []
    for start, change in zip(
        (residual0, residual1, residual2), (change0, change1, change2), strict=True
    ):
        running = np.cumsum(change[by_sample], axis=0)
        within = running - running[first] + change[by_sample][first]
        unsorted = np.empty_like(within)
        unsorted[by_sample] = within
        after.append(start[sample] + unsorted)
    before = [a - c for a, c in zip(after, (change0, change1, change2), strict=True)]
    coefficient_change = _sample_quartics(*after) - _sample_quartics(*before)
    initial = scale * _sample_quartics(residual0, residual1, residual2).sum(axis=0)
    initial[:3] += ridge
    pieces = initial + np.vstack([np.zeros(5), np.cumsum(scale * coefficient_change, axis=0)])
    pieces[-1] = scale * _sample_quartics(last_residual0, last_residual1, last_residual2).sum(0)
    pieces[-1, :3] += ridge
    edges = np.concatenate([[0.0], breakpoints, [max_step]])
    best_alpha, best_value = 0.0, float(initial[0])
    for coefficients, left, right in zip(pieces, edges[:-1], edges[1:], strict=True):
        polynomial = np.polynomial.Polynomial(coefficients)
        stationary = polynomial.deriv().roots()
        stationary = stationary.real[np.abs(stationary.imag) <= 1e-12 * (1 + np.abs(stationary))]
        minima = [x for x in stationary if left < x < right and polynomial.deriv(2)(x) > 0]
        candidates = sorted(minima)
        if math.isfinite(right):
            candidates.append(right)
        for alpha in candidates:
            value = float(polynomial(alpha))
            if value < best_value:
                best_alpha, best_value = float(alpha), value
    return best_alpha, best_value


def _sample_quartics(r0: np.ndarray, r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    r"""Coefficients of :math:`\sum_k (r_0 + r_1\alpha + r_2\alpha^2)^2` for each row, (rows, 5)."""
    return np.stack(
        [
            np.sum(r0 * r0, axis=-1),
            2.0 * np.sum(r0 * r1, axis=-1),
            np.sum(r1 * r1 + 2.0 * r0 * r2, axis=-1),
            2.0 * np.sum(r1 * r2, axis=-1),
            np.sum(r2 * r2, axis=-1),
        ],
        axis=-1,
    )


def sorted_breakpoints_numpy(
    pre_activation: np.ndarray, pre_activation_rate: np.ndarray, max_step: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The breakpoints :math:`\alpha_{ij} = Z_{0,ij}/\dot Z_{ij}` in
    :math:`(0,` ``max_step`` :math:`]`, sorted (ties in flat-index order).

    Parameters
    ----------
    pre_activation, pre_activation_rate : ndarray, shape (n, h)
        :math:`Z_0` and :math:`\dot Z`; the pre-activations are :math:`Z_0 - \alpha\dot Z`.
    max_step : float
        The largest breakpoint kept (``inf`` keeps every finite one).

    Returns
    -------
    order : ndarray of int64
        The flat indices ``i * h + j`` of the units that change sign, by breakpoint.
    breakpoints : ndarray
        Their breakpoints, ascending.
    rates : ndarray
        Their :math:`\dot Z_{ij}`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (pre_activation / pre_activation_rate).ravel()
    largest = min(max_step, np.finfo(np.float64).max)  # excludes inf and nan
    order = np.flatnonzero((ratio > 0.0) & (ratio <= largest))
    order = order[np.argsort(ratio[order], kind="stable")]
    return order, ratio[order], pre_activation_rate.ravel()[order]


RADIX_BITS = 8  # the radix sort's digit
SORTED_BITS = 32  # the radix sort orders the keys by their top 32 bits: four passes
SHORT_RUN = 16  # runs of keys equal in those bits up to this long are put in order by insertion


@jit
def _order_run(bits, order, start, stop):
    """Sort ``bits[start:stop]`` (with ``order``) by the whole key, keeping the order of equal
    keys: by insertion when the run is short, else by a stable merge sort."""
    if stop - start <= SHORT_RUN:
        for m in range(start + 1, stop):
            key, index = bits[m], order[m]
            k = m
            while k > start and bits[k - 1] > key:
                bits[k], order[k] = bits[k - 1], order[k - 1]
                k -= 1
            bits[k], order[k] = key, index
    else:
        by_key = np.argsort(bits[start:stop], kind="mergesort")
        run_bits, run_order = bits[start:stop][by_key], order[start:stop][by_key]
        bits[start:stop], order[start:stop] = run_bits, run_order


@jit
def sorted_breakpoints(pre_activation, pre_activation_rate, max_step):
    n_samples, n_units = pre_activation.shape
    largest = min(max_step, np.finfo(np.float64).max)
    # one pass, without a branch on the unit's fate (about half the units cross, in no
    # predictable order): every unit is written, and the count moves past those that cross
    keys = np.empty(n_samples * n_units, dtype=np.float64)
    order = np.empty(n_samples * n_units, dtype=np.int64)
    count = 0
    for i in range(n_samples):
        for j in range(n_units):
            rate = pre_activation_rate[i, j]
            ratio = pre_activation[i, j] / rate if rate != 0.0 else 0.0
            keys[count] = ratio
            order[count] = i * n_units + j
            count += 0.0 < ratio <= largest
    keys, order = keys[:count], order[:count]
    # least-significant-digit radix sort on the top SORTED_BITS bits: positive doubles order as
    # their bits do (as uint64); each pass is a stable counting sort on one digit, so keys equal
    # in those bits keep flat-index order. They agree to about 1e-6 and are usually alone; each
    # run of them is then sorted by the whole key, stably (ties keep flat-index order). The
    # passes move only the keys and the indices; the rates are read once, in sorted order, after
    bits = keys.view(np.uint64)
    n_buckets = 1 << RADIX_BITS
    mask = np.uint64(n_buckets - 1)
    first_pass = (64 - SORTED_BITS) // RADIX_BITS
    n_passes = 64 // RADIX_BITS
    counts = np.zeros((n_passes, n_buckets), dtype=np.int64)
    for m in range(count):
        for p in range(first_pass, n_passes):
            counts[p, (bits[m] >> np.uint64(p * RADIX_BITS)) & mask] += 1
    bits_scratch = np.empty_like(bits)
    order_scratch = np.empty_like(order)
    for p in range(first_pass, n_passes):
        if np.max(counts[p]) == count:  # every key has the same digit here
            continue
        total = 0
        for b in range(n_buckets):
            total, counts[p, b] = total + counts[p, b], total
        shift = np.uint64(p * RADIX_BITS)
        for m in range(count):
            digit = (bits[m] >> shift) & mask
            position = counts[p, digit]
            counts[p, digit] = position + 1
            bits_scratch[position] = bits[m]
            order_scratch[position] = order[m]
        bits, bits_scratch = bits_scratch, bits
        order, order_scratch = order_scratch, order
    unsorted_bits = np.uint64(64 - SORTED_BITS)
    start = 0
    for m in range(1, count + 1):
        if m == count or (bits[m] >> unsorted_bits) != (bits[start] >> unsorted_bits):
            if m - start > 1:
                _order_run(bits, order, start, m)
            start = m
    flat_rates = pre_activation_rate.ravel()
    rates = np.empty(count, dtype=np.float64)
    for m in range(count):
        rates[m] = flat_rates[order[m]]
    return order, bits.view(np.float64), rates


# The kernel keeps the quartic's coefficients in a tuple ``c = (c0, ..., c4)`` and the best point
# in two scalars, so that they stay in registers through the sweep.


@jit
def _value(c, x):
    return (((c[4] * x + c[3]) * x + c[2]) * x + c[1]) * x + c[0]


@jit
def _slope(c, x):
    return ((4.0 * c[4] * x + 3.0 * c[3]) * x + 2.0 * c[2]) * x + c[1]


@jit
def _curvature(c, x):
    return (12.0 * c[4] * x + 6.0 * c[3]) * x + 2.0 * c[2]


@jit
def _bisect(c, low, high, best_alpha, best_value):
    """If P' goes from negative at ``low`` to positive at ``high`` (monotone in between), find
    the minimum between them by bisection; return the better of it and the best so far."""
    if not (_slope(c, low) < 0.0 < _slope(c, high)):
        return best_alpha, best_value
    for _ in range(BISECTION_ITERATIONS):
        middle = 0.5 * (low + high)
        if middle <= low or middle >= high:
            break
        if _slope(c, middle) < 0.0:
            low = middle
        else:
            high = middle
    value = _value(c, high)
    if value < best_value:
        return high, value
    return best_alpha, best_value


@jit
def _monotone_slope(c, left, right):
    """Whether P' is monotone on [left, right], by a test without square roots: P'' is a
    quadratic, monotone on either side of its vertex, so if the vertex is outside the interval
    P'' keeps one sign inside exactly when it has the same sign at both ends."""
    if (_curvature(c, left) < 0.0) != (_curvature(c, right) < 0.0):
        return False
    if c[4] == 0.0:
        return True
    vertex = -c[3] / (4.0 * c[4])
    return not (left < vertex < right)


@jit
def _piece_minimum(c, left, right, best_alpha, best_value):
    """The better of the best so far and the local minima of the quartic ``c`` inside
    ``(left, right)``. P' is monotone between the roots of P'', so each part brackets at most one
    minimum. On the last piece (``right = inf``) the search ends at Cauchy's bound on the roots
    of P', beyond which P' keeps the sign of its leading coefficient."""
    if not math.isinf(right) and _monotone_slope(c, left, right):
        return _bisect(c, left, right, best_alpha, best_value)
    if math.isinf(right):
        lead = 4
        while lead > 0 and c[lead] == 0.0:
            lead -= 1
        if lead == 0 or c[lead] < 0.0:  # P' constant, or P decreasing without end
            return best_alpha, best_value
        largest = max(abs(c[1]), abs(2.0 * c[2]), abs(3.0 * c[3]), abs(4.0 * c[4]))
        right = max(left, 1.0 + largest / (lead * c[lead]))
        if math.isinf(right):
            return best_alpha, best_value
    # roots of P''(x) = 12 c4 x^2 + 6 c3 x + 2 c2, sorted; nan where there is none
    a2, a1, a0 = 12.0 * c[4], 6.0 * c[3], 2.0 * c[2]
    first = second = math.nan
    if a2 != 0.0:
        discriminant = a1 * a1 - 4.0 * a2 * a0
        if discriminant > 0.0:
            half = -0.5 * (a1 + math.copysign(math.sqrt(discriminant), a1))
            first = half / a2
            second = a0 / half if half != 0.0 else math.nan
            if second < first:
                first, second = second, first
    elif a1 != 0.0:
        first = -a0 / a1
    low = left
    for edge in (first, second):
        if left < edge < right:  # false for nan
            best_alpha, best_value = _bisect(c, low, edge, best_alpha, best_value)
            low = edge
    return _bisect(c, low, right, best_alpha, best_value)


@jit
def _total_quartic(r0, r1, r2, scale, ridge):
    """The coefficients of ``scale`` times the sum of the squared residuals, plus the ridge."""
    c0 = c1 = c2 = c3 = c4 = 0.0
    for i in range(r0.shape[0]):
        for k in range(r0.shape[1]):
            a, b, e = r0[i, k], r1[i, k], r2[i, k]
            c0 += a * a
            c1 += 2.0 * a * b
            c2 += b * b + 2.0 * a * e
            c3 += 2.0 * b * e
            c4 += e * e
    return (
        scale * c0 + ridge[0],
        scale * c1 + ridge[1],
        scale * c2 + ridge[2],
        scale * c3,
        scale * c4,
    )


@jit
def quartic_sweep(
    order,
    breakpoints,
    rates,
    n_units,
    residual0,
    residual1,
    residual2,
    last_residual0,
    last_residual1,
    last_residual2,
    output_weights,
    output_weights_rate,
    negative_slope,
    scale,
    ridge,
    max_step,
):
    n_outputs = residual0.shape[1]
    r0, r1, r2 = residual0.copy(), residual1.copy(), residual2.copy()
    c = _total_quartic(r0, r1, r2, scale, ridge)
    best_alpha, best_value = 0.0, c[0]
    left = 0.0
    for index in range(order.shape[0]):
        right = breakpoints[index]
        best_alpha, best_value = _piece_minimum(c, left, right, best_alpha, best_value)
        value = _value(c, right)
        if value < best_value:
            best_alpha, best_value = right, value
        # unit (i, j) changes sign: sample i's residual coefficients and its share of c change
        sample = order[index] // n_units
        unit = order[index] - sample * n_units
        z_rate = rates[index]
        z0 = right * z_rate
        slope_change = negative_slope - 1.0 if z_rate > 0 else 1.0 - negative_slope
        d0 = d1 = d2 = d3 = d4 = 0.0
        for k in range(n_outputs):
            a, b, e = r0[sample, k], r1[sample, k], r2[sample, k]
            d0 -= a * a
            d1 -= 2.0 * a * b
            d2 -= b * b + 2.0 * a * e
            d3 -= 2.0 * b * e
            d4 -= e * e
            w, w_rate = output_weights[unit, k], output_weights_rate[unit, k]
            a += slope_change * z0 * w
            b -= slope_change * (z_rate * w + z0 * w_rate)
            e += slope_change * z_rate * w_rate
            r0[sample, k], r1[sample, k], r2[sample, k] = a, b, e
            d0 += a * a
            d1 += 2.0 * a * b
            d2 += b * b + 2.0 * a * e
            d3 += 2.0 * b * e
            d4 += e * e
        c = (
            c[0] + scale * d0,
            c[1] + scale * d1,
            c[2] + scale * d2,
            c[3] + scale * d3,
            c[4] + scale * d4,
        )
        left = right
    # the last piece may reach to infinity: its coefficients come afresh from the caller
    c = _total_quartic(last_residual0, last_residual1, last_residual2, scale, ridge)
    best_alpha, best_value = _piece_minimum(c, left, max_step, best_alpha, best_value)
    if not math.isinf(max_step):
        value = _value(c, max_step)
        if value < best_value:
            best_alpha, best_value = max_step, value
    return best_alpha, best_value
