"""Synthetic datasets whose right answer is known.

A teacher network is a random two-layer network that labels Gaussian inputs: a student network of
the same shape can reach zero loss, and its weights can be compared with the teacher's. Bars and
stripes are the binary patterns of a small grid, the classic test set for tiny RBMs, whose
distribution is known exactly.
"""

from __future__ import annotations

import numpy as np

from relustep._validation import check_float, check_int, check_random_state
from relustep.datasets._dataset import Dataset

MAX_BARS_AND_STRIPES_SIZE = 12


def teacher_network(
    n_samples: int,
    n_features: int,
    n_hidden: int,
    n_outputs: int = 1,
    noise: float = 0.0,
    slope: float = 0.0,
    n_test: int = 1000,
    random_state: int | np.random.Generator | None = None,
) -> Dataset:
    """Label Gaussian inputs with a random two-layer (leaky) ReLU network.

    Parameters
    ----------
    n_samples : int
        Number of training rows, at least 1.
    n_features : int
        Input dimension, at least 1.
    n_hidden : int
        Number of hidden units of the teacher, at least 1.
    n_outputs : int, default 1
        Number of outputs, at least 1. With one output ``y`` is 1-D.
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to every target, at least 0.
    slope : float, default 0.0
        Slope of the activation for negative inputs, in [0, 1): 0 is the ReLU.
    n_test : int, default 1000
        Number of test rows, at least 0, drawn from the same teacher.
    random_state : None, int or numpy.random.Generator
        Seed or generator for the weights, the inputs and the noise.

    Returns
    -------
    Dataset
        A regression dataset named ``"teacher-network"``: ``X_train`` (n_samples, n_features),
        ``y_train`` (n_samples,) or (n_samples, n_outputs), the same for the test split, and
        ``teacher``, a dict of the true weights ``W`` (n_hidden, n_features), ``b`` (n_hidden,),
        ``V`` (n_outputs, n_hidden) and ``c`` (n_outputs,).

    Notes
    -----
    Inputs are standard normal, :math:`x \\sim \\mathcal N(0, I)`, and the targets are

    .. math::

        y = V\\,\\sigma(W x + b) + c + \\varepsilon, \\qquad
        \\sigma(z) = \\max(z, a z), \\qquad \\varepsilon \\sim \\mathcal N(0, \\text{noise}^2 I),

    with slope :math:`a`. The scale is chosen so that the target has variance about one and every
    hidden unit is active on some inputs but not all:

    - each row :math:`w_j` of :math:`W` is a random unit vector, so :math:`w_j^\\top x \\sim
      \\mathcal N(0, 1)`, and :math:`b_j \\sim \\mathcal N(0, 1/4)`: unit :math:`j` is active on a
      fraction :math:`\\Phi(b_j)` of the inputs, mostly between 0.16 and 0.84;
    - :math:`V_{kj} \\sim \\mathcal N(0, 1 / (n_\\text{hidden}\\, v))` with
      :math:`v = \\operatorname{Var}\\sigma(z) = \\tfrac{1 + a^2}{2} - \\tfrac{(1 - a)^2}{2\\pi}`
      for :math:`z \\sim \\mathcal N(0, 1)`, so that, averaged over :math:`V`,
      :math:`\\operatorname{Var}_x (V \\sigma)_k = \\operatorname{tr} C / (n_\\text{hidden} v)
      \\approx 1`, where :math:`C` is the covariance of the hidden activations;
    - :math:`c_k \\sim \\mathcal N(0, 1)`.

    With ``noise=0`` the stored weights reproduce the targets exactly, and the same seed gives the
    same dataset bit for bit.

    Examples
    --------
    >>> import numpy as np
    >>> from relustep.datasets import teacher_network
    >>> data = teacher_network(200, n_features=5, n_hidden=3, random_state=0)
    >>> W, b, V, c = (data.teacher[key] for key in "WbVc")
    >>> Z = data.X_train @ W.T + b
    >>> bool(np.array_equal((np.maximum(Z, 0.0 * Z) @ V.T + c)[:, 0], data.y_train))
    True
    """
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_features = check_int(n_features, "n_features", low=1)
    n_hidden = check_int(n_hidden, "n_hidden", low=1)
    n_outputs = check_int(n_outputs, "n_outputs", low=1)
    noise = check_float(noise, "noise", low=0.0)
    slope = check_float(slope, "slope", low=0.0, high=1.0, high_inclusive=False)
    n_test = check_int(n_test, "n_test", low=0)
    rng = check_random_state(random_state)

    directions = rng.standard_normal((n_hidden, n_features))
    W = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    b = 0.5 * rng.standard_normal(n_hidden)
    activation_variance = (1.0 + slope**2) / 2.0 - (1.0 - slope) ** 2 / (2.0 * np.pi)
    V = rng.standard_normal((n_outputs, n_hidden)) / np.sqrt(n_hidden * activation_variance)
    c = rng.standard_normal(n_outputs)
    X_train = rng.standard_normal((n_samples, n_features))
    X_test = rng.standard_normal((n_test, n_features))
    y_train = _teacher_output(X_train, W, b, V, c, slope)
    y_test = _teacher_output(X_test, W, b, V, c, slope)
    if noise > 0.0:
        y_train = y_train + noise * rng.standard_normal(y_train.shape)
        y_test = y_test + noise * rng.standard_normal(y_test.shape)
    if n_outputs == 1:
        y_train, y_test = y_train[:, 0], y_test[:, 0]
    return Dataset(
        name="teacher-network",
        task="regression",
        X_train=X_train,
        y_train=np.ascontiguousarray(y_train),
        X_test=X_test,
        y_test=np.ascontiguousarray(y_test),
        description=(
            f"Teacher network y = V max(Wx + b, {slope} (Wx + b)) + c + noise, x ~ N(0, I), "
            f"{n_features} inputs, {n_hidden} hidden units, {n_outputs} output(s), "
            f"noise standard deviation {noise}."
        ),
        licence="none needed: synthetic data generated by relustep",
        citation="",
        source="relustep.datasets.teacher_network",
        feature_names=tuple(f"x{j}" for j in range(n_features)),
        target_name="y",
        teacher={"W": W, "b": b, "V": V, "c": c},
    )


