r"""One training loop for every estimator and step rule.

A step (:class:`Stepper`) is the same for a network on a mini-batch, an RBM's Gibbs chain and a
function a student writes (:func:`relustep.minimize`): an *objective* (see
:mod:`relustep.objective`) gives the loss and its gradient at :math:`\theta`, the step rule picks
a direction :math:`d` and a step :math:`\alpha`, and :math:`\theta \leftarrow \theta - \alpha d`.

:func:`run_epochs` is the loop: it runs a *task*'s epochs, times them, measures the training and
validation loss after each, shows progress and records everything in a
:class:`~relustep.history.History`. A task supplies only what differs between estimators:

``run_epoch(stepper, rng) -> float``
    one epoch of steps through ``stepper`` (or a fused kernel's steps, recorded with
    :meth:`Stepper.record_steps`); returns the mean of the batch losses, weighted by rows;
``training_loss(theta)``, ``validation_loss(theta)``
    the losses after an epoch (not timed; ``nan`` where there is no validation data);
``epoch_columns() -> dict`` and ``converged``
    extra per-epoch entries, and whether to stop early (the analytic solver's).

:class:`MiniBatches` is the task of every gradient-trained estimator; the analytic two-layer
solver has its own (:class:`relustep.solvers.analytic.Iterations`).

**Divergence.** A run stops with :class:`DivergenceError` when the loss becomes NaN or infinite,
when it grows past :data:`LOSS_GROWTH` times the first loss of the run (or 1, when that is
larger), or when a parameter leaves
:math:`[-` :data:`PARAMETER_LIMIT` :math:`,` :data:`PARAMETER_LIMIT` :math:`]` or is not finite
(checked after every epoch and every :meth:`Stepper.finish`). The parameters are then those of the
last point whose loss was measured and accepted, exactly: the stepper keeps two buffers and writes
each step :math:`\theta - \alpha d` into the one it is not reading, so the point before the step is
still there, untouched, without a copy per step. A fused epoch (a whole epoch inside one kernel)
keeps the epoch's starting point instead, one copy per epoch.
"""

from __future__ import annotations

import math
import time

import numpy as np

from relustep import kernels
from relustep._validation import check_choice, check_int
from relustep.history import History
from relustep.objective import BatchObjective, check_pairing
from relustep.progress import ProgressBar
from relustep.steps.base import Line, StepRule
from relustep.steps.exact import ExactLineSearch, decrease_ratio

EPOCH_LOSSES = ("full", "batches", "none")
LOSS_GROWTH = 1e8
PARAMETER_LIMIT = 1e12


class DivergenceError(FloatingPointError):
    """Training diverged; the parameters were restored to the last accepted point."""


