"""The report's sections: the verdict rule, rate grids that bracket, the trivial RBM reference,
and each section run at the tiny size, reported from rows stored as JSON."""

import math
import re

import numpy as np
import pytest

from relustep.experiments import analytic, baselines, linesearch, rbm
from relustep.experiments._common import group_rows, mean_std, rate_grid, search_rates
from relustep.experiments._store import load_rows, save_rows
from relustep.experiments.verdict import judge
from relustep.models.rbm import RBMNetwork


# -- the verdict rule ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, reference, seeds, expected, wins",
    [
        ([1.0] * 6, [2.0] * 6, [0, 1, 2] * 2, "supported", 6),
        ([1.0] * 4, [2.0] * 4, [0, 1, 2, 0], "mixed", 4),  # all won, but p = 1/16 > 0.05
        ([1, 1, 1, 1, 1, 3], [2] * 6, [0, 1, 2] * 2, "mixed", 5),  # 83% won, p = 7/64 > 0.05
        ([3.0] * 6, [2.0] * 6, [0, 1, 2] * 2, "not supported", 0),
        ([1, 1, 1, 3, 3, 3], [2] * 6, [0, 1, 2] * 2, "mixed", 3),
        ([1.0] * 6, [2.0] * 6, [0, 1] * 3, "inconclusive", 6),  # two seeds only
        ([None] + [1] * 7, [2] * 8, [0, 1, 2] * 2 + [0, 1], "supported", 7),  # p = 9/256
        ([2.0] * 6, [2.0] * 6, [0, 1, 2] * 2, "not supported", 0),  # ties are not wins
    ],
)
def test_verdict_rule_on_constructed_outcomes(method, reference, seeds, expected, wins):
    outcome = judge(method, reference, seeds)
    assert outcome.wins == wins and outcome.compared == len(method)
    assert outcome.verdict == expected


def test_verdict_needs_significance_and_counts_ties():
    outcome = judge([1.0] * 5, [2.0] * 5, [0, 1, 2, 3, 4])
    assert outcome.verdict == "supported" and outcome.p_value == pytest.approx(1 / 32)
    tied = judge([1, 1, 1, 1, 1, 2, 2], [2] * 7, [0, 1, 2] * 2 + [0])
    assert tied.ties == 2 and tied.wins == 5 and tied.verdict == "mixed"  # 71% < 75%
    assert "2 tied" in tied.counts() and "3 seeds" in tied.counts()


def test_higher_is_better_and_missing_runs():
    accuracies = judge([0.9] * 5, [0.8] * 5, range(5), higher_is_better=True)
    assert accuracies.verdict == "supported"
    assert judge([0.9] * 5, [0.8] * 5, range(5)).verdict == "not supported"
    assert judge([float("nan")] * 5, [1.0] * 5, range(5)).wins == 0
    assert judge([1.0] * 5, [None] * 5, range(5)).wins == 5  # a diverged reference loses
    assert math.isnan(judge([], [], []).p_value) and judge([], [], []).verdict == "inconclusive"


def test_verdict_rejects_unpaired_outcomes():
    with pytest.raises(ValueError, match="seeds"):
        judge([1.0, 2.0], [1.0], [0, 1])


# -- rate grids ----------------------------------------------------------------------------------
def test_grid_is_extended_while_the_best_rate_is_at_an_edge():
    tried = []

    def score(rate):  # the best rate is 1.0, above the starting grid
        tried.append(rate)
        return abs(math.log10(rate)), f"run at {rate}"

    search = search_rates(score, [0.001, 0.01, 0.1], max_extensions=4)
    assert tried == [0.001, 0.01, 0.1, 1.0, 10.0]
    assert search.best == 1.0 and search.bracketed and search.rates == tried
    assert search.results[1.0] == "run at 1.0"
    downwards = search_rates(lambda rate: (rate, None), [0.1, 1.0], max_extensions=2)
    assert downwards.rates == [0.001, 0.01, 0.1, 1.0] and not downwards.bracketed


def test_grid_is_not_extended_when_the_best_rate_is_inside_and_diverged_runs_lose():
    calls = []

    def score(rate):
        calls.append(rate)
        return (None if rate > 0.05 else -rate), None  # the largest rate diverges

    search = search_rates(score, rate_grid(0.01, 3), max_extensions=3)
    assert search.rates == [0.00316, 0.01, 0.0316, 0.1][: len(calls)]
    assert search.best == 0.0316 and search.bracketed
    with pytest.raises(ValueError, match="grid"):
        search_rates(score, [0.0, 1.0])


