"""The QLABGrad and LQA protocol (METHODS section 3; relustep's protocol, the papers' own could
not be read): learning rates from a parabola along the gradient against SGD at a grid of rates
and Adam, with the exact line search as the yardstick.

Two parts. **MLP**: classifiers on the shipped MNIST and Fashion-MNIST subsets, the images padded
to 32 x 32 so that the network has the official codes' shape 1024-H-H-10 (H = 1000 for
``"full"``, smaller for a CPU-friendly ``"quick"``), batches of 64. **Two-layer**: regressors with
one hidden layer on shipped regression tables, where the exact line search applies and is also
run as a step rule. Every run records the loss on the training and test data after each epoch,
the test accuracy (or R²), the passes and the seconds; QLABGrad, LQA and the best SGD rate also
record, on some steps, the decrease they achieved as a fraction of the best decrease along the
same direction (``record_optimality``: exact for the two-layer networks, a grid refined by golden
section for the MLPs).

For ``relustep reproduce`` (see :mod:`relustep.experiments.reproduce`): :func:`run` returns one
row per run, :func:`report_section` writes the table, the plots and the verdicts, and
:func:`verdicts` gives them for the summary, all computed from the rows. The RBM and the
autoencoder parts of the protocol are not here yet.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from relustep import datasets, steps
from relustep._validation import check_choice, check_int
from relustep.experiments._common import finite, last, mean_std
from relustep.history import History
from relustep.lineview import LineView, Parabola, capture_line, line_view
from relustep.models.dense import DenseReLUNetwork
from relustep.progress import ProgressBar
from relustep.steps.exact import LineMinimum
from relustep.train import DivergenceError, train

TITLE = "QLABGrad and LQA: learning rates from a parabola along the gradient"
CLAIM = (
    "QLABGrad and LQA choose the learning rate themselves, from a parabola fitted to the loss "
    "along the gradient, with no rate to tune, and train better than competing schedules; LQA's "
    "step gives nearly the greatest decrease of the loss along the gradient."
)
CLAIMS = {
    "qlab": "QLABGrad chooses the learning rate itself, with no rate to tune, and trains better "
    "than competing schedules.",
    "lqa": "LQA chooses the learning rate itself and, with the gradient direction fixed, gives "
    "nearly the greatest reduction of the loss; it trains better than competing schedules.",
}
PARABOLA_RULES = {"qlab": {"name": "qlab"}, "lqa": {"name": "lqa"}}
NEAR_OPTIMAL = 0.9  # relustep's threshold: "nearly the greatest decrease" means at least this
TIE = 0.01  # relustep's threshold: within 1% of the best competitor counts as "as good"
SIZES = {  # "tiny" is a smoke test for the test suite: its numbers mean nothing
    "tiny": {
        "mlp_datasets": ["mnist"],
        "mlp_hidden": [16, 16],
        "mlp_rows": 256,
        "mlp_test_rows": 256,
        "regression_datasets": ["concrete"],
        "regression_hidden": 8,
        "regression_rows": 256,
        "epochs": 2,
        "sgd_rates": [0.1],
        "optimality_steps": 2,
    },
    "quick": {
        "mlp_datasets": ["mnist", "fashion-mnist"],
        "mlp_hidden": [256, 256],
        "mlp_rows": 2000,
        "mlp_test_rows": None,
        "regression_datasets": ["concrete", "diamonds"],
        "regression_hidden": 64,
        "regression_rows": 2000,
        "epochs": 8,
        "sgd_rates": [0.01, 0.1, 1.0],
        "optimality_steps": 12,
    },
    "full": {
        "mlp_datasets": ["mnist", "fashion-mnist"],
        "mlp_hidden": [1000, 1000],
        "mlp_rows": None,
        "mlp_test_rows": None,
        "regression_datasets": ["concrete", "diamonds", "auto-mpg", "diabetes"],
        "regression_hidden": 128,
        "regression_rows": None,
        "epochs": 20,
        "sgd_rates": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
        "optimality_steps": 40,
    },
}
BATCH_SIZE = {"mlp": 64, "two-layer": 32}
IMAGE_SIDE = 32  # the official codes' 32 x 32 inputs


def rules(size: str, part: str) -> dict[str, dict]:
    """The step rules of a part, by label: QLABGrad, LQA, SGD at each rate of the size's grid,
    Adam with its defaults, and (two-layer part) the exact line search."""
    table = dict(PARABOLA_RULES)
    table.update(
        {f"sgd {rate:g}": {"name": "constant", "lr": rate} for rate in SIZES[size]["sgd_rates"]}
    )
    table["adam"] = {"name": "adam"}
    if part == "two-layer":
        table["exact"] = {"name": "exact"}
    return table


def run(
    size: str = "quick",
    seeds: Sequence[int] = (0,),
    progress: bool = True,
    out_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """Train every part, dataset, rule and seed; return one row per run.

    Parameters
    ----------
    size : {"tiny", "quick", "full"}
        How much work (see ``SIZES``): ``"full"`` is 1024-1000-1000-10 on every training row
        for 20 epochs; ``"quick"`` 1024-256-256-10 on 2000 rows for 8 epochs (about two minutes
        on two idle cores); ``"tiny"`` a smoke test.
    seeds : sequence of int
        The seed fixes the drawn rows, the weights and the batch order.
    progress : bool
        A progress bar over the runs.
    out_dir : str or path-like, optional
        Not needed: nothing is written while running.

    Returns
    -------
    list of dict
        Per run: ``part`` ("mlp" or "two-layer"), ``dataset``, ``architecture``, ``rule``
        (label), ``seed``, ``size``, ``train_loss`` and ``test_loss`` (after the last epoch),
        ``metric`` ("accuracy" or "R²"), ``test_score``, ``test_scores`` (after each epoch),
        ``seconds`` (training time, measurements and the oracle excluded), ``passes`` (forward
        plus backward), ``forward_per_step``, ``median_step``, ``fallbacks`` (totals),
        ``optimality`` (the recorded decrease ratios), ``diverged``, ``history`` and, for the
        first seed's QLABGrad and LQA runs, ``line_view`` (the numbers of a
        :class:`~relustep.lineview.LineView` of a step in the middle of the first epoch, as
        plain values: see :func:`view_to_dict`).
    """
    check_choice(size, "size", SIZES)
    seeds = [check_int(seed, "seeds", low=0) for seed in seeds]
    settings = SIZES[size]
    plan = [
        (part, name, label, seed)
        for part, names in (
            ("mlp", settings["mlp_datasets"]),
            ("two-layer", settings["regression_datasets"]),
        )
        for name in names
        for label in rules(size, part)
        for seed in seeds
    ]
    rows, loaded = [], {}
    first_seed = min(seeds) if seeds else None
    with ProgressBar(len(plan), "linesearch", enabled=progress) as bar:
        for part, name, label, seed in plan:
            if name not in loaded:
                loaded[name] = datasets.load(name)
            with_view = seed == first_seed
            rows.append(run_one(part, loaded[name], label, seed, size, with_line_view=with_view))
            bar.update(1, f"{part} {name} {label} seed {seed}")
    return rows


def run_one(
    part: str, data, label: str, seed: int, size: str = "quick", with_line_view: bool = False
) -> dict:
    """One row of :func:`run`: draw the rows, train epoch by epoch, score after each epoch."""
    settings = SIZES[size]
    rng = np.random.default_rng(seed)
    X, y, X_test, y_test, model = _problem(part, data, settings, rng)
    theta = model.init_parameters(rng)
    rule_config = rules(size, part)[label]
    rule = steps.get(rule_config)
    rule.start(theta.size)
    history = History(rule.fallbacks)
    batch_size = min(BATCH_SIZE[part], len(X))
    steps_per_epoch = -(-len(X) // batch_size)
    every = _optimality_every(label, settings, steps_per_epoch)
    replay_rng_state = rng.bit_generator.state
    start = theta.copy()
    scores, diverged = [], False
    for _ in range(settings["epochs"]):
        try:
            train(
                model,
                theta,
                X,
                y,
                rule,
                history,
                epochs=1,
                batch_size=batch_size,
                rng=rng,
                validation=(X_test, y_test),
                record_optimality=every,
            )
        except DivergenceError:
            diverged = True
            break
        scores.append(finite(_score(model, theta, X_test, y_test)))
    epochs = history["epochs"]
    optimality = [value for value in history.get("optimality", []) if math.isfinite(value)]
    row = {
        "part": part,
        "dataset": data.name,
        "architecture": "-".join(str(width) for width in model.sizes),
        "rule": label,
        "seed": seed,
        "size": size,
        "train_loss": last(epochs["train_loss"]),
        "test_loss": last(epochs["val_loss"]),
        "metric": "accuracy" if part == "mlp" else "R²",
        "test_score": scores[-1] if scores else None,
        "test_scores": scores,
        "seconds": last(epochs["seconds"]),
        "passes": int(history.total("n_forward") + history.total("n_backward")),
        "forward_per_step": history.total("n_forward") / max(len(history), 1),
        "median_step": finite(float(np.median(history["step_size"]))) if len(history) else None,
        "fallbacks": {name: int(history.total(name)) for name in rule.fallbacks},
        "optimality": optimality,
        "diverged": diverged,
        "history": history,
    }
    if with_line_view and label in PARABOLA_RULES:
        replay = np.random.default_rng()
        replay.bit_generator.state = replay_rng_state
        captured = capture_line(
            model,
            X,
            y,
            rule_config,
            step=steps_per_epoch // 2,
            batch_size=batch_size,
            random_state=replay,
            theta=start,
        )
        trials = {"qlab_trial_step": None, "lqa_delta": None}
        trials["qlab_trial_step" if label == "qlab" else "lqa_delta"] = captured.trial_step
        view = line_view(captured.line, step_taken=captured.step_taken, n_points=101, **trials)
        row["line_view"] = view_to_dict(view)
    return row


def verdicts(rows: list[dict]) -> list[tuple[str, str, str]]:
    """``(claim, verdict, evidence)`` for each claim, from :func:`measure_claims`."""
    outcome = measure_claims(rows)
    result = []
    for rule, name in (("qlab", "QLABGrad"), ("lqa", "LQA")):
        numbers = outcome[rule]
        evidence = (
            f"as good as the better of the best SGD rate and Adam (or within {TIE:.0%}) in "
            f"{numbers['wins']} of {numbers['compared']} comparisons (part, dataset, seed; MLP: "
            "final test accuracy, two-layer: final training loss)"
        )
        result.append(
            (f"{name} trains better than competing schedules", numbers["verdict"], evidence)
        )
    decrease, qlab_decrease = outcome["lqa_decrease"], outcome["qlab_decrease"]
    evidence = (
        f"median decrease ratio {decrease['median']:.3f} over {decrease['steps']} recorded "
        f"steps, {_percent(decrease['near'])} of them at least {NEAR_OPTIMAL} (QLABGrad: median "
        f"{qlab_decrease['median']:.3f}, {_percent(qlab_decrease['near'])})"
    )
    result.append(
        ("LQA gives nearly the greatest decrease along the gradient", decrease["verdict"], evidence)
    )
    return result


def measure_claims(rows: list[dict]) -> dict[str, dict]:
    """Each claim's verdict, with the numbers behind it.

    ``"qlab"`` and ``"lqa"`` (trains better than competing schedules): per part, dataset and
    seed, the rule's final measure (test accuracy for the MLPs, training loss for the two-layer
    regressors, whose claim is about optimisation) against the best SGD rate of the grid and
    Adam. "As good" means within ``TIE`` (relative) of the better of them, or better. Supported
    when it is as good in every comparison; not supported when it is in none; mixed otherwise.

    ``"lqa_decrease"`` (nearly the greatest decrease along the gradient): the median of LQA's
    recorded decrease ratios; supported when at least ``NEAR_OPTIMAL``, not supported when below
    half of it, mixed in between. The same numbers for QLABGrad are reported beside it.
    """
    groups: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        groups.setdefault((row["part"], row["dataset"], row["seed"]), {})[row["rule"]] = row
    result = {}
    for rule in PARABOLA_RULES:
        wins = losses = compared = 0
        for runs in groups.values():
            competitors = [
                run for label, run in runs.items() if label.startswith("sgd") or label == "adam"
            ]
            if rule not in runs or not competitors:
                continue
            compared += 1
            as_good = _as_good(runs[rule], max(competitors, key=_measure))
            wins += as_good
            losses += not as_good
        if compared and wins == compared:
            outcome = "supported"
        elif compared and losses == compared:
            outcome = "not supported"
        else:
            outcome = "mixed"
        result[rule] = {"compared": compared, "wins": wins, "verdict": outcome}
    for rule in PARABOLA_RULES:
        ratios = [ratio for row in rows if row["rule"] == rule for ratio in row["optimality"]]
        median = float(np.median(ratios)) if ratios else math.nan
        near = float(np.mean(np.array(ratios) >= NEAR_OPTIMAL)) if ratios else math.nan
        result[f"{rule}_decrease"] = {"steps": len(ratios), "median": median, "near": near}
    median = result["lqa_decrease"]["median"]
    result["lqa_decrease"]["verdict"] = (
        "supported"
        if median >= NEAR_OPTIMAL
        else "not supported"
        if median < 0.5 * NEAR_OPTIMAL
        else "mixed"
        if math.isfinite(median)
        else "not measured"
    )
    return result


def format_table(rows: list[dict]) -> str:
    """A Markdown table, one line per part, dataset and rule, seeds as mean ± std."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["part"], row["dataset"], row["rule"]), []).append(row)
    lines = [
        "| part | dataset | rule | train loss | test loss | test score | seconds | passes "
        "| forward/step | median step | decrease ratio (median) | fallbacks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (part, dataset, rule), group in groups.items():
        diverged = sum(row["diverged"] for row in group)
        label = rule + (f" (diverged {diverged}/{len(group)})" if diverged else "")
        ratios = [ratio for row in group for ratio in row["optimality"]]
        taken = {
            name: sum(row["fallbacks"].get(name, 0) for row in group)
            for name in group[0]["fallbacks"]
        }
        cells = [part, dataset, label]
        cells += [
            mean_std([row[key] for row in group])
            for key in ("train_loss", "test_loss", "test_score", "seconds")
        ]
        cells += [
            mean_std([row["passes"] for row in group], ".0f"),
            mean_std([row["forward_per_step"] for row in group], ".2f"),
            mean_std([row["median_step"] for row in group]),
            f"{np.median(ratios):.3f} ({len(ratios)} steps)" if ratios else "—",
            ", ".join(f"{name} {count}" for name, count in taken.items() if count) or "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_section(rows: list[dict], out_dir: str | os.PathLike) -> str:
    """The Markdown section: each paper's claim, what was run, the table, the plots (saved in
    ``out_dir/figures/``, linked relatively) and the verdicts with the numbers behind them.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`run`.
    out_dir : str or path-like

    Returns
    -------
    str
    """
    out_dir = Path(out_dir)
    sizes = sorted({row["size"] for row in rows})
    seeds = sorted({row["seed"] for row in rows})
    architectures = sorted({f"{row['part']} {row['architecture']}" for row in rows})
    lines = [
        f"**Claims** (from the abstracts). QLABGrad: {CLAIMS['qlab']} LQA: {CLAIMS['lqa']}",
        "",
        "**What was run** (relustep's protocol; both rules' formulas are derived in relustep and "
        "the papers' exact forms may differ; relustep probes and steps along the same direction, "
        "unlike the official codes, and caps no step): "
        f"sizes {', '.join(sizes)} ({'; '.join(_describe(size) for size in sizes)}), seeds "
        f"{', '.join(map(str, seeds))}, networks {', '.join(architectures)}. MLP images are "
        "padded to 32 x 32. SGD runs at every rate of its grid (no tuning on held-out data: the "
        "best rate in hindsight is the competitor), Adam with its defaults. Test score: accuracy "
        "(MLP) or R² (two-layer). Decrease ratio: the batch-loss decrease of a step over the best "
        "decrease along its direction (exact for two-layer networks, grid and golden section for "
        "MLPs), on the steps where it was recorded; the oracle's passes and time are not counted.",
        "",
        format_table(rows),
        "",
    ]
    lines += _figures(rows, out_dir)
    lines += ["### Verdicts", ""]
    lines += [
        f"- **{claim}: {verdict}.** {evidence[0].upper()}{evidence[1:]}."
        for claim, verdict, evidence in verdicts(rows)
    ]
    lines += [
        "",
        "(Trains better: supported when as good in every comparison, not supported when in "
        f"none. Nearly the greatest decrease: supported when the median ratio is at least "
        f"{NEAR_OPTIMAL}, not supported when below {0.5 * NEAR_OPTIMAL}.)",
        "",
        "Not yet run here: the same rules on the RBM and the autoencoder (their models are new "
        "in relustep; the lead adds them to this protocol).",
        "",
    ]
    return "\n".join(lines)


# -- the problems --------------------------------------------------------------------------------
def pad_images(X: np.ndarray, side: int) -> np.ndarray:
    """Pad square images (one per row) with zeros on every side to ``side`` x ``side``."""
    current = math.isqrt(X.shape[1])
    margin = side - current
    images = X.reshape(len(X), current, current)
    padded = np.pad(
        images, ((0, 0), (margin // 2, margin - margin // 2), (margin // 2, margin - margin // 2))
    )
    return np.ascontiguousarray(padded.reshape(len(X), side * side))


def _problem(part, data, settings, rng):
    if part == "mlp":
        X, y = _draw(data.X_train, data.y_train, settings["mlp_rows"], rng)
        X_test, y_test = _draw(data.X_test, data.y_test, settings["mlp_test_rows"], rng)
        X, X_test = pad_images(X, IMAGE_SIDE), pad_images(X_test, IMAGE_SIDE)
        model = DenseReLUNetwork(
            X.shape[1], tuple(settings["mlp_hidden"]), data.n_classes, loss="softmax"
        )
        return X, y, X_test, y_test, model
    X, y = _draw(data.X_train, data.y_train, settings["regression_rows"], rng)
    y, y_test = y.reshape(len(y), -1), data.y_test.reshape(len(data.y_test), -1)
    model = DenseReLUNetwork(X.shape[1], (settings["regression_hidden"],), y.shape[1])
    return X, y, data.X_test, y_test, model


def _draw(X, y, rows, rng):
    if rows is None or len(X) <= rows:
        return X, y
    chosen = np.sort(rng.choice(len(X), rows, replace=False))
    return X[chosen], y[chosen]


def _score(model, theta, X, y) -> float:
    output = model.forward(theta, X)
    if model.loss_name == "softmax":
        return float(np.mean(np.argmax(output, axis=1) == y))
    residual = np.sum((y - output) ** 2)
    total = np.sum((y - y.mean(axis=0)) ** 2)
    return float(1.0 - residual / total)


def _optimality_every(label: str, settings: dict, steps_per_epoch: int) -> int:
    """Record the decrease ratio on about ``optimality_steps`` steps of the run, for QLABGrad,
    LQA, the exact search and the middle SGD rate (0: not recorded)."""
    rates = settings["sgd_rates"]
    recorded = {*PARABOLA_RULES, "exact", f"sgd {rates[len(rates) // 2]:g}"}
    if label not in recorded:
        return 0
    total = steps_per_epoch * settings["epochs"]
    return max(total // settings["optimality_steps"], 1)


def _measure(row: dict) -> float:
    """Higher is better: test accuracy (MLP) or minus the training loss (two-layer)."""
    value = row["test_score"] if row["part"] == "mlp" else row["train_loss"]
    if value is None:
        return -math.inf
    return value if row["part"] == "mlp" else -value


def _as_good(row: dict, best: dict) -> bool:
    """Whether ``row`` is better than ``best`` or within ``TIE`` of it (relative)."""
    mine, theirs = _measure(row), _measure(best)
    if row["part"] == "mlp":
        return mine >= (1.0 - TIE) * theirs
    return mine >= (1.0 + TIE) * theirs  # both are minus a loss: negative


# -- plots ---------------------------------------------------------------------------------------
def _figures(rows: list[dict], out_dir: Path) -> list[str]:
    from relustep.lineview import plot_line_view
    from relustep.plot import new_figure, plot_losses, save_figure

    lines = ["### Loss and accuracy against epochs, passes and seconds (first seed)", ""]
    first_seed = min(row["seed"] for row in rows)
    keys = {(row["part"], row["dataset"]) for row in rows}
    for part, dataset in sorted(keys):
        group = [
            row
            for row in rows
            if (row["part"], row["dataset"], row["seed"]) == (part, dataset, first_seed)
        ]
        histories = {row["rule"]: row["history"] for row in group}
        figure, axes = new_figure(4)
        for ax, x in zip(axes[:3], ("epochs", "passes", "seconds"), strict=True):
            plot_losses(histories, x=x, which="train_loss", ax=ax)
        for row in group:
            axes[3].plot(
                np.arange(1, len(row["test_scores"]) + 1),
                row["test_scores"],
                marker=".",
                label=row["rule"],
            )
        axes[3].set_xlabel("epoch")
        axes[3].set_ylabel(f"test {group[0]['metric']}")
        axes[3].grid(True, alpha=0.3)
        figure.suptitle(f"{part}: {dataset} ({group[0]['architecture']})")
        name = f"linesearch-{part}-{dataset}.png"
        save_figure(figure, out_dir / "figures" / name)
        lines += [f"![{part} {dataset}](figures/{name})", ""]
    views = [row for row in rows if "line_view" in row]
    if views:
        lines += [
            "### The line view: the true batch loss along the gradient at one step, the "
            "parabolas, and the minimum along the line",
            "",
        ]
    for row in views:
        figure, ax = new_figure()
        title = f"{row['rule']}, {row['part']} {row['dataset']}"
        plot_line_view(view_from_dict(row["line_view"]), ax=ax, title=title)
        name = f"linesearch-lineview-{row['part']}-{row['dataset']}-{row['rule']}.png"
        save_figure(figure, out_dir / "figures" / name)
        lines += [f"![line view {row['rule']} {row['dataset']}](figures/{name})", ""]
    return lines


# -- the line view as plain values (rows are stored as JSON) ---------------------------------
def view_to_dict(view: LineView) -> dict:
    """The numbers of a line view as plain values (its extra curves are left out)."""

    def parabola(fitted: Parabola) -> dict:
        return {
            "loss": fitted.loss,
            "slope": fitted.slope,
            "curvature": fitted.curvature,
            "probes": [list(point) for point in fitted.probes],
        }

    return {
        "alphas": view.alphas.tolist(),
        "losses": view.losses.tolist(),
        "qlab": parabola(view.qlab),
        "lqa": parabola(view.lqa),
        "exact": {"alpha": view.exact.alpha, "loss": view.exact.loss, "exact": view.exact.exact},
        "step_taken": view.step_taken,
    }


def view_from_dict(data: dict) -> LineView:
    """Rebuild a line view from :func:`view_to_dict`."""

    def parabola(values: dict) -> Parabola:
        probes = tuple(tuple(point) for point in values["probes"])
        return Parabola(values["loss"], values["slope"], values["curvature"], probes)

    return LineView(
        np.array(data["alphas"]),
        np.array(data["losses"]),
        parabola(data["qlab"]),
        parabola(data["lqa"]),
        LineMinimum(**data["exact"]),
        {},
        data["step_taken"],
    )


# -- formatting ----------------------------------------------------------------------------------
def _percent(fraction: float) -> str:
    return f"{100 * fraction:.0f}%" if math.isfinite(fraction) else "—"


def _describe(size: str) -> str:
    settings = SIZES[size]
    rows = settings["mlp_rows"]
    drawn = "all training rows" if rows is None else f"{rows} training rows drawn per seed"
    hidden = "-".join(map(str, settings["mlp_hidden"]))
    return (
        f"MLP 1024-{hidden}-10 on {', '.join(settings['mlp_datasets'])} ({drawn}, batches of "
        f"{BATCH_SIZE['mlp']}); two-layer d-{settings['regression_hidden']}-1 on "
        f"{', '.join(settings['regression_datasets'])} (batches of {BATCH_SIZE['two-layer']}); "
        f"{settings['epochs']} epochs; SGD rates "
        + ", ".join(f"{rate:g}" for rate in settings["sgd_rates"])
    )