class Stepper:
    """Takes steps with ``rule``, recording each in ``history``; keeps the last accepted point.

    Parameters
    ----------
    theta : ndarray
        The flat parameter vector. During the run the current point is :attr:`theta` (one of two
        buffers); :meth:`finish` leaves it in this array.
    rule : StepRule or None
        A started step rule (see :meth:`StepRule.start`); ``None`` for a task that records its
        own steps (the analytic solver).
    history : History
        Where each step is recorded.
    record_optimality : bool or int
        Every ``record_optimality``-th step (``True``: every step), also record in the column
        ``"optimality"`` the decrease the step achieved on its batch as a fraction of the best
        decrease along the same direction, found by :class:`~relustep.steps.ExactLineSearch`
        (see :func:`~relustep.steps.exact.decrease_ratio`); ``nan`` on the other steps. The
        oracle's forward passes and time are not charged to the step (``n_forward``,
        ``seconds``); its time is summed in ``oracle_seconds``.
    capabilities : set of str, optional
        What the model's objectives provide; with ``model_name``, checked against ``rule.needs``
        before anything runs (:func:`relustep.objective.check_pairing`).
    model_name : str
    """

    def __init__(
        self,
        theta: np.ndarray,
        rule: StepRule | None,
        history: History,
        record_optimality: bool | int = False,
        capabilities=None,
        model_name: str = "this model",
    ):
        if rule is not None and capabilities is not None:
            check_pairing(rule, capabilities, model_name)
        self.rule, self.history = rule, history
        self._caller = theta
        self._buffers = [theta, theta.copy()]
        self._current = 0
        self.gradient = np.empty_like(theta)
        self.first_loss: float | None = None
        if rule is not None:
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

    @property
    def theta(self) -> np.ndarray:
        """The current parameters."""
        return self._buffers[self._current]

    @property
    def _previous(self) -> np.ndarray:
        return self._buffers[1 - self._current]

    def step(self, objective, gtol: float | None = None) -> float | None:
        """Take one step on ``objective``; return the loss at the starting point.

        With ``gtol``, a starting point whose gradient has Euclidean norm at most ``gtol`` is
        left where it is: nothing moves, nothing is recorded, and ``None`` is returned.
        Overflow inside the step is not warned about: a non-finite loss or gradient is caught
        explicitly and stops the run (:class:`DivergenceError`)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._step(objective, gtol)

    def _step(self, objective, gtol: float | None) -> float | None:
        started = time.perf_counter()
        theta = self.theta
        loss, gradient = objective.loss_and_gradient(theta, self.gradient)
        self.check_loss(loss, f"at step {len(self.history) + 1}")
        if gtol is not None and math.sqrt(float(gradient @ gradient)) <= gtol:
            return None
        direction = self.rule.direction(gradient)
        line = Line(theta, gradient, direction, loss, objective)
        alpha = float(self.rule.size(line))
        optimality, oracle_seconds = math.nan, 0.0
        if self.oracle is not None and (self.rule.n_steps - 1) % self.optimality_every == 0:
            oracle_started = time.perf_counter()
            optimality = decrease_ratio(line, alpha, self.oracle)
            oracle_seconds = time.perf_counter() - oracle_started
            self.oracle_seconds += oracle_seconds
        if not kernels.steps.step_into(self._previous, theta, alpha, direction):
            self.stop(
                f"step {len(self.history) + 1} would leave the finite numbers (a non-finite "
                "gradient or direction); it was not taken"
            )
        self._current = 1 - self._current
        record = {
            "loss": float(loss),
            "step_size": alpha,
            "n_forward": 1 + line.n_probes,
            "n_backward": 1,
            "seconds": time.perf_counter() - started - oracle_seconds,
            **self.rule.take_counts(),
            **self.rule.take_logged(),
        }
        if self.oracle is not None:
            record["optimality"] = optimality
        self.history.record_step(record)
        return loss

    # -- what a task that takes its own steps uses ----------------------------------------------
    def record_steps(self, columns: dict) -> None:
        """Record several steps at once (a fused epoch's): ``columns`` maps each entry to a list
        with one value per step; a rule's fallbacks and logged values may be left out (0 and
        ``nan``). Checks the losses as :meth:`step` does."""
        losses = np.asarray(columns["loss"], dtype=float)
        if losses.size:
            self.check_loss(float(losses[0]), "at the start of a fused epoch")
            bad = ~np.isfinite(losses) | (losses > self.growth_limit)
            if bad.any():
                index = int(np.argmax(bad))
                self.history.record_steps({key: values[:index] for key, values in columns.items()})
                self.restore(f"the loss became {losses[index]:.4g} in a fused epoch")
        self.history.record_steps(columns)

    def keep_point(self) -> None:
        """Copy the current point into the other buffer: the point a later :meth:`restore` goes
        back to, for a task that changes :attr:`theta` in place (a fused epoch)."""
        np.copyto(self._previous, self.theta)

    def check_loss(self, loss: float, where: str) -> None:
        """Restore and raise :class:`DivergenceError` if ``loss`` is not finite or has grown past
        :attr:`growth_limit`."""
        if not math.isfinite(loss):
            self.restore(f"the loss became {loss} {where}")
        if self.first_loss is None:
            self.first_loss = loss
        elif loss > self.growth_limit:
            self.restore(
                f"the loss grew to {loss:.4g} {where}, more than {LOSS_GROWTH:.0e} times the "
                f"first loss of the run ({self.first_loss:.4g}) or 1, whichever is larger"
            )

    @property
    def growth_limit(self) -> float:
        """The loss past which the run has diverged: :data:`LOSS_GROWTH` times the larger of
        the run's first loss and 1."""
        return LOSS_GROWTH * max(abs(self.first_loss), 1.0)

    def check_parameters(self, where: str) -> None:
        """Restore and raise :class:`DivergenceError` if a parameter is not finite or larger
        than :data:`PARAMETER_LIMIT` in magnitude (one pass over the parameters)."""
        largest = float(np.max(np.abs(self.theta))) if self.theta.size else 0.0
        if not largest <= PARAMETER_LIMIT:
            self.restore(
                f"a parameter became {largest:.4g} {where} (the limit is {PARAMETER_LIMIT:.0e})"
            )

    def restore(self, what: str, point: np.ndarray | None = None) -> None:
        """Go back to the last accepted point (or to ``point``), leave it in the caller's array
        and raise :class:`DivergenceError`."""
        if point is not None:
            np.copyto(self._previous, point)
        self._current = 1 - self._current
        self.stop(what)

    def stop(self, what: str) -> None:
        """Leave the current point in the caller's array and raise :class:`DivergenceError`."""
        self.finish()
        rule = "" if self.rule is None else f" with step rule {self.rule!r}"
        raise DivergenceError(
            f"training diverged: {what}{rule}; it stopped and the parameters were restored to "
            "the last point accepted before. A smaller learning rate, or another step rule, "
            "usually helps."
        )

    def finish(self) -> None:
        """Leave the current point in the caller's array (a copy only if it is in the other
        buffer)."""
        if self._current == 1:
            np.copyto(self._caller, self.theta)
            self._buffers.reverse()
            self._current = 0


