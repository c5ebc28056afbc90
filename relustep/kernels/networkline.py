r"""Kernels of a network seen along a line :math:`\theta - \alpha d`: the first layer moved without
its matrix product, and the lower bound that lets the exact search of a softmax classifier skip
whole ranges of steps.

Derived in relustep. Along the line the first layer's pre-activations are
:math:`Z(\alpha) = Z_0 - \alpha\dot Z` with :math:`Z_0 = XW_1 + b_1` and
:math:`\dot Z = X\dot W_1 + \dot b_1` computed once (:class:`relustep.models.line.NetworkLine`);
:func:`moved_activation` gives :math:`\sigma(Z(\alpha))` for any :math:`\alpha` in one pass over
an ``n x h`` array.

:func:`gibbs_bound` is the hot part of the exact search of a softmax classifier with one ReLU
layer (:mod:`relustep.steps.softmax_line`, where the bound is derived). Given "dual weights"
:math:`U, V` (``n x h``), a number :math:`c` and the ridge's coefficients, it returns the minimum
over :math:`\alpha \in [\ell, r]` of

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
changes, by :math:`\Delta s = \pm(1 - a)` times its three numbers. The kernel sweeps the sorted
breakpoints inside :math:`(\ell, r)` updating the coefficients, and takes the least value of each
piece's quadratic on the piece; the twin builds every piece's coefficients with a cumulative sum
and minimises them all at once.

The pattern just after :math:`\ell` is read from the breakpoints themselves, not from the sign of
:math:`Z_0 - \ell\dot Z` (which rounding may disagree with): unit :math:`(i, j)` is on after
:math:`\ell` when it is on just after 0 (:math:`Z_{0,ij} > 0`, or :math:`Z_{0,ij} = 0` and
:math:`\dot Z_{ij} < 0`) and has not crossed, or is off just after 0 and has crossed
(:math:`0 < Z_{0,ij}/\dot Z_{ij} \le \ell`), exactly as
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
            z = pre_activation[i, j] - alpha * pre_activation_rate[i, j]
            out[i, j] = max(z, negative_slope * z)
    return out


def _quadratic_minimum_numpy(c0, c1, c2, left, right):
    """The least value of ``c0 + c1 x + c2 x^2`` on each ``[left, right]`` (arrays)."""
    at_left = c0 + left * (c1 + left * c2)
    at_right = c0 + right * (c1 + right * c2)
    least = np.minimum(at_left, at_right)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = -c1 / (2.0 * c2)
    inside = (c2 > 0.0) & (vertex > left) & (vertex < right)
    at_vertex = c0 + vertex * (c1 + vertex * c2)
    return np.where(inside, np.minimum(least, at_vertex), least)


def _pattern_after(pre_activation, pre_activation_rate, low):
    """Which units are on just after ``low``, by the breakpoints (see the module's Notes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = pre_activation / pre_activation_rate
    on_at_zero = (pre_activation > 0) | ((pre_activation == 0) & (pre_activation_rate < 0))
    crossed = (pre_activation_rate != 0) & (ratio > 0) & (ratio <= low)
    return on_at_zero != crossed


def gibbs_bound_numpy(
    pre_activation: np.ndarray,
    pre_activation_rate: np.ndarray,
    dual_weights: np.ndarray,
    dual_weights_rate: np.ndarray,
    bias_rate: float,
    ridge: np.ndarray,
    negative_slope: float,
    order: np.ndarray,
    breakpoints: np.ndarray,
    start: int,
    stop: int,
    low: float,
    high: float,
) -> float:
    r"""The minimum of :math:`D(\alpha)` (see the module's docstring) over ``[low, high]``.

    Parameters
    ----------
    pre_activation, pre_activation_rate : ndarray, shape (n, h)
        :math:`Z_0` and :math:`\dot Z`.
    dual_weights, dual_weights_rate : ndarray, shape (n, h)
        :math:`U` and :math:`V`.
    bias_rate : float
        :math:`c`.
    ridge : ndarray, shape (3,)
        :math:`\rho_0, \rho_1, \rho_2`.
    negative_slope : float
        :math:`a`.
    order, breakpoints : ndarray
        Every breakpoint's flat unit index and value, sorted
        (:func:`relustep.kernels.linesearch.sorted_breakpoints`).
    start, stop : int
        ``breakpoints[start:stop]`` are those strictly inside ``(low, high)``.
    low, high : float
        The interval, ``0 <= low < high`` (finite).

    Returns
    -------
    float
    """
    slope = np.where(_pattern_after(pre_activation, pre_activation_rate, low), 1.0, negative_slope)
    z0, z_rate = pre_activation.ravel(), pre_activation_rate.ravel()
    u, v = dual_weights.ravel(), dual_weights_rate.ravel()
    terms = np.stack([z0 * u, -(z_rate * u + z0 * v), z_rate * v])  # per unit, shape (3, n h)
    first = terms @ slope.ravel() + np.array([ridge[0], ridge[1] - bias_rate, ridge[2]])
    crossing = order[start:stop]
    change = np.where(z_rate[crossing] > 0, negative_slope - 1.0, 1.0 - negative_slope)
    running = np.cumsum(change * terms[:, crossing], axis=1)
    pieces = first[:, None] + np.hstack([np.zeros((3, 1)), running])
    edges = np.concatenate([[low], breakpoints[start:stop], [high]])
    return float(np.min(_quadratic_minimum_numpy(*pieces, edges[:-1], edges[1:])))


@jit
def _quadratic_minimum(c0, c1, c2, left, right):
    least = min(c0 + left * (c1 + left * c2), c0 + right * (c1 + right * c2))
    if c2 > 0.0:
        vertex = -c1 / (2.0 * c2)
        if left < vertex < right:
            least = min(least, c0 + vertex * (c1 + vertex * c2))
    return least


@jit
def gibbs_bound(
    pre_activation,
    pre_activation_rate,
    dual_weights,
    dual_weights_rate,
    bias_rate,
    ridge,
    negative_slope,
    order,
    breakpoints,
    start,
    stop,
    low,
    high,
):
    n_samples, n_units = pre_activation.shape
    c0, c1, c2 = ridge[0], ridge[1] - bias_rate, ridge[2]
    for i in range(n_samples):
        for j in range(n_units):
            z0, z_rate = pre_activation[i, j], pre_activation_rate[i, j]
            on = z0 > 0.0 or (z0 == 0.0 and z_rate < 0.0)
            if z_rate != 0.0 and 0.0 < z0 / z_rate <= low:
                on = not on
            slope = 1.0 if on else negative_slope
            u, v = dual_weights[i, j], dual_weights_rate[i, j]
            c0 += slope * z0 * u
            c1 -= slope * (z_rate * u + z0 * v)
            c2 += slope * z_rate * v
    least = math.inf
    left = low
    for index in range(start, stop):
        right = breakpoints[index]
        least = min(least, _quadratic_minimum(c0, c1, c2, left, right))
        i = order[index] // n_units
        j = order[index] - i * n_units
        z0, z_rate = pre_activation[i, j], pre_activation_rate[i, j]
        change = negative_slope - 1.0 if z_rate > 0.0 else 1.0 - negative_slope
        u, v = dual_weights[i, j], dual_weights_rate[i, j]
        c0 += change * z0 * u
        c1 -= change * (z_rate * u + z0 * v)
        c2 += change * z_rate * v
        left = right
    return min(least, _quadratic_minimum(c0, c1, c2, left, high))
