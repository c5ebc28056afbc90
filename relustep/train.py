r"""One training loop for every model and step rule.

A step (:class:`Stepper`) is the same for a network on a mini-batch and for a function a student
writes (:func:`relustep.minimize`): an *objective* gives the loss and its gradient at
:math:`\theta`, the step rule picks a direction :math:`d` and a step :math:`\alpha`, and
:math:`\theta \leftarrow \theta - \alpha d` in place. :func:`train` runs epochs of seeded,
shuffled mini-batches through a :class:`Stepper` and records everything in a
:class:`~relustep.history.History`.

If the loss turns NaN or infinite, the run stops with :class:`DivergenceError` and ``theta`` holds
the last parameters at which the loss was finite.
"""

from __future__ import annotations

import math
import time

import numpy as np

from relustep import kernels
from relustep._validation import check_choice, check_int
from relustep.history import History
from relustep.progress import ProgressBar
from relustep.steps.base import Line, StepRule
from relustep.steps.exact import ExactLineSearch, decrease_ratio

EPOCH_LOSSES = ("full", "batches", "none")


class DivergenceError(FloatingPointError):
    """The loss became NaN or infinite; the parameters were restored to the last finite ones."""


class BatchObjective:
    """A model's loss on one fixed batch, as a function of the parameters alone."""

    def __init__(self, model, X: np.ndarray, y: np.ndarray):
        self.model, self.X, self.y = model, X, y

    def loss(self, theta: np.ndarray) -> float:
        return self.model.loss(theta, self.X, self.y)

    def loss_and_gradient(self, theta: np.ndarray, gradient: np.ndarray):
        return self.model.loss_and_gradient(theta, self.X, self.y, gradient)


