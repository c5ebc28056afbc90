"""Solutions of the exercises of tutorial 4 (for the teacher). Each body replaces the blank's
``raise NotImplementedError`` in ``04_qlabgrad_lqa_exact.ipynb``."""

import numpy as np


def qlab_step(line, initial_step):
    """Exercise 4.1."""
    if line.slope >= 0:
        return 0.0
    probed = line.probe(initial_step)
    A = (probed - line.loss - initial_step * line.slope) / initial_step**2
    if A <= 0:
        return initial_step
    return -line.slope / (2 * A)


def lqa_step(line, delta):
    """Exercise 4.2."""
    if line.slope >= 0:
        return 0.0
    ahead, behind = line.probe(delta), line.probe(-delta)
    slope = (ahead - behind) / (2 * delta)
    curvature = (ahead + behind - 2 * line.loss) / delta**2
    return -slope / curvature


def breakpoints(Z0, Zdot):
    """Exercise 4.3."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (Z0 / Zdot).ravel()
    order = np.flatnonzero((ratio > 0) & np.isfinite(ratio))
    order = order[np.argsort(ratio[order], kind="stable")]
    return order, ratio[order]


def piece_quartic(parts, active):
    """Exercise 4.4."""
    s = np.where(active, 1.0, parts.negative_slope)
    hidden, hidden_rate = s * parts.pre_activation, s * parts.pre_activation_rate
    W2, dW2 = parts.output_weights, parts.output_weights_rate
    r0 = hidden @ W2 + parts.output_bias - parts.targets
    r1 = -(hidden_rate @ W2 + hidden @ dW2) - parts.output_bias_rate
    r2 = hidden_rate @ dW2
    coefficients = parts.scale * np.array(
        [
            np.sum(r0 * r0),
            2 * np.sum(r0 * r1),
            np.sum(r1 * r1 + 2 * r0 * r2),
            2 * np.sum(r1 * r2),
            np.sum(r2 * r2),
        ]
    )
    coefficients[:3] += parts.ridge
    return coefficients


def exact_step(parts, loss_along):
    """Exercise 4.5."""
    Z0, Zdot = parts.pre_activation, parts.pre_activation_rate
    order, alphas = breakpoints(Z0, Zdot)
    active = (Z0 > 0) | ((Z0 == 0) & (Zdot < 0))  # the pattern just after alpha = 0
    edges = np.concatenate([[0.0], alphas, [np.inf]])
    best_alpha, best_value = 0.0, np.inf
    for piece in range(len(edges) - 1):
        left, right = edges[piece], edges[piece + 1]
        quartic = np.polynomial.Polynomial(piece_quartic(parts, active))
        candidates = [left] + ([right] if np.isfinite(right) else [])
        roots = quartic.deriv().roots()
        candidates += [x.real for x in roots if abs(x.imag) < 1e-12 and left < x.real < right]
        for alpha in candidates:
            if quartic(alpha) < best_value:
                best_alpha, best_value = float(alpha), quartic(alpha)
        if piece < len(alphas):
            unit = np.unravel_index(order[piece], Z0.shape)
            active[unit] = not active[unit]  # the unit crossing here changes state
    return best_alpha
