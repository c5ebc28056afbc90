r"""Kernels of a network seen along a line :math:`\theta - \alpha d`: the first layer moved without
its matrix product, and the lower bound that lets the exact search of a softmax classifier skip
whole ranges of steps.

Derived in relustep. Along the line the first layer's pre-activations are
:math:`Z(\alpha) = Z_0 - \alpha\dot Z` with :math:`Z_0 = XW_1 + b_1` and
:math:`\dot Z = X\dot W_1 + \dot b_1` computed once (:class:`relustep.models.line.NetworkLine`);
:func:`moved_activation` gives :math:`\sigma(Z(\alpha))` for any :math:`\alpha` in one pass over
an ``n x h`` array.

:func:`tangent_sums` and :func:`gibbs_bound` are the hot part of the exact search of a softmax
classifier with one ReLU layer (:mod:`relustep.steps.softmax_line`, where the bound is derived).
Given "dual weights" :math:`U, V` (``n x h``), a number :math:`c` and the ridge's coefficients,
the bound is the function

.. math::
    D(\alpha) = \sum_{ij} \sigma\big(Z_{ij}(\alpha)\big)\,\big(U_{ij} - \alpha V_{ij}\big)
    - c\,\alpha + \rho_0 + \rho_1\alpha + \rho_2\alpha^2 .

While no pre-activation changes sign, unit :math:`(i, j)` is the linear map
:math:`s_{ij} Z_{ij}(\alpha)` with :math:`s_{ij} \in \{1, a\}`, so :math:`D` is a quadratic
whose coefficients are

.. math::
    \sum_{ij} s_{ij} \big(Z_{0,ij} U_{ij},\; -(\dot Z_{ij} U_{ij} + Z_{0,ij} V_{ij}),\;
    \dot Z_{ij} V_{ij}\big) + (\rho_0,\; \rho_1 - c,\; \rho_2);

at the breakpoint :math:`\alpha_{ij} = Z_{0,ij}/\dot Z_{ij}` of unit :math:`(i, j)` only its term
changes, by :math:`\Delta s = \pm(1 - a)` times its three numbers.

:func:`tangent_sums` computes, at a step :math:`a`, the value :math:`\sum_{ij}
\sigma(Z_{ij}(a))(U_{ij} - aV_{ij})` and the three sums on the pieces just after and just before
:math:`a`, in one pass over the ``n x h`` units. The kernel takes the value from the sums after
:math:`a` (at :math:`a` itself :math:`\sigma(Z_{ij}(a)) = s_{ij}Z_{ij}(a)` with that pattern, so
the value is that piece's quadratic at :math:`a`, computed as the bound's sweep computes it), and
the sums before :math:`a` from those after, changed by the units whose breakpoint is :math:`a`
itself (the only ones whose slope differs; usually none); its twin computes all three directly.

:func:`gibbs_bound` then finds the least value of :math:`D` on :math:`[\ell, r]` by sweeping the
sorted breakpoints inside, forward from the coefficients just after :math:`\ell` or backward from
those just before :math:`r`, taking the least value of each piece's quadratic on the piece:
:math:`O(1)` per breakpoint. The twins build every piece's coefficients with a cumulative sum and
minimise them all at once.

The pattern just after (before) :math:`a` is read from the breakpoints themselves, not from the
sign of :math:`Z_0 - a\dot Z` (which rounding may disagree with): unit :math:`(i, j)` is on after
:math:`a` when it is on just after 0 (:math:`Z_{0,ij} > 0`, or :math:`Z_{0,ij} = 0` and
:math:`\dot Z_{ij} < 0`) and has not crossed, or is off just after 0 and has crossed
(:math:`0 < Z_{0,ij}/\dot Z_{ij} \le a`; :math:`< a` just before), exactly as
:func:`relustep.kernels.linesearch.sorted_breakpoints` decides which units cross.
"""

from __future__ import annotations

import math

import numpy as np

