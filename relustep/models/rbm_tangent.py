r"""The RBM chain's residuals and their exact rate along a direction: the model side of the
coupled analytic step (:class:`relustep.steps.coupled.CoupledGaussNewton`).

This step is relustep's own; it is not in the papers relustep reproduces. Derived below.

Notes
-----
**Residuals.** Stack the local errors of the chain of :mod:`relustep.models.rbm` over its
:math:`k` steps and the :math:`L` rows of the batch into one vector

.. math::
    r(\theta) = \bigl[\,y(p) - y(p-1)\,;\; x(p) - x(p-1)\,\bigr]_{p=1..k},
    \qquad E(\theta) = \frac{1}{2L}\lVert r(\theta)\rVert^2 ,

where every state :math:`x(p), y(p)` is a function of :math:`\theta = (W, b, c)` (the random
numbers of a sampled chain are held fixed). The learning rules and the frozen-activity step of
:class:`relustep.steps.golovko.Golovko` treat the input and the target of each local error as
constants; here nothing is frozen but the noise.

**The Gauss-Newton model along the update.** Along :math:`\theta - \alpha d` linearise the
residuals, not the states:

.. math::
    r(\theta - \alpha d) \approx r - \alpha u, \qquad
    u = J d = \frac{d}{dt}\, r(\theta + t d)\Big|_{t=0},

so that :math:`E(\theta - \alpha d) \approx \frac{1}{2L}\lVert r - \alpha u\rVert^2 = E -
\alpha\,\frac{r^\top u}{L} + \frac{\alpha^2}{2}\,\frac{u^\top u}{L}`, a quadratic with its minimum
at

.. math::
    \alpha^* = \frac{r^\top u}{u^\top u}, \qquad
    E(\theta - \alpha^* d) \approx E - \frac{(r^\top u)^2}{2L\,u^\top u} .

The direction :math:`d` is already in the mean convention (it is the rule's direction, a mean
over the rows), so :math:`\alpha^*` needs no factor :math:`L`.

**The tangent pass** computes :math:`u` exactly, forward through the chain, with
:math:`\dot W = d_W`, :math:`\dot b = d_b`, :math:`\dot c = d_c` and :math:`\dot x(0) = 0` (the
data do not move):

.. math::
    \dot S_h(p) &= \dot x(p)\,W + x(p)\,\dot W + \dot b,
        & \dot y(p) &= \dot F_h\bigl(S_h(p), \dot S_h(p)\bigr) \quad (p = 0..k), \\
    \dot S_v(p) &= \dot y(p-1)\,W^\top + y(p-1)\,\dot W^\top + \dot c,
        & \dot x(p) &= \dot F_v\bigl(S_v(p), \dot S_v(p)\bigr) \quad (p = 1..k), \\
    u &= \bigl[\,\dot y(p) - \dot y(p-1)\,;\; \dot x(p) - \dot x(p-1)\,\bigr]_{p=1..k},

with rows as vectors (:math:`S_h = xW + b`), and :math:`\dot F` each unit's rate
(:mod:`relustep.kernels.rbm_tangent`: :math:`F'(S)\,\dot S` for the deterministic units, the
noise scale's own rate for the noisy ReLU, zero for a Bernoulli sample). The terms
:math:`\dot x(p)\,W` and :math:`\dot y(p-1)\,W^\top` are what the frozen-activity step leaves out:
how the update of one layer moves the inputs of the next. The pass runs the chain again with its
tangents: :math:`6k + 2` matrix products, against the :math:`2k + 1` of the chain alone.

For ReLU units :math:`r(\theta - \alpha d)` is piecewise smooth in :math:`\alpha`; the model is
first-order accurate until a unit's pre-activation :math:`S - \alpha\dot S` changes sign, and
the fraction of units that do so inside the step is reported. With linear units everywhere each
state is a polynomial in :math:`\alpha` (:math:`y(p)` of degree :math:`2p + 1`, :math:`x(p)` of
degree :math:`2p`) whose linear coefficient is :math:`-u`; along a direction that moves only the
biases the residuals are exactly linear and the model is exact.
"""

from __future__ import annotations

import numpy as np

from relustep import kernels
from relustep.kernels.rbm import NRELU, RELU, UNIT_CODES
from relustep.objective import ChainTangent

#: The tangent pass runs the chain again with its tangents: 6k + 2 matrix products against the
#: 2k + 1 of a forward pass, counted as this many forward passes (8/3 for k = 1, rounded up).
TANGENT_FORWARD_PASSES = 3
_NOT_SAMPLED = np.empty((0, 0))


