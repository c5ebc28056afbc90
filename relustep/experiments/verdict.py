"""The one rule by which every section of the report judges a claim.

A claim is put to the test as a list of *comparisons*: in each (a configuration and a seed), the
method's measure against the reference's (for example the better of a tuned constant step and
Adam). The method *wins* a comparison when its measure is strictly better. Then:

- **inconclusive** when fewer than ``MIN_SEEDS`` seeds back the comparisons;
- **supported** when the method wins at least ``SUPPORTED`` of the comparisons *and* the wins are
  significant by a one-sided sign test at level ``ALPHA`` (ties dropped);
- **not supported** when it wins at most ``NOT_SUPPORTED`` of them;
- **mixed** otherwise.

Why the sign test and not Wilcoxon's signed-rank test: the comparisons of one claim mix datasets
and configurations whose losses differ in scale by orders of magnitude, so ranking their
differences together (as Wilcoxon does) would let the largest-scale dataset decide; the sign test
uses only who won each comparison. With every comparison a win, it needs at least five
comparisons to reach :math:`p = 2^{-5} < 0.05`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05
MIN_SEEDS = 3
SUPPORTED = 0.75
NOT_SUPPORTED = 0.25
VERDICTS = ("supported", "not supported", "mixed", "inconclusive")
RULE = (
    "In each comparison (a configuration and a seed) the method wins when its measure is strictly "
    f"better than the reference's. A claim is **supported** when the method wins at least "
    f"{SUPPORTED:.0%} of the comparisons and the wins are significant by a one-sided sign test "
    f"(scipy's `binomtest`, ties dropped, α = {ALPHA}); **not supported** when it wins at most "
    f"{NOT_SUPPORTED:.0%}; **mixed** otherwise; **inconclusive** when fewer than {MIN_SEEDS} seeds "
    "back it. A diverged or missing run loses its comparison. The sign test is used rather than "
    "Wilcoxon's signed-rank test because one claim's comparisons mix datasets whose losses differ "
    "in scale."
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`judge`.

    Attributes
    ----------
    verdict : str
        One of ``VERDICTS``.
    wins, ties, compared : int
        Comparisons the method won, tied and in all.
    seeds : int
        Distinct seeds among the comparisons.
    p_value : float
        One-sided sign test of "the method wins more often than it loses" (NaN with no
        comparison that was not a tie).
    """

    verdict: str
    wins: int
    ties: int
    compared: int
    seeds: int
    p_value: float

    @property
    def fraction(self) -> float:
        """The fraction of comparisons won (NaN with none)."""
        return self.wins / self.compared if self.compared else math.nan

    def counts(self) -> str:
        """``"won 7 of 9 (78%), sign test p = 0.02, 3 seeds"``, for the evidence of a claim."""
        if not self.compared:
            return "no comparison"
        tied = f", {self.ties} tied" if self.ties else ""
        return (
            f"won {self.wins} of {self.compared} ({self.fraction:.0%}){tied}, sign test "
            f"p = {self.p_value:.2g}, {self.seeds} seed{'s' if self.seeds != 1 else ''}"
        )


def judge(
    method: Sequence[float | None],
    reference: Sequence[float | None],
    seeds: Sequence[int],
    *,
    higher_is_better: bool = False,
) -> Verdict:
    """Judge a claim from paired outcomes: ``method[i]`` against ``reference[i]`` in comparison
    ``i``, run with seed ``seeds[i]``.

    Parameters
    ----------
    method, reference : sequence of float or None
        The measure of each comparison (for example a final loss). ``None`` or NaN is a diverged
        or missing run: it loses to any number; two missing values tie.
    seeds : sequence of int
        The seed of each comparison.
    higher_is_better : bool
        Whether a larger measure wins (accuracy) rather than a smaller one (loss).

    Returns
    -------
    Verdict

    Examples
    --------
    >>> judge([1.0, 1.0, 1.0, 1.0, 1.0], [2.0] * 5, seeds=[0, 1, 2, 0, 1]).verdict
    'supported'
    >>> judge([1.0, 1.0], [2.0, 2.0], seeds=[0, 1]).verdict
    'inconclusive'
    """
    from scipy.stats import binomtest

    if not len(method) == len(reference) == len(seeds):
        raise ValueError(
            f"method, reference and seeds must have one entry per comparison, got lengths "
            f"{len(method)}, {len(reference)} and {len(seeds)}"
        )
    sign = 1.0 if higher_is_better else -1.0
    wins = losses = 0
    for mine, theirs in zip(method, reference, strict=True):
        mine, theirs = _score(mine, sign), _score(theirs, sign)
        wins += mine > theirs
        losses += mine < theirs
    compared = len(method)
    ties = compared - wins - losses
    decided = wins + losses
    p_value = binomtest(wins, decided, 0.5, alternative="greater").pvalue if decided else math.nan
    n_seeds = len(set(seeds))
    fraction = wins / compared if compared else math.nan
    if n_seeds < MIN_SEEDS or not compared:
        verdict = "inconclusive"
    elif fraction >= SUPPORTED and p_value < ALPHA:
        verdict = "supported"
    elif fraction <= NOT_SUPPORTED:
        verdict = "not supported"
    else:
        verdict = "mixed"
    return Verdict(verdict, wins, ties, compared, n_seeds, float(p_value))


def _score(value: float | None, sign: float) -> float:
    """``sign * value``, with a missing value below every number."""
    if value is None or math.isnan(value):
        return -math.inf
    return sign * value
