"""The RBM protocol (Chen, Golovko et al. 2024, section 1.5 of relustep's methods; the protocol is
relustep's own, the paper's could not be read): the analytic adaptive step against constant steps
chosen on a validation split and against Adam.

A section of ``relustep reproduce`` (see :mod:`relustep.experiments.reproduce`): :func:`run` trains
the runs and returns one row per run; :func:`report_section` writes the table, the plots and a
verdict computed from the rows; :func:`verdicts` gives the verdict for the summary.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from relustep import datasets
from relustep._validation import check_choice, check_int
from relustep.estimators.rbm import RBM
from relustep.experiments._common import finite, mean_std
from relustep.progress import ProgressBar
from relustep.train import DivergenceError

TITLE = "RBMs with the analytic adaptive step (Chen, Golovko et al. 2024)"
CLAIM = (
    "The analytic adaptive learning step trains ReLU RBMs to a lower loss and better "
    "generalisation than a constant learning rate and than Adam."
)
METHODS = {
    "golovko": {"name": "golovko"},
    "golovko+verify": {"name": "golovko", "verify": True},
    "constant": {"name": "constant"},
    "adam": {"name": "adam"},
}
SIZES = {  # "tiny" is a smoke test for the test suite: its numbers mean nothing
    "tiny": {
        "datasets": ["digits"],
        "max_train_rows": 100,
        "n_hidden": 8,
        "epochs": 1,
        "k": 1,
        "batch_size": 25,
        "grids": {"constant": [0.01], "adam": [0.001]},
    },
    "quick": {
        "datasets": ["mnist"],
        "max_train_rows": 1000,
        "n_hidden": 64,
        "epochs": 3,
        "k": 3,
        "batch_size": 50,
        "grids": {"constant": [0.01, 0.1], "adam": [0.001, 0.01]},
    },
    "full": {
        "datasets": ["mnist", "fashion-mnist"],
        "max_train_rows": None,
        "n_hidden": 256,
        "epochs": 3,
        "k": 3,
        "batch_size": 100,
        "grids": {"constant": [0.001, 0.01, 0.1], "adam": [0.0003, 0.001, 0.003]},
    },
}
VISIBLE = ("sigmoid", "relu")
REGIMES = ("online", "mini-batch")
VALIDATION_FRACTION = 0.2
N_FILTERS, N_RECONSTRUCTIONS = 36, 8


def configurations(size: str) -> list[dict]:
    """Every (dataset, visible units, regime, k) combination of ``size``."""
    settings = SIZES[size]
    return [
        {"dataset": name, "visible": visible, "regime": regime, "k": k}
        for name, visible, regime, k in itertools.product(
            settings["datasets"], VISIBLE, REGIMES, sorted({1, settings["k"]})
        )
    ]


def run(
    size: str = "quick",
    seeds: Sequence[int] = (0,),
    progress: bool = True,
    out_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """Train every configuration with every method and seed; return one row per run.

    Parameters
    ----------
    size : {"tiny", "quick", "full"}
        ``"full"``: RBM 784-256 on all MNIST and Fashion-MNIST training rows; ``"quick"``: MNIST,
        1000 rows, 64 hidden units (about a minute on two cores); ``"tiny"``: a smoke test.
    seeds : sequence of int
        The seed fixes the drawn rows, the validation split, the weights and the batch order.
    progress : bool
        A progress bar over the runs.
    out_dir : str or path-like, optional
        Not used: nothing is written while running (``relustep reproduce`` stores the rows).

    Returns
    -------
    list of dict
        Per run: ``dataset, visible, regime, batch_size, k, method, seed, size, lr`` (the rate
        chosen, None for the analytic step), ``learning_rates`` and ``validation_losses`` (the
        grid and its validation :math:`E`), ``train_cse`` (:math:`E` per row on the training rows),
        ``train_reconstruction``, ``test_reconstruction`` (mean squared reconstruction error per
        row), ``seconds`` (training time of the final run), ``steps``, ``diverged``, ``history``
        and, for the first seed's mini-batch CD-1 runs, ``filters`` and ``reconstructions``
        (arrays for the mosaics).

    Notes
    -----
    Per configuration and seed: at most ``max_train_rows`` training rows are drawn; the constant
    step and Adam choose their rate from the size's grid by the validation :math:`E` after the
    last epoch (trained on 80% of the drawn rows, scored on the other 20%; a diverged run scores
    infinity; ties go to the smaller rate); the analytic step has no rate to choose. Every method
    is then trained from the same seed on all drawn rows and scored on the training rows and the
    whole test set. Online means a batch of one sample.
    """
    check_choice(size, "size", SIZES)
    seeds = [check_int(seed, "seeds", low=0) for seed in seeds]
    plan = [
        (config, method, seed)
        for config in configurations(size)
        for method in METHODS
        for seed in seeds
    ]
    rows, loaded = [], {}
    with ProgressBar(len(plan), "rbm", enabled=progress) as bar:
        for config, method, seed in plan:
            if config["dataset"] not in loaded:
                loaded[config["dataset"]] = datasets.load(config["dataset"])
            rows.append(run_one(loaded[config["dataset"]], config, method, seed, size))
            name = f"{config['dataset']} {config['visible']} {config['regime']} CD-{config['k']}"
            bar.update(1, f"{name} {method}")
    return rows


def run_one(data, config: dict, method: str, seed: int, size: str) -> dict:
    """One row of :func:`run`."""
    settings = SIZES[size]
    rng = np.random.default_rng(seed)
    n_rows = len(data.X_train)
    limit = settings["max_train_rows"]
    drawn = (
        rng.choice(n_rows, limit, replace=False)
        if limit and n_rows > limit
        else rng.permutation(n_rows)
    )
    X = data.X_train[drawn]
    n_validation = int(round(VALIDATION_FRACTION * len(X)))
    batch_size = 1 if config["regime"] == "online" else settings["batch_size"]

    def model(rate):
        step = dict(METHODS[method])
        if rate is not None:
            step["lr"] = rate
        return RBM(
            settings["n_hidden"],
            visible=config["visible"],
            k=config["k"],
            step=step,
            batch_size=batch_size,
            epochs=settings["epochs"],
            random_state=seed,
        )

    grid = settings["grids"].get(method, [None])
    validation_losses = []
    if len(grid) > 1:
        for rate in grid:
            candidate = model(rate)
            diverged = _fit(candidate, X[n_validation:], X[:n_validation])
            loss = None if diverged else finite(candidate.history_["epochs"]["val_loss"][-1])
            validation_losses.append(loss)
        scores = [math.inf if loss is None else loss for loss in validation_losses]
        rate = grid[min(range(len(grid)), key=lambda i: (scores[i], grid[i]))]
    else:
        rate = grid[0]
    final = model(rate)
    diverged = _fit(final, X, data.X_test)
    history = final.history_
    row = {
        **config,
        "batch_size": batch_size,
        "method": method,
        "seed": seed,
        "size": size,
        "lr": rate,
        "learning_rates": grid if grid != [None] else [],
        "validation_losses": validation_losses,
        "train_cse": finite(final.cse(X)),
        "train_reconstruction": finite(final.reconstruction_error(X)),
        "test_reconstruction": finite(final.reconstruction_error(data.X_test)),
        "seconds": finite(history["epochs"]["seconds"][-1])
        if history["epochs"]["seconds"]
        else None,
        "steps": len(history),
        "diverged": diverged,
        "history": history,
    }
    if seed == 0 and config["regime"] == "mini-batch" and config["k"] == 1:
        row["filters"] = final.components_[:N_FILTERS].copy()
        row["reconstructions"] = final.reconstruct(data.X_test[:N_RECONSTRUCTIONS])
        row["originals"] = data.X_test[:N_RECONSTRUCTIONS].copy()
        row["image_shape"] = list(data.image_shape) if data.image_shape else None
    return row


def verdict(rows: list[dict]) -> dict:
    """Compare the analytic step (without ``verify``) with the better of the constant step and
    Adam in each configuration and seed; return the counts and the verdict.

    The claim counts as "supported" when the analytic step has the lower training :math:`E` and
    the lower test reconstruction error in at least three quarters of the comparisons, "not
    supported" when it does in at most a quarter of them for both measures, and "mixed"
    otherwise.
    """
    groups: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        key = (row["dataset"], row["visible"], row["regime"], row["k"], row["seed"])
        groups.setdefault(key, {})[row["method"]] = row
    wins = {"train_cse": 0, "test_reconstruction": 0}
    compared = 0
    for methods in groups.values():
        if not {"golovko", "constant", "adam"} <= set(methods):
            continue
        compared += 1
        for measure in wins:
            adaptive = _score(methods["golovko"], measure)
            best_other = min(_score(methods[name], measure) for name in ("constant", "adam"))
            wins[measure] += adaptive < best_other
    fractions = {measure: wins[measure] / compared if compared else math.nan for measure in wins}
    if compared and min(fractions.values()) >= 0.75:
        outcome = "supported"
    elif compared and max(fractions.values()) <= 0.25:
        outcome = "not supported"
    else:
        outcome = "mixed"
    return {"compared": compared, "wins": wins, "fractions": fractions, "verdict": outcome}


def format_table(rows: list[dict]) -> str:
    """A Markdown table, one line per configuration and method, seeds as mean ± std."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["dataset"], row["visible"], row["regime"], row["k"], row["method"])
        groups.setdefault(key, []).append(row)
    lines = [
        "| dataset | visible | regime | k | method | lr | train E | train recon. | test recon. "
        "| seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, visible, regime, k, method), group in groups.items():
        diverged = sum(row["diverged"] for row in group)
        label = method + (f" (diverged {diverged}/{len(group)})" if diverged else "")
        rates = sorted({row["lr"] for row in group if row["lr"] is not None})
        cells = [dataset, visible, regime, str(k), label, ", ".join(f"{r:g}" for r in rates) or "—"]
        for key in ("train_cse", "train_reconstruction", "test_reconstruction", "seconds"):
            cells.append(mean_std([row[key] for row in group]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_section(rows: list[dict], out_dir: str | os.PathLike) -> str:
    """The Markdown section of the report (its title and the claim come from the main job, see
    :mod:`relustep.experiments.reproduce`): what was run, the table, the plots (saved in
    ``out_dir/figures/``) and the verdict with the numbers behind it.

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
    outcome = verdict(rows)
    sizes = sorted({row["size"] for row in rows})
    seeds = sorted({row["seed"] for row in rows})
    lines = [
        "**What was run** (relustep's protocol; the step's formula is derived in relustep and the "
        "paper's exact form may differ): RBMs with ReLU hidden units and the masked CSE rule, "
        f"sizes {', '.join(sizes)} ({'; '.join(_describe(size) for size in sizes)}), seeds "
        f"{', '.join(map(str, seeds))}. Methods: `golovko` (the analytic step), `golovko+verify` "
        "(halved until the batch loss does not rise), `constant` and `adam` with the rate chosen "
        "on a 20% validation split. Online = one sample per step. E is the chain's cumulative "
        "squared error per row; recon. the mean squared reconstruction error per row.",
        "",
        format_table(rows),
        "",
    ]
    lines += _figures(rows, out_dir)
    fractions = outcome["fractions"]
    lines += [
        f"**Verdict: {outcome['verdict']}.** Against the better of the constant step and Adam in "
        f"each of {outcome['compared']} configuration-and-seed comparisons, the analytic step had "
        f"the lower training E in {outcome['wins']['train_cse']} "
        f"({_percent(fractions['train_cse'])}) and the lower test reconstruction error in "
        f"{outcome['wins']['test_reconstruction']} ({_percent(fractions['test_reconstruction'])}). "
        "(Supported: both at least 75%; not supported: both at most 25%; otherwise mixed.)",
        "",
    ]
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> list[tuple[str, str, str]]:
    """The claim, the verdict of :func:`verdict` and the counts behind it, for the summary."""
    outcome = verdict(rows)
    evidence = (
        f"lower training E than the better of a tuned constant step and Adam in "
        f"{outcome['wins']['train_cse']} of {outcome['compared']} comparisons, lower test "
        f"reconstruction error in {outcome['wins']['test_reconstruction']}"
    )
    return [(CLAIM, outcome["verdict"], evidence)]


# -- plots ---------------------------------------------------------------------------------------
def _figures(rows: list[dict], out_dir: Path) -> list[str]:
    from relustep.plot import new_figure, plot_losses, plot_step_sizes, save_figure

    lines = ["### Loss curves and step sizes (first seed)", ""]
    first_seed = min(row["seed"] for row in rows)
    configs = sorted({(r["dataset"], r["visible"], r["regime"], r["k"]) for r in rows})
    for dataset, visible, regime, k in configs:
        chosen = [
            row
            for row in rows
            if (row["dataset"], row["visible"], row["regime"], row["k"], row["seed"])
            == (dataset, visible, regime, k, first_seed)
        ]
        histories = {row["method"]: row["history"] for row in chosen}
        figure, (loss_axes, step_axes) = new_figure(2)
        plot_losses(histories, which="train_loss", ax=loss_axes)
        loss_axes.set_ylabel("train E per row")
        plot_step_sizes(histories, ax=step_axes)
        figure.suptitle(f"{dataset}, {visible} visible, {regime}, CD-{k}")
        name = f"rbm-{dataset}-{visible}-{regime}-k{k}.png"
        save_figure(figure, out_dir / "figures" / name)
        lines += [f"![{dataset} {visible} {regime} CD-{k}](figures/{name})", ""]
    pictures = [row for row in rows if row.get("filters") is not None and row.get("image_shape")]
    if pictures:
        lines += ["### Filters and reconstructions (mini-batch, CD-1, first seed)", ""]
    for row in pictures:
        name = f"rbm-mosaic-{row['dataset']}-{row['visible']}-{row['method']}.png"
        _save_mosaic(row, out_dir / "figures" / name)
        lines += [f"![{row['dataset']} {row['visible']} {row['method']}](figures/{name})", ""]
    return lines


def _save_mosaic(row: dict, path: Path) -> None:
    from relustep.plot import new_figure, save_figure

    shape = tuple(row["image_shape"])
    filters = np.asarray(row["filters"])
    side = int(math.ceil(math.sqrt(len(filters))))
    tiles = np.zeros((side * shape[0], side * shape[1]))
    for index, weights in enumerate(filters):
        r, c = divmod(index, side)
        scale = np.abs(weights).max() or 1.0
        tiles[r * shape[0] : (r + 1) * shape[0], c * shape[1] : (c + 1) * shape[1]] = (
            weights.reshape(shape) / scale
        )
    originals, reconstructions = np.asarray(row["originals"]), np.asarray(row["reconstructions"])
    pairs = np.concatenate(
        [
            np.concatenate(list(images.reshape(-1, *shape)), axis=1)
            for images in (originals, np.clip(reconstructions, 0, 1))
        ]
    )
    figure, (filter_axes, image_axes) = new_figure(2)
    filter_axes.imshow(tiles, cmap="RdBu_r", vmin=-1, vmax=1)
    filter_axes.set_title(f"first {len(filters)} filters (rows of components_)")
    image_axes.imshow(pairs, cmap="gray", vmin=0, vmax=1)
    image_axes.set_title("test images (top) and reconstructions x(1)")
    for axes in (filter_axes, image_axes):
        axes.set_axis_off()
    figure.suptitle(f"{row['dataset']}, {row['visible']} visible, {row['method']}")
    save_figure(figure, path)


# -- helpers -------------------------------------------------------------------------------------
def _fit(model: RBM, X: np.ndarray, validation: np.ndarray) -> bool:
    """Fit; return whether training diverged (the model keeps its last finite parameters)."""
    try:
        model.fit(X, validation_data=validation)
    except DivergenceError:
        return True
    return False


def _score(row: dict, measure: str) -> float:
    value = row[measure]
    return math.inf if value is None or row["diverged"] else value


def _percent(fraction: float) -> str:
    return "n/a" if math.isnan(fraction) else f"{100 * fraction:.0f}%"


def _describe(size: str) -> str:
    settings = SIZES[size]
    rows = settings["max_train_rows"]
    chains = " and ".join(f"CD-{k}" for k in sorted({1, settings["k"]}))
    return (
        f"{size}: {', '.join(settings['datasets'])}, "
        f"{'all' if rows is None else f'at most {rows}'} training rows, "
        f"{settings['n_hidden']} hidden units, {settings['epochs']} epoch(s), {chains}, "
        f"mini-batches of {settings['batch_size']}, constant rates "
        f"{settings['grids']['constant']}, Adam rates {settings['grids']['adam']}"
    )