from relustep.kernels._jit import jit


def moved_activation_numpy(
    pre_activation: np.ndarray,
    pre_activation_rate: np.ndarray,
    alpha: float,
    negative_slope: float,
    out: np.ndarray,
) -> np.ndarray:
    r""":math:`\sigma(Z_0 - \alpha\dot Z)` with :math:`\sigma(z) = \max(z, a z)`, written into
    ``out`` and returned."""
    np.subtract(pre_activation, alpha * pre_activation_rate, out=out)
    np.maximum(out, negative_slope * out, out=out)
    return out


@jit
def moved_activation(pre_activation, pre_activation_rate, alpha, negative_slope, out):
    rows, cols = out.shape
    for i in range(rows):
        for j in range(cols):
            z = np.float64(pre_activation[i, j]) - alpha * np.float64(pre_activation_rate[i, j])
            out[i, j] = max(z, negative_slope * z)
    return out


def _unit_terms_numpy(pre_activation, pre_activation_rate, dual_weights, dual_weights_rate):
    """Each unit's three numbers (its share of the quadratic's coefficients), shape (3, n h)."""
    z0, z_rate = pre_activation.ravel(), pre_activation_rate.ravel()
    u, v = dual_weights.ravel(), dual_weights_rate.ravel()
    return np.stack([z0 * u, -(z_rate * u + z0 * v), z_rate * v])


