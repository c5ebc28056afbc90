r"""A deep autoencoder pretrained greedily, layer by layer, by RBMs or autoencoders.

Notes
-----
Greedy layer-wise pretraining (Hinton and Salakhutdinov 2006): the first layer, an RBM
(:class:`relustep.models.rbm.RBM`) or a one-layer autoencoder
(:class:`relustep.models.autoencoder.Autoencoder`), learns to reconstruct the data; its hidden
activations :math:`y(0)` are the data of the second layer, whose visible units are ReLU (they model
non-negative activations); and so on up to the code layer. Each layer keeps its weights
:math:`W_l`, hidden bias :math:`b_l` and visible bias :math:`c_l`.

*Unrolling* stacks the encoders and then the decoders in reverse order into one untied
:class:`~relustep.models.autoencoder.AutoencoderNetwork`:

.. math::
    A_l = \mathrm{relu}(A_{l-1} W_l + b_l)\ (l = 1..K), \qquad
    \hat A_{l-1} = F(\hat A_l W_l^\top + c_l)\ (l = K..1),\ \hat A_K = A_K,

with :math:`F = F_v` at the bottom and ReLU elsewhere. Its decoder starts as the transposed
encoder (:math:`V_l = W_l^\top`) and is untied afterwards, so that *fine-tuning* by
backpropagation on the whole reconstruction error (any step rule, including the analytic
frozen-pattern step) can adjust both. The code layer :math:`A_K` is the compressed data.
"""

from __future__ import annotations

import numpy as np

from relustep import steps
from relustep._validation import check_choice, check_int
from relustep.estimators.autoencoder import Autoencoder
from relustep.estimators.rbm import RBM
from relustep.models.autoencoder import VISIBLE_UNITS, AutoencoderNetwork

PRETRAINING = ("rbm", "autoencoder", "none")


class DeepAutoencoder(Autoencoder):
    r"""A deep ReLU autoencoder: greedy layer-wise pretraining, unrolling, optional fine-tuning.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (256, 64, 16)
        The encoder's widths; the last one is the code layer.
    visible : {"sigmoid", "linear", "relu"}, default "sigmoid"
        The transfer of the bottom layer (the data's units).
    pretrain : {"rbm", "autoencoder", "none"}, default "rbm"
        What trains each layer greedily; ``"none"`` starts from random weights.
    pretrain_step : str, dict, StepRule or list of them, default "golovko"
        The step rule of every layer, or one per layer.
    pretrain_epochs : int, default 5
    step : str, dict or StepRule, default "golovko"
        The step rule of fine-tuning.
    epochs : int, default 10
        Epochs of fine-tuning by backpropagation (0: none).
    batch_size : int, default 100
    dtype, backend, random_state, verbose
        As for :class:`~relustep.models.autoencoder.Autoencoder`.

    Attributes
    ----------
    layers_ : list of RBM or Autoencoder
        The pretrained layers (empty for ``pretrain="none"``).
    network_ : AutoencoderNetwork
        The unrolled, untied network.
    parameters_, history_, step_, n_features_in_, n_iter_, t_, loss_
        As for :class:`~relustep.models.autoencoder.Autoencoder`; ``history_`` records the
        fine-tuning, each ``layers_[l].history_`` its layer's pretraining.

    Examples
    --------
    >>> import relustep
    >>> X = relustep.datasets.load("digits").X_train[:300] / 16
    >>> model = DeepAutoencoder((32, 8), pretrain_epochs=2, epochs=2, batch_size=30,
    ...                         random_state=0).fit(X)
    >>> model.transform(X).shape
    (300, 8)
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (256, 64, 16),
        *,
        visible: str = "sigmoid",
        pretrain: str = "rbm",
        pretrain_step="golovko",
        pretrain_epochs: int = 5,
        step="golovko",
        epochs: int = 10,
        batch_size: int = 100,
        dtype: str = "float64",
        backend: str = "numba",
        random_state=None,
        verbose: bool = False,
    ):
        self._store_settings(locals())

    tied = False  # the unrolled network is untied (not a setting)

    def _encoder_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if not isinstance(sizes, tuple | list) or not sizes:
            raise TypeError(f"hidden_layer_sizes must be a non-empty tuple of ints, got {sizes!r}")
        return tuple(check_int(size, f"hidden_layer_sizes[{i}]") for i, size in enumerate(sizes))

    def _layer_steps(self) -> list:
        depth = len(self._encoder_sizes())
        rules = self.pretrain_step
        if not isinstance(rules, list | tuple):
            rules = [rules] * depth
        if len(rules) != depth:
            raise ValueError(
                f"pretrain_step must be one step rule or one per layer ({depth}), got {len(rules)}"
            )
        for index, rule in enumerate(rules):
            steps.get(rule, f"pretrain_step[{index}]")
        return list(rules)

    def _check_settings(self) -> None:
        super()._check_settings()
        check_choice(self.pretrain, "pretrain", PRETRAINING)
        self._layer_steps()
        check_int(self.pretrain_epochs, "pretrain_epochs")
        check_choice(self.visible, "visible", VISIBLE_UNITS)

    def _pretrain(self, X: np.ndarray) -> None:
        """Train each layer on the previous layer's hidden activations; copy its weights into
        the unrolled network (encoder :math:`W_l, b_l`; decoder :math:`V_l = W_l^\\top, c_l`)."""
        views = self.network_.layout.views(self.parameters_)
        self.layers_ = []
        data = X
        for layer, (width, rule) in enumerate(
            zip(self._encoder_sizes(), self._layer_steps(), strict=True), start=1
        ):
            settings = {
                "visible": self.visible if layer == 1 else "relu",
                "step": rule,
                "batch_size": self.batch_size,
                "epochs": self.pretrain_epochs,
                "dtype": self.dtype,
                "backend": self.backend,
                "random_state": self._rng,
                "verbose": self.verbose,
            }
            model = (
                RBM(width, **settings)
                if self.pretrain == "rbm"
                else Autoencoder(width, tied=True, **settings)
            )
            model.fit(data)
            views[f"W{layer}"][...] = model.components_.T
            views[f"b{layer}"][...] = model.intercept_hidden_
            views[f"V{layer}"][...] = model.components_
            views[f"c{layer}"][...] = model.intercept_visible_
            self.layers_.append(model)
            data = model.transform(data)

    def _before_epochs(self, X: np.ndarray) -> None:
        """Pretrain layer by layer (unless ``pretrain="none"``) and unroll; ``fit`` then
        fine-tunes for ``epochs`` epochs."""
        self.layers_ = []
        if self.pretrain != "none":
            self._pretrain(X)

    def save(self, path) -> None:
        """Write the fitted model to ``path`` (see :meth:`relustep.base.BaseEstimator.save`);
        step rule objects in ``pretrain_step`` are stored as their configurations. The
        pretrained ``layers_`` are not saved (their weights live on in ``parameters_``)."""
        original = self.pretrain_step
        rules = original if isinstance(original, list | tuple) else [original]
        configs = [
            rule.get_config() if isinstance(rule, steps.StepRule) else rule for rule in rules
        ]
        self.pretrain_step = configs if isinstance(original, list | tuple) else configs[0]
        try:
            super().save(path)
        finally:
            self.pretrain_step = original

    def _make_network(self) -> AutoencoderNetwork:
        return AutoencoderNetwork(
            (self.n_features_in_, *self._encoder_sizes()),
            visible=self.visible,
            tied=False,
            backend=self.backend,
        )
