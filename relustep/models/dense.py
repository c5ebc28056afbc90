r"""A dense ReLU network of any depth, with explicit backpropagation.

Notes
-----
With weights :math:`W_l` of shape ``(n_in, n_out)`` (rows are inputs, as in scikit-learn's
``coefs_``) and biases :math:`b_l`, a batch :math:`X` (``n`` rows) goes forward as

.. math::
    A_0 = X, \qquad Z_l = A_{l-1} W_l + b_l, \qquad A_l = \sigma(Z_l)
    \quad (l < L), \qquad f(X) = Z_L ,

with :math:`\sigma(z) = \max(z, a z)`: ReLU for the slope :math:`a = 0` (the default), leaky
ReLU for :math:`0 < a < 1`.

The loss is the mean over rows of a per-row loss, plus an optional ridge term on the weights
(not the biases):

- square loss (regression): :math:`\mathcal L = \frac{1}{2n}\sum_i \lVert f(x_i) - y_i\rVert^2`;
- softmax cross-entropy (classification): :math:`\mathcal L = -\frac{1}{n}\sum_i
  \log \mathrm{softmax}(f(x_i))_{y_i}`;
- ridge: :math:`+\frac{\lambda}{2}\sum_l \lVert W_l\rVert_F^2`.

Backpropagation is the chain rule written out. With :math:`\Delta_L = \partial\mathcal L /
\partial Z_L` (``(f - Y)/n`` for both losses, where ``Y`` is one-hot for cross-entropy),

.. math::
    \frac{\partial\mathcal L}{\partial W_l} = A_{l-1}^\top \Delta_l + \lambda W_l, \qquad
    \frac{\partial\mathcal L}{\partial b_l} = \mathbf 1^\top \Delta_l, \qquad
    \Delta_{l-1} = (\Delta_l W_l^\top) \odot \sigma'(Z_{l-1}), \qquad
    \sigma'(z) = 1[z > 0] + a\,1[z \le 0].

The derivative at exactly 0 is taken as :math:`a` (0 for ReLU). Each formula here is checked
against central differences in ``tests/test_dense.py``.
"""

from __future__ import annotations

import itertools

import numpy as np

from relustep import kernels
from relustep._validation import check_choice, check_float, check_int
from relustep.models.line import NetworkLine
from relustep.params import ParameterLayout

LOSSES = ("square", "softmax")


