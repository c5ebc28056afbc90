"""The RBM protocol (Chen, Golovko et al. 2024; the protocol is relustep's own, the paper's could
not be read): the analytic adaptive step against a constant step, Adam and persistent CD, each
with its rate tuned on validation rows over a grid that brackets the best rate, beside the trivial
solution every RBM can fall into.

The trivial reference is the RBM whose hidden layer is dead: every reconstruction is the mean
image (for sigmoid visibles, the visible bias is the logit of the mean pixel), so its :math:`E`
is what a run that learnt nothing reaches. A run is flagged when more than ``DEAD_THRESHOLD`` of
its hidden units are never active on the training rows, or when it ends with a training
:math:`E` above the trivial reference's.

A new step rule is one more entry of ``METHODS`` (with ``"analytic": True`` it is judged against
the tuned baselines, with ``"tuned": True`` it is a baseline whose rate is searched) and its name
in a size's ``"methods"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relustep.estimators.rbm import RBM
from relustep.experiments._common import (
    describe_grid,
    finite,
    group_rows,
    mean_std,
    rate_grid,
    search_rates,
    unique,
)
from relustep.experiments.section import Claim, Section, load_dataset
from relustep.experiments.verdict import judge
from relustep.models.rbm import RBMNetwork
from relustep.train import DivergenceError

METHODS = {
    "golovko": {"step": {"name": "golovko"}, "analytic": True},
    "golovko+verify": {"step": {"name": "golovko", "verify": True}, "analytic": True},
    "coupled": {"step": {"name": "coupled"}, "analytic": True},
    "constant": {"step": {"name": "constant"}, "tuned": True},
    "adam": {"step": {"name": "adam"}, "tuned": True},
    "constant PCD": {
        "step": {"name": "constant"},
        "tuned": True,
        "rule": "cd",
        "persistent": True,
        "regimes": ("mini-batch",),
        "visible": ("sigmoid",),
    },
}
TRIVIAL = "trivial (mean image)"
DEAD_THRESHOLD = 0.5
FLAT_SHARE = 0.05  # a curve has flattened when its last tenth of steps brings less of its fall
STD_FLOOR = 0.1
RATE_CENTERS = {  # the middle of each starting grid, per visible transfer and step rule
    ("sigmoid", "constant"): 0.01,
    ("sigmoid", "adam"): 0.00316,
    ("sigmoid", "constant PCD"): 0.1,
    ("linear", "constant"): 0.00316,
    ("linear", "adam"): 0.001,
    ("relu", "constant"): 0.00316,
    ("relu", "adam"): 0.001,
}
SIZES = {  # "tiny" is a smoke test for the test suite: its numbers mean nothing
    "tiny": {
        "dataset": "digits",
        "max_train_rows": 100,
        "n_hidden": 8,
        "k": 1,
        "visible": ["sigmoid", "linear"],
        "regimes": {"mini-batch": (25, 1), "online": (1, 1)},
        "methods": ["golovko", "constant", "adam", "constant PCD"],
        "grid_points": 1,
        "max_extensions": 0,
        "seconds_per_seed": 2,
    },
    "quick": {
        "dataset": "mnist",
        "max_train_rows": None,
        "n_hidden": 256,
        "k": 1,
        "visible": ["sigmoid", "linear"],
        "regimes": {"mini-batch": (20, 6), "online": (1, 1)},
        "methods": ["golovko", "coupled", "constant", "adam", "constant PCD"],
        "grid_points": 3,
        "max_extensions": 2,
        "seconds_per_seed": 140,
    },
    "full": {
        "dataset": "mnist",
        "max_train_rows": None,
        "n_hidden": 256,
        "k": 3,
        "visible": ["sigmoid", "linear", "relu"],
        "regimes": {"mini-batch": (20, 30), "online": (1, 8)},
        "methods": ["golovko", "golovko+verify", "coupled", "constant", "adam", "constant PCD"],
        "grid_points": 4,
        "max_extensions": 4,
        "seconds_per_seed": 3000,
    },
}
N_FILTERS = 36


def standardise(X_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Every array with the training rows' mean subtracted and divided by their standard
    deviation (floored at ``STD_FLOOR`` so that nearly constant border pixels stay small)."""
    mean = X_train.mean(axis=0)
    scale = np.maximum(X_train.std(axis=0), STD_FLOOR)
    return [(X - mean) / scale for X in (X_train, *others)]


