r"""Kernels of the RBM chain and of its analytic step, each beside its NumPy twin.

The chain of :mod:`relustep.models.rbm` alternates matrix products (left to BLAS) with elementwise
work: apply the transfer function, maybe sample, take the derivative once, then form the
difference with the previous state, mask it and add up its square. Each kernel here fuses one such
stretch into one pass. :func:`online_epoch` runs a whole epoch with a batch of one sample inside
one kernel, where the per-sample Python overhead would otherwise dominate.

Units are named by small integers, because a kernel takes no strings:

========  =====================================================  ===============================
code      transfer :math:`F(S)`                                  derivative used :math:`F'`
========  =====================================================  ===============================
LINEAR    :math:`S`                                              1
RELU      :math:`\max(0, S)`                                     :math:`1[S > 0]`
SIGMOID   :math:`\sigma(S)`, or a Bernoulli sample of it          :math:`\sigma(S)(1-\sigma(S))`
NRELU     :math:`\max(0, S + \sqrt{\sigma(S)}\,\nu)`,             :math:`1[S + \sqrt{\sigma(S)}\,\nu
          :math:`\nu \sim N(0, 1)` (Nair and Hinton 2010)         > 0]`
BINARY    a Bernoulli sample of :math:`\sigma(S)`                 :math:`\sigma(S)(1-\sigma(S))`
========  =====================================================  ===============================

For NRELU the noisy sum :math:`S + \sqrt{\sigma(S)}\nu` is kept in ``pre`` (its sign is the mask);
the noise scale is treated as a constant when differentiating. Random numbers (``noise``) are drawn
by the caller with a NumPy Generator: standard normal for NRELU, uniform on [0, 1) for the
Bernoulli units; an empty ``(0, 0)`` array when a layer is not sampled.

The exponentials of the sigmoid are computed by NumPy (:func:`apply_transfer`), whose vectorised
``exp`` is about five times faster than Numba's scalar one (Numba vectorises ``exp`` only with
Intel's SVML, which relustep does not require); the kernel receives :math:`e^{-S}` in ``slope``.
"""

from __future__ import annotations

import math

import numpy as np

from relustep.kernels._jit import jit
from relustep.kernels.steps import STEP_TAKEN, adam_direction, adam_direction_numpy, frozen_step

LINEAR, RELU, SIGMOID, NRELU, BINARY = 0, 1, 2, 3, 4
UNIT_CODES = {"linear": LINEAR, "relu": RELU, "sigmoid": SIGMOID, "nrelu": NRELU, "binary": BINARY}
STEP_CONSTANT, STEP_GOLOVKO, STEP_ADAM = 0, 1, 2


def _sigmoid_numpy(pre: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-pre))


def derivative_numpy(pre: np.ndarray, kind: int) -> np.ndarray:
    """The derivative :math:`F'` of the transfer ``kind`` at the pre-activations ``pre``."""
    if kind == LINEAR:
        return np.ones_like(pre)
    if kind in (RELU, NRELU):
        return (pre > 0).astype(pre.dtype)
    probability = _sigmoid_numpy(pre)
    return probability * (1.0 - probability)


def needs_exponential(kind: int, sampled: bool) -> bool:
    """Whether the transfer ``kind`` uses :math:`e^{-S}` (sigmoid units, sampled noisy ReLU)."""
    return kind in (SIGMOID, BINARY) or (kind == NRELU and sampled)


def apply_transfer(
    kernel,
    pre: np.ndarray,
    bias: np.ndarray,
    noise: np.ndarray,
    kind: int,
    out: np.ndarray,
    slope: np.ndarray,
) -> None:
    """Add ``bias`` to the products in ``pre``, put :math:`e^{-S}` into ``slope`` where the
    transfer needs it (NumPy's vectorised exp), then run ``kernel`` (:func:`transfer` or
    :func:`transfer_numpy`)."""
    pre += bias
    if needs_exponential(kind, noise.size > 0):
        np.negative(pre, out=slope)
        np.exp(slope, out=slope)
    kernel(pre, noise, kind, out, slope)


