r"""The autoencoder estimator: scikit-learn's interface to
:class:`relustep.models.autoencoder.AutoencoderNetwork`, trained by the one loop of
:mod:`relustep.train`."""

from __future__ import annotations

from relustep._validation import check_choice, check_int
from relustep.estimators._base import UnsupervisedEstimator, check_bool
from relustep.models.autoencoder import VISIBLE_UNITS, AutoencoderNetwork
from relustep.train import MiniBatches


class Autoencoder(UnsupervisedEstimator):
    r"""A one-hidden-layer ReLU autoencoder, :math:`\hat x = F_v(V\,\mathrm{relu}(W^\top x + b) +
    c)`, tied (:math:`V = W^\top`) or untied, trained by backpropagation with any step rule.

    The mathematics is in :class:`AutoencoderNetwork`; the default step ``"golovko"`` is the
    analytic frozen-pattern (Gauss-Newton) step of :class:`relustep.steps.golovko.Golovko`.

    Parameters
    ----------
    n_hidden : int, default 64
    visible : {"sigmoid", "linear", "relu"}, default "sigmoid"
    tied : bool, default True
    step : str, dict or StepRule, default "golovko"
    batch_size : int, default 100
    epochs : int, default 10
    dtype : {"float64", "float32"}, default "float64"
    backend : {"numba", "numpy"}, default "numba"
    random_state : None, int or numpy.random.Generator
    verbose : bool, default False

    Attributes
    ----------
    components_ : ndarray, shape (n_hidden, n_features)
        The encoder's weights :math:`W^\top` (a view into ``parameters_``).
    intercept_hidden_, intercept_visible_ : ndarray
    parameters_ : ndarray
    network_ : AutoencoderNetwork
    step_ : StepRule
    history_ : History
    n_features_in_, n_iter_, t_ : int
    loss_ : float

    Examples
    --------
    >>> import numpy as np, relustep
    >>> X = relustep.datasets.load("digits").X_train[:200]
    >>> model = Autoencoder(16, epochs=5, batch_size=20, random_state=0).fit(X)
    >>> model.transform(X).shape
    (200, 16)
    """

    def __init__(
        self,
        n_hidden: int = 64,
        *,
        visible: str = "sigmoid",
        tied: bool = True,
        step="golovko",
        batch_size: int = 100,
        epochs: int = 10,
        dtype: str = "float64",
        backend: str = "numba",
        random_state=None,
        verbose: bool = False,
    ):
        self._store_settings(locals())

    _blocks = ("W1", "b1", "c1")

    def _encoder_sizes(self) -> tuple[int, ...]:
        return (check_int(self.n_hidden, "n_hidden"),)

    def _check_settings(self) -> None:
        self._encoder_sizes()
        self._check_common_settings()
        check_choice(self.visible, "visible", VISIBLE_UNITS)
        check_bool(self.tied, "tied")

    def _make_network(self) -> AutoencoderNetwork:
        return AutoencoderNetwork(
            (self.n_features_in_, *self._encoder_sizes()),
            visible=self.visible,
            tied=self.tied,
            backend=self.backend,
        )

    def _task(self, X, validation, batch_size: int, shuffle: bool = True) -> MiniBatches:
        """The epochs of backpropagation on the reconstruction error, in mini-batches."""
        validation = None if validation is None else (validation, validation)
        return MiniBatches.of_model(self.network_, X, X, batch_size, validation, shuffle)
