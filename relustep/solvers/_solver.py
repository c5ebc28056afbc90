r"""The state of the alternating solver of :mod:`relustep.solvers.analytic`: the network's values
on the training rows, the stages of an iteration with their safeguard, damping and dead-unit
handling, what each iteration counts, and the iterations as a task of the one training loop
(:func:`relustep.train.run_epochs`).

The derivations are in :mod:`relustep.solvers.analytic`, beside the readable single steps
(:func:`~relustep.solvers.analytic.output_step`, :func:`~relustep.solvers.analytic.hidden_step`)
that run the same code as the solver.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from relustep import kernels
from relustep._validation import check_array, check_float, check_same_length
from relustep.train import evaluate_loss

COUNTED_COLUMNS = ("pattern_changes", "halvings", "dead_units", "singular_systems")
ITERATION_COLUMNS = ("best_loss", "reference_loss", *COUNTED_COLUMNS)
"""Per-iteration columns the solver adds to ``history["epochs"]`` (``nan`` on gradient epochs):
the lowest training loss so far (the iterate that would be kept), the reference loss that the
safeguard held the iteration to (the largest of the last ``safeguard_window`` accepted losses;
``nan`` without the safeguard), entries of the activation pattern that changed during the
iteration, halvings of the hidden step by the safeguard, dead units (the most found by one
output stage; re-initialised by default), and linear systems that needed more damping or a
least-squares fallback."""

_DAMPING_RETRIES = (1e-6, 1e-3, 1.0)


def forward_pass(
    X: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    negative_slope: float,
    hidden: np.ndarray,
    output: np.ndarray,
) -> None:
    r"""The forward pass of a two-layer network on a batch: write the hidden activations
    :math:`H = \sigma(X W_1 + b_1)` into ``hidden`` ``(n, h)`` and the output
    :math:`f = H W_2 + b_2` into ``output`` ``(n, q)``: two BLAS products (on one thread, they
    were measured 1.2 to 2.2 times as fast as a Numba loop; see
    :mod:`relustep.kernels.twolayer`)."""
    np.matmul(X, W1, out=hidden)
    hidden += b1
    np.maximum(hidden, negative_slope * hidden, out=hidden)
    np.matmul(hidden, W2, out=output)
    output += b2


@dataclass
class SolveSummary:
    """What :func:`solve` returns besides the parameters it updates in place."""

    n_iter: int
    converged: bool
    loss: float
    best_iteration: int


# -- the two steps, as plain functions ------------------------------------------------------------


class Iterations:
    """The solver's task for the one training loop (:func:`relustep.train.run_epochs`): an epoch
    is one iteration (a hidden stage and an output stage on all rows), recorded as one step.

    It keeps the best iterate (under the non-monotone safeguard as without it, the last iterate
    need not be the best); :meth:`finish` puts it in ``theta``. Stops when an iteration lowers the
    training loss by at most ``tol`` times its value (and does not raise it).
    """

    def __init__(self, solver, network, theta, hidden_step: str, tol: float, validation):
        self.solver, self.network, self.theta, self.tol = solver, network, theta, tol
        self.validation = validation
        solver.start()
        self.hidden_stage = (
            solver.joint_stage if hidden_step == "joint" else solver.per_neuron_stage
        )
        self.best_loss, self.best_theta, self.best_iteration = solver.loss, theta.copy(), 0
        self.iteration, self.converged, self.counts = 0, False, {}

    def run_epoch(self, stepper, rng) -> float:
        solver = self.solver
        started = time.perf_counter()
        self.iteration += 1
        loss_start = solver.loss
        if self.iteration == 1:
            solver.run_stage(solver.output_stage)
        solver.accept_iterate()
        step_size = solver.run_stage(self.hidden_stage)
        solver.run_stage(solver.output_stage)
        loss_end = solver.loss
        if not math.isfinite(loss_end):
            stepper.restore(
                f"the training loss became {loss_end} at iteration {self.iteration} of plain "
                "alternation (safeguard=False); the best iterate was kept. The safeguard "
                "(safeguard=True) prevents this",
                point=self.best_theta,
            )
        if loss_end < self.best_loss:
            self.best_loss, self.best_iteration = loss_end, self.iteration
            np.copyto(self.best_theta, self.theta)
        self.counts = solver.take_counts()
        stepper.history.record_step(
            {
                "loss": loss_start,
                "step_size": step_size,
                "n_forward": self.counts.pop("n_forward"),
                "n_backward": self.counts.pop("n_backward"),
                "seconds": time.perf_counter() - started,
            }
        )
        decrease = loss_start - loss_end
        self.converged = loss_end == 0.0 or 0.0 <= decrease <= self.tol * loss_start
        return loss_end

    def training_loss(self, theta: np.ndarray) -> float:
        return self.solver.loss  # known exactly after the output stage: no further pass

    def validation_loss(self, theta: np.ndarray) -> float:
        if self.validation is None:
            return math.nan
        return evaluate_loss(self.network, theta, *self.validation)

    def epoch_columns(self) -> dict:
        reference = self.solver.reference_loss if self.solver.safeguard else math.nan
        counted = {key: self.counts[key] for key in COUNTED_COLUMNS}
        return {"best_loss": self.best_loss, "reference_loss": reference, **counted}

    def finish(self) -> SolveSummary:
        """Put the best iterate in ``theta``; summarise the run."""
        np.copyto(self.theta, self.best_theta)
        return SolveSummary(self.iteration, self.converged, self.best_loss, self.best_iteration)


class _Values:
    """The network's values on the training rows at one parameter point."""

    def __init__(self, n: int, n_hidden: int, n_outputs: int, dtype):
        self.hidden = np.empty((n, n_hidden), dtype=dtype)
        self.output = np.empty((n, n_outputs), dtype=dtype)
        self.output_gradient = np.empty((n, n_outputs), dtype=dtype)  # (f - y) / n
        self.loss = math.nan