# -- the trivial RBM reference -------------------------------------------------------------------
@pytest.mark.parametrize("visible", ["sigmoid", "linear"])
def test_trivial_reference_is_a_dead_rbm_reconstructing_the_mean(visible):
    X = np.random.default_rng(0).random((40, 6))
    theta = rbm.trivial_reference(X, visible, n_hidden=5, k=2)
    network = RBMNetwork(6, 5, visible=visible, k=2)
    assert rbm.dead_fraction(network.transform(theta, X)) == 1.0
    np.testing.assert_allclose(network.reconstruct(theta, X), np.tile(X.mean(0), (40, 1)), 1e-5)
    variance = np.mean(np.sum((X - X.mean(0)) ** 2, axis=1))
    assert network.cse(theta, X) == pytest.approx(variance / 2, rel=1e-4)  # E: half of it


def test_dead_and_trivial_runs_are_flagged():
    def run(seed, train_cse, dead):
        return {"seed": seed, "train_cse": train_cse, "dead": dead, "diverged": False}

    trivial = {0: 10.0, 1: 10.0, 2: 10.0}
    group = [run(0, 5.0, 0.0), run(1, 11.0, 0.2), run(2, 9.0, 0.9)]
    assert rbm.SECTION.flags(group, trivial) == "dead 1/3, trivial 1/3"
    assert rbm.SECTION.flags([run(0, 5.0, 0.5)], trivial) == ""  # half dead is not "mostly"


def rbm_run(method, seed, losses, *, visible="sigmoid", regime="online"):
    return {
        "visible": visible,
        "regime": regime,
        "method": method,
        "seed": seed,
        "train_cse": float(losses[-1]),
        "dead": 0.0,
        "diverged": False,
        "history": {"loss": list(losses)},
    }


def test_tenths_are_means_of_each_tenth_of_the_steps():
    row = rbm_run("constant", 0, np.arange(25.0))  # 2 steps per tenth, the last 5 left out
    np.testing.assert_array_equal(rbm.tenths(row), np.arange(10) * 2 + 0.5)
    assert rbm.tenths(rbm_run("constant", 0, np.ones(9))) is None
    assert rbm.tenths({**row, "diverged": True}) is None


def test_a_curve_counts_as_flattened_only_when_its_last_tenth_brings_little_of_its_fall():
    steps = np.arange(1000)
    settled = [rbm_run("constant", seed, 1 + 9 * np.exp(-steps / 50)) for seed in range(3)]
    text = rbm.SECTION.flattening(settled)
    assert "so in 3 of 3 configurations" in text
    falling = [rbm_run("constant", seed, 10 - 0.009 * steps) for seed in range(3)]
    text = rbm.SECTION.flattening(falling)  # a straight line: a ninth of its fall in each tenth
    assert "so in 0 of 3 configurations" in text and "11.1 ± 0% of its fall" in text


def test_claims_are_judged_again_at_half_the_steps():
    steps = np.arange(200.0)
    rows = []
    for seed in range(3):  # golovko is lower at half the steps, higher at the end
        rows.append(rbm_run("constant", seed, 10 - 0.04 * steps))
        rows.append(rbm_run("golovko", seed, np.where(steps < 100, 5.0, 9.0)))
    text = rbm.SECTION.judged_at_half(rows)
    assert "at half the steps **mixed**: won 3 of 3" in text  # 3 comparisons cannot be significant
    assert "at the end **not supported**: won 0 of 3" in text


def test_safeguard_is_compared_with_plain_alternation_ridge_by_ridge():
    def solver_run(method, seed, per_ridge):
        return {"dataset": "d", "seed": seed, "method": method, "train_mse_per_setting": per_ridge}

    rows = [
        solver_run("alternation", 0, [1.0, 2.0, 3.0]),
        solver_run("alternation+safeguard", 0, [0.5, 2.0, 3.3]),
        solver_run("alternation", 1, [1.0, None]),
        solver_run("alternation+safeguard", 1, [1.0 + 1e-12, 4.0]),
        solver_run("sgd", 1, None),
    ]
    text = analytic.SECTION.safeguard_beside_plain(rows)
    assert "4 pairs of fits" in text  # a diverged fit (None) is not a pair
    assert "lower training MSE in 1, level in 2" in text
    assert "higher in 1, by a factor of at most 1.100." in text


def test_table_cells_leave_out_missing_runs_and_say_so():
    assert mean_std([1.0, 2.0, None]) == "1.5 ± 0.5 (2 of 3)"
    assert mean_std([1.0, float("nan")]) == "1 (1 of 2)"
    assert mean_std([2.0, 2.0]) == "2 ± 0" and mean_std([None]) == "—" and mean_std([]) == "—"


def test_linesearch_table_shows_the_oracle_on_every_step():
    row = {
        "part": "mlp",
        "dataset": "mnist",
        "rule": "qlab",
        "diverged": False,
        "train_loss": 0.1,
        "test_score": 0.9,
        "seconds": 1.0,
        "passes": 10,
        "forward_per_step": 2.0,
        "median_step": 0.1,
        "captured": [{"rule": 0.5}],
        "optimality": [0.2, 0.9, 1.0],
    }
    table = linesearch.SECTION.table([row, {**row, "seed": 1, "optimality": [0.95]}])
    assert "| 0.500 (2 steps) | 0.925 (4 steps) |" in table