def transfer_numpy(
    pre: np.ndarray, noise: np.ndarray, kind: int, out: np.ndarray, slope: np.ndarray
) -> None:
    r"""Write the units' states :math:`F(S)` into ``out`` and their derivatives :math:`F'` into
    ``slope``; ``pre`` holds :math:`S` (and becomes the noisy sum for sampled NRELU units).
    Sample when ``noise`` is not empty (see the module docstring for each ``kind``). For the
    kinds of :func:`needs_exponential`, ``slope`` holds :math:`e^{-S}` on entry."""
    sampled = noise.size > 0
    if kind == LINEAR:
        out[...] = pre
        slope[...] = 1.0
    elif kind == RELU:
        np.maximum(pre, 0.0, out=out)
        slope[...] = pre > 0
    elif kind == NRELU:
        if sampled:
            pre += np.sqrt(1.0 / (1.0 + slope)) * noise
        np.maximum(pre, 0.0, out=out)
        slope[...] = pre > 0
    else:  # SIGMOID or BINARY
        probability = 1.0 / (1.0 + slope)
        out[...] = (noise < probability) if sampled else probability
        slope[...] = probability * (1.0 - probability)


@jit
def transfer(pre, noise, kind, out, slope):
    rows, cols = pre.shape
    sampled = noise.size > 0
    for i in range(rows):
        for j in range(cols):
            s = np.float64(pre[i, j])
            if kind == LINEAR:
                out[i, j] = s
                slope[i, j] = 1.0
            elif kind == RELU or kind == NRELU:
                if kind == NRELU and sampled:
                    noise_scale = math.sqrt(1.0 / (1.0 + np.float64(slope[i, j])))
                    s = s + noise_scale * np.float64(noise[i, j])
                    pre[i, j] = s
                out[i, j] = s if s > 0 else 0.0
                slope[i, j] = 1.0 if s > 0 else 0.0
            else:
                probability = 1.0 / (1.0 + np.float64(slope[i, j]))
                if sampled:
                    out[i, j] = 1.0 if np.float64(noise[i, j]) < probability else 0.0
                else:
                    out[i, j] = probability
                slope[i, j] = probability * (1.0 - probability)


def local_errors_numpy(
    current: np.ndarray,
    previous: np.ndarray,
    slope: np.ndarray,
    masked: bool,
    direction: np.ndarray,
) -> float:
    r"""The local error :math:`\gamma = \text{current} - \text{previous}` of one layer at one step
    of the chain: write the rule's direction factor into ``direction``
    (:math:`\gamma \odot F'(S)` for the masked rule "cse", :math:`\gamma` for "cd"; ``slope`` is
    :math:`F'(S)`) and return :math:`\frac12\sum\gamma^2`."""
    error = current - previous
    direction[...] = error * slope if masked else error
    return 0.5 * float(np.sum(error * error))


@jit
def local_errors(current, previous, slope, masked, direction):
    rows, cols = current.shape
    total = 0.0
    for i in range(rows):
        for j in range(cols):
            error = current[i, j] - previous[i, j]
            total += np.float64(error * error)
            direction[i, j] = error * slope[i, j] if masked else error
    return 0.5 * total


def golovko_sums_numpy(
    current: np.ndarray, previous: np.ndarray, slope: np.ndarray, moves: np.ndarray
) -> tuple[float, float]:
    r"""The two sums of the frozen-error quadratic for one block of rows.

    The step :math:`\alpha` moves the pre-activations by :math:`-\alpha\,C` (``moves`` is
    :math:`C`), so each error :math:`\gamma` becomes :math:`\gamma - \alpha F'(S) C` to first order
    (exactly, for ReLU on a fixed pattern; ``slope`` is :math:`F'(S)`). The quadratic
    :math:`\frac12\sum(\gamma - \alpha F' C)^2` has its minimum at numerator / denominator with

    .. math::
        \text{numerator} = \sum \gamma\,F'\,C, \qquad \text{denominator} = \sum F'^2 C^2 .
    """
    weighted = slope * moves
    numerator = float(np.sum((current - previous) * weighted))
    return numerator, float(np.sum(weighted * weighted))


@jit
def golovko_sums(current, previous, slope, moves):
    rows, cols = current.shape
    numerator = 0.0
    denominator = 0.0
    for i in range(rows):
        for j in range(cols):
            weighted = slope[i, j] * moves[i, j]
            numerator += np.float64((current[i, j] - previous[i, j]) * weighted)
            denominator += np.float64(weighted * weighted)
    return numerator, denominator


