"""The QLABGrad and LQA protocol (relustep's protocol, the papers' own could not be read):
learning rates from a parabola along the gradient against SGD at a grid of rates and Adam, with
the exact line search as the yardstick.

Parts, each a network trained by :func:`relustep.train.train` with every rule:

- **mlp**: classifiers on the shipped MNIST and Fashion-MNIST subsets, the images padded to
  32 x 32 so that the network has the official codes' shape 1024-H-H-10, batches of 64;
- **two-layer**: regressors with one hidden layer on shipped regression tables, where the exact
  line search applies and is also run as a step rule;
- **autoencoder**: a one-hidden-layer ReLU autoencoder of MNIST digits (linear output, untied
  weights: a two-layer network whose targets are its inputs);
- **rbm**: a ReLU RBM on the digits, its step chosen by each rule along the CD direction;
- **sweep**: "no rate to tune", tested directly: QLABGrad's initial trial step, LQA's probe
  distance and SGD's rate, each over the same range of at least four orders of magnitude, on the
  two-layer regressors.

Every run records the loss after each epoch, the test score, the passes and the seconds. On a few
steps of each QLABGrad and LQA run, the line the rule looked along is replayed and the decrease
of its step, and of each fixed SGD rate on the same line, is measured as a fraction of the best
decrease along it (:func:`relustep.steps.exact.decrease_ratio`). ``optimality_every`` in a size
sets how often the trainer also records that fraction during training (1: every step).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from relustep import steps
from relustep.experiments._common import finite, group_rows, last, mean_std, unique
from relustep.experiments.section import Claim, Section, load_dataset
from relustep.experiments.verdict import judge
from relustep.history import History
from relustep.lineview import LineView, Parabola, capture_line, line_view
from relustep.models.dense import DenseReLUNetwork
from relustep.steps.exact import LineMinimum, decrease_ratio
from relustep.train import DivergenceError, train

PARABOLA_RULES = {"qlab": {"name": "qlab"}, "lqa": {"name": "lqa"}}
NAMES = {"qlab": "QLABGrad", "lqa": "LQA"}
PROBE_SETTING = {"qlab": "initial_step", "lqa": "delta"}
SWEEP = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # four orders of magnitude
SIZES = {  # "tiny" is a smoke test for the test suite: its numbers mean nothing
    "tiny": {
        "mlp_datasets": ["mnist"],
        "mlp_hidden": [16, 16],
        "mlp_rows": 256,
        "mlp_test_rows": 256,
        "regression_datasets": ["concrete"],
        "regression_hidden": 8,
        "regression_rows": 256,
        "autoencoder_rows": 128,
        "autoencoder_hidden": 8,
        "rbm_rows": 128,
        "rbm_hidden": 8,
        "epochs": 2,
        "sgd_rates": [0.1],
        "sweep": [1e-4, 1.0],
        "captured_steps": 1,
        "optimality_every": 0,
        "seconds_per_seed": 4,
    },
    "quick": {
        "mlp_datasets": ["mnist", "fashion-mnist"],
        "mlp_hidden": [256, 256],
        "mlp_rows": 2000,
        "mlp_test_rows": None,
        "regression_datasets": ["concrete", "diamonds"],
        "regression_hidden": 64,
        "regression_rows": 2000,
        "autoencoder_rows": 2000,
        "autoencoder_hidden": 64,
        "rbm_rows": 1000,
        "rbm_hidden": 64,
        "epochs": 8,
        "sgd_rates": [0.01, 0.1, 1.0],
        "sweep": list(SWEEP),
        "captured_steps": 4,
        "optimality_every": 1,
        "seconds_per_seed": 110,
    },
    "full": {
        "mlp_datasets": ["mnist", "fashion-mnist"],
        "mlp_hidden": [1000, 1000],
        "mlp_rows": None,
        "mlp_test_rows": None,
        "regression_datasets": ["concrete", "diamonds", "auto-mpg", "diabetes"],
        "regression_hidden": 128,
        "regression_rows": None,
        "autoencoder_rows": None,
        "autoencoder_hidden": 256,
        "rbm_rows": None,
        "rbm_hidden": 256,
        "epochs": 20,
        "sgd_rates": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
        "sweep": list(SWEEP),
        "captured_steps": 10,
        "optimality_every": 10,
        "seconds_per_seed": 3600,
    },
}
BATCH_SIZE = {"mlp": 64, "two-layer": 32, "autoencoder": 32, "rbm": 20, "sweep": 32}
IMAGE_SIDE = 32  # the official codes' 32 x 32 inputs
HIGHER_IS_BETTER = {"mlp": True, "two-layer": False, "autoencoder": False, "rbm": False}


def rules(size: str, part: str) -> dict[str, dict]:
    """The step rules of a part, by label: QLABGrad, LQA, SGD at each rate of the size's grid,
    Adam with its defaults, and (two-layer part) the exact line search; for the sweep, each
    parabola rule at each probe setting and SGD at each rate of the sweep."""
    settings = SIZES[size]
    if part == "sweep":
        table = {
            f"{rule} {PROBE_SETTING[rule]}={value:g}": {**config, PROBE_SETTING[rule]: value}
            for rule, config in PARABOLA_RULES.items()
            for value in settings["sweep"]
        }
        table.update(
            {f"sgd {rate:g}": {"name": "constant", "lr": rate} for rate in settings["sweep"]}
        )
        return table
    table = dict(PARABOLA_RULES)
    table.update(
        {f"sgd {rate:g}": {"name": "constant", "lr": rate} for rate in settings["sgd_rates"]}
    )
    table["adam"] = {"name": "adam"}
    if part == "two-layer":
        table["exact"] = {"name": "exact"}
    return table


def measure(row: dict) -> float | None:
    """What a run is judged by: the final test accuracy (MLP), else the final training loss."""
    return row["test_score"] if row["part"] == "mlp" else row["train_loss"]


def measure_at_passes(row: dict, budget: float) -> float | None:
    """The run's measure after its last epoch that ended within ``budget`` forward plus
    backward passes (None when its first epoch already cost more)."""
    values = row["test_scores"] if row["part"] == "mlp" else row["train_losses"]
    within = [
        value
        for value, passes in zip(values, row["epoch_passes"], strict=False)
        if passes <= budget
    ]
    return within[-1] if within else None


class LineSearchSection(Section):
    """The QLABGrad and LQA section of the report (see the module docstring)."""

    name = "linesearch"
    label = "QLABGrad and LQA"
    title = "QLABGrad and LQA: learning rates from a parabola along the gradient"
    claim = (
        "QLABGrad and LQA choose the learning rate themselves, from a parabola fitted to the loss "
        "along the gradient, with no rate to tune, and train better than competing schedules; "
        "LQA's step gives nearly the greatest decrease of the loss along the gradient."
    )
    sizes = SIZES

    def tasks(self, size: str) -> list[dict]:
        settings = SIZES[size]
        parts = {
            "mlp": settings["mlp_datasets"],
            "two-layer": settings["regression_datasets"],
            "autoencoder": ["mnist"],
            "rbm": ["digits"],
            "sweep": settings["regression_datasets"],
        }
        return [
            {"part": part, "dataset": name, "rule": label}
            for part, names in parts.items()
            for name in names
            for label in rules(size, part)
            if not (part == "rbm" and label == "exact")
        ]

    def run_task(self, task: dict, seed: int, size: str) -> list[dict]:
        if task["part"] == "rbm":
            return [self.run_rbm(task, seed, size)]
        return [run_one(task["part"], load_dataset(task["dataset"]), task["rule"], seed, size)]

    @staticmethod
    def run_rbm(task: dict, seed: int, size: str) -> dict:
        """One RBM run: the rule chooses the step along the CD direction of the chain's error."""
        from relustep.estimators.rbm import RBM

        settings = SIZES[size]
        data = load_dataset(task["dataset"])
        rng = np.random.default_rng(seed)
        X = data.X_train[rng.permutation(len(data.X_train))[: settings["rbm_rows"]]]
        row = {
            **task,
            "seed": seed,
            "size": size,
            "metric": "E",
            "architecture": f"{X.shape[1]}-{settings['rbm_hidden']}",
            "refused": None,
            "diverged": False,
            "test_score": None,
            "test_scores": [],
        }
        model = RBM(
            settings["rbm_hidden"],
            step=rules(size, "rbm")[task["rule"]],
            batch_size=BATCH_SIZE["rbm"],
            epochs=settings["epochs"],
            random_state=seed,
        )
        try:
            model.fit(X)
        except DivergenceError:
            row["diverged"] = True
        except (ValueError, TypeError) as error:  # a rule that does not fit the RBM's direction
            row["refused"] = str(error)
        history = getattr(model, "history_", History())
        return {**row, **_summary(history, [], rule=None)}

    def describe(self, size: str) -> str:
        settings = SIZES[size]
        rows = settings["mlp_rows"]
        drawn = "all training rows" if rows is None else f"{rows} training rows drawn per seed"
        hidden = "-".join(map(str, settings["mlp_hidden"]))
        return (
            f"Size {size!r}: MLP 1024-{hidden}-10 on {', '.join(settings['mlp_datasets'])} "
            f"({drawn}, batches of {BATCH_SIZE['mlp']}, images padded to 32 x 32); two-layer "
            f"d-{settings['regression_hidden']}-1 on {', '.join(settings['regression_datasets'])};"
            f" autoencoder 784-{settings['autoencoder_hidden']}-784 on "
            f"{settings['autoencoder_rows']} MNIST rows; RBM 64-{settings['rbm_hidden']} on "
            f"{settings['rbm_rows']} digits; {settings['epochs']} epochs each. SGD at every rate "
            "of " + ", ".join(f"{rate:g}" for rate in settings["sgd_rates"]) + " (the best in "
            "hindsight is the competitor), Adam with its defaults. Sweep: on the same tables, "
            "QLABGrad's initial trial step, LQA's probe "
            "distance and SGD's rate each over "
            + ", ".join(f"{v:g}" for v in settings["sweep"])
            + ". Equal epochs: every rule's measure after the last epoch; equal passes: each "
            "rule's measure after its last epoch within the competitor's forward plus backward "
            "passes. Measure: test accuracy (MLP), final training loss (the others). Decrease "
            "ratio: a step's decrease of the batch loss over the best decrease along its direction "
            f"(exact for one ReLU layer, grid and golden section for the MLP), on "
            f"{settings['captured_steps']} replayed steps of the first epoch per run, for the "
            "rule's step and for each fixed SGD rate on the same line. Both rules are derived in "
            "relustep; relustep probes and steps along the same direction, unlike the official "
            "codes, and caps no step."
        )

    def body(self, rows: list[dict], out_dir: Path) -> list[str]:
        refusals = unique(row["refused"] for row in rows if row.get("refused"))
        refused = [f"Refused (left out of the comparisons): {reason}" for reason in refusals]
        return [
            self.table(rows),
            "",
            *[line for reason in refused for line in (reason, "")],
            *self.sweep_table(rows),
            *self.figures(rows, out_dir),
        ]

    @staticmethod
    def table(rows: list[dict]) -> str:
        """One line per part, dataset and rule (the sweep apart), seeds as mean ± std."""
        lines = [
            "| part | dataset | rule | train loss | test score | seconds | passes | forward/step "
            "| median step | decrease ratio, replayed steps | decrease ratio, oracle on every "
            "step |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        main = [row for row in rows if row["part"] != "sweep"]
        for (part, dataset, rule), group in group_rows(main, ("part", "dataset", "rule")).items():
            diverged = sum(row["diverged"] for row in group)
            refused = sum(bool(row.get("refused")) for row in group)
            label = rule + (f" (diverged {diverged}/{len(group)})" if diverged else "")
            label += " (refused)" if refused else ""
            ratios = [
                r
                for row in group
                for step in row["captured"]
                for r in [step.get("rule")]
                if r is not None and math.isfinite(r)
            ]
            cells = [part, dataset, label]
            cells += [
                mean_std([row[key] for row in group])
                for key in ("train_loss", "test_score", "seconds")
            ]
            cells += [
                mean_std([row["passes"] for row in group], ".0f"),
                mean_std([row["forward_per_step"] for row in group], ".2f"),
                mean_std([row["median_step"] for row in group]),
                median_of(ratios),
                median_of([value for row in group for value in row["optimality"]]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    @staticmethod
    def sweep_table(rows: list[dict]) -> list[str]:
        """Final training loss over the probe settings and rates of the sweep."""
        sweep = [row for row in rows if row["part"] == "sweep"]
        if not sweep:
            return []
        lines = [
            "**No rate to tune?** Final training loss (mean ± std over seeds) against QLABGrad's "
            "initial trial step, LQA's probe distance and SGD's rate over the same range:",
            "",
            "| dataset | rule | setting | final training loss |",
            "|---|---|---|---|",
        ]
        for (dataset, rule), group in group_rows(sweep, ("dataset", "rule")).items():
            name, setting = rule.split(" ", 1)
            losses = mean_std([row["train_loss"] for row in group])
            lines.append(f"| {dataset} | {name} | {setting} | {losses} |")
        return [*lines, ""]

    def claims(self, rows: list[dict]) -> list[Claim]:
        claims = []
        main = [row for row in rows if row["part"] not in ("sweep",) and not row.get("refused")]
        groups = group_rows(main, ("part", "dataset", "seed"))
        for rule, name in NAMES.items():
            equal_epochs, equal_passes = ([], [], []), ([], [], [])
            for (part, _, seed), group in groups.items():
                runs = {row["rule"]: row for row in group}
                competitors = [
                    row for label, row in runs.items() if label.startswith("sgd") or label == "adam"
                ]
                if rule not in runs or not competitors:
                    continue
                sign = 1 if HIGHER_IS_BETTER[part] else -1
                best = max(competitors, key=lambda row: sign * (measure(row) or -sign * math.inf))
                mine = runs[rule]
                for store, values in (
                    (equal_epochs, (measure(mine), measure(best))),
                    (equal_passes, (measure_at_passes(mine, best["passes"]), measure(best))),
                ):
                    # a higher-is-better measure enters the judge negated, so lower wins
                    store[0].append(None if values[0] is None else -sign * values[0])
                    store[1].append(None if values[1] is None else -sign * values[1])
                    store[2].append(seed)
            for store, what in ((equal_epochs, "equal epochs"), (equal_passes, "equal passes")):
                claims.append(
                    Claim(
                        f"{name} trains better than the best SGD rate and Adam ({what})",
                        judge(*store[:2], store[2]),
                        "per part, dataset and seed (MLP: test accuracy; others: training loss)",
                    )
                )
        claims += self.sweep_claims(rows)
        claims.append(self.decrease_claim(rows))
        return claims

    @staticmethod
    def sweep_claims(rows: list[dict]) -> list[Claim]:
        """Per dataset and seed: the spread (decades between the largest and the smallest final
        training loss) over each rule's probe settings against SGD's over the same rates."""
        sweep = [row for row in rows if row["part"] == "sweep"]
        claims = []
        for rule, name in NAMES.items():
            mine, sgd, seeds = [], [], []
            for (_, seed), group in group_rows(sweep, ("dataset", "seed")).items():
                mine.append(_spread([r for r in group if r["rule"].startswith(rule + " ")]))
                sgd.append(_spread([r for r in group if r["rule"].startswith("sgd ")]))
                seeds.append(seed)
            evidence = (
                f"spread in decades of the final training loss over {PROBE_SETTING[rule]} "
                f"against SGD's over its rate, same range; mean {_mean(mine)} against {_mean(sgd)}"
            )
            claims.append(Claim(f"{name} has no rate to tune", judge(mine, sgd, seeds), evidence))
        return claims

    @staticmethod
    def decrease_claim(rows: list[dict]) -> Claim:
        """LQA's decrease ratio on replayed steps against the best SGD rate's on the same lines
        (the best rate of that part, dataset and seed, by its final measure)."""
        lqa, fixed, seeds = [], [], []
        for (part, _, seed), group in group_rows(
            [row for row in rows if row["part"] not in ("sweep", "rbm")],
            ("part", "dataset", "seed"),
        ).items():
            runs = {row["rule"]: row for row in group}
            sgd = [row for label, row in runs.items() if label.startswith("sgd")]
            if "lqa" not in runs or not sgd:
                continue
            sign = 1 if HIGHER_IS_BETTER[part] else -1
            best = max(sgd, key=lambda row: sign * (measure(row) or -sign * math.inf))["rule"]
            for step in runs["lqa"]["captured"]:
                lqa.append(step.get("rule"))
                fixed.append(step.get(best))
                seeds.append(seed)
        ratios = [ratio for ratio in lqa if ratio is not None and math.isfinite(ratio)]
        evidence = (
            f"decrease ratio on {len(lqa)} replayed steps against the best SGD rate's on the same "
            f"lines; median {np.median(ratios) if ratios else math.nan:.3f} against "
            f"{_median(fixed)}"
        )
        return Claim(
            "LQA's step gives nearly the greatest decrease along the gradient, more than a tuned "
            "fixed rate",
            judge(lqa, fixed, seeds, higher_is_better=True),
            evidence,
        )

    @staticmethod
    def figures(rows: list[dict], out_dir: Path) -> list[str]:
        from relustep.lineview import plot_line_view
        from relustep.plot import new_figure, plot_losses, save_figure

        first_seed = min(row["seed"] for row in rows)
        lines = [f"### Loss against epochs and passes (seed {first_seed})", ""]
        main = [row for row in rows if row["part"] != "sweep" and row["seed"] == first_seed]
        groups = group_rows(main, ("part", "dataset"))
        figure, axes = new_figure(2, n_rows=len(groups))
        for (part, dataset), ax_row in zip(groups, axes, strict=True):
            histories = {
                row["rule"]: row["history"]
                for row in groups[(part, dataset)]
                if len(row["history"])
            }
            for ax, x in zip(ax_row, ("epochs", "passes"), strict=True):
                plot_losses(histories, x=x, which="train_loss", ax=ax)
                ax.set_title(f"{part}: {dataset}", fontsize="medium")
                if x == "passes":
                    ax.get_legend().remove()
        save_figure(figure, out_dir / "figures" / "linesearch-curves.png")
        lines += ["![loss curves](figures/linesearch-curves.png)", ""]
        views = [row for row in main if "line_view" in row]
        if views:
            lines += [
                "### The line view: the true batch loss along the gradient at one step, the "
                "parabolas, and the minimum along the line",
                "",
            ]
            figure, axes = new_figure(min(3, len(views)), n_rows=-(-len(views) // 3))
            axes = np.atleast_1d(axes).ravel()
            for ax, row in zip(axes, views, strict=False):
                title = f"{row['rule']}, {row['part']} {row['dataset']}"
                plot_line_view(view_from_dict(row["line_view"]), ax=ax, title=title)
            for ax in axes[len(views) :]:
                ax.set_axis_off()
            save_figure(figure, out_dir / "figures" / "linesearch-lineviews.png")
            lines += ["![line views](figures/linesearch-lineviews.png)", ""]
        return lines


def run_one(
    part: str, data, label: str, seed: int, size: str = "quick", with_line_view: bool = False
) -> dict:
    """One run: draw the rows, train epoch by epoch, score after each epoch; for QLABGrad and
    LQA, replay a few steps of the first epoch and measure decrease ratios on their lines."""
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
                record_optimality=settings["optimality_every"],
            )
        except DivergenceError:
            diverged = True
            break
        scores.append(finite(_score(model, theta, X_test, y_test)))
    row = {
        "part": part,
        "dataset": data.name,
        "architecture": "-".join(str(width) for width in model.sizes),
        "rule": label,
        "seed": seed,
        "size": size,
        "test_loss": last(history["epochs"]["val_loss"]),
        "metric": "accuracy" if part == "mlp" else "R²",
        "test_score": scores[-1] if scores else None,
        "test_scores": scores,
        "diverged": diverged,
        **_summary(history, scores, rule),
    }
    if label in PARABOLA_RULES:

        def replay(step: int):
            generator = np.random.default_rng()
            generator.bit_generator.state = replay_rng_state
            return capture_line(
                model,
                X,
                y,
                rule_config,
                step=step,
                batch_size=batch_size,
                random_state=generator,
                theta=start,
            )

        wanted = np.linspace(0, steps_per_epoch - 1, settings["captured_steps"] + 2)[1:-1]
        row["captured"] = []
        for step in sorted({int(s) for s in wanted}):
            captured = replay(step)
            ratios = {"rule": finite(decrease_ratio(captured.line, captured.step_taken))}
            for sgd_label, config in rules(size, part).items():
                if sgd_label.startswith("sgd"):
                    ratios[sgd_label] = finite(decrease_ratio(captured.line, config["lr"]))
            row["captured"].append(ratios)
        if seed == 0 and part in ("mlp", "two-layer"):
            captured = replay(steps_per_epoch // 2)
            trials = {"qlab_trial_step": None, "lqa_delta": None}
            trials["qlab_trial_step" if label == "qlab" else "lqa_delta"] = captured.trial_step
            view = line_view(captured.line, step_taken=captured.step_taken, n_points=101, **trials)
            row["line_view"] = view_to_dict(view)
    return row


def median_of(ratios: list[float]) -> str:
    """A table cell: the median of decrease ratios and how many steps they are, or a dash."""
    return f"{np.median(ratios):.3f} ({len(ratios)} steps)" if ratios else "—"


def _summary(history: History, scores: list, rule) -> dict:
    """The numbers every row holds, from a run's history."""
    epochs = history["epochs"]
    passes = np.concatenate(
        [[0.0], np.cumsum(np.add(history["n_forward"], history["n_backward"]), dtype=float)]
    )
    optimality = [v for v in history.get("optimality", []) if math.isfinite(v)]
    return {
        "train_loss": last(epochs["train_loss"]),
        "train_losses": [finite(value) for value in epochs["train_loss"]],
        "seconds": last(epochs["seconds"]),
        "passes": int(passes[-1]),
        "epoch_passes": passes[np.asarray(epochs["step"], dtype=int)].tolist(),
        "forward_per_step": history.total("n_forward") / max(len(history), 1),
        "median_step": finite(float(np.median(history["step_size"]))) if len(history) else None,
        "optimality": optimality,
        "captured": [],
        "history": history,
    }


def _spread(group: list[dict]) -> float | None:
    """Decades between the largest and smallest final training loss of ``group`` (a diverged
    run counts as infinite; None when no run is finite)."""
    losses = [row["train_loss"] for row in group]
    finite_losses = [loss for loss in losses if loss is not None and loss > 0]
    if not finite_losses:
        return None
    if len(finite_losses) < len(losses) or any(row["diverged"] for row in group):
        return math.inf
    return math.log10(max(finite_losses) / min(finite_losses))


def _mean(values: list) -> str:
    numbers = [v for v in values if v is not None]
    return f"{np.mean(numbers):.2f}" if numbers else "—"


def _median(values: list) -> str:
    numbers = [v for v in values if v is not None and math.isfinite(v)]
    return f"{np.median(numbers):.3f}" if numbers else "—"


def _problem(part, data, settings, rng):
    if part == "mlp":
        X, y = _draw(data.X_train, data.y_train, settings["mlp_rows"], rng)
        X_test, y_test = _draw(data.X_test, data.y_test, settings["mlp_test_rows"], rng)
        X, X_test = pad_images(X, IMAGE_SIDE), pad_images(X_test, IMAGE_SIDE)
        model = DenseReLUNetwork(
            X.shape[1], tuple(settings["mlp_hidden"]), data.n_classes, loss="softmax"
        )
        return X, y, X_test, y_test, model
    if part == "autoencoder":
        X, _ = _draw(data.X_train, data.y_train, settings["autoencoder_rows"], rng)
        model = DenseReLUNetwork(X.shape[1], (settings["autoencoder_hidden"],), X.shape[1])
        return X, X, data.X_test, data.X_test, model
    X, y = _draw(data.X_train, data.y_train, settings["regression_rows"], rng)
    y, y_test = y.reshape(len(y), -1), data.y_test.reshape(len(data.y_test), -1)
    model = DenseReLUNetwork(X.shape[1], (settings["regression_hidden"],), y.shape[1])
    return X, y, data.X_test, y_test, model


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


SECTION = LineSearchSection()
TITLE, CLAIM = SECTION.title, SECTION.claim
run, report_section, verdicts = SECTION.run, SECTION.report_section, SECTION.verdicts
