"""What every estimator trained by relustep's one loop shares: the common settings and their checks,
the state a fit starts from, and the call of the loop (:func:`relustep.train.run_epochs`)."""

from __future__ import annotations

import numpy as np

from relustep import kernels, steps
from relustep._sklearn import TransformerMixin
from relustep._validation import check_choice, check_dtype, check_int, check_random_state
from relustep.base import BaseEstimator
from relustep.history import History
from relustep.train import Stepper, run_epochs


def check_bool(value, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (NumPy's booleans too), else a ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class TrainedEstimator(BaseEstimator):
    """Base of the estimators trained by steps of a rule.

    A subclass stores its settings in ``__init__`` with :meth:`_store_settings` (which every
    estimator's constructor calls with ``locals()``), builds its model in :meth:`_make_network`,
    and trains with :meth:`_run` on a task of :mod:`relustep.train`. The settings every such
    estimator has (``step``, ``epochs``, ``batch_size``, ``dtype``, ``random_state``,
    ``verbose`` and, where present, ``backend``) are checked here, once.
    """

    _array_attributes = ("parameters_",)
    _scalar_attributes = ("n_features_in_", "n_iter_", "t_", "loss_")

    def _store_settings(self, settings: dict) -> None:
        for name in self._param_names():
            setattr(self, name, settings[name])

    def _check_common_settings(self) -> None:
        self._step_rule()
        check_int(self.epochs, "epochs", low=0)
        check_int(self.batch_size, "batch_size")
        check_dtype(self.dtype)
        if "backend" in self._param_names():
            check_choice(self.backend, "backend", kernels.BACKENDS)
        check_random_state(self.random_state)
        check_bool(self.verbose, "verbose")

    # -- the state of a fit ----------------------------------------------------------------------
    def _initialise(self, n_features: int) -> None:
        """A fresh model on ``n_features`` inputs: weights, step rule, history, counters."""
        self._rng = check_random_state(self.random_state)
        self.n_features_in_ = n_features
        self.network_ = self._make_network()
        self.parameters_ = self.network_.init_parameters(self._rng, check_dtype(self.dtype))
        self._start_rule()
        self.history_ = History(self.step_.fallbacks)
        self.n_iter_, self.t_, self.loss_ = 0, 0, float("nan")

    def _step_rule(self) -> steps.StepRule:
        """A fresh step rule from the ``step`` setting."""
        return steps.get(self.step)

    def _start_rule(self) -> None:
        self.step_ = self._step_rule()
        self.step_.start(self.parameters_.size, self.parameters_.dtype)

    def _after_load(self) -> None:
        self.network_ = self._make_network()
        self.parameters_ = np.ascontiguousarray(self.parameters_, dtype=check_dtype(self.dtype))
        self._start_rule()
        self._rng = check_random_state(self.random_state)

    # -- training --------------------------------------------------------------------------------
    def _capabilities(self) -> frozenset:
        """What the model's objectives give a step rule (see :mod:`relustep.objective`)."""
        return self.network_.capabilities

    def _stepper(self, record_optimality: bool | int = False) -> Stepper:
        return Stepper(
            self.parameters_,
            self.step_,
            self.history_,
            record_optimality,
            self._capabilities(),
            type(self).__name__,
        )

    def _run(self, task, epochs: int, stepper: Stepper | None = None, **options) -> None:
        """Run ``epochs`` epochs of ``task`` through the one loop, then update ``n_iter_``,
        ``t_`` and ``loss_`` from the history, whatever happened."""
        stepper = self._stepper() if stepper is None else stepper
        try:
            run_epochs(
                task,
                stepper,
                epochs=epochs,
                rng=self._rng,
                verbose=self.verbose,
                description=type(self).__name__,
                **options,
            )
        finally:
            self._update_counters()

    def _update_counters(self) -> None:
        self.n_iter_ = len(self.history_["epochs"]["train_loss"])
        self.t_ = len(self.history_)
        if self.n_iter_:
            self.loss_ = self.history_["epochs"]["train_loss"][-1]

    def _check_fit_data(self, X, validation_data, reset: bool):
        """``X`` and the unsupervised ``validation_data``, checked; ``reset`` forgets the
        features seen by an earlier fit."""
        if reset:
            self.__dict__.pop("n_features_in_", None)
        X = self._check_X(X)
        validation = None
        if validation_data is not None:
            validation = self._check_X(validation_data, "validation_data")
            if validation.shape[1] != X.shape[1]:
                raise ValueError(
                    f"validation_data has {validation.shape[1]} features, but X has {X.shape[1]}"
                )
        return X, validation


class UnsupervisedEstimator(TransformerMixin, TrainedEstimator):
    """Base of the RBM and the autoencoders: ``fit(X, y=None)``, ``partial_fit``,
    ``fit_transform``, the learned blocks as scikit-learn names them, and a score.

    A subclass names the blocks of its layout in ``_blocks`` (weights, hidden bias, visible
    bias), builds the epochs' task in :meth:`_task`, and gives ``network_`` the methods
    ``transform``, ``reconstruct`` and ``reconstruction_error``.
    """

    _blocks: tuple[str, str, str] = ("W", "b", "c")

    def _check_settings(self) -> None:
        check_int(self.n_hidden, "n_hidden")
        self._check_common_settings()

    def fit(self, X, y=None, *, validation_data=None):
        """Train from a fresh initialisation for ``epochs`` epochs.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : None
            Ignored (unsupervised); accepted so that pipelines can pass it.
        validation_data : array_like, shape (n_val, n_features), optional
            Its loss is recorded after every epoch in ``history_["epochs"]["val_loss"]``.

        Returns
        -------
        self
        """
        self._check_settings()
        X, validation = self._check_fit_data(X, validation_data, reset=True)
        self._initialise(X.shape[1])
        self._before_epochs(X)
        batch_size = min(check_int(self.batch_size, "batch_size"), len(X))
        epochs = check_int(self.epochs, "epochs", low=0)
        self._run(self._task(X, validation, batch_size), epochs, **self._epoch_options())
        return self

    def _epoch_options(self) -> dict:
        """Options of :func:`relustep.train.run_epochs` that the estimator's settings choose
        (the RBM's ``epoch_loss``); none by default."""
        return {}

    def _before_epochs(self, X: np.ndarray) -> None:
        """What a fit does between initialising and the epochs (a deep autoencoder pretrains)."""

    def partial_fit(self, X, y=None):
        """One step on ``X`` as one mini-batch (rows in the given order), recorded as one epoch
        with the loss on ``X`` after it; the first call initialises the model. The parameters are
        checked after the step like those of any epoch."""
        self._check_settings()
        X, _ = self._check_fit_data(X, None, reset=False)
        if not hasattr(self, "parameters_"):
            self._initialise(X.shape[1])
        self._run(self._task(X, None, batch_size=len(X), shuffle=False), 1)
        return self

    def fit_transform(self, X, y=None, **fit_params) -> np.ndarray:
        """``fit(X, **fit_params)`` then ``transform(X)``."""
        return self.fit(X, y, **fit_params).transform(X)

    @property
    def components_(self) -> np.ndarray:
        """The weights, shape ``(n_hidden, n_features)`` (a view into ``parameters_``)."""
        self._check_fitted()
        return self.network_.layout.views(self.parameters_)[self._blocks[0]].T

    @property
    def intercept_hidden_(self) -> np.ndarray:
        self._check_fitted()
        return self.network_.layout.views(self.parameters_)[self._blocks[1]]

    @property
    def intercept_visible_(self) -> np.ndarray:
        self._check_fitted()
        return self.network_.layout.views(self.parameters_)[self._blocks[2]]

    def transform(self, X) -> np.ndarray:
        """The hidden (code) layer's activations, shape ``(n_samples, n_hidden)``."""
        self._check_fitted()
        return self.network_.transform(self.parameters_, self._check_X(X))

    def reconstruct(self, X) -> np.ndarray:
        r"""The reconstruction :math:`\hat X` of ``X``."""
        self._check_fitted()
        return self.network_.reconstruct(self.parameters_, self._check_X(X))

    def reconstruction_error(self, X) -> float:
        r""":math:`\frac1L\sum_l\lVert\hat x_l - x_l\rVert^2`, the same measure for every
        unsupervised estimator."""
        self._check_fitted()
        return self.network_.reconstruction_error(self.parameters_, self._check_X(X))

    def score(self, X, y=None) -> float:
        """Minus the reconstruction error of ``X``: higher is better, as scikit-learn's model
        selection expects."""
        return -self.reconstruction_error(X)