def chain_tangent(
    network, theta: np.ndarray, X: np.ndarray, direction: np.ndarray, noise=None
) -> ChainTangent:
    r"""Run the chain of ``network`` (an :class:`~relustep.models.rbm.RBMNetwork`) from ``X`` at
    ``theta`` together with its tangents along ``direction`` (module Notes).

    Parameters
    ----------
    network : RBMNetwork
    theta, direction : ndarray
        Parameters and the direction :math:`d` of the update :math:`\theta - \alpha d`.
    X : ndarray, shape (L, n_visible)
    noise : ChainNoise, optional
        The chain's random numbers (held fixed); ``None`` runs the noise-free chain.

    Returns
    -------
    ChainTangent
        :math:`r` and :math:`u` as vectors: the hidden residuals :math:`y(p) - y(p-1)`
        (``k`` blocks of shape ``(L, n_hidden)``), then the visible ones :math:`x(p) - x(p-1)`
        (``k`` blocks of ``(L, n_visible)``); ``crossing_fraction(alpha)`` counts the ReLU-type
        units (hidden and visible) whose :math:`S - \alpha\dot S` changes sign.
    """
    k, n_rows, dtype = network.k, len(X), theta.dtype
    n, m = network.n_visible, network.n_hidden
    views, moves = network.layout.views(theta), network.layout.views(direction)
    W, b, c = views["W"], views["b"], views["c"]
    W_rate, b_rate, c_rate = moves["W"], moves["b"], moves["c"]
    transfer_tangent = kernels.get("rbm_transfer_tangent", network.backend)
    hidden_code, visible_code = UNIT_CODES[network.hidden], UNIT_CODES[network.visible]
    empty = _NOT_SAMPLED.astype(dtype)

    x, x_rate = np.empty((k + 1, n_rows, n), dtype), np.empty((k + 1, n_rows, n), dtype)
    y, y_rate = np.empty((k + 1, n_rows, m), dtype), np.empty((k + 1, n_rows, m), dtype)
    pre_h, pre_h_rate = np.empty_like(y), np.empty_like(y)  # S_h(0..k) and its rate
    pre_v, pre_v_rate = np.empty((k, n_rows, n), dtype), np.empty((k, n_rows, n), dtype)
    x[0], x_rate[0] = X, 0.0
    for p in range(k + 1):
        # S_h(p) = x(p) W + b,   rate x'(p) W + x(p) W' + b'
        np.matmul(x[p], W, out=pre_h[p])
        pre_h[p] += b
        np.matmul(x[p], W_rate, out=pre_h_rate[p])
        pre_h_rate[p] += b_rate
        if p > 0:
            pre_h_rate[p] += x_rate[p] @ W
        hidden_noise = empty if noise is None else noise.hidden_at(p)
        transfer_tangent(pre_h[p], pre_h_rate[p], hidden_noise, hidden_code, y[p], y_rate[p])
        if p == k:
            break
        # S_v(p+1) = y(p) W^T + c,   rate y'(p) W^T + y(p) W'^T + c'
        np.matmul(y[p], W.T, out=pre_v[p])
        pre_v[p] += c
        np.matmul(y[p], W_rate.T, out=pre_v_rate[p])
        pre_v_rate[p] += c_rate
        pre_v_rate[p] += y_rate[p] @ W.T
        visible_noise = empty if noise is None else noise.visible_at(p + 1)
        transfer_tangent(
            pre_v[p], pre_v_rate[p], visible_noise, visible_code, x[p + 1], x_rate[p + 1]
        )
    kinks = []
    if hidden_code in (RELU, NRELU):
        kinks.append((pre_h.reshape(-1, m), pre_h_rate.reshape(-1, m)))
    if visible_code in (RELU, NRELU):
        kinks.append((pre_v.reshape(-1, n), pre_v_rate.reshape(-1, n)))
    zero_crossings = kernels.get("zero_crossings", network.backend)

    def crossing_fraction(alpha: float) -> float:
        if not kinks:
            return 0.0
        crossed = sum(zero_crossings(pre, rate, alpha) for pre, rate in kinks)
        return crossed / sum(pre.size for pre, _ in kinks)

    hidden_residual, visible_residual = y[1:] - y[:-1], x[1:] - x[:-1]
    hidden_tangent, visible_tangent = y_rate[1:] - y_rate[:-1], x_rate[1:] - x_rate[:-1]
    return ChainTangent(
        residual=np.concatenate([hidden_residual.ravel(), visible_residual.ravel()]),
        tangent=np.concatenate([hidden_tangent.ravel(), visible_tangent.ravel()]),
        n_rows=n_rows,
        crossing_fraction=crossing_fraction,
        forward_passes=TANGENT_FORWARD_PASSES,
    )