class Stepper:
    """Takes steps on ``theta`` (in place) with ``rule``, recording each in ``history``.

    Parameters
    ----------
    theta : ndarray
        The flat parameter vector; it is updated in place.
    rule : StepRule
        A started step rule (see :meth:`StepRule.start`).
    history : History
        Where each step is recorded.
    record_optimality : bool or int
        Every ``record_optimality``-th step (``True``: every step), also record in the column
        ``"optimality"`` the decrease the step achieved on its batch as a fraction of the best
        decrease along the same direction, found by :class:`~relustep.steps.ExactLineSearch`
        (see :func:`~relustep.steps.exact.decrease_ratio`); ``nan`` on the other steps. The
        oracle's forward passes and time are not charged to the step (``n_forward``,
        ``seconds``); its time is summed in ``oracle_seconds``.
    """

    def __init__(
        self,
        theta: np.ndarray,
        rule: StepRule,
        history: History,
        record_optimality: bool | int = False,
    ):
        self.theta, self.rule, self.history = theta, rule, history
        self.gradient = np.empty_like(theta)
        self.last_finite = theta.copy()
        history.add_fallbacks(rule.fallbacks)
        history.add_logged(rule.logged)
        if isinstance(record_optimality, bool | np.bool_):
            record_optimality = int(record_optimality)
        self.optimality_every = check_int(record_optimality, "record_optimality", low=0)
        self.oracle = ExactLineSearch() if self.optimality_every else None
        self.oracle_seconds = 0.0
        if self.oracle is not None:
            self.oracle.start(theta.size, theta.dtype)
            history.add_logged(("optimality",))

    def step(self, objective, gtol: float | None = None) -> float | None:
        """Take one step on ``objective``; return the loss at the starting point.

        With ``gtol``, a starting point whose gradient has Euclidean norm at most ``gtol`` is
        left where it is: nothing moves, nothing is recorded, and ``None`` is returned.
        Overflow inside the step is not warned about: a non-finite loss is caught explicitly
        at the next step, which restores the last finite parameters."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._step(objective, gtol)

    def _step(self, objective, gtol: float | None) -> float | None:
        started = time.perf_counter()
        loss, gradient = objective.loss_and_gradient(self.theta, self.gradient)
        if not math.isfinite(loss):
            self.restore(f"the loss became {loss} at step {len(self.history) + 1}")
        if gtol is not None and math.sqrt(float(gradient @ gradient)) <= gtol:
            return None
        np.copyto(self.last_finite, self.theta)
        direction = self.rule.direction(gradient)
        line = Line(self.theta, gradient, direction, loss, objective)
        alpha = float(self.rule.size(line))
        optimality, oracle_seconds = math.nan, 0.0
        if self.oracle is not None and self.rule.n_steps % self.optimality_every == 0:
            oracle_started = time.perf_counter()
            optimality = decrease_ratio(line, alpha, self.oracle)
            oracle_seconds = time.perf_counter() - oracle_started
            self.oracle_seconds += oracle_seconds
        if alpha != 0.0:
            kernels.steps.step_along(self.theta, alpha, direction)
        self.rule.n_steps += 1
        record = {
            "loss": float(loss),
            "step_size": alpha,
            "n_forward": 1 + line.n_probes,
            "n_backward": 1,
            "seconds": time.perf_counter() - started - oracle_seconds,
            **self.rule.take_counts(),
            **self.rule.take_logged(),
        }
        if "optimality" in self.history:
            record["optimality"] = optimality
        self.history.record_step(record)
        return loss

    def restore(self, what: str) -> None:
        """Put back the last parameters with a finite loss and raise :class:`DivergenceError`."""
        np.copyto(self.theta, self.last_finite)
        raise DivergenceError(
            f"{what} with step rule {self.rule!r}; training stopped and the parameters were "
            "restored to the last point with a finite loss. A smaller learning rate, or another "
            "step rule, usually helps."
        )


def evaluate_loss(model, theta: np.ndarray, X: np.ndarray, y: np.ndarray, chunk: int = 4096):
    """The loss on a whole data set, in chunks of rows so that memory stays bounded."""
    n = len(X)
    total = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        total += (stop - start) / n * model.loss(theta, X[start:stop], y[start:stop])
    return total


def train(
    model,
    theta: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    rule: StepRule,
    history: History,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: bool = False,
    description: str = "training",
    epoch_loss: str = "full",
    record_optimality: bool | int = False,
) -> None:
    """Run ``epochs`` passes of shuffled mini-batches over ``(X, y)``, updating ``theta``.

    Each epoch draws a permutation of the rows from ``rng`` and steps through it ``batch_size``
    rows at a time (the last batch may be smaller). After each epoch a training loss and the loss
    on ``validation`` are recorded; these measurements are not counted in the steps' passes or
    seconds. The training loss is, by ``epoch_loss``:

    ``"full"``
        the loss on the whole training set at the parameters reached (one more forward pass
        over the data: on a one-hidden-layer network with many inputs, about half the cost of
        the epoch's steps);
    ``"batches"``
        the mean of the epoch's batch losses, each taken before its step, weighted by batch
        size (free; what scikit-learn's ``loss_curve_`` records);
    ``"none"``
        nothing (``nan``; the validation loss is not measured either).

    With ``verbose``, a progress bar appears on runs longer than two
    seconds. ``record_optimality`` is passed to :class:`Stepper`; the oracle's time is not
    counted in the epochs' seconds.
    """
    check_choice(epoch_loss, "epoch_loss", EPOCH_LOSSES)
    kernels.warm_up(theta.dtype)
    stepper = Stepper(theta, rule, history, record_optimality)
    n = len(X)
    training_seconds = history["epochs"]["seconds"][-1] if history["epochs"]["seconds"] else 0.0
    with ProgressBar(epochs, description, enabled=verbose) as progress:
        for _ in range(epochs):
            order = rng.permutation(n)
            epoch_started, oracle_before = time.perf_counter(), stepper.oracle_seconds
            batch_losses = 0.0
            for start in range(0, n, batch_size):
                rows = order[start : start + batch_size]
                batch_losses += len(rows) * stepper.step(BatchObjective(model, X[rows], y[rows]))
            oracle_seconds = stepper.oracle_seconds - oracle_before
            training_seconds += time.perf_counter() - epoch_started - oracle_seconds
            train_loss = val_loss = math.nan
            if epoch_loss == "full":
                with np.errstate(over="ignore", invalid="ignore"):
                    train_loss = evaluate_loss(model, theta, X, y)
                if not math.isfinite(train_loss):
                    stepper.restore(f"the training loss became {train_loss} after an epoch")
            elif epoch_loss == "batches":
                train_loss = batch_losses / n
                if not np.all(np.isfinite(theta)):
                    stepper.restore("the parameters became non-finite in the last step of an epoch")
            if epoch_loss != "none" and validation is not None:
                val_loss = evaluate_loss(model, theta, *validation)
            history.record_epoch(train_loss, val_loss, training_seconds)
            progress.update(1, f"loss {train_loss:.4g}")