class MiniBatches:
    """The task of a gradient-trained estimator: seeded, shuffled mini-batches.

    Each epoch draws a permutation of the rows from ``rng`` and steps through it ``batch_size``
    rows at a time (the last batch may be smaller).

    Parameters
    ----------
    n_rows : int
        Training rows.
    batch_size : int
        Rows per step (at most ``n_rows``).
    objective : callable
        ``objective(rows, rng)`` returns the batch objective of the training rows ``rows``
        (an index array), drawing any random numbers it needs from ``rng``.
    training_loss : callable
        ``training_loss(theta)``: the loss on the whole training set.
    validation_loss : callable, optional
        ``validation_loss(theta)``; ``None`` when there is no validation data.
    fused_epoch : callable, optional
        ``fused_epoch(stepper, order)`` takes the steps of a whole epoch in one kernel, records
        them with :meth:`Stepper.record_steps` and returns the mean batch loss; ``None`` (the
        default, and whenever the model has no fused path for the rule) steps one batch at a
        time.
    shuffle : bool
        Draw a new order of the rows each epoch (the default); ``False`` keeps the given order
        (``partial_fit``).
    """

    converged = False

    def __init__(
        self,
        n_rows: int,
        batch_size: int,
        objective,
        training_loss,
        validation_loss=None,
        fused_epoch=None,
        shuffle: bool = True,
    ):
        self.n_rows, self.batch_size, self.shuffle = n_rows, min(batch_size, n_rows), shuffle
        self.objective, self.fused_epoch = objective, fused_epoch
        self.training_loss = training_loss
        self._validation_loss = validation_loss

    @classmethod
    def of_model(
        cls, model, X, y, batch_size: int, validation=None, shuffle: bool = True
    ) -> MiniBatches:
        """The task of a model with ``loss(theta, X, y)`` and ``loss_and_gradient``: its
        :class:`~relustep.objective.BatchObjective` on each batch, its loss on all of ``(X, y)``
        and on ``validation = (X_val, y_val)`` after each epoch."""
        validation_loss = None
        if validation is not None:
            validation_loss = lambda theta: evaluate_loss(model, theta, *validation)  # noqa: E731
        return cls(
            len(X),
            batch_size,
            lambda rows, rng: BatchObjective(model, X[rows], y[rows]),
            lambda theta: evaluate_loss(model, theta, X, y),
            validation_loss,
            shuffle=shuffle,
        )

    def run_epoch(self, stepper: Stepper, rng: np.random.Generator) -> float:
        order = rng.permutation(self.n_rows) if self.shuffle else np.arange(self.n_rows)
        if self.fused_epoch is not None:
            return self.fused_epoch(stepper, order)
        batch_losses = 0.0
        for start in range(0, self.n_rows, self.batch_size):
            rows = order[start : start + self.batch_size]
            batch_losses += len(rows) * stepper.step(self.objective(rows, rng))
        return batch_losses / self.n_rows

    def validation_loss(self, theta: np.ndarray) -> float:
        return math.nan if self._validation_loss is None else self._validation_loss(theta)

    def epoch_columns(self) -> dict:
        return {}


