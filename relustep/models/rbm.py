r"""Restricted Boltzmann machines with ReLU units, trained by CD-k on the cumulative squared error.

The formulation follows Golovko's group as relustep reconstructs it from the abstracts of Chen,
Golovko et al. (2024) and earlier papers: the formulas here are derived in relustep; the paper's
exact form may differ.

Notes
-----
**The chain.** Visible units :math:`x \in \mathbb R^n`, hidden :math:`y \in \mathbb R^m`, weights
:math:`W` (:math:`n \times m`), hidden bias :math:`b`, visible bias :math:`c`. From the data
:math:`x(0)`:

.. math::
    S_h(p) = W^\top x(p) + b, \quad y(p) = F_h(S_h(p)) \quad (p = 0..k), \qquad
    S_v(p) = W y(p-1) + c, \quad x(p) = F_v(S_v(p)) \quad (p = 1..k).

:math:`F_h` is ReLU (the deterministic mean-field chain), noisy ReLU or a Bernoulli sample of the
sigmoid (the sampled chain), or linear; :math:`F_v` is linear, ReLU or the sigmoid (sampled as
Bernoulli in the sampled chain). See :mod:`relustep.kernels.rbm` for each transfer.

**The loss** is the cumulative squared error of the chain, a mean over the :math:`L` rows:

.. math::
    E = \frac{1}{L}\sum_l \frac12 \sum_{p=1}^k \bigl(\lVert y_l(p) - y_l(p-1)\rVert^2
        + \lVert x_l(p) - x_l(p-1)\rVert^2\bigr).

**The learning rules** freeze the input and the target of each local error
:math:`\gamma(p) = y(p) - y(p-1)`, :math:`e(p) = x(p) - x(p-1)`, and descend on :math:`E`:

.. math::
    \text{"cse"}:\quad \nabla_W = \frac1L\sum_p \bigl[x(p)\,(\gamma(p) \odot F_h'(S_h(p)))^\top
        + (e(p) \odot F_v'(S_v(p)))\,y(p-1)^\top\bigr],

with :math:`\nabla_b, \nabla_c` the sums of the masked errors; the rule "cd" drops the factors
:math:`F'`, and then the sum telescopes:

.. math::
    \sum_{p=1}^k \bigl[x(p)\gamma(p)^\top + e(p)y(p-1)^\top\bigr] = x(k)y(k)^\top - x(0)y(0)^\top,

so that :math:`\theta - \alpha\nabla` is classic CD-k, :math:`\Delta W = \alpha(x(0)y(0)^\top -
x(k)y(k)^\top)/L`. For linear units :math:`F' = 1` and the two rules coincide.

The step along this direction may be any rule of :mod:`relustep.steps`; the analytic one is
:class:`relustep.steps.golovko.Golovko`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relustep import kernels
from relustep._validation import check_choice, check_int
from relustep.kernels import rbm as rbm_kernels
from relustep.kernels.rbm import apply_transfer
from relustep.models.rbm_tangent import chain_tangent
from relustep.objective import FROZEN_QUADRATIC_FORMS, ChainTangent, FrozenQuadratic
from relustep.params import ParameterLayout

VISIBLE_UNITS = ("linear", "sigmoid", "relu")
HIDDEN_UNITS = ("relu", "nrelu", "binary", "linear")
SAMPLED_HIDDEN_UNITS = ("nrelu", "binary")
LEARNING_RULES = ("cse", "cd")
KINK_UNITS = ("relu", "nrelu")  # units whose pattern can change inside a step
_NOT_SAMPLED = np.empty((0, 0))


@dataclass
class ChainNoise:
    """The random numbers of one sampled chain on one batch, drawn in advance so that the same
    chain can be run again at other parameters (common random numbers: the loss along a line is
    then a deterministic function of the step).

    Attributes
    ----------
    hidden : ndarray, shape (k + 1, L, m) or (0, 0)
        Standard normal (noisy ReLU) or uniform (Bernoulli) numbers for ``y(0..k)``.
    visible : ndarray, shape (k, L, n) or (0, 0)
        Uniform numbers for the Bernoulli visibles ``x(1..k)``.
    """

    hidden: np.ndarray
    visible: np.ndarray

    def hidden_at(self, p: int) -> np.ndarray:
        return self.hidden[p] if self.hidden.size else self.hidden

    def visible_at(self, p: int) -> np.ndarray:
        return self.visible[p - 1] if self.visible.size else self.visible


class Chain:
    r"""The states of one CD-k chain on a batch, and its local errors.

    Storage is arranged so that the products of the gradient are single matrix products over
    contiguous blocks: ``visible`` holds :math:`[x(0), \dots, x(k), d_v(1), \dots, d_v(k)]` and
    ``hidden`` holds :math:`[d_h(1), \dots, d_h(k), y(0), \dots, y(k)]`, each of shape
    ``(2k + 1, L, units)``, where :math:`d` is the rule's direction factor (masked error for
    "cse", error for "cd").
    """

    def __init__(self, k: int, n_rows: int, n_visible: int, n_hidden: int, dtype):
        self.k, self.n_rows = k, n_rows
        self.visible = np.empty((2 * k + 1, n_rows, n_visible), dtype)
        self.hidden = np.empty((2 * k + 1, n_rows, n_hidden), dtype)
        self.pre_hidden = np.empty((k + 1, n_rows, n_hidden), dtype)  # S_h(0..k)
        self.pre_visible = np.empty((k, n_rows, n_visible), dtype)  # S_v(1..k)
        self.slope_hidden = np.empty_like(self.pre_hidden)  # F_h'(S_h(0..k))
        self.slope_visible = np.empty_like(self.pre_visible)  # F_v'(S_v(1..k))
        self.energy = 0.0  # E in the sum convention (not divided by L)

    def x(self, p: int) -> np.ndarray:
        """Visible states :math:`x(p)`, ``(L, n)``."""
        return self.visible[p]

    def y(self, p: int) -> np.ndarray:
        """Hidden states :math:`y(p)`, ``(L, m)``."""
        return self.hidden[self.k + p]

    def rows(self, block: np.ndarray) -> np.ndarray:
        """Stack ``(k, L, units)`` into chain rows ``(k L, units)`` (a view)."""
        return block.reshape(-1, block.shape[-1])


class RBMNetwork:
    """The mathematics of the RBM: the chain, its loss, the learning rules' direction, the
    frozen-error quadratic of the analytic step, and the metrics.

    Like :class:`~relustep.models.dense.DenseReLUNetwork` it holds no parameters: every method
    takes the flat vector ``theta`` (blocks ``W`` of shape ``(n_visible, n_hidden)``, ``b``,
    ``c``).

    Parameters
    ----------
    n_visible, n_hidden : int
    visible : {"sigmoid", "linear", "relu"}
    hidden : {"relu", "nrelu", "binary", "linear"}
        ``"relu"`` and ``"linear"`` give the deterministic chain; ``"nrelu"`` and ``"binary"`` the
        sampled one (then sigmoid visibles are sampled too).
    k : int
        Steps of the chain (CD-k).
    rule : {"cse", "cd"}
        The masked rule or the classic one (see the module Notes).
    backend : {"numba", "numpy"}
        The kernels or their NumPy twins.

    Examples
    --------
    >>> network = RBMNetwork(4, 3)
    >>> theta = network.init_parameters(np.random.default_rng(0))
    >>> X = np.random.default_rng(1).random((5, 4))
    >>> loss, direction = network.loss_and_gradient(theta, X)
    >>> direction.shape == theta.shape
    True
    """

    # no "gradient": its direction is a learning rule's, not the gradient of E
    capabilities = frozenset({"frozen_quadratic", "chain_tangent"})
    fused_forms = ("constant", "frozen_quadratic", "adam")  # the steps its online kernel takes

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        *,
        visible: str = "sigmoid",
        hidden: str = "relu",
        k: int = 1,
        rule: str = "cse",
        backend: str = "numba",
    ):
        self.n_visible = check_int(n_visible, "n_visible")
        self.n_hidden = check_int(n_hidden, "n_hidden")
        self.visible = check_choice(visible, "visible", VISIBLE_UNITS)
        self.hidden = check_choice(hidden, "hidden", HIDDEN_UNITS)
        self.k = check_int(k, "k")
        self.rule = check_choice(rule, "rule", LEARNING_RULES)
        self.backend = check_choice(backend, "backend", kernels.BACKENDS)
        self.layout = ParameterLayout(
            [
                ("W", (self.n_visible, self.n_hidden)),
                ("b", (self.n_hidden,)),
                ("c", (self.n_visible,)),
            ]
        )
        self.sampled = self.hidden in SAMPLED_HIDDEN_UNITS
        self._visible_code = rbm_kernels.UNIT_CODES[self.visible]
        self._hidden_code = rbm_kernels.UNIT_CODES[self.hidden]
        self._kernels = {
            name: kernels.get(name, backend)
            for name in ("rbm_transfer", "rbm_local_errors", "golovko_sums", "zero_crossings")
        }

    def __repr__(self) -> str:
        return (
            f"RBMNetwork({self.n_visible}, {self.n_hidden}, visible={self.visible!r}, "
            f"hidden={self.hidden!r}, k={self.k}, rule={self.rule!r}, backend={self.backend!r})"
        )

    def init_parameters(self, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
        r"""Glorot-uniform weights, :math:`W_{ij} \sim U(-r, r)` with :math:`r = \sqrt{6/(n+m)}`,
        and zero biases."""
        theta = self.layout.empty(dtype)
        views = self.layout.views(theta)
        bound = np.sqrt(6.0 / (self.n_visible + self.n_hidden))
        views["W"][...] = rng.uniform(-bound, bound, size=views["W"].shape)
        views["b"][...] = 0.0
        views["c"][...] = 0.0
        return theta

    def fuses(self, form: tuple[str, dict] | None) -> bool:
        """Whether :func:`fused_epoch` can take a step rule's steps (its ``fused_form()``)."""
        return form is not None and not self.sampled and form[0] in self.fused_forms

    # -- the chain -------------------------------------------------------------------------------
    def draw_noise(
        self, rng: np.random.Generator, n_rows: int, dtype=np.float64, k: int | None = None
    ) -> ChainNoise:
        """The random numbers of a sampled chain of length ``k`` (default: the network's) on
        ``n_rows`` rows (none for a deterministic chain). Drawn in a fixed order from ``rng``:
        hidden, then visible."""
        if not self.sampled:
            return ChainNoise(_NOT_SAMPLED.astype(dtype), _NOT_SAMPLED.astype(dtype))
        k = self.k if k is None else k
        shape = (k + 1, n_rows, self.n_hidden)
        if self.hidden == "nrelu":
            hidden = rng.standard_normal(shape)
        else:
            hidden = rng.random(shape)
        visible = _NOT_SAMPLED
        if self.visible == "sigmoid" and k > 0:
            visible = rng.random((k, n_rows, self.n_visible))
        return ChainNoise(hidden.astype(dtype, copy=False), visible.astype(dtype, copy=False))

    def run_chain(
        self,
        theta: np.ndarray,
        X: np.ndarray,
        noise: ChainNoise | None = None,
        k: int | None = None,
        hidden: np.ndarray | None = None,
    ) -> Chain:
        """Run the chain from the data ``X`` and form its local errors; ``noise=None`` runs the
        noise-free (mean-field) chain, used for the metrics. ``k`` overrides the chain's length.

        ``hidden``, for the persistent chain: the hidden states :math:`y(0)` kept from the last
        step (``X`` is then the visible states they came from); the chain starts from them
        instead of computing them from ``X``, one matrix product fewer, and ``pre_hidden[0]``,
        ``slope_hidden[0]`` are left unset."""
        k = self.k if k is None else k
        views = self.layout.views(theta)
        W, b, c = views["W"], views["b"], views["c"]
        transfer, local_errors = self._kernels["rbm_transfer"], self._kernels["rbm_local_errors"]
        chain = Chain(k, len(X), self.n_visible, self.n_hidden, theta.dtype)
        if noise is None:
            empty = _NOT_SAMPLED.astype(theta.dtype)
            noise = ChainNoise(empty, empty)
        chain.visible[0] = X
        if hidden is not None:
            chain.y(0)[...] = hidden
        for p in range(k + 1):
            if p > 0 or hidden is None:
                np.matmul(chain.x(p), W, out=chain.pre_hidden[p])
                apply_transfer(
                    transfer,
                    chain.pre_hidden[p],
                    b,
                    noise.hidden_at(p),
                    self._hidden_code,
                    chain.y(p),
                    chain.slope_hidden[p],
                )
            if p < k:
                np.matmul(chain.y(p), W.T, out=chain.pre_visible[p])
                apply_transfer(
                    transfer,
                    chain.pre_visible[p],
                    c,
                    noise.visible_at(p + 1),
                    self._visible_code,
                    chain.x(p + 1),
                    chain.slope_visible[p],
                )
        masked = self.rule == "cse"
        energy = 0.0
        for p in range(1, k + 1):
            energy += local_errors(
                chain.y(p), chain.y(p - 1), chain.slope_hidden[p], masked, chain.hidden[p - 1]
            )
            energy += local_errors(
                chain.x(p),
                chain.x(p - 1),
                chain.slope_visible[p - 1],
                masked,
                chain.visible[k + p],
            )
        chain.energy = float(energy)
        return chain

    # -- loss and direction ----------------------------------------------------------------------
    def loss(self, theta: np.ndarray, X: np.ndarray, noise: ChainNoise | None = None) -> float:
        """The chain's cumulative squared error :math:`E` on a batch (mean over rows)."""
        return self.run_chain(theta, X, noise).energy / len(X)

    def loss_and_gradient(
        self,
        theta: np.ndarray,
        X: np.ndarray,
        noise: ChainNoise | None = None,
        gradient: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """The loss :math:`E` and the learning rule's direction (mean convention): one chain and
        one product for the weights."""
        chain = self.run_chain(theta, X, noise)
        return chain.energy / len(X), self.direction(chain, gradient, theta.dtype)

    def direction(
        self,
        chain: Chain,
        out: np.ndarray | None = None,
        dtype=np.float64,
        negative: Chain | None = None,
    ) -> np.ndarray:
        """The rule's direction from a chain (see the module Notes), written into ``out``.

        ``negative``, for persistent CD with the rule "cd": the chain of the persistent
        particles, whose last state replaces the data chain's :math:`x(k), y(k)`."""
        if out is None:
            out = self.layout.empty(dtype)
        views = self.layout.views(out)
        k, n_rows = chain.k, chain.n_rows
        if self.rule == "cse" and negative is None:
            left = chain.rows(chain.visible[1:])  # [x(1..k); d_v(1..k)]
            right = chain.rows(chain.hidden[: 2 * k]) * (1.0 / n_rows)  # [d_h(1..k); y(0..k-1)]
            np.matmul(left.T, right, out=views["W"])
            np.sum(chain.rows(chain.hidden[:k]), axis=0, out=views["b"])
            np.sum(chain.rows(chain.visible[k + 1 :]), axis=0, out=views["c"])
            views["b"] /= n_rows
            views["c"] /= n_rows
            return out
        last = chain if negative is None else negative
        x_last, y_last = last.x(last.k), last.y(last.k)
        left = np.concatenate([x_last, chain.x(0)])
        right = np.concatenate([y_last / last.n_rows, chain.y(0) / -n_rows])
        np.matmul(left.T, right, out=views["W"])
        views["b"][...] = y_last.mean(axis=0) - chain.y(0).mean(axis=0)
        views["c"][...] = x_last.mean(axis=0) - chain.x(0).mean(axis=0)
        return out

    # -- the analytic step -----------------------------------------------------------------------
    def frozen_quadratic(self, chain: Chain, form: str = "gram") -> FrozenQuadratic:
        """The frozen-error quadratic along the rule's direction at the chain's parameters (see
        :class:`relustep.steps.golovko.Golovko`; derived in relustep, the paper's exact form may
        differ). Returned in the mean convention."""
        check_choice(form, "form", FROZEN_QUADRATIC_FORMS)
        k, n_rows = chain.k, chain.n_rows
        golovko_sums = self._kernels["golovko_sums"]
        inputs_h = chain.rows(chain.visible[1 : k + 1])  # x(1..k)
        inputs_v = chain.rows(chain.hidden[k : 2 * k])  # y(0..k-1)
        moves_h = _gram_times(inputs_h, chain.rows(chain.hidden[:k]), form)
        moves_v = _gram_times(inputs_v, chain.rows(chain.visible[k + 1 :]), form)
        pre_h, pre_v = chain.rows(chain.pre_hidden[1:]), chain.rows(chain.pre_visible)
        numerator_h, denominator_h = golovko_sums(
            chain.rows(chain.hidden[k + 1 :]),
            inputs_v,
            chain.rows(chain.slope_hidden[1:]),
            moves_h,
        )
        numerator_v, denominator_v = golovko_sums(
            inputs_h, chain.rows(chain.visible[:k]), chain.rows(chain.slope_visible), moves_v
        )
        blocks = []
        if self.hidden in KINK_UNITS:
            blocks.append((pre_h, moves_h))
        if self.visible in KINK_UNITS:
            blocks.append((pre_v, moves_v))
        zero_crossings = self._kernels["zero_crossings"]

        def crossing_fraction(alpha: float) -> float:
            if not blocks:
                return 0.0
            crossed = sum(zero_crossings(pre, moves, alpha / n_rows) for pre, moves in blocks)
            return crossed / sum(pre.size for pre, _ in blocks)

        # the sums are over rows with the step in the sum convention; with the loss a mean over
        # the L rows and alpha = L alpha_sum: numerator / L^2 and denominator / L^3
        return FrozenQuadratic(
            numerator=float(numerator_h + numerator_v) / n_rows**2,
            denominator=float(denominator_h + denominator_v) / n_rows**3,
            crossing_fraction=crossing_fraction,
        )

    # -- metrics, defined once -------------------------------------------------------------------
    def cse(self, theta: np.ndarray, X: np.ndarray, chunk: int = 1024) -> float:
        """The chain's cumulative squared error :math:`E` per row, on the noise-free chain, in
        chunks of ``chunk`` rows (the training loss after each epoch). Measured in relustep on
        MNIST with 256 hidden units, chunks of 1024 rows took 0.75 times as long as chunks of
        2048, whose arrays (about 19 MB each) the allocator maps afresh for every chunk."""
        return _chunked_mean(lambda rows: self.run_chain(theta, rows).energy, X, chunk)

    def reconstruction_error(self, theta: np.ndarray, X: np.ndarray, chunk: int = 2048) -> float:
        r"""The visible reconstruction error :math:`\frac1L\sum_l\lVert x_l(1) - x_l(0)\rVert^2`
        of the noise-free chain (for sigmoid visibles :math:`x(1)` is the probability)."""

        def total(rows):
            reconstruction = self.reconstruct(theta, rows)
            return float(np.sum((reconstruction - rows) ** 2))

        return _chunked_mean(total, X, chunk)

    def transform(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The noise-free hidden activations :math:`y(0)`."""
        views = self.layout.views(theta)
        return self._layer(X @ views["W"], views["b"], self._hidden_code)

    def reconstruct(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The noise-free reconstruction :math:`x(1)`."""
        views = self.layout.views(theta)
        return self._layer(self.transform(theta, X) @ views["W"].T, views["c"], self._visible_code)

    def _layer(self, products: np.ndarray, bias: np.ndarray, kind: int) -> np.ndarray:
        out, slope = np.empty_like(products), np.empty_like(products)
        empty = _NOT_SAMPLED.astype(products.dtype)
        apply_transfer(self._kernels["rbm_transfer"], products, bias, empty, kind, out, slope)
        return out

    def pseudo_likelihood(self, theta: np.ndarray, X: np.ndarray) -> float:
        r"""The log pseudo-likelihood per feature, for sigmoid visibles and binary hidden units:

        .. math::
            \frac{1}{L\,n}\sum_l\sum_i \log P(v_{li} \mid v_{l,-i})
            = \frac{1}{L\,n}\sum_l\sum_i \log\sigma\bigl(F(\tilde v_{l}^{(i)}) - F(v_l)\bigr),
            \qquad F(v) = -c^\top v - \sum_j \log(1 + e^{(W^\top v + b)_j}),

        where :math:`\tilde v^{(i)}` flips feature :math:`i` (:math:`v_i \to 1 - v_i`) and
        :math:`F` is the free energy. Every feature is flipped (scikit-learn's ``score_samples``
        flips one at random and multiplies by :math:`n`), so the value is exact and
        deterministic. Cost: :math:`n` products of size :math:`L \times m`.
        """
        if self.visible != "sigmoid" or self.hidden != "binary":
            raise ValueError(
                "the pseudo-likelihood is defined here for visible='sigmoid' and hidden='binary' "
                f"(a Bernoulli RBM), not visible={self.visible!r}, hidden={self.hidden!r}"
            )
        views = self.layout.views(theta)
        W, b, c = views["W"], views["b"], views["c"]
        pre = X @ W + b
        free_energy_terms = np.logaddexp(0.0, pre).sum(axis=1)
        total = 0.0
        for i in range(self.n_visible):
            flip = 1.0 - 2.0 * X[:, i]  # +1 turns 0 into 1, -1 turns 1 into 0
            flipped_terms = np.logaddexp(0.0, pre + flip[:, None] * W[i]).sum(axis=1)
            free_energy_difference = -flip * c[i] - flipped_terms + free_energy_terms
            total += float(np.sum(-np.logaddexp(0.0, -free_energy_difference)))
        return total / (len(X) * self.n_visible)


class RBMBatchObjective:
    """The RBM's loss on one fixed batch with fixed random numbers, as a function of ``theta``.

    ``loss(theta)`` runs the chain again at ``theta`` (the true :math:`E`, for probes of the
    loss along a line); ``loss_and_gradient`` also keeps its chain, from which
    :meth:`frozen_quadratic` computes the analytic step without another pass.

    Parameters
    ----------
    model : RBMNetwork
    X : ndarray
        The batch.
    noise : ChainNoise
        The random numbers of the chain on this batch (persistent CD: of its :math:`y(0)` only,
        ``draw_noise(rng, L, dtype, k=0)``).
    particles : ndarray, optional
        Persistent CD: the persistent chain's visible states; advanced by one chain of length
        ``k`` at each ``loss_and_gradient`` (with ``particle_noise``).
    particle_noise : ChainNoise, optional
    particle_hidden : ndarray, optional
        Persistent CD: the hidden states the particles' last step ended with, advanced with
        ``particles``; the chain starts from them (see :meth:`RBMNetwork.run_chain`). ``None``
        computes them from ``particles``.

    Notes
    -----
    **Persistent CD** (Tieleman 2008) needs of the data only :math:`y(0)`, for the positive
    statistics :math:`x(0)y(0)^\top`; the negative ones come from the particles' chain. So the
    data chain stops at :math:`y(0)` (one matrix product), the particles' chain starts from its
    kept hidden states (two products for CD-1), and the direction is one product of the stacked
    states: five products of a batch with the weights per step, the count of scikit-learn's
    ``BernoulliRBM``. The loss of a persistent step is then the :math:`E` of the particles'
    chain (per particle), which costs nothing more; the :math:`E` of the data is measured after
    each epoch.
    """

    def __init__(
        self,
        model: RBMNetwork,
        X: np.ndarray,
        noise: ChainNoise,
        particles: np.ndarray | None = None,
        particle_noise: ChainNoise | None = None,
        particle_hidden: np.ndarray | None = None,
    ):
        self.model, self.X, self.y, self.noise = model, X, X, noise
        self.particles, self.particle_noise = particles, particle_noise
        self.particle_hidden = particle_hidden
        self.capabilities = model.capabilities if particles is None else frozenset()
        self.chain: Chain | None = None
        self.negative: Chain | None = None
        self._direction: np.ndarray | None = None

    def loss(self, theta: np.ndarray) -> float:
        if self.particles is None:
            return self.model.loss(theta, self.X, self.noise)
        visible, hidden = self.particles, self.particle_hidden
        if self.negative is not None:  # the state the step started from
            visible, hidden = self.negative.x(0), self.negative.y(0)
        return self._persistent_chain(theta, visible, hidden).energy / len(visible)

    def loss_and_gradient(self, theta: np.ndarray, gradient: np.ndarray):
        if self.particles is None:
            self.chain = self.model.run_chain(theta, self.X, self.noise)
            self.model.direction(self.chain, gradient, theta.dtype)
            self._direction = gradient
            return self.chain.energy / len(self.X), gradient
        self.chain = self.model.run_chain(theta, self.X, self.noise, k=0)
        negative = self._persistent_chain(theta, self.particles, self.particle_hidden)
        self.negative = negative
        self.particles[...] = negative.x(negative.k)
        if self.particle_hidden is not None:
            self.particle_hidden[...] = negative.y(negative.k)
        self.model.direction(self.chain, gradient, theta.dtype, negative)
        self._direction = gradient
        return negative.energy / negative.n_rows, gradient

    def _persistent_chain(self, theta, visible, hidden) -> Chain:
        return self.model.run_chain(theta, visible, self.particle_noise, hidden=hidden)

    def frozen_quadratic(
        self, theta: np.ndarray, direction: np.ndarray, form: str = "gram"
    ) -> FrozenQuadratic:
        """The frozen quadratic along the learning rule's direction, from the chain kept by the
        last :meth:`loss_and_gradient` (at ``theta``): no further pass."""
        if self.chain is None or direction is not self._direction:
            raise ValueError(
                "the RBM's analytic step applies along the learning rule's own direction, right "
                "after loss_and_gradient (step='golovko' does this)"
            )
        if self.particles is not None:
            raise ValueError(
                "the RBM's analytic step needs the data chain; persistent=True has none"
            )
        return self.model.frozen_quadratic(self.chain, form)

    def chain_tangent(self, theta: np.ndarray, direction: np.ndarray) -> ChainTangent:
        """The chain's residuals on this batch and its noise, and their rate along ``direction``
        (:func:`relustep.models.rbm_tangent.chain_tangent`)."""
        return chain_tangent(self.model, theta, self.X, direction, self.noise)


def _gram_times(inputs: np.ndarray, directions: np.ndarray, form: str) -> np.ndarray:
    r""":math:`C = K D` with :math:`K = U U^\top + \mathbf 1\mathbf 1^\top` (``form="gram"``) or its
    diagonal (``"diagonal"``). For the Gram form the cheaper of two equal orders is used:
    :math:`(UU^\top + 1)D` costs :math:`R^2(n_u + n_d)` for :math:`R` rows,
    :math:`U(U^\top D) + \mathbf 1(\mathbf 1^\top D)` costs :math:`2 R\,n_u n_d`."""
    n_rows, n_inputs = inputs.shape
    if form == "diagonal":
        scale = np.einsum("ij,ij->i", inputs, inputs) + 1.0
        return directions * scale[:, None]
    if n_rows * (n_inputs + directions.shape[1]) <= 2 * n_inputs * directions.shape[1]:
        gram = inputs @ inputs.T
        gram += 1.0
        return gram @ directions
    moves = inputs @ (inputs.T @ directions)
    moves += directions.sum(axis=0)
    return moves


def _chunked_mean(total_of, X: np.ndarray, chunk: int) -> float:
    total = 0.0
    for start in range(0, len(X), chunk):
        total += total_of(X[start : start + chunk])
    return total / len(X)


def fused_epoch(
    network: RBMNetwork, theta: np.ndarray, X: np.ndarray, order: np.ndarray, form: tuple[str, dict]
) -> dict | None:
    """An epoch of online steps (one sample each, in ``order``) inside one kernel, updating
    ``theta`` in place; ``None`` when the kernel cannot take the rule's step (``form``, from
    :meth:`~relustep.steps.base.StepRule.fused_form`) or the chain is sampled.

    Returns, as arrays with one entry per step: ``loss`` (:math:`E` of the sample at the starting
    point), ``step_size``, ``status`` (the analytic step's safeguard, the outcomes of
    :func:`relustep.kernels.steps.frozen_step`), ``crossing_fraction``, ``verify_halvings`` and
    ``verify_failed`` (the analytic step's verification, when its form asks for it) and
    ``n_forward`` (chains run: 1, plus one per verification). An Adam form's moments, flat
    vectors laid out as ``theta``, are updated in place.
    """
    if not network.fuses(form):
        return None
    kind, settings = form
    views = network.layout.views(theta)
    n_steps = len(order)
    result = {name: np.empty(n_steps) for name in ("loss", "step_size", "crossing_fraction")}
    for name in ("status", "verify_halvings", "verify_failed", "n_forward"):
        result[name] = np.empty(n_steps, dtype=np.int64)
    analytic = kind == "frozen_quadratic"
    if kind == "adam":
        moments = settings["first_moment"], settings["second_moment"]
        adam = [settings[name] for name in ("beta1", "beta2", "epsilon", "steps_before")]
    else:
        moments, adam = (np.empty(0, theta.dtype), np.empty(0, theta.dtype)), [0.0] * 4
    step_kinds = {
        "constant": rbm_kernels.STEP_CONSTANT,
        "frozen_quadratic": rbm_kernels.STEP_GOLOVKO,
        "adam": rbm_kernels.STEP_ADAM,
    }
    kernels.get("rbm_online_epoch", network.backend)(
        X,
        order.astype(np.int64),
        views["W"],
        views["b"],
        views["c"],
        network._visible_code,
        network._hidden_code,
        network.rule == "cse",
        network.k,
        step_kinds[kind],
        0.0 if analytic else settings["lr"],
        analytic and settings["form"] == "diagonal",
        analytic and settings.get("verify", False),
        settings.get("max_halvings", 0),
        result["loss"],
        result["step_size"],
        result["status"],
        result["crossing_fraction"],
        result["verify_halvings"],
        result["verify_failed"],
        result["n_forward"],
        *moments,
        np.asarray(adam, dtype=np.float64),
    )
    return result
