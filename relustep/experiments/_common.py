"""Small pieces every experiment's table and report use."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from relustep.train import DivergenceError


def finite(value) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite."""
    return float(value) if value is not None and math.isfinite(value) else None


def last(values: list) -> float | None:
    """The last value of a list, as :func:`finite` gives it (``None`` for an empty list)."""
    return finite(values[-1]) if len(values) else None


def mean_std(values: list, form: str = ".4g") -> str:
    """A table cell: the value alone for one seed, ``mean ± std`` for several; a dash when no
    value was measured; a spread below rounding noise shows as 0. Missing values (``None``,
    NaN: a diverged run) are left out, and the cell says of how many seeds it is, as
    ``1.5 ± 0.5 (2 of 3)``."""
    values = np.array([math.nan if value is None else value for value in values], dtype=float)
    measured = values[~np.isnan(values)]
    if measured.size == 0:
        return "—"
    missing = f" ({measured.size} of {values.size})" if measured.size < values.size else ""
    if measured.size == 1:
        return f"{measured[0]:{form}}{missing}"
    mean, std = measured.mean(), measured.std()
    if std <= 1e-12 * abs(mean):
        std = 0.0
    return f"{mean:{form}} ± {std:.2g}{missing}"


def rows_drawn(limit: int | None) -> str:
    """How many training rows a protocol draws, in words."""
    return "all training rows" if limit is None else f"at most {limit} training rows drawn"


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


@dataclass
class RateSearch:
    """The outcome of :func:`search_rates`.

    Attributes
    ----------
    rates : list of float
        Every rate tried, ascending.
    scores : list of float or None
        Their scores (lower is better; None: diverged).
    best : float
        The rate with the lowest score (ties go to the smaller rate).
    bracketed : bool
        Whether ``best`` is strictly inside ``rates`` (a rate either side of it was tried).
    results : dict
        What the scoring function returned beside each score, by rate.
    """

    rates: list[float]
    scores: list[float | None]
    best: float
    bracketed: bool
    results: dict = field(default_factory=dict)


def search_rates(
    score: Callable[[float], tuple[float | None, object]],
    grid: Sequence[float],
    *,
    max_extensions: int = 4,
) -> RateSearch:
    """Try every rate of ``grid``; while the best one is at an edge of the rates tried, try one
    more beyond that edge (the grid's own ratio further), at most ``max_extensions`` times.

    Parameters
    ----------
    score : callable
        ``score(rate) -> (score, result)``: lower scores are better, ``None`` or NaN means the
        run diverged (it scores infinity); ``result`` is kept in :attr:`RateSearch.results`.
    grid : sequence of float
        The starting rates, evenly spaced on a log scale (one rate: no extension).
    max_extensions : int
        How many rates may be added.

    Returns
    -------
    RateSearch
    """
    rates = sorted(float(rate) for rate in grid)
    if not rates or min(rates) <= 0:
        raise ValueError(f"grid must hold positive rates, got {list(grid)!r}")
    ratio = rates[1] / rates[0] if len(rates) > 1 else 1.0
    results, scores = {}, {}
    for rate in rates:
        scores[rate], results[rate] = score(rate)

    def key(rate: float) -> tuple[float, float]:
        value = scores[rate]
        return (math.inf if value is None or math.isnan(value) else value, rate)

    for _ in range(max_extensions if ratio > 1.0 else 0):
        best = min(rates, key=key)
        if rates[0] < best < rates[-1]:
            break
        new = float(f"{(best * ratio if best == rates[-1] else best / ratio):.3g}")
        scores[new], results[new] = score(new)
        rates = sorted([*rates, new])
    best = min(rates, key=key)
    return RateSearch(
        rates, [scores[rate] for rate in rates], best, rates[0] < best < rates[-1], results
    )


def rate_grid(center: float, points: int = 3, ratio: float = math.sqrt(10.0)) -> list[float]:
    """``points`` rates around ``center``, each ``ratio`` times the last (rounded to 3 digits)."""
    offset = (points - 1) / 2
    return [float(f"{center * ratio ** (index - offset):.3g}") for index in range(points)]


def describe_grid(search_rates_tried: Sequence[float]) -> str:
    """A short form of a grid for a table: ``0.001 … 0.1 (5)``."""
    rates = sorted(search_rates_tried)
    if len(rates) <= 2:
        return ", ".join(f"{rate:g}" for rate in rates)
    return f"{rates[0]:g} … {rates[-1]:g} ({len(rates)})"


def group_rows(rows: list[dict], keys: Sequence[str]) -> dict[tuple, list[dict]]:
    """The rows grouped by the values of ``keys``, groups in the order first seen."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in keys), []).append(row)
    return groups