def evaluate_loss(model, theta: np.ndarray, X: np.ndarray, y: np.ndarray, chunk: int = 8192):
    """The loss on a whole data set, in chunks of rows so that memory stays bounded."""
    n = len(X)
    total = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        total += (stop - start) / n * model.loss(theta, X[start:stop], y[start:stop])
    return total


def run_epochs(
    task,
    stepper: Stepper,
    *,
    epochs: int,
    rng: np.random.Generator,
    epoch_loss: str = "full",
    verbose: bool = False,
    description: str = "training",
) -> None:
    """Run up to ``epochs`` epochs of ``task`` through ``stepper``; record each epoch.

    After each epoch the parameters are checked (:meth:`Stepper.check_parameters`), and a
    training loss and the loss on the validation data are recorded; these measurements are not
    counted in the steps' passes or seconds. The training loss is, by ``epoch_loss``:

    ``"full"``
        ``task.training_loss`` at the parameters reached (for a network, one more forward pass
        over the data);
    ``"batches"``
        the mean of the epoch's batch losses, each taken before its step, weighted by batch
        size (free; what scikit-learn's ``loss_curve_`` records);
    ``"none"``
        nothing (``nan``; the validation loss is not measured either).

    With ``verbose``, a progress bar appears on runs longer than two seconds. The oracle's time
    (``record_optimality``) is not counted in the epochs' seconds. Whatever happens, the
    parameters reached are left in the array the stepper was given.
    """
    check_choice(epoch_loss, "epoch_loss", EPOCH_LOSSES)
    kernels.warm_up(stepper.theta.dtype)
    history = stepper.history
    seconds = history["epochs"]["seconds"][-1] if history["epochs"]["seconds"] else 0.0
    try:
        with ProgressBar(epochs, description, enabled=verbose) as progress:
            for _ in range(epochs):
                started, oracle_before = time.perf_counter(), stepper.oracle_seconds
                batch_loss = task.run_epoch(stepper, rng)
                oracle_seconds = stepper.oracle_seconds - oracle_before
                seconds += time.perf_counter() - started - oracle_seconds
                stepper.check_parameters("after an epoch")
                train_loss = val_loss = math.nan
                with np.errstate(over="ignore", invalid="ignore"):
                    if epoch_loss == "full":
                        train_loss = task.training_loss(stepper.theta)
                        stepper.check_loss(train_loss, "on the training set after an epoch")
                    elif epoch_loss == "batches":
                        train_loss = batch_loss
                    if epoch_loss != "none":
                        val_loss = task.validation_loss(stepper.theta)
                history.record_epoch(train_loss, val_loss, seconds, **task.epoch_columns())
                progress.update(1, f"loss {train_loss:.4g}")
                if task.converged:
                    break
    finally:
        stepper.finish()


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
    """Train ``model`` (it has ``loss(theta, X, y)``, ``loss_and_gradient(theta, X, y, out)`` and
    optionally ``capabilities``) on ``(X, y)`` with ``rule``, updating ``theta`` in place: the
    :class:`MiniBatches` task through :func:`run_epochs`, which documents the arguments."""
    task = MiniBatches.of_model(model, X, y, batch_size, validation)
    capabilities = getattr(model, "capabilities", frozenset())
    stepper = Stepper(theta, rule, history, record_optimality, capabilities, type(model).__name__)
    run_epochs(
        task,
        stepper,
        epochs=epochs,
        rng=rng,
        epoch_loss=epoch_loss,
        verbose=verbose,
        description=description,
    )
