r"""Autoencoders with ReLU hidden layers, trained by backpropagation with any step rule.

Notes
-----
An autoencoder with encoder layers :math:`l = 1..K` (weights :math:`W_l` of shape
:math:`h_{l-1} \times h_l`, biases :math:`b_l`) and a mirrored decoder computes

.. math::
    A_0 = X, \quad A_l = \mathrm{relu}(A_{l-1} W_l + b_l) \ (l = 1..K), \qquad
    \text{then back down:}\quad A \leftarrow F(A V_l + c_l) \ (l = K..1),

where :math:`F` is ReLU except at the last layer, which has the visible transfer :math:`F_v`
(linear, sigmoid or ReLU), and :math:`V_l = W_l^\top` (tied weights) or a separate matrix
(untied). With one hidden layer this is :math:`\hat x = F_v(V\,\mathrm{relu}(W^\top x + b) + c)`,
the deterministic cousin of the RBM (:mod:`relustep.models.rbm`). The loss is the mean over the
:math:`L` rows of :math:`\frac12\lVert\hat x - x\rVert^2`.

**Backpropagation** with :math:`S` the pre-activations and :math:`\Delta = \partial\mathcal L /
\partial S` of each layer, from :math:`\Delta_{\text{last}} = (\hat X - X) \odot F_v'(S) / L`:

.. math::
    \nabla_{W} \mathrel{+}= A_{\text{in}}^\top \Delta \ \ (\text{or } \Delta^\top A_{\text{in}}
    \text{ where the layer uses } W^\top), \quad \nabla_{\text{bias}} = \mathbf 1^\top\Delta,
    \quad \Delta_{\text{below}} = (\Delta\,W_{\text{used}}^\top) \odot F'(S_{\text{below}}).

With tied weights the two layers' contributions to :math:`\nabla_W` add up.

**The analytic step** (derived in relustep; the paper's exact form may differ). Freeze the ReLU
pattern and linearise the reconstruction in :math:`\alpha` (the term in :math:`\alpha^2`, which
appears when two layers move at once, is dropped). The residual :math:`R = \hat X - X` then moves
by :math:`-\alpha\,Jd` along the direction :math:`d`, where :math:`Jd` is the directional
derivative of the reconstruction, computed by one forward-mode pass

.. math::
    \dot S_l = \dot A_{l-1} W_l + A_{l-1}\dot W_l + \dot b_l, \qquad
    \dot A_l = F'(S_l) \odot \dot S_l, \qquad \dot A_0 = 0,

and :math:`\frac1{2L}\lVert R - \alpha Jd\rVert^2` is least at
:math:`\alpha^* = R^\top Jd / \lVert Jd\rVert^2`: a Gauss-Newton step along :math:`d`, with no
Hessian. Along the gradient :math:`R^\top J g / L = g^\top g`, so :math:`\alpha^* =
L\,g^\top g / \lVert Jg\rVert^2`.
"""

from __future__ import annotations

import numpy as np

from relustep import kernels
from relustep._validation import check_choice, check_int
from relustep.kernels.rbm import UNIT_CODES, apply_transfer
from relustep.objective import FrozenQuadratic
from relustep.params import ParameterLayout

VISIBLE_UNITS = ("linear", "sigmoid", "relu")
_NOT_SAMPLED = np.empty((0, 0))


