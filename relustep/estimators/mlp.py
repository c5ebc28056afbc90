"""Dense ReLU networks with scikit-learn's interface: :class:`ReLURegressor` and
:class:`MLPClassifier`.

The mathematics (forward pass, losses, backpropagation) is in :mod:`relustep.models.dense`; the
training loop in :mod:`relustep.train`; the step rules in :mod:`relustep.steps`. This module only
checks what the user gives, encodes the targets and keeps the fitted state.
"""

from __future__ import annotations

import numbers

import numpy as np

from relustep._sklearn import ClassifierMixin, RegressorMixin, warn_data_conversion
from relustep._validation import (
    check_array,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_same_length,
)
from relustep.estimators._base import TrainedEstimator, check_bool
from relustep.models.dense import DenseReLUNetwork
from relustep.solvers import analytic
from relustep.train import MiniBatches

SOLVERS = ("gradient", "analytic")
ANALYTIC_DEFAULTS = {  # the settings of solver="analytic"; left at these with solver="gradient"
    "hidden_step": "joint",
    "safeguard": True,
    "safeguard_window": analytic.DEFAULT_SAFEGUARD_WINDOW,
    "tol": 1e-6,
    "warm_start_epochs": 0,
    "max_memory": analytic.DEFAULT_MAX_MEMORY,
}

_SHARED_PARAMETERS = """
    hidden_layer_sizes : tuple of int, default (100,)
        Width of each hidden layer (an int means one layer; ``()`` no hidden layer).
    step : str, dict or StepRule, default "adam"
        The step rule: a name from :func:`relustep.steps.names` with its default settings, or an
        object such as ``relustep.steps.Momentum(lr=0.01, nesterov=True)``.
    solver : {"gradient", "analytic"}, default "gradient"
        How the network is trained: by mini-batch steps of ``step`` along the gradient; or, for
        :class:`ReLURegressor` with one hidden layer, by alternating exact least-squares solves
        for each layer (:mod:`relustep.solvers.analytic`, after Barbu 2023).
    epochs : int, default 200
        Passes over the training data in ``fit``; with ``solver="analytic"``, the largest number
        of iterations (each a hidden step and an output step on all rows).
    batch_size : int, default 200
        Rows per mini-batch (at most the number of training rows).
    l2 : float, default 0.0
        Ridge coefficient on the weights, :math:`\\frac{\\lambda}{2}\\sum_l\\lVert W_l\\rVert^2`.
    negative_slope : float, default 0.0
        The activation is :math:`\\max(z, a z)` with this slope :math:`a \\in [0, 1)`: 0 is
        ReLU, a positive slope a leaky ReLU.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the parameters and of the computation.
    random_state : None, int or numpy.random.Generator
        Seeds the initial weights and the order of the mini-batches; an int gives bit-identical
        runs.
    verbose : bool, default False
        Show a progress bar on runs longer than two seconds.
    epoch_loss : {"full", "batches"}, default "full"
        The training loss recorded after each epoch in ``history_["epochs"]["train_loss"]``:
        ``"full"`` evaluates it on the whole training set at the epoch's final parameters (one
        more forward pass over the data, not counted in the epoch's seconds); ``"batches"``
        averages the epoch's batch losses, as scikit-learn's ``loss_curve_`` does (free, but
        each batch's loss is taken at a different point).
    record_optimality : bool or int, default False
        Every this many steps (``True``: every step), record in ``history_["optimality"]`` the
        decrease the step achieved on its batch as a fraction of the best decrease along the same
        direction, from :class:`relustep.steps.ExactLineSearch` (exact for one hidden layer and
        the square loss, numerical otherwise). The oracle's passes and time are not charged to
        the step. With ``solver="analytic"`` only the warm-start steps are scored (an iteration
        of the solver searches no line: ``nan``).
    hidden_step : {"joint", "per_neuron"}, default "joint"
        ``solver="analytic"`` only: solve the hidden layer as one system of size ``h (d + 1)``,
        or unit by unit.
    safeguard : bool, default True
        ``solver="analytic"`` only: backtrack so that no iteration leaves the training loss
        above the largest of the last ``safeguard_window`` accepted losses; ``False`` is plain
        alternation. The iterate with the lowest training loss is kept either way.
    safeguard_window : int, default 5
        ``solver="analytic"`` only: the safeguard's window :math:`M` (1: the training loss
        falls at every iteration; see :mod:`relustep.solvers.analytic`).
    tol : float, default 1e-6
        ``solver="analytic"`` only: stop after an iteration that lowers the training loss by at
        most this fraction.
    warm_start_epochs : int, default 0
        ``solver="analytic"`` only: epochs of ``step`` on mini-batches of ``batch_size`` before
        the first iteration; they come first in ``history_``.
    max_memory : int, default 2**30
        ``solver="analytic"`` only: bytes; a hidden-step system larger than this raises an error
        that says how large it would be and which variant fits."""

