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
    for label, history in histories.items():
        ax.plot(epoch_positions(history, x), history["epochs"][which], marker=".", label=label)
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
    r"""Draw the step size :math:`\alpha` of every step of each run, one curve per label.

    Parameters
    ----------
    histories : dict of str to History
        The runs to compare, by label.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ax = _axes(ax)
    for label, history in histories.items():
        ax.plot(np.arange(1, len(history) + 1), history["step_size"], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("step size")
    _finish(ax, logy=True)
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


def new_figure(n_columns: int = 1):
    """A figure for writing to a file, made without pyplot: no window, no backend to choose,
    nothing to close.

    Returns
    -------
    figure : matplotlib.figure.Figure
    axes : Axes or array of Axes
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * n_columns, 3.6), layout="constrained")
    return figure, figure.subplots(1, n_columns)


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 3.6), layout="constrained")[1]


def _finish(ax, logy: bool) -> None:
    if logy and _all_positive(ax):
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize="small")


def _all_positive(ax) -> bool:
    values = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values)]
    return values.size > 0 and bool(np.all(values > 0))