def zero_crossings_numpy(pre: np.ndarray, moves: np.ndarray, alpha: float) -> int:
    r"""How many units change sign inside the step: :math:`S > 0` differs from
    :math:`S - \alpha C > 0` (``moves`` is :math:`C`)."""
    return int(np.count_nonzero((pre > 0) != (pre - alpha * moves > 0)))


@jit
def zero_crossings(pre, moves, alpha):
    rows, cols = pre.shape
    count = 0
    for i in range(rows):
        for j in range(cols):
            if (pre[i, j] > 0) != (np.float64(pre[i, j]) - alpha * np.float64(moves[i, j]) > 0):
                count += 1
    return count


def online_epoch_numpy(
    X,
    order,
    W,
    b,
    c,
    visible_kind,
    hidden_kind,
    masked,
    k,
    step_kind,
    lr,
    diagonal,
    verify,
    max_halvings,
    losses,
    step_sizes,
    statuses,
    crossings,
    halvings,
    failed,
    forward_passes,
    first_moment,
    second_moment,
    adam,
) -> None:
    r"""One epoch of CD-k with a batch of one sample, the deterministic chain, in sample ``order``.

    For each sample: run the chain :math:`x(0) \to y(0) \to x(1) \to \dots \to y(k)`, form the
    local errors of each step (masked for the rule "cse"), choose :math:`\alpha` (``lr``, or the
    analytic step for ``step_kind == STEP_GOLOVKO``) and update ``W, b, c`` in place:

    .. math::
        W \leftarrow W - \alpha\,\Delta W, \quad
        \Delta W = \sum_{p=1}^k \bigl(x(p)\,d_h(p)^\top + d_v(p)\,y(p-1)^\top\bigr),
        \quad b \leftarrow b - \alpha\sum_p d_h(p), \quad c \leftarrow c - \alpha\sum_p d_v(p).

    The analytic step is the frozen-error quadratic's minimum over the chain rows
    :math:`p = 1..k` of this sample (derived in relustep, see
    :func:`relustep.steps.golovko.Golovko`): with the Gram matrices
    :math:`K_x[p,q] = x(p)^\top x(q) + 1` and :math:`K_y[p,q] = y(p-1)^\top y(q-1) + 1` (their
    diagonals only when ``diagonal``), :math:`C_h = K_x d_h`, :math:`C_v = K_y d_v`, and
    :math:`\alpha^* =` (sum of numerators) / (sum of denominators) of :func:`golovko_sums_numpy`.
    The safeguards are those of :func:`relustep.kernels.steps.frozen_step`, whose outcome is
    written in ``statuses`` (0: the step was taken).

    With ``verify`` (the analytic step only), the step :math:`\alpha^*` is then checked on the
    true loss as :class:`~relustep.steps.golovko.Golovko` does with ``verify=True``: the chain
    is run again from the same sample at :math:`\theta - \alpha d`, and :math:`\alpha` is halved
    until the sample's :math:`E` there does not exceed :math:`E` at the starting point; after
    ``max_halvings`` halvings without success no step is taken.

    With ``step_kind == STEP_ADAM`` the move is Adam's instead (see
    :func:`relustep.kernels.steps.adam_direction_numpy`): the update :math:`(\Delta W, \Delta b,
    \Delta c)`, laid out as the parameters (``W`` row by row, then ``b``, then ``c``), is the
    gradient :math:`g` that updates the moments ``first_moment`` and ``second_moment`` in place,
    and the parameters move by ``lr`` times Adam's direction. ``adam`` holds
    :math:`(\beta_1, \beta_2, \epsilon, t_0)`, :math:`t_0` the steps the rule took before this
    epoch; for the other steps the moments may be empty.

    Per step it writes the loss :math:`E` at the starting point, the step taken, the status, the
    fraction of ReLU units that cross zero inside the step :math:`\alpha^*`, the halvings, 1 in
    ``failed`` when the verification gave up, and the forward passes (chains) the step ran.
    """
    n, m = W.shape
    direction = np.empty_like(first_moment)
    for t, row in enumerate(order):
        xs, ys, pre_h, pre_v = _chain_numpy(X[row], W, b, c, k, visible_kind, hidden_kind)
        gamma = ys[1:] - ys[:-1]
        error = xs[1:] - xs[:-1]
        slope_h = derivative_numpy(pre_h[1:], hidden_kind)
        slope_v = derivative_numpy(pre_v[1:], visible_kind)
        d_h = gamma * slope_h if masked else gamma
        d_v = error * slope_v if masked else error
        losses[t] = _energy_numpy(xs, ys)
        alpha, status, crossed, counted = lr, 0, 0, 0
        halvings[t], failed[t], forward_passes[t] = 0, 0, 1
        update = [xs[1:].T @ d_h + d_v.T @ ys[:-1], d_h.sum(axis=0), d_v.sum(axis=0)]
        if step_kind == STEP_GOLOVKO:
            gram_x = xs[1:] @ xs[1:].T + 1.0
            gram_y = ys[:-1] @ ys[:-1].T + 1.0
            if diagonal:
                gram_x, gram_y = np.diag(np.diag(gram_x)), np.diag(np.diag(gram_y))
            moves_h, moves_v = gram_x @ d_h, gram_y @ d_v
            numerator = np.sum(gamma * slope_h * moves_h) + np.sum(error * slope_v * moves_v)
            denominator = np.sum((slope_h * moves_h) ** 2) + np.sum((slope_v * moves_v) ** 2)
            alpha, status = frozen_step(float(numerator), float(denominator))
            if hidden_kind == RELU:
                crossed += zero_crossings_numpy(pre_h[1:], moves_h, alpha)
                counted += k * m
            if visible_kind == RELU:
                crossed += zero_crossings_numpy(pre_v[1:], moves_v, alpha)
                counted += k * n
            if verify and status == STEP_TAKEN:
                for _ in range(max_halvings):
                    forward_passes[t] += 1
                    moved = [
                        parameter - alpha * move
                        for parameter, move in zip((W, b, c), update, strict=True)
                    ]
                    trial = _chain_numpy(X[row], *moved, k, visible_kind, hidden_kind)
                    if _energy_numpy(trial[0], trial[1]) <= losses[t]:
                        break
                    alpha *= 0.5
                    halvings[t] += 1
                else:
                    alpha, failed[t] = 0.0, 1
        step_sizes[t], statuses[t] = alpha, status
        crossings[t] = crossed / counted if counted else 0.0
        if step_kind == STEP_ADAM:
            gradient = np.concatenate([part.ravel() for part in update])
            beta1, beta2, epsilon, steps_before = adam
            step_number = int(steps_before) + t + 1
            adam_direction_numpy(
                gradient, first_moment, second_moment, beta1, beta2, epsilon, step_number, direction
            )
            update = np.split(direction, [n * m, n * m + m])
            update[0] = update[0].reshape(n, m)
        if alpha != 0.0:
            for parameter, move in zip((W, b, c), update, strict=True):
                parameter -= alpha * move


