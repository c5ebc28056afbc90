r"""A dense ReLU network on one batch, seen along a line :math:`\theta - \alpha d`.

Notes
-----
A step rule that probes the loss along :math:`q(\alpha) = \mathcal L(\theta - \alpha d)` pays a
whole forward pass per probe, although most of it does not depend on :math:`\alpha` in an
interesting way. With the first layer's weights :math:`W_1 - \alpha\dot W_1` and bias
:math:`b_1 - \alpha\dot b_1` (the blocks of :math:`\theta` and :math:`d`),

.. math::
    Z_1(\alpha) = X(W_1 - \alpha\dot W_1) + b_1 - \alpha\dot b_1 = Z_0 - \alpha\dot Z, \qquad
    Z_0 = XW_1 + b_1, \quad \dot Z = X\dot W_1 + \dot b_1,

so the two products with :math:`X` (``n x d x h``, the bulk of a forward pass when the input is
wide) are computed once, and each probe then costs only the layers above:
:math:`A_1 = \sigma(Z_0 - \alpha\dot Z)`, then
:math:`Z_l = A_{l-1}(W_l - \alpha\dot W_l) + b_l - \alpha\dot b_l` as in the forward pass. The
ridge term is a quadratic in :math:`\alpha`,
:math:`\frac\lambda2\sum_l\lVert W_l - \alpha\dot W_l\rVert^2 = \rho_0 + \rho_1\alpha +
\rho_2\alpha^2`, whose three coefficients are also computed once.

:class:`NetworkLine` is built by :meth:`relustep.models.DenseReLUNetwork.line`. Its arrays are
what an exact line search reads (:mod:`relustep.steps.exact`); its :meth:`~NetworkLine.loss`
is the probe. Costs are counted in multiply-adds so that a search can report them as
forward-pass equivalents.
"""

from __future__ import annotations

import numpy as np

from relustep import kernels