def trivial_reference(X: np.ndarray, visible: str, n_hidden: int, k: int) -> np.ndarray:
    r"""The parameters of the RBM that reconstructs every row as the mean of ``X``: :math:`W = 0`,
    :math:`b = 0` (every hidden unit is dead), and the visible bias whose transfer is the mean
    (its logit for sigmoid visibles, the mean itself for linear or ReLU ones)."""
    network = RBMNetwork(X.shape[1], n_hidden, visible=visible, k=k)
    theta = np.zeros(network.layout.size)
    mean = X.mean(axis=0)
    if visible == "sigmoid":
        clipped = np.clip(mean, 1e-6, 1 - 1e-6)
        network.layout.views(theta)["c"][:] = np.log(clipped / (1 - clipped))
    else:
        network.layout.views(theta)["c"][:] = mean
    return theta


def tenths(row: dict) -> np.ndarray | None:
    """The mean batch E over each tenth of a run's steps (its history's ``loss``, E before each
    step); ``None`` for a run without a history, a diverged one, or one of fewer than ten steps."""
    if row.get("history") is None or row.get("diverged"):
        return None
    losses = np.asarray(row["history"]["loss"], dtype=float)
    tenth = len(losses) // 10
    return losses[: 10 * tenth].reshape(10, tenth).mean(axis=1) if tenth else None


def dead_fraction(hidden: np.ndarray) -> float:
    """The fraction of hidden units (columns) that are zero on every row."""
    return float(np.mean(hidden.max(axis=0) <= 0.0))