class _Solver:
    """The data, views of the weights, and the network's values at the current point and at a
    trial point; the stages of an iteration are its methods. Counts what it does."""

    def __init__(
        self,
        data: dict,
        weights: dict,
        negative_slope: float,
        l2: float,
        *,
        backend: str = "numba",
        damping: float = 0.0,
        safeguard: bool = True,
        safeguard_window: int = 1,
        max_halvings: int = 30,
        rng: np.random.Generator | None = None,
    ):
        self.X, self.y = data["X"], data["y"]
        self.W1, self.b1, self.W2, self.b2 = (weights[key] for key in ("W1", "b1", "W2", "b2"))
        self.parameters = [self.W1, self.b1, self.W2, self.b2]
        self.slope, self.l2 = float(negative_slope), float(l2)
        self.damping, self.safeguard, self.max_halvings = damping, safeguard, max_halvings
        self.accepted_losses = deque(maxlen=safeguard_window)  # the safeguard's window
        self.rng = rng
        self._square_loss = kernels.get("square_loss", backend)
        self._pattern_sums = kernels.get("pattern_sums", backend)
        self._update_pattern_sums = kernels.get("update_pattern_sums", backend)
        self._gram_from_sums = kernels.get("gram_from_sums", backend)
        n, n_hidden, n_outputs = len(self.X), self.W1.shape[1], self.W2.shape[1]
        self.augmented = np.hstack([self.X, np.ones((n, 1), dtype=self.X.dtype)])
        self.sums, self.sums_pattern = None, None  # pattern sums, and the pattern they are for
        self.row_sum = None  # the sum of every row's outer product, needed when a > 0
        self.current = _Values(n, n_hidden, n_outputs, self.X.dtype)
        self.trial = _Values(n, n_hidden, n_outputs, self.X.dtype)
        self.start()

    def start(self) -> None:
        """Evaluate the network at the current weights; start counting; empty the window."""
        self.counts = dict.fromkeys(("n_forward", "n_backward", *COUNTED_COLUMNS), 0)
        self.evaluate(self.current)
        self.pattern_at_start = self.current.hidden > 0
        self.accepted_losses.clear()
        self.reference_loss = self.current.loss  # what the stages may not exceed
        self.output_layer_solved = False  # True when W2, b2 are optimal for the hidden values

    def accept_iterate(self) -> None:
        """Put the current loss (an iterate, its output layer solved) in the safeguard's window,
        dropping the oldest beyond ``safeguard_window``; until the next call, every stage must
        leave a loss at most the largest of the window's, the reference :math:`R_k`."""
        self.accepted_losses.append(self.current.loss)
        self.reference_loss = max(self.accepted_losses)

    @property
    def loss(self) -> float:
        return self.current.loss

    # -- bookkeeping --------------------------------------------------------------------------
    def take_counts(self) -> dict:
        """What the iteration did (passes, pattern changes, halvings, ...); then start afresh."""
        pattern = self.current.hidden > 0
        changed = int(np.count_nonzero(self.pattern_at_start != pattern))
        counts = {**self.counts, "pattern_changes": changed}
        self.counts = dict.fromkeys(counts, 0)
        self.pattern_at_start = pattern
        return counts

    def run_stage(self, stage):
        """Run ``stage``; under the safeguard, undo it if it left a loss above the reference
        (possible only by rounding, since each stage checks its own trial points)."""
        saved = [array.copy() for array in self.parameters]
        result = stage()
        if self.safeguard and not self.current.loss <= self.reference_loss:
            for array, old in zip(self.parameters, saved, strict=True):
                np.copyto(array, old)
            self.evaluate(self.current)
        return result

    # -- the network on the training rows -------------------------------------------------------
    def ridge(self) -> float:
        if self.l2 == 0.0:
            return 0.0
        return 0.5 * self.l2 * float(np.vdot(self.W1, self.W1) + np.vdot(self.W2, self.W2))

    def evaluate(self, values: _Values) -> float:
        """One forward pass at the current weights into ``values``; return the loss."""
        forward_pass(
            self.X, self.W1, self.b1, self.W2, self.b2, self.slope, values.hidden, values.output
        )
        self.counts["n_forward"] += 1
        return self.score(values)

    def score(self, values: _Values) -> float:
        """The loss of ``values.output`` at the current weights (its gradient with respect to
        the output into ``values.output_gradient``)."""
        data_loss = self._square_loss(values.output, self.y, values.output_gradient)
        values.loss = float(data_loss) + self.ridge()
        return values.loss

    def accept_trial(self) -> None:
        self.current, self.trial = self.trial, self.current

    def units_in_hidden_system(self) -> np.ndarray:
        """Units whose weights change the loss: active somewhere (or leaky) with nonzero output
        weights."""
        alive = np.ones(self.W1.shape[1], bool) if self.slope > 0 else self.live_units()
        return np.flatnonzero(alive & np.any(self.W2 != 0, axis=1))

    def live_units(self) -> np.ndarray:
        return np.any(self.current.hidden > 0, axis=0)

    # -- output step ----------------------------------------------------------------------------
    def output_stage(self) -> None:
        """Re-initialise dead units, then solve the output layer (global minimum), unless the
        hidden stage already solved it for these hidden activations."""
        hidden = self.current.hidden
        reinitialised = False
        if self.slope == 0.0:
            dead = np.flatnonzero(~self.live_units())
            self.counts["dead_units"] = max(self.counts["dead_units"], dead.size)
            if dead.size and self.rng is not None:
                self.reinitialise(dead)
                self.evaluate(self.trial)
                hidden, reinitialised = self.trial.hidden, True
        if self.output_layer_solved and not reinitialised:
            self.output_layer_solved = False
            return
        self.output_layer_solved = False
        self.solve_output_layer(hidden)
        self.evaluate(self.trial)
        self.accept_trial()

    def solve_output_layer(self, hidden: np.ndarray) -> None:
        """Put into ``W2`` and ``b2`` the output layer that minimises the loss on ``hidden``."""
        W2, b2, singular = _output_weights(hidden, self.y, self.l2)
        self.counts["n_backward"] += 1
        self.counts["singular_systems"] += singular
        np.copyto(self.W2, W2)
        np.copyto(self.b2, b2)

    def reinitialise(self, dead: np.ndarray) -> None:
        """A new He-uniform direction of the old norm, a bias that makes the unit active on half
        the rows, and zero output weights (the function does not change)."""
        bound = math.sqrt(6.0 / self.X.shape[1])
        for unit in dead:
            direction = self.rng.uniform(-bound, bound, size=self.X.shape[1])
            old_norm = float(np.linalg.norm(self.W1[:, unit]))
            if old_norm > 0.0:
                direction *= old_norm / np.linalg.norm(direction)
            self.W1[:, unit] = direction
            self.b1[unit] = -np.median(self.X @ self.W1[:, unit])
            self.W2[unit] = 0.0

    # -- hidden step ----------------------------------------------------------------------------
    def update_sums(self) -> None:
        """Bring the pattern sums to the current pattern: by the rows that changed, or from
        scratch when more than a quarter of the entries changed (then that is cheaper)."""
        active = self.current.hidden > 0
        if self.sums is None:
            n_hidden, p = self.W1.shape[1], self.X.shape[1] + 1
            self.sums = np.empty((n_hidden, n_hidden, p * (p + 1) // 2), dtype=self.X.dtype)
        elif np.count_nonzero(active != self.sums_pattern) <= active.size // 4:
            self._update_pattern_sums(self.X, self.sums_pattern, active, self.sums)
            self.sums_pattern = active
            return
        self._pattern_sums(self.X, active, self.sums)
        self.sums_pattern = active

    def hidden_system(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:math:`A` and :math:`-n\\nabla\\mathcal L` for ``units`` (the others frozen)."""
        n, d = self.X.shape
        p = d + 1
        self.update_sums()
        if self.slope != 0.0 and self.row_sum is None:
            self.row_sum = kernels.twolayer.outer_triangles(self.X).sum(axis=0)
        row_sum = self.row_sum if self.row_sum is not None else np.zeros(1, self.X.dtype)
        matrix = np.empty((units.size * p, units.size * p), dtype=self.X.dtype)
        self._gram_from_sums(self.sums, row_sum, self.slope, self.W2 @ self.W2.T, units, matrix)
        self.counts["n_backward"] += 1
        everyone = units.size == self.W1.shape[1]
        W2 = self.W2 if everyone else self.W2[units]
        active = self.sums_pattern if everyone else self.sums_pattern[:, units]
        weighted_residual = (self.current.output_gradient @ W2.T) * (-n)  # (Y - f) W2^T
        rhs = np.where(active, weighted_residual, self.slope * weighted_residual).T @ self.augmented
        if self.l2 != 0.0:
            weight_entries = (np.arange(units.size)[:, None] * p + np.arange(d)).ravel()
            matrix[weight_entries, weight_entries] += n * self.l2
            rhs[:, :d] -= n * self.l2 * self.W1[:, units].T
        return matrix, rhs.ravel()

    def hidden_increment(self, units: np.ndarray) -> np.ndarray | None:
        """:math:`\\Delta` for ``units``, shape ``(len(units), p)``; ``None`` if no system could
        be solved."""
        if units.size == 0:
            return None
        matrix, rhs = self.hidden_system(units)
        increment = self.solve_damped(matrix, rhs)
        return None if increment is None else increment.reshape(units.size, -1)

    def solve_damped(self, matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
        """Solve :math:`(A + \\epsilon\\,\\overline{\\mathrm{diag} A}\\, I)\\Delta = r` by
        Cholesky, with more damping after each failure (counted). ``matrix`` (symmetric) is
        overwritten: LAPACK factors it in place through its transpose, a Fortran-ordered view,
        which spares a copy and leaves the strict lower triangle untouched."""
        diagonal = matrix.diagonal().copy()
        scale = float(np.mean(diagonal))
        if not (math.isfinite(scale) and scale > 0.0):
            self.counts["singular_systems"] += 1
            return None
        for damping in (self.damping, *[d for d in _DAMPING_RETRIES if d > self.damping]):
            np.fill_diagonal(matrix, diagonal + damping * scale)
            try:
                factor = scipy.linalg.cho_factor(
                    matrix.T, lower=True, overwrite_a=True, check_finite=False
                )
            except np.linalg.LinAlgError:
                upper = np.triu_indices(len(matrix), 1)
                matrix[upper] = matrix.T[upper]  # put back what the failed attempt overwrote
                continue
            if damping != self.damping:
                self.counts["singular_systems"] += 1
            return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
        self.counts["singular_systems"] += 1
        return None

    def joint_stage(self) -> float:
        """The hidden step as one system, backtracked until its loss is at most the reference;
        return the fraction :math:`\\eta` kept."""
        units = self.units_in_hidden_system()
        increment = self.hidden_increment(units)
        if increment is None:
            return 0.0
        old_W1, old_b1 = self.W1[:, units].copy(), self.b1[units].copy()
        old_W2, old_b2 = self.W2.copy(), self.b2.copy()
        eta = 1.0
        for _ in range(self.max_halvings + 1):
            self.W1[:, units] = old_W1 + eta * increment[:, :-1].T
            self.b1[units] = old_b1 + eta * increment[:, -1]
            self.evaluate(self.trial)
            if not self.safeguard:
                self.accept_trial()
                return eta
            if self.score_with_output_solved(self.trial) <= self.reference_loss:
                self.accept_trial()
                self.output_layer_solved = True
                return eta
            self.counts["halvings"] += 1
            eta *= 0.5
        self.W1[:, units], self.b1[units] = old_W1, old_b1
        np.copyto(self.W2, old_W2)
        np.copyto(self.b2, old_b2)
        return 0.0

    def score_with_output_solved(self, values: _Values) -> float:
        """Solve the output layer for the hidden activations in ``values`` (into ``W2``,
        ``b2``), recompute the output, and return the loss there: :math:`\\varphi(U)`."""
        self.solve_output_layer(values.hidden)
        np.matmul(values.hidden, self.W2, out=values.output)
        values.output += self.b2
        return self.score(values)

    def per_neuron_stage(self) -> float:
        """The hidden step unit by unit, each backtracked until the loss is at most the
        reference; return the mean :math:`\\eta` kept."""
        n, d = self.X.shape
        augmented = self.augmented
        hidden, output = self.current.hidden, self.current.output
        residual = self.y - output
        ridge_weights = np.zeros(d + 1, dtype=self.X.dtype)
        ridge_weights[:d] = n * self.l2
        kept = []
        for unit in self.units_in_hidden_system():
            out_weights = self.W2[unit]
            pattern = np.where(hidden[:, unit] > 0, 1.0, self.slope)
            curvature = float(out_weights @ out_weights) * pattern**2
            matrix = (augmented * curvature[:, None]).T @ augmented + np.diag(ridge_weights)
            old = np.append(self.W1[:, unit], self.b1[unit])
            rhs = augmented.T @ (pattern * (residual @ out_weights)) - ridge_weights * old
            self.counts["n_backward"] += 1
            increment = self.solve_damped(matrix, rhs)
            if increment is None:
                continue
            eta = 1.0
            for _ in range(self.max_halvings + 1):
                weights = old + eta * increment
                column = augmented @ weights
                column = np.maximum(column, self.slope * column)
                trial_residual = residual - np.outer(column - hidden[:, unit], out_weights)
                self.counts["n_forward"] += 1
                ridge_change = 0.5 * self.l2 * float(weights[:d] @ weights[:d] - old[:d] @ old[:d])
                trial_loss = 0.5 * float(np.vdot(trial_residual, trial_residual)) / n
                trial_loss += self.ridge() + ridge_change
                if not self.safeguard or trial_loss <= self.reference_loss:
                    self.W1[:, unit], self.b1[unit] = weights[:d], weights[d]
                    hidden[:, unit] = column
                    residual = trial_residual
                    kept.append(eta)
                    break
                self.counts["halvings"] += 1
                eta *= 0.5
            else:
                kept.append(0.0)
        self.evaluate(self.current)
        return float(np.mean(kept)) if kept else 0.0


# -- helpers -------------------------------------------------------------------------------------


def _output_weights(hidden: np.ndarray, y: np.ndarray, l2: float):
    """Ridge least squares with an unpenalised intercept; zero weights for all-zero columns.
    Returns ``(W2, b2, singular)``, ``singular`` 1 when Cholesky failed and lstsq was used."""
    n, n_hidden = hidden.shape
    W2 = np.zeros((n_hidden, y.shape[1]), dtype=hidden.dtype)
    used = np.flatnonzero(np.any(hidden != 0, axis=0))
    if used.size == 0:
        return W2, y.mean(axis=0), 0
    hidden_mean, y_mean = hidden[:, used].mean(axis=0), y.mean(axis=0)
    centred = hidden[:, used] - hidden_mean
    targets = y - y_mean
    matrix = centred.T @ centred
    matrix.flat[:: len(matrix) + 1] += n * l2
    singular = 0
    try:
        factor = scipy.linalg.cho_factor(matrix, lower=True, check_finite=False)
        W2[used] = scipy.linalg.cho_solve(factor, centred.T @ targets, check_finite=False)
    except np.linalg.LinAlgError:
        singular = 1
        if l2 > 0.0:
            centred = np.vstack([centred, math.sqrt(n * l2) * np.eye(used.size)])
            targets = np.vstack([targets, np.zeros((used.size, y.shape[1]), dtype=y.dtype)])
        W2[used] = np.linalg.lstsq(centred, targets, rcond=None)[0]
    b2 = y_mean - hidden_mean @ W2[used]
    return W2, b2, singular


def _check_point(X, y, W1, b1, W2, b2, negative_slope, l2):
    """Validate the arguments of the public single steps; return the data and weights dicts."""
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=(1, 2))
    check_same_length(X, "X", y, "y")
    y = y.reshape(len(y), -1)
    weights = {
        "W1": check_array(W1, "W1", ndim=2),
        "b1": check_array(b1, "b1", ndim=1),
        "W2": check_array(W2, "W2", ndim=2),
        "b2": check_array(b2, "b2", ndim=1),
    }
    d, h, q = X.shape[1], weights["W1"].shape[1], y.shape[1]
    expected = {"W1": (d, h), "b1": (h,), "W2": (h, q), "b2": (q,)}
    for name, shape in expected.items():
        if weights[name].shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {weights[name].shape}")
    check_float(negative_slope, "negative_slope", low=0.0, high=1.0, high_inclusive=False)
    check_float(l2, "l2", low=0.0)
    return {"X": X, "y": y}, weights


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


_WARM: set = set()


def _warm_up(dtype) -> None:
    """Load (or compile) this solver's kernels for ``dtype`` once per process, before timing."""
    dtype = np.dtype(dtype)
    if dtype in _WARM:
        return
    twolayer = kernels.twolayer
    X, output = np.ones((2, 1), dtype), np.ones((2, 1), dtype)
    matrix, active = np.ones((1, 1), dtype), np.ones((2, 1), bool)
    sums, row_sum = np.zeros((1, 1, 3), dtype), np.zeros(3, dtype)
    twolayer.pattern_sums(X, active, sums)
    twolayer.update_pattern_sums(X, active, ~active, sums)
    units, gram = np.zeros(1, np.int64), np.empty((2, 2), dtype)
    twolayer.gram_from_sums(sums, row_sum, 0.0, matrix, units, gram)
    kernels.dense.square_loss(output, output, output.copy())
    _WARM.add(dtype)
