"""Pictures of training runs: loss curves and step-size traces.

Each function takes a dict ``{label: History}`` and draws one curve per label, on ``ax`` when given,
else on a new pyplot figure, and returns the figure. Matplotlib is imported inside the functions,
so ``import relustep`` stays fast and never chooses a plotting backend for you.

Examples
--------
>>> import numpy as np, relustep
>>> from relustep.plot import plot_losses
>>> X = np.random.default_rng(0).normal(size=(100, 3)); y = X.sum(axis=1)
>>> runs = {step: relustep.ReLURegressor((8,), step=step, epochs=5, random_state=0).fit(X, y)
...         for step in ("constant", "adam")}
>>> figure = plot_losses({step: model.history_ for step, model in runs.items()}, x="passes")
>>> len(figure.axes[0].get_lines())
2
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from relustep._validation import check_choice
from relustep.history import History

X_AXES = {
    "epochs": "epoch",
    "seconds": "training time (s)",
    "passes": "forward + backward passes",
}
LOSSES = ("train_loss", "val_loss")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")  # one per curve, so that curves
# lying on top of each other stay visible
SMOOTHING = 0.02  # a per-step trace's running median spans this fraction of the steps
PER_STEP_LABELS = {"loss": "batch loss before the step", "step_size": "step size"}


def epoch_positions(history: History, x: str = "epochs") -> np.ndarray:
    """Where each epoch ends, measured in epochs, training seconds or passes.

    Parameters
    ----------
    history : History
        A training record.
    x : {"epochs", "seconds", "passes"}
        ``"passes"`` counts the forward and backward passes of every step up to the end of the
        epoch (probes of the loss included), the fair cost measure between step rules that probe
        and rules that do not.

    Returns
    -------
    ndarray
        One value per recorded epoch.
    """
    check_choice(x, "x", X_AXES)
    epochs = history["epochs"]
    if x == "epochs":
        return np.arange(1, len(epochs["train_loss"]) + 1, dtype=float)
    if x == "seconds":
        return np.asarray(epochs["seconds"], dtype=float)
    passes = np.cumsum(np.add(history["n_forward"], history["n_backward"]), dtype=float)
    passes = np.concatenate([[0.0], passes])  # passes[k] = cost of the first k steps
    return passes[np.asarray(epochs["step"], dtype=int)]


def plot_losses(
    histories: dict[str, History],
    *,
    x: str = "epochs",
    which: str = "train_loss",
    ax=None,
    logy: bool = True,
    path: str | os.PathLike | None = None,
):
    """Draw the per-epoch loss of each run, one curve per label.

    Parameters
    ----------
    histories : dict of str to History
        The runs to compare, by label.
    x : {"epochs", "seconds", "passes"}
        The horizontal axis (see :func:`epoch_positions`).
    which : {"train_loss", "val_loss"}
        The loss on the whole training set, or on the validation data, after each epoch.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    logy : bool
        A logarithmic loss axis.
    path : str or path-like, optional
        Also write the figure to this file (the format follows the suffix, e.g. ``.png``), as
        :func:`save_figure` does: in a script, where no window shows the figure, this is how to
        see it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice(which, "which", LOSSES)
    ax = _axes(ax)
    for index, (label, history) in enumerate(histories.items()):
        ax.plot(
            epoch_positions(history, x),
            history["epochs"][which],
            marker=MARKERS[index % len(MARKERS)],
            markersize=4,
            markerfacecolor="none",
            label=label,
        )
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel(which.replace("_", " "))
    if x == "epochs":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _finish(ax, logy)
    if path is not None:
        save_figure(ax.figure, path)
    return ax.figure


def plot_step_sizes(histories: dict[str, History], ax=None):
    r"""Draw the step size :math:`\alpha` of every step of each run on a log axis: the steps as
    faint points and their running median as a line, one colour per label.

    Parameters
    ----------
    histories : dict of str to History
        The runs to compare, by label.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Online runs take thousands of steps whose sizes scatter over decades; drawn as one line they
    fill the panel. The running median over ``SMOOTHING`` of the steps shows the trend, and the
    points the spread. Steps of size zero (a step the rule refused) cannot be drawn on a log
    axis and are left out.
    """
    return plot_per_step(histories, "step_size", ax=ax)