def _teacher_output(X, W, b, V, c, slope: float) -> np.ndarray:
    """Return :math:`\\sigma(X W^\\top + b) V^\\top + c` for a batch of rows ``X``."""
    Z = X @ W.T + b
    return np.maximum(Z, slope * Z) @ V.T + c


def bars_and_stripes(
    size: int = 4,
    *,
    n_samples: int | None = None,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Return the bars-and-stripes patterns of a ``size`` x ``size`` grid.

    A stripes pattern switches whole rows of the grid on or off, a bars pattern whole columns.

    Parameters
    ----------
    size : int, default 4
        Side of the grid, from 1 to 12.
    n_samples : int, optional
        If None, return every distinct pattern once. Otherwise draw this many patterns
        uniformly from the distinct ones, with replacement.
    random_state : None, int or numpy.random.Generator
        Seed or generator for the draw; unused when ``n_samples`` is None.

    Returns
    -------
    ndarray of shape (n_patterns, size * size), float64
        Rows of zeros and ones, each a grid flattened row by row. Without ``n_samples`` the
        :math:`2^\\text{size}` stripes patterns come first, in binary counting order of their
        rows (row ``r`` is on when bit ``r`` of the count is set), then the bars patterns in the
        same order of their columns, leaving out all-off and all-on, which are already stripes.

    Notes
    -----
    There are :math:`2^\\text{size}` stripes patterns and :math:`2^\\text{size}` bars patterns;
    the all-off and the all-on grids are both, so there are :math:`2 \\cdot 2^\\text{size} - 2`
    distinct patterns (30 for the usual 4 x 4 grid). The grid is capped at 12 so that the
    enumeration (8190 rows of 144 values) stays small.

    Examples
    --------
    >>> from relustep.datasets import bars_and_stripes
    >>> patterns = bars_and_stripes(4)
    >>> patterns.shape
    (30, 16)
    >>> bars_and_stripes(3, n_samples=5, random_state=0).shape
    (5, 9)
    """
    size = check_int(size, "size", low=1, high=MAX_BARS_AND_STRIPES_SIZE)
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", low=1)
    rng = check_random_state(random_state)

    counts = np.arange(2**size)
    lines_on = ((counts[:, None] >> np.arange(size)) & 1).astype(np.float64)
    stripes = np.repeat(lines_on, size, axis=1)  # cell (r, c) is bit r
    bars = np.tile(lines_on[1:-1], size)  # cell (r, c) is bit c; all-off and all-on dropped
    patterns = np.concatenate([stripes, bars])
    if n_samples is None:
        return patterns
    return patterns[rng.integers(0, len(patterns), size=n_samples)]
