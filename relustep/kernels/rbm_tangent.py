r"""The forward-mode (tangent) pass of the RBM chain, one layer at a time: each unit's state and
its directional derivative, beside the NumPy twin.

Along a line in parameter space every pre-activation :math:`S` of the chain moves with some
rate :math:`\dot S` (the matrix products that give :math:`S` and :math:`\dot S` are left to
BLAS, in :mod:`relustep.models.rbm_tangent`). This kernel turns each pair
:math:`(S, \dot S)` into the unit's state :math:`F(S)` and its rate
:math:`\dot F = \frac{d}{dt} F(S + t\dot S)\big|_{t=0}`, with the random numbers of a sampled
unit held fixed (the loss along a line is then a deterministic function of the step):

========  ==========================================  ==============================================
code      state (noise :math:`\nu` or :math:`u`)      rate :math:`\dot F`
========  ==========================================  ==============================================
LINEAR    :math:`S`                                   :math:`\dot S`
RELU      :math:`\max(0, S)`                          :math:`1[S > 0]\,\dot S`
NRELU     :math:`\max(0, s)`,                         :math:`1[s > 0]\,\dot s`, with
          :math:`s = S + \sqrt{\sigma(S)}\,\nu`       :math:`\dot s = \bigl(1 + \tfrac12\nu
                                                      \sqrt{\sigma(S)}\,(1 - \sigma(S))\bigr)\dot S`
SIGMOID   :math:`\sigma(S)`                           :math:`\sigma(S)(1-\sigma(S))\,\dot S`
BINARY    :math:`\sigma(S)` (not sampled)             :math:`\sigma(S)(1-\sigma(S))\,\dot S`
sampled   :math:`1[u < \sigma(S)]` (SIGMOID, BINARY)  0
========  ==========================================  ==============================================

A Bernoulli sample with its uniform number :math:`u` fixed is a step function of :math:`S`: its
rate is zero except where it jumps (a set of steps of measure zero), so the exact derivative of
the chain does not flow through it. The noisy ReLU's noise scale :math:`\sqrt{\sigma(S)}` moves
with :math:`S` (the half of :math:`\dot s` that the learning rules' derivative
:math:`F' = 1[s > 0]` leaves out). For sampled NRELU units ``pre`` becomes the noisy sum :math:`s`
and ``pre_tangent`` its rate :math:`\dot s` (whose sign change tells when the unit crosses zero),
as :func:`relustep.kernels.rbm.transfer` does with ``pre``. An empty ``(0, 0)`` ``noise`` means the
layer is not sampled.
"""

from __future__ import annotations

import math

import numpy as np

from relustep.kernels._jit import jit
from relustep.kernels.rbm import LINEAR, NRELU, RELU, _sigmoid_numpy


def transfer_tangent_numpy(
    pre: np.ndarray,
    pre_tangent: np.ndarray,
    noise: np.ndarray,
    kind: int,
    out: np.ndarray,
    out_tangent: np.ndarray,
) -> None:
    r"""Write the states :math:`F(S)` into ``out`` and their rates :math:`\dot F` into
    ``out_tangent`` (see the module docstring for each ``kind``); ``pre`` holds :math:`S` with its
    bias, ``pre_tangent`` holds :math:`\dot S`."""
    sampled = noise.size > 0
    if kind == LINEAR:
        out[...] = pre
        out_tangent[...] = pre_tangent
        return
    if kind == RELU or kind == NRELU:
        if kind == NRELU and sampled:
            probability = _sigmoid_numpy(pre)
            scale = np.sqrt(probability)
            pre_tangent *= 1.0 + 0.5 * noise * scale * (1.0 - probability)
            pre += scale * noise
        active = pre > 0
        np.maximum(pre, 0.0, out=out)
        out_tangent[...] = np.where(active, pre_tangent, 0.0)
        return
    probability = _sigmoid_numpy(pre)  # SIGMOID or BINARY
    if sampled:  # a Bernoulli sample: a step function of S
        out[...] = noise < probability
        out_tangent[...] = 0.0
    else:
        out[...] = probability
        out_tangent[...] = probability * (1.0 - probability) * pre_tangent


@jit
def transfer_tangent(pre, pre_tangent, noise, kind, out, out_tangent):
    rows, cols = pre.shape
    sampled = noise.size > 0
    for i in range(rows):
        for j in range(cols):
            s = np.float64(pre[i, j])
            rate = np.float64(pre_tangent[i, j])
            if kind == LINEAR:
                out[i, j] = s
                out_tangent[i, j] = rate
                continue
            if kind == RELU or kind == NRELU:
                if kind == NRELU and sampled:
                    probability = 1.0 / (1.0 + math.exp(-s))
                    scale = math.sqrt(probability)
                    nu = np.float64(noise[i, j])
                    rate = rate * (1.0 + 0.5 * nu * scale * (1.0 - probability))
                    s = s + scale * nu
                    pre[i, j] = s
                    pre_tangent[i, j] = rate
                out[i, j] = s if s > 0 else 0.0
                out_tangent[i, j] = rate if s > 0 else 0.0
                continue
            probability = 1.0 / (1.0 + math.exp(-s))
            if sampled:
                out[i, j] = 1.0 if np.float64(noise[i, j]) < probability else 0.0
                out_tangent[i, j] = 0.0
            else:
                out[i, j] = probability
                out_tangent[i, j] = probability * (1.0 - probability) * rate