class DenseReLUNetwork:
    """The mathematics of a dense ReLU network: parameters, forward pass, loss and gradient.

    This class holds no parameters itself; every method takes the flat parameter vector
    ``theta``, so that step rules can probe the loss at ``theta - alpha * d`` without copying the
    model. The estimators :class:`relustep.ReLURegressor` and :class:`relustep.MLPClassifier` are
    built on it.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden_layer_sizes : tuple of int
        Width of each hidden layer; ``()`` gives a linear (or softmax-linear) model.
    n_outputs : int
        Number of outputs (targets, or classes for ``loss="softmax"``).
    loss : {"square", "softmax"}
        Square loss for regression or softmax cross-entropy for classification.
    l2 : float
        Ridge coefficient :math:`\\lambda` on the weights.
    negative_slope : float
        The slope :math:`a \\in [0, 1)` of the activation for negative inputs (0: ReLU).
    backend : {"numba", "numpy"}
        Which implementation of the fused elementwise kernels to use. Both give the same numbers
        to rounding; ``"numpy"`` is the readable twin.

    Examples
    --------
    >>> net = DenseReLUNetwork(3, (4,), 1)
    >>> theta = net.init_parameters(np.random.default_rng(0))
    >>> X, y = np.ones((5, 3)), np.zeros((5, 1))
    >>> loss, gradient = net.loss_and_gradient(theta, X, y)
    >>> gradient.shape == theta.shape
    True
    """

    capabilities = frozenset({"gradient", "line"})

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: tuple[int, ...],
        n_outputs: int,
        *,
        loss: str = "square",
        l2: float = 0.0,
        negative_slope: float = 0.0,
        backend: str = "numba",
    ):
        self.n_inputs = check_int(n_inputs, "n_inputs")
        self.hidden_layer_sizes = tuple(
            check_int(size, f"hidden_layer_sizes[{i}]") for i, size in enumerate(hidden_layer_sizes)
        )
        self.n_outputs = check_int(n_outputs, "n_outputs")
        self.loss_name = check_choice(loss, "loss", LOSSES)
        self.l2 = check_float(l2, "l2", low=0.0)
        self.negative_slope = check_float(
            negative_slope, "negative_slope", low=0.0, high=1.0, high_inclusive=False
        )
        self.backend = check_choice(backend, "backend", kernels.BACKENDS)
        self.sizes = (self.n_inputs, *self.hidden_layer_sizes, self.n_outputs)
        blocks = []
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(self.sizes), start=1):
            blocks += [(f"W{layer}", (fan_in, fan_out)), (f"b{layer}", (fan_out,))]
        self.layout = ParameterLayout(blocks)
        self.n_layers = len(self.sizes) - 1
        self._relu_backward = kernels.get("relu_backward", backend)
        self._output_loss = kernels.get(
            "square_loss" if loss == "square" else "softmax_cross_entropy", backend
        )

    def __repr__(self) -> str:
        return (
            f"DenseReLUNetwork(sizes={self.sizes}, loss={self.loss_name!r}, l2={self.l2}, "
            f"negative_slope={self.negative_slope}, backend={self.backend!r})"
        )

    def init_parameters(self, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
        r"""He-uniform weights, :math:`W_{ij} \sim U(-\sqrt{6/n_{in}}, \sqrt{6/n_{in}})`, and zero
        biases, so that the variance of the pre-activations stays of order one with depth
        (He et al. 2015). Draws from ``rng`` in layer order, so a seed fixes them exactly."""
        theta = self.layout.empty(dtype)
        views = self.layout.views(theta)
        for layer, fan_in in enumerate(self.sizes[:-1], start=1):
            bound = np.sqrt(6.0 / fan_in)
            weights = views[f"W{layer}"]
            weights[...] = rng.uniform(-bound, bound, size=weights.shape)
            views[f"b{layer}"][...] = 0.0
        return theta

    def weights(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``(W_l, b_l)`` pairs of ``theta`` as views, in layer order."""
        views = self.layout.views(theta)
        return [(views[f"W{layer}"], views[f"b{layer}"]) for layer in range(1, self.n_layers + 1)]

    def forward(self, theta: np.ndarray, X: np.ndarray, keep: bool = False):
        """The output :math:`f(X)` (predictions or logits); with ``keep=True`` also the list of
        activations :math:`A_0, \\dots, A_{L-1}` needed by the backward pass."""
        activations = [X]
        layers = self.weights(theta)
        for weights, bias in layers[:-1]:
            hidden = activations[-1] @ weights
            hidden += bias
            if self.negative_slope == 0.0:
                np.maximum(hidden, 0.0, out=hidden)
            else:
                np.maximum(hidden, self.negative_slope * hidden, out=hidden)
            activations.append(hidden)
        weights, bias = layers[-1]
        output = activations[-1] @ weights
        output += bias
        return (output, activations) if keep else output

    def line(
        self, theta: np.ndarray, direction: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> NetworkLine:
        """The network on the batch ``(X, y)`` seen along ``theta - alpha * direction``: a
        :class:`~relustep.models.line.NetworkLine`, whose probes skip the products with ``X``."""
        return NetworkLine(self, theta, direction, X, y)

    def _ridge(self, theta: np.ndarray) -> float:
        if self.l2 == 0.0:
            return 0.0
        return 0.5 * self.l2 * sum(float(np.vdot(w, w)) for w, _ in self.weights(theta))

    def _data_loss(self, output: np.ndarray, y: np.ndarray, output_gradient: np.ndarray) -> float:
        return float(self._output_loss(output, y, output_gradient))

    def loss(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        """The loss on a batch: one forward pass."""
        output = self.forward(theta, X)
        return self._data_loss(output, y, np.empty_like(output)) + self._ridge(theta)

    def loss_and_gradient(
        self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, gradient: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """The loss on a batch and its gradient with respect to ``theta``: one forward and one
        backward pass. ``y`` is ``(n, n_outputs)`` floats for the square loss and ``(n,)`` integer
        class indices for softmax. The gradient is written into ``gradient`` if given."""
        if gradient is None:
            gradient = np.empty_like(theta)
        output, activations = self.forward(theta, X, keep=True)
        delta = np.empty_like(output)
        loss = self._data_loss(output, y, delta) + self._ridge(theta)
        gradient_layers = self.weights(gradient)
        parameter_layers = self.weights(theta)
        for layer in range(self.n_layers - 1, -1, -1):
            weights_gradient, bias_gradient = gradient_layers[layer]
            np.matmul(activations[layer].T, delta, out=weights_gradient)
            if self.l2 != 0.0:
                weights_gradient += self.l2 * parameter_layers[layer][0]
            np.sum(delta, axis=0, out=bias_gradient)
            if layer > 0:
                delta = delta @ parameter_layers[layer][0].T
                slope = delta.dtype.type(self.negative_slope)
                self._relu_backward(delta, activations[layer], slope)
        return loss, gradient
