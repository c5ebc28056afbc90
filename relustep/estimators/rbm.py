r"""The RBM estimator: scikit-learn's interface to :mod:`relustep.models.rbm`, trained by the one
loop of :mod:`relustep.train`."""

from __future__ import annotations

import time

import numpy as np

from relustep._validation import check_choice, check_int
from relustep.estimators._base import UnsupervisedEstimator, check_bool
from relustep.models.rbm import (
    HIDDEN_UNITS,
    LEARNING_RULES,
    VISIBLE_UNITS,
    RBMBatchObjective,
    RBMNetwork,
    fused_epoch,
)
from relustep.steps import Golovko, StepRule
from relustep.train import MiniBatches, Stepper


class RBM(UnsupervisedEstimator):
    r"""A restricted Boltzmann machine with ReLU hidden units, trained by CD-k on the chain's
    cumulative squared error, with scikit-learn's conventions.

    The mathematics is in :class:`RBMNetwork` (and this module's Notes); the analytic step in
    :class:`relustep.steps.golovko.Golovko` (derived in relustep; the paper's exact form may
    differ).

    Parameters
    ----------
    n_hidden : int, default 256
        Number of hidden units :math:`m`.
    visible : {"sigmoid", "linear", "relu"}, default "sigmoid"
        Visible transfer: Bernoulli means (data in [0, 1]), Gaussian units (standardised data) or
        ReLU.
    hidden : {"relu", "nrelu", "binary", "linear"}, default "relu"
        ``"relu"``: the deterministic mean-field chain; ``"nrelu"``: noisy ReLU sampling (Nair and
        Hinton 2010); ``"binary"``: Bernoulli sigmoid units (a classic Bernoulli RBM, with
        :meth:`pseudo_likelihood`); ``"linear"``: linear units. With sampled hidden units, sigmoid
        visibles are sampled too.
    k : int, default 1
        Steps of the chain (CD-k).
    rule : {"cse", "cd"}, default "cse"
        The masked rule (descent on the chain's error) or classic CD.
    persistent : bool, default False
        Persistent CD (Tieleman 2008): the negative statistics come from particles that carry on
        from one step to the next instead of restarting at the data. Needs ``rule="cd"`` and a
        step rule other than ``"golovko"`` and ``"coupled"`` (the analytic steps are derived for
        the data chain).
    step : str, dict, StepRule or None, default None
        The step rule: ``"golovko"`` (analytic), ``"coupled"`` (relustep's coupled analytic step,
        :class:`~relustep.steps.coupled.CoupledGaussNewton`), ``"constant"``, ``"momentum"``,
        ``"adam"``, ... or an object such as ``relustep.steps.Golovko(verify=True)``. ``None`` is
        the analytic step, verified on the true loss in online learning (``batch_size=1``):
        ``Golovko(verify=batch_size == 1)``; see the Notes.
    batch_size : int, default 100
        Rows per step; 1 is online learning (run by one Numba kernel per epoch when the step is
        constant or analytic and the chain is deterministic).
    epochs : int, default 10
        Passes over the data in ``fit``.
    dtype : {"float64", "float32"}, default "float64"
    backend : {"numba", "numpy"}, default "numba"
        The kernels or their readable NumPy twins.
    random_state : None, int or numpy.random.Generator
        Seeds the weights, the order of the samples and the chain's noise; an int gives
        bit-identical runs.
    verbose : bool, default False
        A progress bar on runs longer than two seconds.
    epoch_loss : {"full", "batches"}, default "full"
        The training :math:`E` recorded after each epoch of ``fit`` in
        ``history_["epochs"]["train_loss"]``: ``"full"`` runs the noise-free chain of every
        training row at the epoch's final parameters (three matrix products per row, more than
        the epoch's own steps cost at small batches); ``"batches"`` averages the :math:`E` of
        the epoch's batches before each step (free, but each at a different point).

    Attributes
    ----------
    components_ : ndarray, shape (n_hidden, n_features)
        :math:`W^\top` (a view into ``parameters_``), as in scikit-learn's ``BernoulliRBM``.
    intercept_hidden_ : ndarray, shape (n_hidden,)
    intercept_visible_ : ndarray, shape (n_features,)
    parameters_ : ndarray
        ``W, b, c`` in one flat array (layout ``network_.layout``).
    network_ : RBMNetwork
    step_ : StepRule
    history_ : History
        ``loss`` is the batch's :math:`E` per row before each step (with ``persistent=True``,
        the :math:`E` of the particles' chain per particle, see
        :class:`~relustep.models.rbm.RBMBatchObjective`); ``epochs`` holds the training
        and validation :math:`E` (noise-free chain) after each epoch; the analytic step adds its
        safeguard columns (see :class:`~relustep.steps.golovko.Golovko`).
    particles_ : ndarray, shape (batch_size, n_features)
        The persistent chain's visible states (``persistent=True`` only).
    n_features_in_, n_iter_, t_ : int
    loss_ : float
        Training :math:`E` after the last epoch.

    Notes
    -----
    **Online learning verifies the analytic step by default.** With one sample per step the
    frozen quadratic can be far from the true :math:`E` (units change pattern inside the step;
    saturated sigmoid units, :math:`F' \approx 0`, make it nearly flat and its minimum huge), and
    unverified steps can raise the loss without a word: on the standardised digits with linear
    visibles (300 rows, 32 hidden units) three unverified online epochs took the training
    :math:`E` from 104 to 15900 and back to 87, where verified steps keep it between 13 and 15
    (mini-batches of 20: 15 to 13). Verification runs the sample's chain again at the trial point
    and halves :math:`\alpha` until the sample's :math:`E` does not rise; each chain is a
    forward pass counted in ``history_["n_forward"]``: 2 to 3 per step in relustep's
    measurements (digits and MNIST), at 1.2 to 2.3 times the seconds of an unverified online
    epoch. Mini-batch steps are not verified by default (the batch's quadratic is a far better
    model there); ``step="golovko"`` or ``Golovko(verify=...)`` chooses explicitly.

    Verification checks the sample's own :math:`E` only. When a sample's hidden units are all
    off and its sigmoid visibles saturated (:math:`|S_v| \approx 20`, :math:`F' \approx 2\cdot
    10^{-9}`), :math:`\alpha^* \approx 1/F'^2 \approx 10^{17}` moves a visible bias by about
    :math:`5\cdot 10^8`: the sample's :math:`E` falls, so the step passes, and the unit stays
    saturated for every other sample (:math:`F' = 0`, nothing left to learn).

    Examples
    --------
    >>> import numpy as np, relustep
    >>> X = relustep.datasets.load("digits").X_train[:200]
    >>> rbm = RBM(n_hidden=16, epochs=5, batch_size=20, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (200, 16)
    >>> losses = rbm.history_["epochs"]["train_loss"]
    >>> bool(losses[-1] < losses[0])
    True
    """

    def __init__(
        self,
        n_hidden: int = 256,
        *,
        visible: str = "sigmoid",
        hidden: str = "relu",
        k: int = 1,
        rule: str = "cse",
        persistent: bool = False,
        step=None,
        batch_size: int = 100,
        epochs: int = 10,
        dtype: str = "float64",
        backend: str = "numba",
        random_state=None,
        verbose: bool = False,
        epoch_loss: str = "full",
    ):
        self._store_settings(locals())

    def _check_settings(self) -> None:
        super()._check_settings()
        check_choice(self.epoch_loss, "epoch_loss", ("full", "batches"))
        check_choice(self.visible, "visible", VISIBLE_UNITS)
        check_choice(self.hidden, "hidden", HIDDEN_UNITS)
        check_int(self.k, "k")
        check_choice(self.rule, "rule", LEARNING_RULES)
        if check_bool(self.persistent, "persistent") and self.rule != "cd":
            raise ValueError(f"persistent=True needs rule='cd', got rule={self.rule!r}")

    def _epoch_options(self) -> dict:
        return {"epoch_loss": self.epoch_loss}

    def _step_rule(self) -> StepRule:
        if self.step is None:
            return Golovko(verify=self.batch_size == 1)
        return super()._step_rule()

    def _make_network(self) -> RBMNetwork:
        return RBMNetwork(
            self.n_features_in_,
            self.n_hidden,
            visible=self.visible,
            hidden=self.hidden,
            k=self.k,
            rule=self.rule,
            backend=self.backend,
        )

    def _capabilities(self) -> frozenset:
        # the persistent chain has no data chain to freeze: no analytic step
        return frozenset() if self.persistent else self.network_.capabilities

    def _initialise(self, n_features: int) -> None:
        super()._initialise(n_features)
        self._start_particles()

    def _after_load(self) -> None:
        super()._after_load()
        self._start_particles()

    def _start_particles(self) -> None:
        """Random visible states, and the hidden states of the network's chain from them."""
        if self.persistent:
            dtype = self.parameters_.dtype
            shape = (self.batch_size, self.n_features_in_)
            self.particles_ = self._rng.random(shape).astype(dtype)
            noise = self.network_.draw_noise(self._rng, self.batch_size, dtype, k=0)
            chain = self.network_.run_chain(self.parameters_, self.particles_, noise, k=0)
            self._particle_hidden = chain.y(0).copy()

    # -- training --------------------------------------------------------------------------------
    def _task(self, X, validation, batch_size: int, shuffle: bool = True) -> MiniBatches:
        """The epochs of CD-k: mini-batches, each with its chain's random numbers (and the
        persistent particles), or a fused online epoch when ``batch_size`` is 1 and the kernel
        can take the rule's step."""
        network, dtype = self.network_, self.parameters_.dtype

        def objective(rows, rng):
            if not self.persistent:
                return RBMBatchObjective(
                    network, X[rows], network.draw_noise(rng, len(rows), dtype)
                )
            noise = network.draw_noise(rng, len(rows), dtype, k=0)  # the data's y(0) only
            particle_noise = network.draw_noise(rng, len(self.particles_), dtype)
            return RBMBatchObjective(
                network, X[rows], noise, self.particles_, particle_noise, self._particle_hidden
            )

        form = self.step_.fused_form()
        fused = None
        if batch_size == 1 and not self.persistent and network.fuses(form):

            def fused(stepper: Stepper, order: np.ndarray) -> float:
                stepper.keep_point()
                started = time.perf_counter()
                result = fused_epoch(network, stepper.theta, X, order, self.step_.fused_form())
                n_steps = len(order)
                seconds = (time.perf_counter() - started) / n_steps  # the kernel's, shared
                self.step_.count_steps(n_steps)
                stepper.record_steps(
                    {
                        "loss": result["loss"].tolist(),
                        "step_size": result["step_size"].tolist(),
                        "n_forward": result["n_forward"].tolist(),
                        "n_backward": [1] * n_steps,
                        "seconds": [seconds] * n_steps,
                        **self.step_.fused_columns(result),
                    }
                )
                return float(np.mean(result["loss"]))

        return MiniBatches(
            len(X),
            batch_size,
            objective,
            lambda theta: network.cse(theta, X),
            None if validation is None else lambda theta: network.cse(theta, validation),
            fused_epoch=fused,
            shuffle=shuffle,
        )

    # -- what a fitted RBM gives -----------------------------------------------------------------
    def cse(self, X) -> float:
        """The chain's cumulative squared error :math:`E` per row (noise-free chain)."""
        self._check_fitted()
        return self.network_.cse(self.parameters_, self._check_X(X))

    def pseudo_likelihood(self, X) -> float:
        """The log pseudo-likelihood per feature (``visible="sigmoid"``, ``hidden="binary"``);
        see :meth:`RBMNetwork.pseudo_likelihood`."""
        self._check_fitted()
        return self.network_.pseudo_likelihood(self.parameters_, self._check_X(X))