# -- each section at the tiny size, reported from stored rows ------------------------------------
def stored_and_reported(module, rows, tmp_path):
    save_rows(tmp_path / "rows.json", rows, {"section": module.SECTION.name})
    restored = load_rows(tmp_path / "rows.json", {"section": module.SECTION.name})
    section = module.report_section(restored, tmp_path)
    assert section == module.report_section(rows, tmp_path)
    for link in re.findall(r"\]\((figures/[^)]+\.png)\)", section):
        assert (tmp_path / link).stat().st_size > 0
    for claim, verdict, evidence in module.verdicts(restored):
        assert f"**{claim}: {verdict}.**" in section and evidence.split(";")[0] in section
    return section


def test_rbm_section_has_the_trivial_row_and_every_method(tmp_path):
    rows = rbm.run("tiny", seeds=(0, 1, 2), progress=False)
    tasks = rbm.SECTION.tasks("tiny")
    assert len(rows) == 3 * len(tasks)
    assert {row["method"] for row in rows} == {rbm.TRIVIAL, *rbm.SIZES["tiny"]["methods"]}
    assert not any(row["method"] == "constant PCD" and row["regime"] == "online" for row in rows)
    section = stored_and_reported(rbm, rows, tmp_path)
    assert section.count(f"*{rbm.TRIVIAL}*") == 4  # one per visible transfer and regime
    verdicts = dict((claim, verdict) for claim, verdict, _ in rbm.verdicts(rows))
    assert len(verdicts) == 2 and set(verdicts.values()) <= {"supported", "not supported", "mixed"}
    again = rbm.run("tiny", seeds=(0,), progress=False)  # the same seed, the same numbers
    assert [row["train_cse"] for row in again] == [r["train_cse"] for r in rows if r["seed"] == 0]


def test_analytic_section_keeps_parameters_below_rows(tmp_path):
    rows = analytic.run("tiny", seeds=(0,), progress=False)
    assert {row["method"] for row in rows} == set(analytic.METHODS)
    assert all(row["n_parameters"] <= row["n_train"] / 2 for row in rows)
    solvers = [row for row in rows if row["method"] in analytic.SOLVERS]
    assert all(row["setting"] in analytic.SIZES["tiny"]["ridges"] for row in solvers)
    for pair in group_rows(solvers, ("dataset", "seed")).values():  # plain alternation's ridge
        plain, guarded = sorted(pair, key=lambda row: analytic.SOLVERS.index(row["method"]))
        assert guarded["setting"] == plain["setting"]
        index = plain["settings"].index(plain["setting"])
        assert guarded["train_mse"] == guarded["train_mse_per_setting"][index]
    section = stored_and_reported(analytic, rows, tmp_path)
    assert "| penguins | 11 (56 / 120) | alternation |" in section
    assert [verdict for _, verdict, _ in analytic.verdicts(rows)] == ["inconclusive"] * 6
    assert analytic.width(1000, 8) == 49 and analytic.width(10**6, 8) == analytic.MAX_WIDTH


def test_linesearch_section_runs_every_part(tmp_path):
    rows = linesearch.run("tiny", seeds=(0,), progress=False)
    parts = {(row["part"], row["rule"]) for row in rows}
    assert {("mlp", "qlab"), ("two-layer", "exact"), ("autoencoder", "lqa"), ("rbm", "qlab")} <= (
        parts
    )
    assert ("sweep", "qlab initial_step=0.0001") in parts and ("sweep", "sgd 1") in parts
    by_rule = {row["rule"]: row for row in rows if row["part"] == "two-layer"}
    assert by_rule["qlab"]["forward_per_step"] == 2 and by_rule["lqa"]["forward_per_step"] == 3
    captured = by_rule["lqa"]["captured"]
    assert len(captured) == linesearch.SIZES["tiny"]["captured_steps"]
    assert set(captured[0]) == {"rule", "sgd 0.1"}
    section = stored_and_reported(linesearch, rows, tmp_path)
    assert "No rate to tune?" in section and "linesearch-lineviews.png" in section
    assert len(linesearch.verdicts(rows)) == 7


def test_measure_at_equal_passes_truncates_the_costlier_run():
    row = {"part": "two-layer", "train_losses": [3.0, 2.0, 1.0], "epoch_passes": [10, 20, 30]}
    assert linesearch.measure_at_passes(row, 25) == 2.0
    assert linesearch.measure_at_passes(row, 5) is None


def test_baselines_are_an_appendix_without_claims():
    assert baselines.SECTION.appendix and baselines.verdicts([]) == []
