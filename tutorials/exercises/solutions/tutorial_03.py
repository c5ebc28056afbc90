"""Solutions of the exercises of tutorial 3 (for the teacher). Each body replaces the blank's
``raise NotImplementedError`` in ``03_analytic_two_layer.ipynb``."""

import numpy as np


def output_step(H, Y, l2=0.0):
    """Exercise 3.1."""
    n = len(H)
    h_mean, y_mean = H.mean(axis=0), Y.mean(axis=0)
    Hc, Yc = H - h_mean, Y - y_mean
    W2 = np.linalg.lstsq(Hc.T @ Hc + n * l2 * np.eye(H.shape[1]), Hc.T @ Yc, rcond=None)[0]
    return W2, y_mean - W2.T @ h_mean


def hidden_rhs(X, y, W1, b1, W2, b2, negative_slope=0.0):
    """Exercise 3.2."""
    augmented = np.hstack([X, np.ones((len(X), 1))])
    Z = X @ W1 + b1
    S = np.where(Z > 0, 1.0, negative_slope)
    f = (S * Z) @ W2 + b2
    weighted_error = (y - f) @ W2.T  # (n, h)
    return ((S * weighted_error).T @ augmented).ravel()  # unit by unit: weights, then bias


def hidden_matrix(X, W1, b1, W2, negative_slope=0.0):
    """Exercise 3.3."""
    augmented = np.hstack([X, np.ones((len(X), 1))])
    S = np.where(X @ W1 + b1 > 0, 1.0, negative_slope)
    coupling = W2 @ W2.T
    h, p = W1.shape[1], augmented.shape[1]
    G = np.empty((h * p, h * p))
    for j in range(h):
        for other in range(h):
            weights = S[:, j] * S[:, other]
            block = coupling[j, other] * (augmented.T * weights) @ augmented
            G[j * p : (j + 1) * p, other * p : (other + 1) * p] = block
    return G


def hidden_step(X, y, W1, b1, W2, b2, negative_slope=0.0, damping=0.0):
    """Exercise 3.4."""
    p = X.shape[1] + 1
    active_somewhere = np.any(X @ W1 + b1 > 0, axis=0) | (negative_slope > 0)
    units = np.flatnonzero(active_somewhere & np.any(W2 != 0, axis=1))
    rows = (units[:, None] * p + np.arange(p)).ravel()
    G = hidden_matrix(X, W1, b1, W2, negative_slope)[np.ix_(rows, rows)]
    r = hidden_rhs(X, y, W1, b1, W2, b2, negative_slope)[rows]
    G += damping * np.mean(np.diag(G)) * np.eye(len(G))
    increment = np.linalg.solve(G, r).reshape(len(units), p)
    W1, b1 = W1.copy(), b1.copy()
    W1[:, units] += increment[:, :-1].T
    b1[units] += increment[:, -1]
    return W1, b1
