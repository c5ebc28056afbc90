"""Small pieces every experiment's table and report use."""

from __future__ import annotations

import math

import numpy as np

from relustep.train import DivergenceError


def finite(value) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite."""
    return float(value) if value is not None and math.isfinite(value) else None


def last(values: list) -> float | None:
    """The last value of a list, as :func:`finite` gives it (``None`` for an empty list)."""
    return finite(values[-1]) if len(values) else None


def mean_std(values: list, form: str = ".4g") -> str:
    """A table cell: the value alone for one seed, ``mean ± std`` for several (``None`` is NaN)."""
    values = np.array([math.nan if value is None else value for value in values], dtype=float)
    if len(values) == 1:
        return f"{values[0]:{form}}"
    return f"{values.mean():{form}} ± {values.std():.2g}"


def unique(values) -> list:
    """The distinct values, in the order first seen."""
    return list(dict.fromkeys(values))


def fit_or_diverge(model, X, y, validation_data=None) -> bool:
    """Fit ``model``; return whether training diverged (it then keeps its last finite
    parameters, and its history up to that point)."""
    try:
        model.fit(X, y, validation_data=validation_data)
    except DivergenceError:
        return True
    return False