class NetworkLine:
    r"""A dense ReLU network on one batch, seen along :math:`\theta - \alpha d`.

    Parameters
    ----------
    network : DenseReLUNetwork
        The network (read for its layout, loss, slope, ridge and backend).
    theta, direction : ndarray
        :math:`\theta` and :math:`d`.
    X, y : ndarray
        The batch, as the network's ``loss`` takes it.

    Attributes
    ----------
    pre_activation, pre_activation_rate : ndarray, shape (n, h_1)
        :math:`Z_0` and :math:`\dot Z` of the first layer.
    layers : list of (W, W_rate, b, b_rate)
        The layers above the first: :math:`W_l, \dot W_l, b_l, \dot b_l` for :math:`l \ge 2`.
    output_weights, output_weights_rate, output_bias, output_bias_rate : ndarray
        The last layer's :math:`W_L, \dot W_L, b_L, \dot b_L`.
    targets : ndarray
        ``y``.
    loss_name : {"square", "softmax"}
    negative_slope : float
    scale : float
        The factor of the summed per-row loss: :math:`1/(2n)` for the square loss (a sum of
        squared residuals), :math:`1/n` for softmax cross-entropy.
    ridge : tuple of float
        :math:`(\rho_0, \rho_1, \rho_2)`.
    n_hidden_layers : int
    forward_multiply_adds : int
        Multiply-adds of one forward pass of the network on the batch.
    setup_multiply_adds : int
        Those spent building the line (the two products with :math:`X`).
    probe_multiply_adds : int
        Those of one :meth:`loss` (the layers above the first).

    Examples
    --------
    >>> import numpy as np
    >>> from relustep.models import DenseReLUNetwork
    >>> net = DenseReLUNetwork(3, (4,), 2, loss="softmax")
    >>> theta = net.init_parameters(np.random.default_rng(0))
    >>> X, y = np.ones((5, 3)), np.zeros(5, dtype=int)
    >>> direction = net.loss_and_gradient(theta, X, y)[1]
    >>> line = net.line(theta, direction, X, y)
    >>> bool(np.isclose(line.loss(0.5), net.loss(theta - 0.5 * direction, X, y)))
    True
    """

    def __init__(self, network, theta: np.ndarray, direction: np.ndarray, X, y):
        parameters, rates = network.weights(theta), network.weights(direction)
        (W1, b1), (W1_rate, b1_rate) = parameters[0], rates[0]
        self.pre_activation = X @ W1
        self.pre_activation += b1
        self.pre_activation_rate = X @ W1_rate
        self.pre_activation_rate += b1_rate
        self.layers = [
            (W, W_rate, b, b_rate)
            for (W, b), (W_rate, b_rate) in zip(parameters[1:], rates[1:], strict=True)
        ]
        (
            self.output_weights,
            self.output_weights_rate,
            self.output_bias,
            self.output_bias_rate,
        ) = self.layers[-1]
        self.targets = y
        self.loss_name = network.loss_name
        self.negative_slope = network.negative_slope
        self.backend = network.backend
        self.n_hidden_layers = len(self.layers)
        self.ridge = (0.0, 0.0, 0.0)
        if network.l2 != 0.0:
            weights = [W for W, _ in parameters]
            weights_rate = [W_rate for W_rate, _ in rates]
            self.ridge = (
                0.5 * network.l2 * sum(float(np.vdot(W, W)) for W in weights),
                -network.l2
                * sum(float(np.vdot(W, R)) for W, R in zip(weights, weights_rate, strict=True)),
                0.5 * network.l2 * sum(float(np.vdot(R, R)) for R in weights_rate),
            )
        n_samples = len(X)
        self.scale = 0.5 / n_samples if self.loss_name == "square" else 1.0 / n_samples
        self.setup_multiply_adds = 2 * n_samples * W1.size
        self.probe_multiply_adds = n_samples * sum(W.size for W, *_ in self.layers)
        self.forward_multiply_adds = n_samples * W1.size + self.probe_multiply_adds
        self._output_loss = kernels.get(
            "square_loss" if self.loss_name == "square" else "softmax_cross_entropy", self.backend
        )
        self._moved_activation = kernels.get("moved_activation", self.backend)
        self._hidden = np.empty_like(self.pre_activation)

    def ridge_at(self, alpha: float) -> float:
        """The ridge term at :math:`\\theta - \\alpha d`."""
        return self.ridge[0] + alpha * (self.ridge[1] + alpha * self.ridge[2])

    def hidden(self, alpha: float, out: np.ndarray | None = None) -> np.ndarray:
        r""":math:`A_1 = \sigma(Z_0 - \alpha\dot Z)`, the first hidden layer at
        :math:`\theta - \alpha d` (into ``out`` if given)."""
        out = np.empty_like(self.pre_activation) if out is None else out
        return self._moved_activation(
            self.pre_activation, self.pre_activation_rate, alpha, self.negative_slope, out
        )

    def output(self, alpha: float) -> np.ndarray:
        r"""The network's output at :math:`\theta - \alpha d`: the layers above the first."""
        activation = self.hidden(alpha, self._hidden)
        *hidden_layers, (W, W_rate, b, b_rate) = self.layers
        for W_hidden, W_hidden_rate, b_hidden, b_hidden_rate in hidden_layers:
            activation = activation @ (W_hidden - alpha * W_hidden_rate)
            activation += b_hidden - alpha * b_hidden_rate
            np.maximum(activation, self.negative_slope * activation, out=activation)
        output = activation @ (W - alpha * W_rate)
        output += b - alpha * b_rate
        return output

    def loss(self, alpha: float) -> float:
        r""":math:`q(\alpha) = \mathcal L(\theta - \alpha d)` on the batch, without the
        products with :math:`X`: ``probe_multiply_adds`` multiply-adds."""
        output = self.output(alpha)
        data_loss = float(self._output_loss(output, self.targets, np.empty_like(output)))
        return data_loss + self.ridge_at(alpha)