class AutoencoderNetwork:
    """The mathematics of a (deep) ReLU autoencoder: forward pass, loss, backpropagation and the
    frozen-pattern quadratic of the analytic step, for a flat parameter vector ``theta``.

    Parameters
    ----------
    sizes : tuple of int
        ``(n_features, h_1, ..., h_K)``: the encoder's widths; the decoder mirrors them.
    visible : {"linear", "sigmoid", "relu"}
        The transfer of the reconstruction.
    tied : bool
        Decoder weights :math:`V_l = W_l^\\top` (no separate ``V`` blocks) or untied.
    backend : {"numba", "numpy"}
        Which implementation of the transfer kernel to use.

    Examples
    --------
    >>> network = AutoencoderNetwork((6, 3), visible="linear", tied=True)
    >>> theta = network.init_parameters(np.random.default_rng(0))
    >>> X = np.random.default_rng(1).normal(size=(4, 6))
    >>> loss, gradient = network.loss_and_gradient(theta, X, X)
    >>> gradient.shape == theta.shape
    True
    """

    capabilities = frozenset({"gradient", "frozen_quadratic"})

    def __init__(
        self,
        sizes: tuple[int, ...],
        *,
        visible: str = "sigmoid",
        tied: bool = False,
        backend: str = "numba",
    ):
        if not isinstance(sizes, tuple | list) or len(sizes) < 2:
            raise TypeError(f"sizes must be a tuple (n_features, h_1, ...), got {sizes!r}")
        self.sizes = tuple(check_int(size, f"sizes[{i}]") for i, size in enumerate(sizes))
        self.visible = check_choice(visible, "visible", VISIBLE_UNITS)
        if not isinstance(tied, bool):
            raise TypeError(f"tied must be True or False, got {tied!r}")
        self.tied = tied
        self.backend = check_choice(backend, "backend", kernels.BACKENDS)
        self._transfer = kernels.get("rbm_transfer", backend)
        self._zero_crossings = kernels.get("zero_crossings", backend)
        depth = len(self.sizes) - 1
        blocks = []
        for layer in range(1, depth + 1):
            blocks += [
                (f"W{layer}", self.sizes[layer - 1 : layer + 1]),
                (f"b{layer}", (self.sizes[layer],)),
            ]
        for layer in range(depth, 0, -1):
            if not tied:
                blocks.append((f"V{layer}", (self.sizes[layer], self.sizes[layer - 1])))
            blocks.append((f"c{layer}", (self.sizes[layer - 1],)))
        self.layout = ParameterLayout(blocks)
        relu = UNIT_CODES["relu"]
        # each layer: (weight block, used transposed, bias block, transfer code)
        self.layers = [(f"W{layer}", False, f"b{layer}", relu) for layer in range(1, depth + 1)]
        for layer in range(depth, 0, -1):
            kind = UNIT_CODES[visible] if layer == 1 else relu
            weights = (f"W{layer}", True) if tied else (f"V{layer}", False)
            self.layers.append((*weights, f"c{layer}", kind))
        self.depth = depth

    def __repr__(self) -> str:
        return (
            f"AutoencoderNetwork(sizes={self.sizes}, visible={self.visible!r}, tied={self.tied}, "
            f"backend={self.backend!r})"
        )

    def init_parameters(self, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
        r"""Glorot-uniform weights :math:`U(-r, r)`, :math:`r = \sqrt{6/(\text{fan-in} +
        \text{fan-out})}`, zero biases; drawn from ``rng`` in storage order."""
        theta = self.layout.empty(dtype)
        for block in self.layout.views(theta).values():
            if block.ndim == 2:
                bound = np.sqrt(6.0 / sum(block.shape))
                block[...] = rng.uniform(-bound, bound, size=block.shape)
            else:
                block[...] = 0.0
        return theta

    def _weights(self, views: dict, name: str, transposed: bool) -> np.ndarray:
        return views[name].T if transposed else views[name]

    def forward(self, theta: np.ndarray, X: np.ndarray, *, depth: int | None = None):
        """The pre-activations, the transfer's derivatives and the activations of every layer:
        ``(pres, slopes, activations)`` with ``activations[0] = X``; ``depth`` stops after that
        many layers (``depth`` = K gives the code layer)."""
        views = self.layout.views(theta)
        pres, slopes, activations = [], [], [X]
        for name, transposed, bias, kind in self.layers[: depth or len(self.layers)]:
            pre = activations[-1] @ self._weights(views, name, transposed)
            out, slope = np.empty_like(pre), np.empty_like(pre)
            empty = _NOT_SAMPLED.astype(pre.dtype)
            apply_transfer(self._transfer, pre, views[bias], empty, kind, out, slope)
            pres.append(pre)
            slopes.append(slope)
            activations.append(out)
        return pres, slopes, activations

    def transform(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The code layer :math:`A_K`."""
        return self.forward(theta, X, depth=self.depth)[2][-1]

    def reconstruct(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        r"""The reconstruction :math:`\hat X`."""
        return self.forward(theta, X)[2][-1]

    def reconstruction_error(self, theta: np.ndarray, X: np.ndarray) -> float:
        r""":math:`\frac1L\sum_l\lVert\hat x_l - x_l\rVert^2`, twice the loss: the measure
        :meth:`relustep.models.rbm.RBMNetwork.reconstruction_error` gives the RBM."""
        return 2.0 * self.loss(theta, X, X)

    def loss(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        r""":math:`\frac1{2L}\sum_l\lVert\hat x_l - y_l\rVert^2` (``y`` is ``X`` for an
        autoencoder)."""
        residual = self.reconstruct(theta, X) - y
        return 0.5 * float(np.vdot(residual, residual)) / len(X)

    def loss_and_gradient(
        self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, gradient: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """The loss and its gradient by backpropagation (see the module Notes)."""
        if gradient is None:
            gradient = np.empty_like(theta)
        gradient[...] = 0.0
        views, gradient_views = self.layout.views(theta), self.layout.views(gradient)
        _, slopes, activations = self.forward(theta, X)
        residual = activations[-1] - y
        loss = 0.5 * float(np.vdot(residual, residual)) / len(X)
        delta = residual * slopes[-1] / len(X)
        for index in range(len(self.layers) - 1, -1, -1):
            name, transposed, bias, _ = self.layers[index]
            inputs = activations[index]
            if transposed:
                gradient_views[name] += delta.T @ inputs
            else:
                gradient_views[name] += inputs.T @ delta
            gradient_views[bias] += delta.sum(axis=0)
            if index > 0:
                delta = delta @ self._weights(views, name, transposed).T
                delta *= slopes[index - 1]
        return loss, gradient

    def frozen_quadratic(
        self,
        theta: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        direction: np.ndarray,
        form: str = "gram",
    ) -> FrozenQuadratic:
        r"""The Gauss-Newton quadratic along ``direction`` with the ReLU pattern frozen (module
        Notes): numerator :math:`R^\top Jd / L`, denominator :math:`\lVert Jd\rVert^2 / L`."""
        if form != "gram":
            raise ValueError(
                f"form={form!r} applies to the RBM's step; the autoencoder's analytic step has one "
                "exact form (form='gram')"
            )
        views, moves = self.layout.views(theta), self.layout.views(direction)
        pres, slopes, activations = self.forward(theta, X)
        tangent = np.zeros_like(X)
        tangents = []
        for index, (name, transposed, bias, _) in enumerate(self.layers):
            pre_tangent = tangent @ self._weights(views, name, transposed)
            pre_tangent += activations[index] @ self._weights(moves, name, transposed)
            pre_tangent += moves[bias]
            tangents.append(pre_tangent)
            tangent = slopes[index] * pre_tangent
        residual = activations[-1] - y
        n_rows = len(X)
        kinked = [
            (pre, pre_tangent)
            for pre, pre_tangent, layer in zip(pres, tangents, self.layers, strict=True)
            if layer[3] == UNIT_CODES["relu"]
        ]

        def crossing_fraction(alpha: float) -> float:
            crossed = sum(self._zero_crossings(pre, move, alpha) for pre, move in kinked)
            return crossed / sum(pre.size for pre, _ in kinked)

        return FrozenQuadratic(
            numerator=float(np.vdot(residual, tangent)) / n_rows,
            denominator=float(np.vdot(tangent, tangent)) / n_rows,
            crossing_fraction=crossing_fraction,
            forward_passes=1,
        )