def _chain_numpy(x0, W, b, c, k, visible_kind, hidden_kind):
    """The deterministic chain of one sample: states ``xs, ys`` and pre-activations
    ``pre_h, pre_v`` (row ``p`` is step ``p``; ``pre_v[0]`` is not used)."""
    n, m = W.shape
    xs, pre_v = np.empty((k + 1, n), W.dtype), np.zeros((k + 1, n), W.dtype)
    ys, pre_h = np.empty((k + 1, m), W.dtype), np.empty((k + 1, m), W.dtype)
    xs[0] = x0
    pre_h[0] = xs[0] @ W + b
    ys[0] = _transfer_vector_numpy(pre_h[0], hidden_kind)
    for p in range(1, k + 1):
        pre_v[p] = W @ ys[p - 1] + c
        xs[p] = _transfer_vector_numpy(pre_v[p], visible_kind)
        pre_h[p] = xs[p] @ W + b
        ys[p] = _transfer_vector_numpy(pre_h[p], hidden_kind)
    return xs, ys, pre_h, pre_v


def _energy_numpy(xs, ys) -> float:
    """The chain's :math:`E` for one sample: half the squared steps of both layers."""
    return 0.5 * float(np.sum((ys[1:] - ys[:-1]) ** 2) + np.sum((xs[1:] - xs[:-1]) ** 2))


def _transfer_vector_numpy(pre: np.ndarray, kind: int) -> np.ndarray:
    if kind == RELU:
        return np.maximum(pre, 0.0)
    if kind == SIGMOID:
        with np.errstate(over="ignore"):  # exp overflows to inf, and the unit to 0, as in Numba
            return _sigmoid_numpy(pre)
    return pre.copy()


#: above this, :math:`e^s` overflows a float64 (:func:`math.exp` would raise in Python)
LARGEST_EXPONENT = math.log(np.finfo(np.float64).max)