_SHARED_ATTRIBUTES = """
    coefs_ : list of ndarray
        The weights of each layer, shape ``(n_in, n_out)`` (views into ``parameters_``).
    intercepts_ : list of ndarray
        The biases of each layer (views into ``parameters_``).
    parameters_ : ndarray
        All parameters in one flat array; its layout is ``network_.layout``.
    network_ : DenseReLUNetwork
        The model's mathematics (loss and gradient for any parameter vector).
    step_ : StepRule
        The step rule used, with its state (moment estimates and so on).
    history_ : History
        Per-step and per-epoch records (see :mod:`relustep.history`).
    n_features_in_ : int
        Number of input features seen in ``fit``.
    n_outputs_ : int
        Number of outputs of the network.
    n_iter_ : int
        Epochs run (with ``solver="analytic"``: warm-start epochs plus iterations).
    t_ : int
        Steps taken (with ``solver="analytic"``, each iteration is one step).
    loss_ : float
        Training loss of the last epoch, as ``epoch_loss`` measures it (with
        ``solver="analytic"``: of the parameters kept, the iterate with the lowest training
        loss)."""


class _DenseNetworkEstimator(TrainedEstimator):
    """What the regressor and the classifier share."""

    _loss = "square"
    _array_attributes = ("parameters_",)
    _scalar_attributes = ("n_features_in_", "n_outputs_", "n_iter_", "t_", "loss_")

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        step="adam",
        solver: str = "gradient",
        epochs: int = 200,
        batch_size: int = 200,
        l2: float = 0.0,
        negative_slope: float = 0.0,
        dtype: str = "float64",
        random_state=None,
        verbose: bool = False,
        epoch_loss: str = "full",
        record_optimality: bool | int = False,
        hidden_step: str = "joint",
        safeguard: bool = True,
        safeguard_window: int = analytic.DEFAULT_SAFEGUARD_WINDOW,
        tol: float = 1e-6,
        warm_start_epochs: int = 0,
        max_memory: int = analytic.DEFAULT_MAX_MEMORY,
    ):
        self._store_settings(locals())

    # -- settings --------------------------------------------------------------------------------
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if not isinstance(sizes, tuple | list):
            raise TypeError(f"hidden_layer_sizes must be a tuple of positive ints, got {sizes!r}")
        return tuple(check_int(size, f"hidden_layer_sizes[{i}]") for i, size in enumerate(sizes))

    def _check_settings(self) -> None:
        check_choice(self.solver, "solver", SOLVERS)
        self._check_solver_settings()
        self._check_common_settings()
        check_int(self.epochs, "epochs")
        check_float(self.l2, "l2", low=0.0)
        check_float(self.negative_slope, "negative_slope", low=0.0, high=1.0, high_inclusive=False)
        self._hidden_sizes()
        check_choice(self.epoch_loss, "epoch_loss", ("full", "batches"))
        if not isinstance(self.record_optimality, bool | np.bool_):
            check_int(self.record_optimality, "record_optimality", low=0)

    def _check_solver_settings(self) -> None:
        check_choice(self.hidden_step, "hidden_step", analytic.HIDDEN_STEPS)
        check_bool(self.safeguard, "safeguard")
        check_int(self.safeguard_window, "safeguard_window")
        check_float(self.tol, "tol", low=0.0)
        check_int(self.warm_start_epochs, "warm_start_epochs", low=0)
        check_int(self.max_memory, "max_memory")
        if self.solver == "gradient":
            changed = [
                name for name, value in ANALYTIC_DEFAULTS.items() if getattr(self, name) != value
            ]
            if changed:
                raise ValueError(
                    f"{', '.join(changed)} only apply to solver='analytic'; with "
                    "solver='gradient' leave them at their defaults"
                )
        elif self._loss != "square":
            raise ValueError(
                f"solver='analytic' trains ReLURegressor (square loss) only; {type(self).__name__} "
                "is trained with solver='gradient'"
            )
        elif len(self._hidden_sizes()) != 1:
            raise ValueError(
                "solver='analytic' needs exactly one hidden layer, got hidden_layer_sizes="
                f"{self.hidden_layer_sizes!r}"
            )

    # -- data ------------------------------------------------------------------------------------
    def _check_validation(self, validation_data, n_features: int):
        if validation_data is None:
            return None
        if not (isinstance(validation_data, tuple | list) and len(validation_data) == 2):
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        X_val = self._check_X(validation_data[0], "validation_data[0]")
        if X_val.shape[1] != n_features:
            raise ValueError(
                f"validation_data[0] has {X_val.shape[1]} features, but X has {n_features}"
            )
        y_val = self._encode_targets(validation_data[1], "validation_data[1]")
        check_same_length(X_val, "validation_data[0]", y_val, "validation_data[1]")
        return X_val, y_val

    # -- training --------------------------------------------------------------------------------
    def _make_network(self) -> DenseReLUNetwork:
        return DenseReLUNetwork(
            self.n_features_in_,
            self._hidden_sizes(),
            self.n_outputs_,
            loss=self._loss,
            l2=self.l2,
            negative_slope=self.negative_slope,
        )

    def _initialise(self, n_features: int, n_outputs: int) -> None:
        self.n_outputs_ = n_outputs
        super()._initialise(n_features)

    def _train(self, X, y, epochs: int, validation) -> None:
        if self.solver == "analytic":
            try:
                best_loss = self._solve(X, y, epochs, validation)
            finally:
                self._update_counters()
            self.loss_ = best_loss
        else:
            self._gradient_epochs(X, y, epochs, validation)

    def _gradient_epochs(self, X, y, epochs: int, validation) -> None:
        batch_size = check_int(self.batch_size, "batch_size")
        task = MiniBatches.of_model(self.network_, X, y, batch_size, validation)
        stepper = self._stepper(self.record_optimality)
        self._run(task, epochs, stepper, epoch_loss=self.epoch_loss)

    def _solve(self, X, y, iterations: int, validation) -> float:
        """``solver="analytic"``: the warm start on a fresh network, then the iterations; return
        the training loss of the parameters kept (the best iterate)."""
        if not self.history_["epochs"]["train_loss"] and self.warm_start_epochs:
            self._gradient_epochs(X, y, self.warm_start_epochs, validation)
        summary = analytic.solve(
            self.network_,
            self.parameters_,
            X,
            y,
            self.history_,
            max_iter=iterations,
            tol=self.tol,
            hidden_step=self.hidden_step,
            safeguard=self.safeguard,
            safeguard_window=self.safeguard_window,
            max_memory=self.max_memory,
            rng=self._rng,
            validation=validation,
            verbose=self.verbose,
            description=type(self).__name__,
        )
        return summary.loss

    def _fit(self, X, y, validation_data, epochs: int, reset: bool, classes=None):
        self._check_settings()
        if reset:
            for name in ("n_features_in_", "n_outputs_", "classes_"):
                self.__dict__.pop(name, None)
        X = self._check_X(X)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = self._flatten_column_vector(y)
        if reset:
            self._set_targets(y, classes)
        y = self._encode_targets(y, "y")
        check_same_length(X, "X", y, "y")
        validation = self._check_validation(validation_data, X.shape[1])
        if reset:
            self._initialise(X.shape[1], self._n_network_outputs())
        self._train(X, y, epochs, validation)
        return self

    def fit(self, X, y, validation_data=None):
        """Train from a fresh initialisation for ``epochs`` epochs.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_outputs)
        validation_data : pair (X_val, y_val), optional
            Scored after every epoch into ``history_["epochs"]["val_loss"]``.

        Returns
        -------
        self
        """
        return self._fit(X, y, validation_data, check_int(self.epochs, "epochs"), reset=True)

    # -- prediction ------------------------------------------------------------------------------
    @property
    def coefs_(self) -> list[np.ndarray]:
        self._check_fitted()
        return [weights for weights, _ in self.network_.weights(self.parameters_)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        self._check_fitted()
        return [bias for _, bias in self.network_.weights(self.parameters_)]

    def _output(self, X) -> np.ndarray:
        self._check_fitted()
        return self.network_.forward(self.parameters_, self._check_X(X))


class ReLURegressor(RegressorMixin, _DenseNetworkEstimator):
    __doc__ = f"""A dense ReLU network for regression, trained on the square loss.

    The loss is :math:`\\frac{{1}}{{2n}}\\sum_i\\lVert f(x_i)-y_i\\rVert^2` (plus the ridge
    term); its gradient comes from the explicit backpropagation of
    :class:`~relustep.models.dense.DenseReLUNetwork`.

    Parameters
    ----------{_SHARED_PARAMETERS}

    Attributes
    ----------{_SHARED_ATTRIBUTES}

    Examples
    --------
    >>> import numpy as np, relustep
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = np.maximum(X[:, 0], 0) - X[:, 1]
    >>> model = relustep.ReLURegressor((16,), epochs=50, batch_size=20, random_state=0)
    >>> model.fit(X, y).score(X, y) > 0.9
    True
    """

    _loss = "square"

    def _set_targets(self, y, classes) -> None:
        y = check_array(y, "y", ndim=(1, 2), dtype=check_dtype(self.dtype))
        self._n_targets = 1 if y.ndim == 1 else y.shape[1]

    def _n_network_outputs(self) -> int:
        return self._n_targets

    def _flatten_column_vector(self, y):
        return y  # a column-vector y is one target column

    def _encode_targets(self, y, name: str) -> np.ndarray:
        y = check_array(y, name, ndim=(1, 2), dtype=check_dtype(self.dtype))
        y = y.reshape(len(y), -1)
        expected = self.n_outputs_ if hasattr(self, "n_outputs_") else self._n_targets
        if y.shape[1] != expected:
            raise ValueError(f"{name} must have {expected} target column(s), got {y.shape[1]}")
        return y

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``; the first call initialises the network."""
        return self._fit(X, y, None, 1, reset=not hasattr(self, "parameters_"))

    def predict(self, X) -> np.ndarray:
        """The network's output; 1-D when there is one output."""
        output = self._output(X)
        return output.ravel() if output.shape[1] == 1 else output

    def score(self, X, y) -> float:
        """The coefficient of determination :math:`R^2`, averaged over the outputs."""
        prediction = self._output(X)
        target = self._encode_targets(y, "y")
        check_same_length(prediction, "X", target, "y")
        residual = np.sum((target - prediction) ** 2, axis=0)
        total = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(total > 0, 1.0 - residual / total, np.where(residual > 0, 0.0, 1.0))
        return float(np.mean(r2))


class MLPClassifier(ClassifierMixin, _DenseNetworkEstimator):
    __doc__ = f"""A dense ReLU network for classification, trained on softmax cross-entropy.

    The network has one output (logit) per class, also for two classes;
    ``predict_proba`` is the softmax of the logits.

    Parameters
    ----------{_SHARED_PARAMETERS}

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.{_SHARED_ATTRIBUTES}

    Examples
    --------
    >>> import numpy as np, relustep
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] * X[:, 1] > 0).astype(int)
    >>> model = relustep.MLPClassifier((32,), epochs=100, random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.9
    True
    """

    _loss = "softmax"
    _array_attributes = ("parameters_", "classes_")

    def _set_targets(self, y, classes) -> None:
        source, name = (y, "y") if classes is None else (classes, "classes")
        labels = _check_labels(source, name)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{name} must contain at least 2 classes, got 1 class: {list(self.classes_)}"
            )

    def _n_network_outputs(self) -> int:
        return len(self.classes_)

    def _saved_array_shapes(self) -> dict[str, tuple[int, ...]]:
        return {**super()._saved_array_shapes(), "classes_": (self.n_outputs_,)}

    def _flatten_column_vector(self, y):
        """A column vector of labels ``(n, 1)`` as 1-D, with a warning (as scikit-learn does)."""
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] == 1:
            warn_data_conversion(
                "A column-vector y was passed when a 1d array was expected: y of shape "
                f"{labels.shape} was flattened to 1-D"
            )
            return labels.ravel()
        return labels

    def _encode_targets(self, y, name: str) -> np.ndarray:
        labels = _check_labels(y, name)
        index = np.searchsorted(self.classes_, labels)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != labels
        if np.any(unknown):
            raise ValueError(
                f"{name} has labels not in classes_ {list(self.classes_)}: "
                f"{sorted(set(labels[unknown].tolist()))[:5]}"
            )
        return index.astype(np.int64)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``. The first call initialises the network and needs
        ``classes``, every label that will ever be seen."""
        first = not hasattr(self, "parameters_")
        if first and classes is None:
            raise ValueError("classes must be given on the first call to partial_fit")
        return self._fit(X, y, None, 1, reset=first, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        logits = self._output(X)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row."""
        logits = self._output(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def score(self, X, y) -> float:
        """Accuracy: the fraction of rows whose predicted class is right."""
        prediction = self.predict(X)
        labels = _check_labels(y, "y")
        check_same_length(prediction, "X", labels, "y")
        return float(np.mean(prediction == labels))


def _check_labels(y, name: str) -> np.ndarray:
    """Class labels as a 1-D array of ints or strings.

    Float labels must be whole numbers that an int64 holds exactly (:math:`|y| \\le 2^{53}`, where
    every integer is a float too); an object array (a pandas column of strings, say) must hold
    only strings or only ints.
    """
    if y is None:
        raise ValueError(f"{name} must be an array of class labels, got None")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {labels.shape}")
    if labels.size == 0:
        raise ValueError(f"{name} must not be empty")
    if labels.dtype.kind == "O":
        labels = _labels_from_objects(labels, name)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            raise ValueError(f"{name} must hold class labels, found NaN or inf")
        if not np.all(labels == np.round(labels)):
            raise ValueError(
                f"Unknown label type: {name} holds fractions (continuous values), but class "
                "labels must be ints or strings"
            )
        if np.max(np.abs(labels)) > _LARGEST_EXACT_INTEGER:
            raise ValueError(
                f"{name} holds float labels as large as {np.max(np.abs(labels)):g}; a float "
                f"label must be an integer of magnitude at most 2**53 = {_LARGEST_EXACT_INTEGER} "
                "to be read exactly (pass ints or strings)"
            )
        return labels.astype(np.int64)
    if labels.dtype.kind not in "biuUS":
        raise TypeError(
            f"{name} must hold class labels (ints or strings), got dtype {labels.dtype}"
        )
    return labels


_LARGEST_EXACT_INTEGER = 2**53


def _labels_from_objects(labels: np.ndarray, name: str) -> np.ndarray:
    """An object array of labels as strings or ints, or an error saying what it holds."""
    kinds = {type(label) for label in labels.tolist()}
    if all(issubclass(kind, str) for kind in kinds):
        return labels.astype(str)
    if all(issubclass(kind, numbers.Integral) and kind is not bool for kind in kinds):
        return labels.astype(np.int64)
    found = ", ".join(sorted(kind.__name__ for kind in kinds))
    raise TypeError(
        f"Unknown label type: {name} is an object array holding {found}; class labels must be "
        "all strings or all ints"
    )