def plot_per_step(histories: dict[str, History], column: str = "loss", ax=None):
    """Draw one per-step column of each run's history (``"loss"``, the batch's loss before each
    step, or ``"step_size"``) on a log axis, as :func:`plot_step_sizes` draws the step sizes:
    faint points and their running median; values that are not positive are left out.

    Parameters
    ----------
    histories : dict of str to History
        The runs to compare, by label.
    column : str
        The per-step column drawn.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ax = _axes(ax)
    for index, (label, history) in enumerate(histories.items()):
        values = np.asarray(history[column], dtype=float)
        steps = np.arange(1, len(values) + 1)
        shown = np.isfinite(values) & (values > 0)
        if not shown.any():
            continue
        (points,) = ax.plot(
            steps[shown], values[shown], linestyle="none", marker=".", markersize=2, alpha=0.25
        )
        ax.plot(
            steps[shown],
            running_median(values[shown], max(1, int(SMOOTHING * shown.sum()))),
            color=points.get_color(),
            marker=MARKERS[index % len(MARKERS)],
            markevery=max(1, shown.sum() // 8),
            markerfacecolor="none",
            label=label,
        )
    ax.set_xlabel("step")
    ax.set_ylabel(PER_STEP_LABELS.get(column, column.replace("_", " ")))
    _finish(ax, logy=True)
    return ax.figure


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """The median of each value and the ``window - 1`` values before it (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    if window <= 1:
        return values.copy()
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.nanmedian(windows, axis=1)


def filter_mosaic(filters: np.ndarray, shape: tuple[int, int] | None = None, ax=None, gap: int = 1):
    """Draw each row of ``filters`` as a small image, in a square grid with ``gap`` blank pixels
    between the tiles; each tile is scaled by its own largest absolute weight.

    Parameters
    ----------
    filters : ndarray, shape (n_filters, n_pixels)
        One filter per row (for an RBM, the rows of ``components_``).
    shape : (int, int), optional
        The image shape; square by default.
    ax : matplotlib Axes, optional
    gap : int
        Blank pixels between tiles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    filters = np.asarray(filters, dtype=float)
    if shape is None:
        side = int(round(np.sqrt(filters.shape[1])))
        shape = (side, side)
    columns = int(np.ceil(np.sqrt(len(filters))))
    rows = int(np.ceil(len(filters) / columns))
    height, width = shape
    tiles = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan)
    for index, weights in enumerate(filters):
        r, c = divmod(index, columns)
        scale = np.abs(weights).max() or 1.0
        top, left = r * (height + gap), c * (width + gap)
        tiles[top : top + height, left : left + width] = weights.reshape(shape) / scale
    ax = _axes(ax)
    ax.imshow(tiles, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    return ax.figure


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Write ``figure`` to ``path`` (the format follows the suffix, e.g. ``.png``).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    path : str or path-like
        The folder is created if needed.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def new_figure(n_columns: int = 1, n_rows: int = 1):
    """A figure for writing to a file, made without pyplot: no window, no backend to choose,
    nothing to close.

    Parameters
    ----------
    n_columns, n_rows : int
        The grid of panels.

    Returns
    -------
    figure : matplotlib.figure.Figure
    axes : Axes or array of Axes
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5 * n_columns + 0.5, 3.4 * n_rows + 0.4), layout="constrained")
    return figure, figure.subplots(n_rows, n_columns, squeeze=n_rows == 1)


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 3.6), layout="constrained")[1]


def _finish(ax, logy: bool) -> None:
    if logy and _all_positive(ax):
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if any(not line.get_label().startswith("_") for line in ax.get_lines()):
        ax.legend(fontsize="small")


def _all_positive(ax) -> bool:
    values = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values)]
    return values.size > 0 and bool(np.all(values > 0))
