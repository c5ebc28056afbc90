"""The baseline protocol: relustep's own networks, trained with the textbook step rules.

Every later experiment is compared with this table: constant steps (plain SGD), the heavy ball,
Nesterov's momentum and Adam, each at a learning rate chosen on validation data, on every shipped
dataset. :func:`run_baselines` runs it, :func:`format_table` summarises it, and ``SECTION`` makes
it the appendix of ``relustep reproduce``'s report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from relustep import datasets, steps
from relustep._validation import check_choice, check_int
from relustep.estimators.mlp import MLPClassifier, ReLURegressor
from relustep.experiments._common import (
    finite,
    fit_or_diverge,
    last,
    mean_std,
    rows_drawn,
    unique,
)
from relustep.experiments.section import Section
from relustep.progress import ProgressBar

RULES = {
    "constant": {"name": "constant"},
    "momentum": {"name": "momentum", "momentum": 0.9},
    "nesterov": {"name": "nesterov", "momentum": 0.9},
    "adam": {"name": "adam"},
}
SIZES = {  # how much work; "tiny" is a smoke test for the test suite, its numbers mean nothing
    "tiny": {
        "max_train_rows": 300,
        "epochs": 2,
        "hidden_layer_sizes": [8],
        "batch_size": 64,
        "seconds_per_seed": 10,
    },
    "quick": {
        "max_train_rows": 2000,
        "epochs": 20,
        "hidden_layer_sizes": [64],
        "batch_size": 32,
        "seconds_per_seed": 33,
    },
    "full": {
        "max_train_rows": None,
        "epochs": 50,
        "hidden_layer_sizes": [128, 64],
        "batch_size": 32,
        "seconds_per_seed": 1500,
    },
}
VALIDATION_FRACTION = 0.2
METRICS = {"classification": "accuracy", "regression": "R²"}
TITLE = "Baselines: constant step, momentum, Nesterov, Adam"
CLAIM = (
    "No claim: the reference every analytic step is measured against, with learning rates "
    "chosen on validation data."
)


def learning_rates(rule: str) -> list[float]:
    """The grid searched for ``rule``: its default learning rate and one decade either side."""
    default = steps.get(RULES[rule]).lr
    return [float(f"{default * factor:.3g}") for factor in (10.0, 1.0, 0.1)]


def protocol(size: str, rule: str) -> dict:
    """Everything that determines a run besides the dataset and the seed (stored with results)."""
    return {
        "size": size,
        **SIZES[size],
        "step": RULES[rule],
        "learning_rates": learning_rates(rule),
        "validation_fraction": VALIDATION_FRACTION,
    }


def run_baselines(
    dataset_names: Sequence[str] | None = None,
    rules: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    size: str = "quick",
    progress: bool = True,
) -> list[dict]:
    """Train a baseline network per dataset, step rule and seed; return one row per run.

    Parameters
    ----------
    dataset_names : sequence of str, optional
        Names from :func:`relustep.datasets.names`; all of them by default.
    rules : sequence of str, optional
        Keys of ``RULES``: ``"constant"``, ``"momentum"`` (heavy ball), ``"nesterov"``, ``"adam"``;
        all by default.
    seeds : sequence of int
        One run per seed; the seed fixes the subsample, the validation split, the initial weights
        and the order of the mini-batches.
    size : {"tiny", "quick", "full"}
        How much work, see ``SIZES``: ``"quick"`` subsamples the larger training sets and runs
        few epochs of a one-hidden-layer network; ``"full"`` uses every training row, more epochs
        and two hidden layers; ``"tiny"`` is a smoke test for the test suite.
    progress : bool
        Show a progress bar over the runs.

    Returns
    -------
    list of dict
        Per run: ``dataset, task, rule, seed, size, lr`` (the one chosen), ``learning_rates`` and
        ``validation_losses`` (the grid and its scores, ``None`` where training diverged),
        ``train_loss`` (final, on the training rows used), ``test_loss``, ``metric``,
        ``test_score`` (accuracy or :math:`R^2`), ``seconds`` (training time of the final run,
        measurements excluded), ``epochs``, ``passes`` (forward plus backward passes),
        ``diverged``, and ``history`` (the final run's :class:`~relustep.history.History`).
        Non-finite numbers are ``None``.

    Notes
    -----
    The protocol, per dataset, rule and seed:

    1. At most ``max_train_rows`` training rows are drawn at random (all rows for ``"full"``);
       the test set is always used whole. Regression targets and features are standardised by
       :func:`relustep.datasets.load`; images are in [0, 1].
    2. The network is :class:`~relustep.ReLURegressor` (square loss) for regression and
       :class:`~relustep.MLPClassifier` (softmax cross-entropy) for classification, with
       ``hidden_layer_sizes``, ``epochs`` and ``batch_size`` from ``SIZES`` and no ridge term.
    3. The learning rate is chosen from :func:`learning_rates` (the rule's default, times 10 and
       divided by 10; momentum 0.9 for both momentum rules): for each candidate the network is
       trained on 80% of the drawn rows and scored by its loss on the other 20% after the last
       epoch. A run that diverges scores infinity; the lowest score wins, ties go to the smaller
       rate. The test set plays no part in this choice.
    4. The network is trained again from the same seed on all drawn rows with the chosen rate.
       Its loss on the test set is measured after every epoch (recorded as ``val_loss`` in its
       History, for the curves; training never sees it).
    """
    dataset_names = list(datasets.names() if dataset_names is None else dataset_names)
    rules = list(RULES if rules is None else rules)
    for name in dataset_names:
        check_choice(name, "dataset_names", datasets.names())
    for rule in rules:
        check_choice(rule, "rules", RULES)
    seeds = [check_int(seed, "seeds", low=0) for seed in seeds]
    check_choice(size, "size", SIZES)
    rows = []
    n_runs = len(dataset_names) * len(rules) * len(seeds)
    with ProgressBar(n_runs, "baselines", enabled=progress) as bar:
        for name in dataset_names:
            data = datasets.load(name)
            for rule in rules:
                for seed in seeds:
                    rows.append(run_one(data, rule, seed, size))
                    bar.update(1, f"{name} {rule} seed {seed}")
    return rows


def run_one(data, rule: str, seed: int, size: str = "quick") -> dict:
    """One row of :func:`run_baselines`: choose the learning rate, train, score on the test set."""
    settings = SIZES[size]
    rng = np.random.default_rng(seed)
    n_rows = len(data.X_train)
    if settings["max_train_rows"] is not None and n_rows > settings["max_train_rows"]:
        drawn = rng.choice(n_rows, settings["max_train_rows"], replace=False)
    else:
        drawn = rng.permutation(n_rows)
    X, y = data.X_train[drawn], data.y_train[drawn]
    n_validation = int(round(VALIDATION_FRACTION * len(X)))
    fit, validation = slice(n_validation, None), slice(0, n_validation)

    grid = learning_rates(rule)
    validation_losses = []
    for lr in grid:
        model = _network(data.task, rule, lr, seed, settings)
        diverged = fit_or_diverge(model, X[fit], y[fit], (X[validation], y[validation]))
        validation_losses.append(None if diverged else last(model.history_["epochs"]["val_loss"]))
    scores = [math.inf if loss is None else loss for loss in validation_losses]
    chosen = min(range(len(grid)), key=lambda i: (scores[i], grid[i]))

    model = _network(data.task, rule, grid[chosen], seed, settings)
    diverged = fit_or_diverge(model, X, y, (data.X_test, data.y_test))
    history = model.history_
    return {
        "dataset": data.name,
        "task": data.task,
        "rule": rule,
        "seed": seed,
        "size": size,
        "lr": grid[chosen],
        "learning_rates": grid,
        "validation_losses": validation_losses,
        "train_loss": last(history["epochs"]["train_loss"]),
        "test_loss": last(history["epochs"]["val_loss"]),
        "metric": METRICS[data.task],
        "test_score": finite(model.score(data.X_test, data.y_test)),
        "seconds": last(history["epochs"]["seconds"]),
        "epochs": len(history["epochs"]["train_loss"]),
        "passes": int(history.total("n_forward") + history.total("n_backward")),
        "diverged": diverged,
        "history": history,
    }


def format_table(rows: list[dict]) -> str:
    """A Markdown table with one line per dataset and rule, seeds aggregated as mean ± std.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`run_baselines`.

    Returns
    -------
    str
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["rule"]), []).append(row)
    lines = [
        "| dataset | rule | lr | train loss | test loss | metric | test score | seconds | epochs "
        "| passes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, rule), group in groups.items():
        diverged = sum(row["diverged"] for row in group)
        if diverged:
            rule += f" (diverged in {diverged} of {len(group)})"
        learning_rates = ", ".join(f"{lr:g}" for lr in sorted({row["lr"] for row in group}))
        cells = [dataset, rule, learning_rates]
        cells += [mean_std([row[key] for row in group]) for key in ("train_loss", "test_loss")]
        cells += [group[0]["metric"]]
        cells += [mean_std([row[key] for row in group]) for key in ("test_score", "seconds")]
        cells += [mean_std([row[key] for row in group], ".0f") for key in ("epochs", "passes")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class BaselinesSection(Section):
    """The baselines as the appendix of the report: the reference, with no claim of its own."""

    name = "baselines"
    title = TITLE
    label = "Baselines"
    claim = CLAIM
    appendix = True
    sizes = SIZES

    def tasks(self, size: str) -> list[dict]:
        return [{"dataset": name, "rule": rule} for name in datasets.names() for rule in RULES]

    def run_task(self, task: dict, seed: int, size: str) -> list[dict]:
        from relustep.experiments.section import load_dataset

        return [run_one(load_dataset(task["dataset"]), task["rule"], seed, size)]

    def describe(self, size: str) -> str:
        settings = SIZES[size]
        drawn = rows_drawn(settings["max_train_rows"])
        return (
            f"Size {size!r}: {drawn} per seed (whole test sets), {settings['epochs']} epochs, "
            f"hidden layers {tuple(settings['hidden_layer_sizes'])}, batches of "
            f"{settings['batch_size']}. Learning rate: per dataset, rule and seed, the best of "
            "the rule's default, ten times it and a tenth of it, judged by the loss on a held-out "
            f"{VALIDATION_FRACTION:.0%} of the training rows after the last epoch; then the "
            "network is trained again on all training rows and scored on the test set. Losses: "
            "half the mean squared error on standardised targets (regression), mean "
            "cross-entropy (classification). Test score: R² or accuracy. Passes: forward plus "
            "backward passes of the final run."
        )

    def body(self, rows: list[dict], out_dir: Path) -> list[str]:
        from relustep.plot import new_figure, plot_losses, save_figure

        names = unique(row["dataset"] for row in rows)
        first_seed = min(row["seed"] for row in rows)
        figure, axes = new_figure(4, n_rows=-(-len(names) // 4))
        axes = np.atleast_1d(axes).ravel()
        for ax, dataset in zip(axes, names, strict=False):
            histories = {
                row["rule"]: row["history"]
                for row in rows
                if row["dataset"] == dataset and row["seed"] == first_seed
            }
            plot_losses(histories, which="val_loss", ax=ax)
            ax.set_ylabel("test loss")
            ax.set_title(dataset, fontsize="medium")
            if ax is not axes[0]:
                ax.get_legend().remove()
        for ax in axes[len(names) :]:
            ax.set_axis_off()
        save_figure(figure, out_dir / "figures" / "baselines-curves.png")
        return [
            format_table(rows),
            "",
            f"Test loss after each epoch of the final runs (seed {first_seed}):",
            "",
            "![baseline test losses](figures/baselines-curves.png)",
            "",
        ]


SECTION = BaselinesSection()
run, report_section, verdicts = SECTION.run, SECTION.report_section, SECTION.verdicts


def _network(task: str, rule: str, lr: float, seed: int, settings: dict):
    estimator = ReLURegressor if task == "regression" else MLPClassifier
    return estimator(
        tuple(settings["hidden_layer_sizes"]),
        step={**RULES[rule], "lr": lr},
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        random_state=seed,
    )
