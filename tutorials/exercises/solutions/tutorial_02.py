"""Solutions of the exercises of tutorial 2 (for the teacher). Each body replaces the blank's
``raise NotImplementedError`` in ``02_rbm_adaptive_step.ipynb``."""

import numpy as np


def gibbs_chain(W, b, c, X, k, visible):
    """Exercise 2.1."""
    xs, ys = [X], [np.maximum(X @ W + b, 0.0)]
    for _ in range(k):
        visible_sums = ys[-1] @ W.T + c
        if visible == "sigmoid":
            xs.append(1.0 / (1.0 + np.exp(-visible_sums)))
        else:
            xs.append(np.maximum(visible_sums, 0.0))
        ys.append(np.maximum(xs[-1] @ W + b, 0.0))
    return xs, ys


def cse_direction(W, b, c, X, k, visible):
    """Exercise 2.2."""
    xs, ys = gibbs_chain(W, b, c, X, k, visible)
    dW, db, dc = np.zeros_like(W), np.zeros_like(b), np.zeros_like(c)
    for p in range(1, k + 1):
        hidden = (ys[p] - ys[p - 1]) * (ys[p] > 0)  # gamma(p) F_h'(S_h(p))
        if visible == "sigmoid":
            visible_slope = xs[p] * (1 - xs[p])
        else:
            visible_slope = (xs[p] > 0).astype(float)
        visible_error = (xs[p] - xs[p - 1]) * visible_slope  # e(p) F_v'(S_v(p))
        dW += xs[p].T @ hidden + visible_error.T @ ys[p - 1]
        db += hidden.sum(axis=0)
        dc += visible_error.sum(axis=0)
    rows = len(X)
    return dW / rows, db / rows, dc / rows


def cd_direction(W, b, c, X, k, visible):
    """Exercise 2.3."""
    xs, ys = gibbs_chain(W, b, c, X, k, visible)
    rows = len(X)
    dW = (xs[k].T @ ys[k] - xs[0].T @ ys[0]) / rows
    return dW, (ys[k] - ys[0]).mean(axis=0), (xs[k] - xs[0]).mean(axis=0)


def golovko_step_one_sample(W, b, c, x):
    """Exercise 2.4."""
    (_, x1), (y0, y1) = gibbs_chain(W, b, c, x[None, :], 1, "relu")
    A, B = 1 + np.sum(x1**2), 1 + np.sum(y0**2)
    gamma = np.sum(((y1 - y0) ** 2)[y1 > 0])  # a ReLU unit is active where its output is > 0
    epsilon = np.sum(((x1 - x) ** 2)[x1 > 0])
    return (A * gamma + B * epsilon) / (A**2 * gamma + B**2 * epsilon)


def golovko_step_batch(W, b, c, X):
    """Exercise 2.5."""
    (_, X1), (Y0, Y1) = gibbs_chain(W, b, c, X, 1, "relu")
    mask_h, mask_v = Y1 > 0, X1 > 0
    G = (Y1 - Y0) * mask_h  # masked hidden errors
    Ev = (X1 - X) * mask_v  # masked visible errors
    C_h = (X1 @ X1.T + 1) @ G
    C_v = (Y0 @ Y0.T + 1) @ Ev
    numerator = np.sum(G * C_h) + np.sum(Ev * C_v)
    denominator = np.sum(mask_h * C_h**2) + np.sum(mask_v * C_v**2)
    return len(X) * numerator / denominator


def coupled_step(W, b, c, X, dW, db, dc, visible):
    """Exercise 2.6."""
    hidden_sums0 = X @ W + b
    y0 = np.maximum(hidden_sums0, 0.0)
    y0_rate = (hidden_sums0 > 0) * (X @ dW + db)  # x(0) does not move
    visible_sums = y0 @ W.T + c
    visible_sums_rate = y0_rate @ W.T + y0 @ dW.T + dc
    if visible == "linear":
        x1, visible_slope = visible_sums, 1.0
    elif visible == "relu":
        x1, visible_slope = np.maximum(visible_sums, 0.0), visible_sums > 0
    else:
        x1 = 1.0 / (1.0 + np.exp(-visible_sums))
        visible_slope = x1 * (1 - x1)
    x1_rate = visible_slope * visible_sums_rate
    hidden_sums1 = x1 @ W + b
    y1 = np.maximum(hidden_sums1, 0.0)
    y1_rate = (hidden_sums1 > 0) * (x1_rate @ W + x1 @ dW + db)
    u_hidden, u_visible = y1_rate - y0_rate, x1_rate
    residual = np.concatenate([(y1 - y0).ravel(), (x1 - X).ravel()])
    rate = np.concatenate([u_hidden.ravel(), u_visible.ravel()])
    return u_hidden, u_visible, max(0.0, residual @ rate / (rate @ rate))