@jit
def _transfer_vector(pre, kind, out, slope):
    r"""States and derivatives of one vector of units (deterministic chain); the sigmoid's
    derivative is taken from its state, :math:`\sigma(1-\sigma)`, so that each unit costs one
    exponential. A sigmoid unit whose :math:`e^{-S}` overflows is 0, compiled (where the
    exponential is ``inf``) and run as Python alike."""
    for j in range(pre.shape[0]):
        s = np.float64(pre[j])
        if kind == RELU:
            out[j] = s if s > 0 else 0.0
            slope[j] = 1.0 if s > 0 else 0.0
        elif kind == SIGMOID:
            probability = 0.0 if -s > LARGEST_EXPONENT else 1.0 / (1.0 + math.exp(-s))
            out[j] = probability
            slope[j] = probability * (1.0 - probability)
        else:
            out[j] = s
            slope[j] = 1.0


@jit
def _input_times_weights(inputs, W, bias, out):
    r""":math:`W^\top x + b`, skipping the zero inputs (most pixels of an image are 0); each
    row of :math:`W` is added in one vectorised pass."""
    out[:] = bias
    for i in range(W.shape[0]):
        value = inputs[i]
        if value != 0.0:
            for j in range(W.shape[1]):
                out[j] += value * W[i, j]


@jit
def _moved_hidden_sums(x, sums, alpha, factors, out):
    r"""The hidden sums of the visible vector ``x`` after the online step, written into ``out``,
    from its sums ``sums`` :math:`= W^\top x + b` before the step, without forming the moved
    weights. The step moves :math:`W` by :math:`-\alpha\Delta W` with
    :math:`\Delta W = \sum_q x(q)\,d_h(q)^\top + d_v(q)\,y(q-1)^\top` and :math:`b` by
    :math:`-\alpha\sum_q d_h(q)` (see :func:`online_epoch_numpy`), so

    .. math::
        (W - \alpha\Delta W)^\top x + b - \alpha\sum_q d_h(q) = W^\top x + b
        - \alpha\sum_{q=1}^k \bigl[(x(q)^\top x + 1)\,d_h(q) + (d_v(q)^\top x)\,y(q-1)\bigr],

    :math:`2k` dot products and :math:`2k` scaled additions, :math:`O(k(n + m))` instead of the
    :math:`O(nm)` of a product with the moved weights. ``factors`` is ``(xs, ys, d_h, d_v)``,
    the chain's states and direction factors, row ``q`` for step ``q``."""
    xs, ys, d_h, d_v = factors
    out[:] = sums
    for q in range(1, xs.shape[0]):
        along_error = alpha * (np.float64(np.dot(xs[q], x)) + 1.0)
        along_state = alpha * np.float64(np.dot(d_v[q], x))
        for j in range(out.shape[0]):
            out[j] -= along_error * d_h[q, j] + along_state * ys[q - 1, j]


@jit
def _moved_visible_sums(y, sums, alpha, factors, out):
    r"""The visible sums of the hidden vector ``y`` after the online step, from
    ``sums`` :math:`= W y + c` before it (as :func:`_moved_hidden_sums`):

    .. math::
        (W - \alpha\Delta W)\,y + c - \alpha\sum_q d_v(q) = W y + c
        - \alpha\sum_{q=1}^k \bigl[(d_h(q)^\top y)\,x(q) + (y(q-1)^\top y + 1)\,d_v(q)\bigr].
    """
    xs, ys, d_h, d_v = factors
    out[:] = sums
    for q in range(1, xs.shape[0]):
        along_state = alpha * np.float64(np.dot(d_h[q], y))
        along_error = alpha * (np.float64(np.dot(ys[q - 1], y)) + 1.0)
        for i in range(out.shape[0]):
            out[i] -= along_state * xs[q, i] + along_error * d_v[q, i]