def crossings_numpy(
    pre_activation: np.ndarray, pre_activation_rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Each unit's state just after 0 and the step where it changes sign.

    Returns
    -------
    on_at_zero : ndarray of bool, shape (n, h)
        :math:`Z_{0,ij} > 0`, or :math:`Z_{0,ij} = 0` and :math:`\dot Z_{ij} < 0`.
    crossing : ndarray, shape (n, h)
        :math:`Z_{0,ij}/\dot Z_{ij}` where it is positive and finite, ``inf`` elsewhere (the
        unit never changes sign for :math:`\alpha > 0`).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = pre_activation / pre_activation_rate
    on_at_zero = (pre_activation > 0) | ((pre_activation == 0) & (pre_activation_rate < 0))
    crosses = (pre_activation_rate != 0) & (ratio > 0) & (ratio <= np.finfo(np.float64).max)
    return on_at_zero, np.where(crosses, ratio, np.inf)


def tangent_sums_numpy(
    pre_activation: np.ndarray,
    pre_activation_rate: np.ndarray,
    on_at_zero: np.ndarray,
    crossing: np.ndarray,
    dual_weights: np.ndarray,
    dual_weights_rate: np.ndarray,
    negative_slope: float,
    alpha: float,
) -> tuple[float, np.ndarray, np.ndarray]:
    r"""The sums at step :math:`a` = ``alpha`` (see the module's docstring).

    Parameters
    ----------
    pre_activation, pre_activation_rate : ndarray, shape (n, h)
        :math:`Z_0` and :math:`\dot Z`.
    on_at_zero, crossing : ndarray, shape (n, h)
        From :func:`crossings_numpy`.
    dual_weights, dual_weights_rate : ndarray, shape (n, h)
        :math:`U` and :math:`V`.
    negative_slope, alpha : float

    Returns
    -------
    value : float
        :math:`\sum_{ij} \sigma(Z_{ij}(a))(U_{ij} - aV_{ij})`.
    after, before : ndarray, shape (3,)
        :math:`\sum_{ij} s_{ij}(Z_{0,ij}U_{ij}, -(\dot Z_{ij}U_{ij} + Z_{0,ij}V_{ij}),
        \dot Z_{ij}V_{ij})` with the pattern just after and just before :math:`a`.
    """
    moved = pre_activation - alpha * pre_activation_rate
    hidden = np.maximum(moved, negative_slope * moved)
    value = float(np.sum(hidden * (dual_weights - alpha * dual_weights_rate)))
    terms = _unit_terms_numpy(pre_activation, pre_activation_rate, dual_weights, dual_weights_rate)
    sums = []
    for crossed in (crossing <= alpha, crossing < alpha):
        slope = np.where(on_at_zero != crossed, 1.0, negative_slope)
        sums.append(terms @ slope.ravel())
    return value, sums[0], sums[1]


def _quadratic_minimum_numpy(c0, c1, c2, left, right):
    """The least value of ``c0 + c1 x + c2 x^2`` on each ``[left, right]`` (arrays), and where."""
    at_left = c0 + left * (c1 + left * c2)
    at_right = c0 + right * (c1 + right * c2)
    least, where = np.minimum(at_left, at_right), np.where(at_right < at_left, right, left)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = -c1 / (2.0 * c2)
    at_vertex = c0 + vertex * (c1 + vertex * c2)
    inside = (c2 > 0.0) & (vertex > left) & (vertex < right) & (at_vertex < least)
    return np.where(inside, at_vertex, least), np.where(inside, vertex, where)


def gibbs_bound_numpy(
    coefficients: np.ndarray,
    pre_activation: np.ndarray,
    pre_activation_rate: np.ndarray,
    dual_weights: np.ndarray,
    dual_weights_rate: np.ndarray,
    negative_slope: float,
    order: np.ndarray,
    breakpoints: np.ndarray,
    start: int,
    stop: int,
    low: float,
    high: float,
    forward: bool,
) -> tuple[float, float]:
    r"""The least value of :math:`D(\alpha)` (see the module's docstring) on ``[low, high]``.

    Parameters
    ----------
    coefficients : ndarray, shape (3,)
        :math:`D`'s coefficients just after ``low`` (``forward``) or just before ``high``.
    pre_activation, pre_activation_rate : ndarray, shape (n, h)
        :math:`Z_0` and :math:`\dot Z`.
    dual_weights, dual_weights_rate : ndarray, shape (n, h)
        :math:`U` and :math:`V`.
    negative_slope : float
        :math:`a`.
    order, breakpoints : ndarray
        Every breakpoint's flat unit index and value, sorted
        (:func:`relustep.kernels.linesearch.sorted_breakpoints`).
    start, stop : int
        ``breakpoints[start:stop]`` are those strictly inside ``(low, high)``.
    low, high : float
        The interval, ``0 <= low < high`` (finite).
    forward : bool
        Sweep from ``low`` up, or from ``high`` down.

    Returns
    -------
    least, where : float
        The least value and a step where it is reached.
    """
    crossing = order[start:stop]
    z_rate = pre_activation_rate.ravel()[crossing]
    terms = _unit_terms_numpy(
        pre_activation.ravel()[crossing],
        z_rate,
        dual_weights.ravel()[crossing],
        dual_weights_rate.ravel()[crossing],
    )
    change = np.where(z_rate > 0, negative_slope - 1.0, 1.0 - negative_slope) * terms
    no_change = np.zeros((3, 1))
    if forward:  # each piece: the coefficients after low plus the changes before the piece
        offsets = np.hstack([no_change, np.cumsum(change, axis=1)])
    else:  # the coefficients before high minus the changes after the piece
        offsets = -np.hstack([np.cumsum(change[:, ::-1], axis=1)[:, ::-1], no_change])
    pieces = coefficients[:, None] + offsets
    edges = np.concatenate([[low], breakpoints[start:stop], [high]])
    least, where = _quadratic_minimum_numpy(*pieces, edges[:-1], edges[1:])
    best = int(np.argmin(least))
    return float(least[best]), float(where[best])


@jit
def crossings(pre_activation, pre_activation_rate):
    on_at_zero = np.empty(pre_activation.shape, dtype=np.bool_)
    crossing = np.empty(pre_activation.shape, dtype=np.float64)
    largest = np.finfo(np.float64).max
    for i in range(pre_activation.shape[0]):
        for j in range(pre_activation.shape[1]):
            z0, z_rate = np.float64(pre_activation[i, j]), np.float64(pre_activation_rate[i, j])
            on_at_zero[i, j] = z0 > 0.0 or (z0 == 0.0 and z_rate < 0.0)
            crossing[i, j] = math.inf
            if z_rate != 0.0 and 0.0 < z0 / z_rate <= largest:
                crossing[i, j] = z0 / z_rate
    return on_at_zero, crossing


@jit
def tangent_sums(
    pre_activation,
    pre_activation_rate,
    on_at_zero,
    crossing,
    dual_weights,
    dual_weights_rate,
    negative_slope,
    alpha,
):
    n_samples, n_units = pre_activation.shape
    after0 = after1 = after2 = change0 = change1 = change2 = 0.0
    slopes = np.array([negative_slope, 1.0])  # indexed by the state: a load, not a branch
    for i in range(n_samples):
        for j in range(n_units):
            z0, z_rate = np.float64(pre_activation[i, j]), np.float64(pre_activation_rate[i, j])
            u, v = np.float64(dual_weights[i, j]), np.float64(dual_weights_rate[i, j])
            t0, t1, t2 = z0 * u, -(z_rate * u + z0 * v), z_rate * v
            on_after = on_at_zero[i, j] != (crossing[i, j] <= alpha)
            slope = slopes[np.int64(on_after)]
            after0 += slope * t0
            after1 += slope * t1
            after2 += slope * t2
            if crossing[i, j] == alpha:  # rare: just before alpha the unit has the other slope
                change = negative_slope - 1.0 if on_after else 1.0 - negative_slope
                change0 += change * t0
                change1 += change * t1
                change2 += change * t2
    value = after0 + alpha * (after1 + alpha * after2)
    after = np.array([after0, after1, after2])
    return value, after, after + np.array([change0, change1, change2])


@jit
def _quadratic_minimum(c0, c1, c2, left, right):
    least, where = c0 + left * (c1 + left * c2), left
    at_right = c0 + right * (c1 + right * c2)
    if at_right < least:
        least, where = at_right, right
    if c2 > 0.0:
        vertex = -c1 / (2.0 * c2)
        at_vertex = c0 + vertex * (c1 + vertex * c2)
        if left < vertex < right and at_vertex < least:
            least, where = at_vertex, vertex
    return least, where


@jit
def gibbs_bound(
    coefficients,
    pre_activation,
    pre_activation_rate,
    dual_weights,
    dual_weights_rate,
    negative_slope,
    order,
    breakpoints,
    start,
    stop,
    low,
    high,
    forward,
):
    # flat views (copies only if an array is not contiguous): a unit is read by its flat index,
    # without dividing it into a row and a column
    z0_flat, z_rate_flat = pre_activation.ravel(), pre_activation_rate.ravel()
    u_flat, v_flat = dual_weights.ravel(), dual_weights_rate.ravel()
    c0, c1, c2 = coefficients[0], coefficients[1], coefficients[2]
    least, where = math.inf, low
    edge = low if forward else high
    for step in range(stop - start):
        index = start + step if forward else stop - 1 - step
        point = breakpoints[index]
        left, right = (edge, point) if forward else (point, edge)
        value, at = _quadratic_minimum(c0, c1, c2, left, right)
        if value < least:
            least, where = value, at
        unit = order[index]
        z0, z_rate = np.float64(z0_flat[unit]), np.float64(z_rate_flat[unit])
        change = negative_slope - 1.0 if z_rate > 0.0 else 1.0 - negative_slope
        if not forward:  # going down, the unit's change is undone
            change = -change
        u, v = np.float64(u_flat[unit]), np.float64(v_flat[unit])
        c0 += change * z0 * u
        c1 -= change * (z_rate * u + z0 * v)
        c2 += change * z_rate * v
        edge = point
    left, right = (edge, high) if forward else (low, edge)
    value, at = _quadratic_minimum(c0, c1, c2, left, right)
    if value < least:
        least, where = value, at
    return least, where