class RBMSection(Section):
    """The RBM section of the report (see the module docstring)."""

    name = "rbm"
    label = "RBM, analytic step"
    title = "RBMs with the analytic adaptive step (Chen, Golovko et al. 2024)"
    claim = (
        "The analytic adaptive learning step trains ReLU RBMs to a lower loss and better "
        "generalisation than a constant learning rate and than Adam."
    )
    sizes = SIZES

    def tasks(self, size: str) -> list[dict]:
        settings = SIZES[size]
        tasks = []
        for visible in settings["visible"]:
            for regime in settings["regimes"]:
                tasks.append({"visible": visible, "regime": regime, "method": TRIVIAL})
                tasks += [
                    {"visible": visible, "regime": regime, "method": method}
                    for method in settings["methods"]
                    if regime in METHODS[method].get("regimes", (regime,))
                    and visible in METHODS[method].get("visible", (visible,))
                ]
        return tasks

    def run_task(self, task: dict, seed: int, size: str) -> list[dict]:
        settings = SIZES[size]
        X, X_validation, X_test = self.problem(task["visible"], seed, size)
        batch_size, epochs = settings["regimes"][task["regime"]]
        row = {**task, "seed": seed, "size": size, "batch_size": batch_size, "epochs": epochs}
        if task["method"] == TRIVIAL:
            network = RBMNetwork(
                X.shape[1], settings["n_hidden"], visible=task["visible"], k=settings["k"]
            )
            theta = trivial_reference(X, task["visible"], settings["n_hidden"], settings["k"])
            row.update(
                lr=None,
                learning_rates=[],
                bracketed=None,
                train_cse=finite(network.cse(theta, X)),
                validation_cse=finite(network.cse(theta, X_validation)),
                test_reconstruction=finite(network.reconstruction_error(theta, X_test)),
                dead=1.0,
                passes=0,
                seconds=0.0,
                diverged=False,
                history=None,
            )
            return [row]
        method = METHODS[task["method"]]

        def fit(rate: float | None) -> tuple[float | None, dict]:
            step = dict(method["step"])
            if rate is not None:
                step["lr"] = rate
            model = RBM(
                settings["n_hidden"],
                visible=task["visible"],
                k=settings["k"],
                rule=method.get("rule", "cse"),
                persistent=method.get("persistent", False),
                step=step,
                batch_size=batch_size,
                epochs=epochs,
                random_state=seed,
                epoch_loss="batches",  # E on every row is measured once, at the end
            )
            try:
                model.fit(X)
                diverged = False
            except DivergenceError:
                diverged = True
            history = model.history_
            result = {
                "train_cse": None if diverged else finite(model.cse(X)),
                "validation_cse": None if diverged else finite(model.cse(X_validation)),
                "test_reconstruction": finite(model.reconstruction_error(X_test)),
                "dead": dead_fraction(model.transform(X)),
                "passes": int(history.total("n_forward") + history.total("n_backward")),
                "seconds": finite(history["epochs"]["seconds"][-1])
                if history["epochs"]["seconds"]
                else None,
                "diverged": diverged,
                "history": history,
                "filters": model.components_[:N_FILTERS].copy(),
            }
            return result["validation_cse"], result

        if method.get("tuned"):
            center = RATE_CENTERS[(task["visible"], task["method"])]
            search = search_rates(
                fit,
                rate_grid(center, settings["grid_points"]),
                max_extensions=settings["max_extensions"],
            )
            chosen = search.results[search.best]
            row.update(
                lr=search.best,
                learning_rates=search.rates,
                validation_scores=search.scores,
                bracketed=search.bracketed,
            )
        else:
            _, chosen = fit(None)
            row.update(lr=None, learning_rates=[], bracketed=None)
        if not (seed == 0 and task["regime"] == "mini-batch"):
            chosen.pop("filters")
        row.update(chosen)
        return [row]

    def problem(self, visible: str, seed: int, size: str):
        """Training, validation and test rows for ``seed``: at most ``max_train_rows`` training
        rows drawn; the shipped test rows split at random into a validation half (for choosing
        rates) and a test half; standardised for linear visibles."""
        settings = SIZES[size]
        data = load_dataset(settings["dataset"])
        rng = np.random.default_rng(seed)
        limit = settings["max_train_rows"]
        n_rows = len(data.X_train)
        drawn = rng.permutation(n_rows)[: limit or n_rows]
        order = rng.permutation(len(data.X_test))
        half = len(order) // 2
        X, X_validation, X_test = (
            data.X_train[drawn],
            data.X_test[order[:half]],
            data.X_test[order[half:]],
        )
        if visible != "sigmoid":
            X, X_validation, X_test = standardise(X, X_validation, X_test)
        return X, X_validation, X_test

    def describe(self, size: str) -> str:
        settings = SIZES[size]
        rows = settings["max_train_rows"]
        regimes = "; ".join(
            f"{regime}: batches of {batch}, {epochs} epoch(s)"
            for regime, (batch, epochs) in settings["regimes"].items()
        )
        return (
            f"Size {size!r}: RBM with ReLU hidden units, {settings['n_hidden']} of them, CD-"
            f"{settings['k']}, on {settings['dataset']} "
            f"({'all' if rows is None else f'{rows}'} training rows; the shipped test rows split "
            "at random per seed into a validation half, which chooses the rates, and a test half). "
            f"Visible units: {', '.join(settings['visible'])} (sigmoid on pixels in [0, 1]; "
            f"linear and ReLU on pixels standardised with the training rows, the standard "
            f"deviation floored at {STD_FLOOR}). {regimes}. Methods: "
            f"{', '.join(settings['methods'])} (golovko: the analytic step, derived in relustep, "
            "the paper's exact form may differ; coupled: relustep's own Gauss-Newton step through "
            "the whole chain; PCD: persistent CD, rule `cd`). Each rate grid "
            f"starts with {settings['grid_points']} rates a factor √10 apart and is extended "
            f"(at most {settings['max_extensions']} times) until the best validation E is "
            "strictly inside it. E is the chain's cumulative squared error per row; test recon. "
            "the mean squared reconstruction error per test row. Flags: *dead*, more than "
            f"{DEAD_THRESHOLD:.0%} of the hidden units never active on the training rows; "
            "*trivial*, training E above the trivial reference's."
        )

    def body(self, rows: list[dict], out_dir: Path) -> list[str]:
        lines = [self.table(rows), "", self.flattening(rows), "", self.judged_at_half(rows), ""]
        return lines + self.figures(rows, out_dir)

    def table(self, rows: list[dict]) -> str:
        """A Markdown table, one line per configuration and method, seeds as mean ± std, the
        trivial reference first in each configuration."""
        lines = [
            "| visible | regime | method | rates chosen | grid | train E | test recon. "
            "| dead units | passes | seconds | flags |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for (visible, regime, method), group in group_rows(
            rows, ("visible", "regime", "method")
        ).items():
            trivial = self.trivial_cse(rows, visible, regime)
            rates = sorted({row["lr"] for row in group if row["lr"] is not None})
            grids = sorted({rate for row in group for rate in row["learning_rates"]})
            unbracketed = sum(row["bracketed"] is False for row in group)
            grid = describe_grid(grids) if grids else "—"
            if unbracketed:
                grid += f", best at an edge in {unbracketed}"
            cells = [
                visible,
                regime,
                f"*{method}*" if method == TRIVIAL else method,
                ", ".join(f"{rate:g}" for rate in rates) or "—",
                grid,
                mean_std([row["train_cse"] for row in group]),
                mean_std([row["test_reconstruction"] for row in group]),
                mean_std([100 * row["dead"] for row in group], ".0f") + "%",
                mean_std([row["passes"] for row in group], ".0f"),
                mean_std([row["seconds"] for row in group], ".3g"),
                "" if method == TRIVIAL else self.flags(group, trivial),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    @staticmethod
    def trivial_cse(rows: list[dict], visible: str, regime: str) -> dict[int, float]:
        """The trivial reference's training E per seed."""
        return {
            row["seed"]: row["train_cse"]
            for row in rows
            if (row["visible"], row["regime"], row["method"]) == (visible, regime, TRIVIAL)
        }

    @staticmethod
    def flags(group: list[dict], trivial: dict[int, float]) -> str:
        """What is wrong with some runs of ``group``, as ``dead 2/3, trivial 1/3``."""
        dead = sum(row["dead"] > DEAD_THRESHOLD for row in group)
        worse = sum(
            row["train_cse"] is None
            or (row["seed"] in trivial and row["train_cse"] > trivial[row["seed"]])
            for row in group
        )
        diverged = sum(row["diverged"] for row in group)
        parts = [
            f"{name} {count}/{len(group)}"
            for name, count in (("dead", dead), ("trivial", worse), ("diverged", diverged))
            if count
        ]
        return ", ".join(parts)

    def flattening(self, rows: list[dict]) -> str:
        """Whether the best tuned baseline of each configuration and seed has left its transient:
        the share of its fall (from the mean batch E over its first tenth of steps to that over
        its last tenth) that came in its last tenth, against ``FLAT_SHARE``; beside it, the
        relative fall from the second-to-last tenth to the last, which a curve falling as a power
        of the step count never brings to zero."""
        shares, falls, parts = [], [], []
        for (visible, regime), group in group_rows(rows, ("visible", "regime")).items():
            own_shares, own_falls = [], []
            for seed_rows in group_rows(group, ("seed",)).values():
                baselines = [
                    row
                    for row in seed_rows
                    if METHODS.get(row["method"], {}).get("tuned") and row["train_cse"] is not None
                ]
                if not baselines:
                    continue
                means = tenths(min(baselines, key=lambda row: row["train_cse"]))
                if means is None:
                    continue
                fall = means[0] - means[9]
                own_shares.append(100 * (means[8] - means[9]) / fall if fall > 0 else np.inf)
                own_falls.append(100 * (means[8] - means[9]) / means[8])
            if own_shares:
                parts.append(
                    f"{visible} {regime}: {mean_std(own_shares, '.1f')}% of its fall, "
                    f"{mean_std(own_falls, '.1f')}% lower than the tenth before"
                )
                shares += own_shares
                falls += own_falls
        if not shares:
            return "Has the best baseline left its transient? Not measured."
        flat = sum(share < 100 * FLAT_SHARE for share in shares)
        return (
            "**Has the best baseline left its transient?** Its curve counts as flattened when its "
            f"last tenth of steps brings less than {FLAT_SHARE:.0%} of its fall from the first "
            f"tenth (mean batch E over each tenth): so in {flat} of {len(shares)} configurations "
            "and seeds. The last tenth: " + "; ".join(parts) + ". It is still falling slowly, "
            "so the claims are judged again at half the steps, below."
        )

    def judged_at_half(self, rows: list[dict]) -> str:
        """Each analytic method against the best tuned baseline on the mean batch E over the fifth
        tenth of their steps and over the last tenth, by the verdict rule: when both give the
        same verdict, more steps are not what decides it."""
        lines = []
        for method in self.analytic_methods(rows):
            verdicts = []
            for tenth, when in ((4, "at half the steps"), (9, "at the end")):
                mine, best_other, seeds = [], [], []
                for (_, _, seed), group in group_rows(rows, ("visible", "regime", "seed")).items():
                    runs = {row["method"]: row for row in group}
                    baselines = [
                        tenths(row)
                        for name, row in runs.items()
                        if METHODS.get(name, {}).get("tuned")
                    ]
                    others = [curve[tenth] for curve in baselines if curve is not None]
                    if method not in runs or not others:
                        continue
                    means = tenths(runs[method])
                    mine.append(None if means is None else means[tenth])
                    best_other.append(min(others))
                    seeds.append(seed)
                outcome = judge(mine, best_other, seeds)
                verdicts.append(f"{when} **{outcome.verdict}**: {outcome.counts()}")
            lines.append(f"- {method}: " + "; ".join(verdicts) + ".")
        if not lines:
            return ""
        return "\n".join(
            [
                "**The same claims at half the steps.** Each analytic method against the best "
                "tuned baseline on the mean batch E over the fifth tenth of the steps, and over "
                "the last tenth (the tables judge E on all training rows at the end):",
                "",
                *lines,
            ]
        )

    @staticmethod
    def analytic_methods(rows: list[dict]) -> list[str]:
        """The methods of ``rows`` judged against the tuned baselines."""
        return [
            m for m in unique(row["method"] for row in rows) if METHODS.get(m, {}).get("analytic")
        ]

    def claims(self, rows: list[dict]) -> list[Claim]:
        claims = []
        for method in self.analytic_methods(rows):
            for measure, what in (
                ("train_cse", "a lower training E"),
                ("test_reconstruction", "a lower test reconstruction error"),
            ):
                mine, best_other, seeds, flagged = [], [], [], 0
                for (_, _, seed), group in group_rows(rows, ("visible", "regime", "seed")).items():
                    runs = {row["method"]: row for row in group}
                    others = [
                        row[measure]
                        for name, row in runs.items()
                        if METHODS.get(name, {}).get("tuned") and row[measure] is not None
                    ]
                    if method not in runs or not others:
                        continue
                    mine.append(runs[method][measure])
                    best_other.append(min(others))
                    seeds.append(seed)
                    trivial = runs.get(TRIVIAL, {}).get("train_cse")
                    own = runs[method]["train_cse"]
                    flagged += (
                        runs[method]["dead"] > DEAD_THRESHOLD
                        or own is None
                        or (trivial is not None and own > trivial)
                    )
                claims.append(
                    Claim(
                        f"{method} reaches {what} than the best tuned baseline",
                        judge(mine, best_other, seeds),
                        f"per visible transfer, regime and seed, against the best of "
                        f"{', '.join(m for m in METHODS if METHODS[m].get('tuned'))}; "
                        f"{flagged} of the {method} runs flagged dead or trivial",
                    )
                )
        return claims

    def figures(self, rows: list[dict], out_dir: Path) -> list[str]:
        from relustep.plot import (
            filter_mosaic,
            new_figure,
            plot_per_step,
            plot_step_sizes,
            save_figure,
        )

        first_seed = min(row["seed"] for row in rows)
        lines = [f"### Loss curves and step sizes (seed {first_seed})", ""]
        for (visible, regime), group in group_rows(rows, ("visible", "regime")).items():
            histories = {
                row["method"]: row["history"]
                for row in group
                if row["seed"] == first_seed and row["history"] is not None
            }
            figure, (loss_axes, step_axes) = new_figure(2)
            plot_per_step(histories, "loss", ax=loss_axes)
            trivial = self.trivial_cse(rows, visible, regime).get(first_seed)
            if trivial is not None:
                loss_axes.axhline(trivial, color="0.4", linestyle="--", label=TRIVIAL)
                loss_axes.legend(fontsize="small")
            loss_axes.set_ylabel("batch E per row before each step")
            plot_step_sizes(histories, ax=step_axes)
            figure.suptitle(f"{visible} visible, {regime}")
            name = f"figures/rbm-{visible}-{regime}.png"
            save_figure(figure, out_dir / name)
            lines += [f"![{visible} {regime}]({name})", ""]
        pictures = [row for row in rows if row.get("filters") is not None]
        if pictures:
            lines += [f"### Filters (mini-batch, seed {first_seed})", ""]
        for visible, group in group_rows(pictures, ("visible",)).items():
            figure, axes = new_figure(len(group))
            for ax, row in zip(np.atleast_1d(axes), group, strict=True):
                filter_mosaic(np.asarray(row["filters"]), ax=ax)
                ax.set_title(row["method"])
            figure.suptitle(f"first {N_FILTERS} filters, {visible[0]} visible")
            name = f"figures/rbm-filters-{visible[0]}.png"
            save_figure(figure, out_dir / name)
            lines += [f"![filters {visible[0]}]({name})", ""]
        return lines


SECTION = RBMSection()
TITLE, CLAIM = SECTION.title, SECTION.claim
run, report_section, verdicts = SECTION.run, SECTION.report_section, SECTION.verdicts


def verdict(rows: list[dict]) -> dict[str, str]:
    """The verdict of each claim of :meth:`RBMSection.claims`, by claim."""
    return {claim.statement: claim.verdict.verdict for claim in SECTION.claims(rows)}