@jit
def _energy_after_step(alpha, W, b, c, factors, hidden_sums, kinds, work_x, work_y):
    r"""The sample's :math:`E` at :math:`\theta - \alpha d`: the chain from the same sample
    :math:`x(0)` = ``xs[0]`` run at the moved parameters, each layer's sums from the current
    :math:`W` and the low-rank move (:func:`_moved_hidden_sums`, :func:`_moved_visible_sums`), so
    that the weights are never copied. ``factors`` is ``(xs, ys, d_h, d_v)`` of the chain at the
    starting point, ``hidden_sums`` its :math:`W^\top x(0) + b`; ``kinds`` is
    ``(visible_kind, hidden_kind)``. Each layer after the first costs one product of :math:`W`
    with a vector. Rows 0 and 1 of ``work_x`` (``(3, n)``) and ``work_y`` (``(3, m)``) hold the
    previous and the current state; row 2 the sums, then the slopes (not needed)."""
    visible_kind, hidden_kind = kinds
    x0 = factors[0][0]
    _moved_hidden_sums(x0, hidden_sums, alpha, factors, work_y[2])
    _transfer_vector(work_y[2], hidden_kind, work_y[0], work_y[2])
    work_x[0] = x0
    energy = 0.0
    for p in range(1, factors[0].shape[0]):
        previous, current = (p - 1) % 2, p % 2
        visible_sums = np.dot(W, work_y[previous]) + c
        _moved_visible_sums(work_y[previous], visible_sums, alpha, factors, work_x[2])
        _transfer_vector(work_x[2], visible_kind, work_x[current], work_x[2])
        hidden_sums_p = np.dot(work_x[current], W) + b
        _moved_hidden_sums(work_x[current], hidden_sums_p, alpha, factors, work_y[2])
        _transfer_vector(work_y[2], hidden_kind, work_y[current], work_y[2])
        for j in range(W.shape[1]):
            step = work_y[current, j] - work_y[previous, j]
            energy += np.float64(step * step)
        for i in range(W.shape[0]):
            step = work_x[current, i] - work_x[previous, i]
            energy += np.float64(step * step)
    return 0.5 * energy


@jit
def _update_into(xs, ys, d_h, d_v, out):
    r"""The online step's update :math:`(\Delta W, \Delta b, \Delta c)` of one sample (see
    :func:`online_epoch_numpy`), written into the flat ``out`` laid out as the parameters:
    ``W`` row by row, then ``b``, then ``c``."""
    n, m = xs.shape[1], ys.shape[1]
    out[:] = 0.0
    for p in range(1, xs.shape[0]):
        for i in range(n):
            row = out[i * m : (i + 1) * m]
            for j in range(m):
                row[j] += xs[p, i] * d_h[p, j] + d_v[p, i] * ys[p - 1, j]
        for j in range(m):
            out[n * m + j] += d_h[p, j]
        for i in range(n):
            out[n * m + m + i] += d_v[p, i]


@jit
def online_epoch(
    X,
    order,
    W,
    b,
    c,
    visible_kind,
    hidden_kind,
    masked,
    k,
    step_kind,
    lr,
    diagonal,
    verify,
    max_halvings,
    losses,
    step_sizes,
    statuses,
    crossings,
    halvings,
    failed,
    forward_passes,
    first_moment,
    second_moment,
    adam,
):
    n, m = W.shape
    dtype = W.dtype
    gradient = np.empty_like(first_moment)  # Adam's only, laid out as the parameters
    direction = np.empty_like(first_moment)
    xs = np.empty((k + 1, n), dtype)
    ys = np.empty((k + 1, m), dtype)
    pre_h = np.empty((k + 1, m), dtype)
    pre_v = np.empty((k + 1, n), dtype)
    slope_h = np.empty((k + 1, m), dtype)
    slope_v = np.empty((k + 1, n), dtype)
    d_h = np.empty((k + 1, m), dtype)
    d_v = np.empty((k + 1, n), dtype)
    moves_h = np.empty((k + 1, m), dtype)
    moves_v = np.empty((k + 1, n), dtype)
    gram_x = np.empty((k + 1, k + 1))
    gram_y = np.empty((k + 1, k + 1))
    work_x = np.empty((3, n), dtype)
    work_y = np.empty((3, m), dtype)
    step = np.empty(1, dtype)
    for t in range(order.shape[0]):
        xs[0] = X[order[t]]
        _input_times_weights(xs[0], W, b, pre_h[0])
        _transfer_vector(pre_h[0], hidden_kind, ys[0], slope_h[0])
        for p in range(1, k + 1):
            pre_v[p] = np.dot(W, ys[p - 1]) + c
            _transfer_vector(pre_v[p], visible_kind, xs[p], slope_v[p])
            pre_h[p] = np.dot(xs[p], W) + b
            _transfer_vector(pre_h[p], hidden_kind, ys[p], slope_h[p])
        loss = 0.0
        for p in range(1, k + 1):
            for j in range(m):
                gamma = ys[p, j] - ys[p - 1, j]
                loss += np.float64(gamma * gamma)
                d_h[p, j] = gamma * slope_h[p, j] if masked else gamma
            for i in range(n):
                error = xs[p, i] - xs[p - 1, i]
                loss += np.float64(error * error)
                d_v[p, i] = error * slope_v[p, i] if masked else error
        losses[t] = 0.5 * loss
        alpha = lr
        status = 0
        crossed = 0
        counted = 0
        halvings[t] = 0
        failed[t] = 0
        forward_passes[t] = 1
        if step_kind == STEP_GOLOVKO:
            for p in range(1, k + 1):
                for q in range(1, k + 1):
                    if diagonal and p != q:
                        gram_x[p, q] = 0.0
                        gram_y[p, q] = 0.0
                    else:
                        gram_x[p, q] = np.float64(np.dot(xs[p], xs[q])) + 1.0
                        gram_y[p, q] = np.float64(np.dot(ys[p - 1], ys[q - 1])) + 1.0
            numerator = 0.0
            denominator = 0.0
            for p in range(1, k + 1):
                moves_h[p] = 0.0
                moves_v[p] = 0.0
                for q in range(1, k + 1):
                    moves_h[p] += gram_x[p, q] * d_h[q]
                    moves_v[p] += gram_y[p, q] * d_v[q]
                for j in range(m):
                    weighted = slope_h[p, j] * moves_h[p, j]
                    numerator += np.float64((ys[p, j] - ys[p - 1, j]) * weighted)
                    denominator += np.float64(weighted * weighted)
                for i in range(n):
                    weighted = slope_v[p, i] * moves_v[p, i]
                    numerator += np.float64((xs[p, i] - xs[p - 1, i]) * weighted)
                    denominator += np.float64(weighted * weighted)
            alpha, status = frozen_step(numerator, denominator)
            for p in range(1, k + 1):
                if hidden_kind == RELU:
                    for j in range(m):
                        moved = np.float64(pre_h[p, j]) - alpha * np.float64(moves_h[p, j])
                        if (pre_h[p, j] > 0) != (moved > 0):
                            crossed += 1
                    counted += m
                if visible_kind == RELU:
                    for i in range(n):
                        moved = np.float64(pre_v[p, i]) - alpha * np.float64(moves_v[p, i])
                        if (pre_v[p, i] > 0) != (moved > 0):
                            crossed += 1
                    counted += n
            if verify and status == STEP_TAKEN:
                factors, kinds = (xs, ys, d_h, d_v), (visible_kind, hidden_kind)
                accepted = False
                for _ in range(max_halvings):
                    forward_passes[t] += 1
                    trial = _energy_after_step(
                        alpha, W, b, c, factors, pre_h[0], kinds, work_x, work_y
                    )
                    if trial <= losses[t]:
                        accepted = True
                        break
                    alpha *= 0.5
                    halvings[t] += 1
                if not accepted:
                    alpha = 0.0
                    failed[t] = 1
        step_sizes[t] = alpha
        statuses[t] = status
        crossings[t] = crossed / counted if counted > 0 else 0.0
        if step_kind == STEP_ADAM:
            _update_into(xs, ys, d_h, d_v, gradient)
            adam_direction(
                gradient,
                first_moment,
                second_moment,
                adam[0],
                adam[1],
                adam[2],
                int(adam[3]) + t + 1,
                direction,
            )
            step[0] = alpha
            moves = direction[: n * m].reshape((n, m))
            for i in range(n):
                for j in range(m):
                    W[i, j] -= step[0] * moves[i, j]
            for j in range(m):
                b[j] -= step[0] * direction[n * m + j]
            for i in range(n):
                c[i] -= step[0] * direction[n * m + m + i]
        elif alpha != 0.0:
            step[0] = alpha  # in the parameters' precision, so that float32 updates vectorise
            for i in range(n):
                for p in range(1, k + 1):
                    input_value = step[0] * xs[p, i]
                    error_value = step[0] * d_v[p, i]
                    for j in range(m):
                        W[i, j] -= input_value * d_h[p, j] + error_value * ys[p - 1, j]
            for p in range(1, k + 1):
                for j in range(m):
                    b[j] -= step[0] * d_h[p, j]
                for i in range(n):
                    c[i] -= step[0] * d_v[p, i]
