r"""Two-layer ReLU networks trained analytically: alternate an exact least-squares solve for the
output layer with one for the hidden layer, the activation pattern frozen.

After A. Barbu (2023), *Training a two-layer ReLU network analytically*. Only the paper's
abstract could be read; its algorithm box, datasets and tables could not. Everything below (the
derivation, the backtracking safeguard, the handling of dead units and singular systems, the
damping, the stopping rule, every default) is derived and chosen in relustep; the paper's exact
form may differ.

The network and the loss are exactly those of :class:`~relustep.models.dense.DenseReLUNetwork`
with one hidden layer and the square loss, so the solver and the gradient methods minimise the
same function of the same flat parameter vector.

Notes
-----
**Model.** Rows :math:`x_i \in \mathbb R^d` (:math:`i = 1..n`) are augmented to
:math:`\tilde x_i = (x_i, 1) \in \mathbb R^p`, :math:`p = d + 1`; :math:`\tilde X` is
:math:`n \times p`. The hidden layer's weights and biases form :math:`U = [W_1; b_1^\top]`
(:math:`p \times h`, column :math:`u_j` for unit :math:`j`), the output layer is :math:`W_2`
(:math:`h \times q`) and :math:`b_2`. With the activation :math:`\sigma(z) = \max(z, a z) =
s(z) z`, :math:`s(z) = 1` for :math:`z > 0` and :math:`a` otherwise (:math:`0 \le a < 1`),

.. math::
    Z = \tilde X U, \qquad S = s(Z), \qquad H = S \odot Z, \qquad f = H W_2 + \mathbf 1 b_2^\top,

    \mathcal L = \frac{1}{2n} \lVert f - Y \rVert_F^2
    + \frac{\lambda}{2} \left( \lVert W_1 \rVert_F^2 + \lVert W_2 \rVert_F^2 \right).

:math:`S` (:math:`n \times h`, entries in :math:`\{a, 1\}`) is the *activation pattern*.
One ridge coefficient :math:`\lambda` serves both layers (relustep's choice, so that the loss is
the gradient-trained network's ``l2``; separate coefficients would change only the
:math:`n\lambda` terms of each step).

**Output step** (:math:`U` fixed). :math:`f` is linear in :math:`(W_2, b_2)`, so the minimum is a
ridge regression on the features :math:`H` with an unpenalised intercept. Setting the gradient to
zero, with :math:`\bar h, \bar y` the column means and :math:`H_c = H - \mathbf 1 \bar h^\top`,
:math:`Y_c = Y - \mathbf 1 \bar y^\top`:

.. math::
    (H_c^\top H_c + n \lambda I) W_2 = H_c^\top Y_c, \qquad b_2 = \bar y - W_2^\top \bar h .

It is the global minimum over the output layer: the loss cannot increase.

**Hidden step** (:math:`W_2, b_2` and the pattern :math:`S` fixed). Then
:math:`f_{ik} = \sum_j (W_2)_{jk} S_{ij} \tilde x_i^\top u_j + (b_2)_k` is linear in
:math:`U`, and the loss :math:`\mathcal L_S(U)` is a quadratic that equals :math:`\mathcal L`
at the current :math:`U` (same pattern), with the same gradient
:math:`\nabla_{u_j} \mathcal L = -\frac1n \tilde X^\top (S_{:j} \odot (E W_2^\top)_{:j})
+ \lambda P u_j`, where :math:`E = Y - f` and :math:`P = \mathrm{diag}(1, \dots, 1, 0)` leaves the
bias unpenalised. Its Hessian, times :math:`n`, has the :math:`p \times p` blocks

.. math::
    A_{jl} = G_{jl} + n \lambda P \delta_{jl}, \qquad
    G_{jl} = (W_2 W_2^\top)_{jl}\, \tilde X^\top \mathrm{diag}(S_{:j} \odot S_{:l})\, \tilde X,
    \qquad G = \sum_i \left(\mathrm{diag}(S_i) W_2 W_2^\top \mathrm{diag}(S_i)\right)
    \otimes \tilde x_i \tilde x_i^\top ,

an :math:`hp \times hp` matrix: one Kronecker product per row. (For one output, :math:`G =
Z^\top Z` with row :math:`i` of :math:`Z` equal to :math:`(v \odot S_i) \otimes \tilde x_i`,
:math:`v = W_2`.) The minimiser of :math:`\mathcal L_S` is one Newton step,

.. math::
    A\, \Delta = r - n \lambda (I_h \otimes P)\, \mathrm{vec}\, U = -n \nabla_U \mathcal L,
    \qquad r_j = \tilde X^\top (S_{:j} \odot (E W_2^\top)_{:j}), \qquad U \leftarrow U + \Delta,

solved by Cholesky. The *per-neuron* variant solves the diagonal blocks alone, unit by unit
(:math:`A_{jj} \Delta_j = -n \nabla_{u_j} \mathcal L`, :math:`h` systems of :math:`p \times p`,
each against the residual left by the units before it): cheaper per sweep, but it needs more
sweeps.

**Critical points.** The output step leaves :math:`(W_2, b_2)` unchanged only where its
gradient is zero; the hidden step leaves :math:`U` unchanged only where
:math:`\nabla_U \mathcal L = 0`. Away from ties (:math:`Z_{ij} = 0`), where the loss is
differentiable, a point that both steps leave unchanged is therefore a critical point of
:math:`\mathcal L`.

**Safeguard** (relustep's choice: a non-monotone backtracking in the manner of Grippo, Lampariello
and Lucidi (1986), applied here by relustep). The new :math:`U` changes the pattern, so the true
loss can rise: plain alternation is not monotone. Along :math:`U + \eta \Delta`,

.. math::
    \mathcal L_S(U + \eta\Delta) = \mathcal L(U) - \left(\eta - \tfrac{\eta^2}{2}\right)
    \Delta^\top A \Delta / n ,

which decreases for :math:`0 < \eta \le 1` (with the damping below, :math:`\Delta` is still a
descent direction of :math:`\mathcal L_S`), and :math:`\mathcal L = \mathcal L_S` for
:math:`\eta` small enough that no pre-activation changes sign.

Call *iterates* the points at which a hidden step starts (each with its output layer solved), and
:math:`L_0, L_1, \dots` their training losses (:math:`L_0` after the first output step,
:math:`L_k` after iteration :math:`k`). Iteration :math:`k + 1` is held to the *reference*, the
largest of the last :math:`M` accepted losses (``safeguard_window``),

.. math::
    R_k = \max_{0 \le j < \min(M,\, k + 1)} L_{k - j} .

A trial hidden layer is judged by the loss it reaches once the output layer is solved for it,
:math:`\varphi(U) = \min_{W_2, b_2} \mathcal L(U, W_2, b_2)`, the loss the iteration would
end with: the safeguard tries :math:`\eta = 1, \frac12, \frac14, \dots` and keeps the first with
:math:`\varphi(U + \eta\Delta) \le R_k` (``max_halvings`` at most, else the hidden step is
skipped). The per-neuron step judges each unit's trial with the output layer fixed, which is at
least :math:`\varphi` (solving the output layer for every unit's trial would cost :math:`h`
solves per sweep). A stage that leaves the loss above :math:`R_k` (by rounding only) is undone.
So every iteration ends with

.. math::
    L_{k+1} \le R_k .

What this guarantees:

- *The reference never rises*: :math:`R_{k+1}` is the largest of :math:`L_{k+1} \le R_k` and of
  losses from :math:`R_k`'s window, so :math:`R_{k+1} \le R_k`, and every loss stays at most the
  first: :math:`L_k \le R_{k-1} \le \dots \le R_0 = L_0`. A rise is allowed, by at most
  :math:`R_k - L_k`: only up to a loss that one of the last :math:`M` iterates had.
- *Backtracking ends*: away from a kink, :math:`\varphi(U + \eta\Delta) \le
  \mathcal L(U + \eta\Delta) = \mathcal L_S(U + \eta\Delta) < L_k \le R_k` for :math:`\eta`
  small enough, so some halving is accepted. If the iterate sits on a *kink*, a row exactly on
  a unit's boundary, the loss has no gradient there and no :math:`\eta` may help: the step is
  skipped (:math:`\eta = 0` in the history), the loss does not change, and the tolerance ends
  the run. On small problems this is common (``tests/test_analytic.py`` shows both endings).
- *The best iterate is kept*: :math:`B_k = \min_{j \le k} L_j` never rises, and the run returns
  the parameters of :math:`B_K` (so does plain alternation). The history records each
  iteration's loss as it was (``train_loss``), :math:`B_k` (``best_loss``) and :math:`R_{k-1}`
  (``reference_loss``).
- *Beside plain alternation*, which always takes :math:`\eta = 1`: while each full step's
  :math:`\varphi` is at most :math:`R_k`, the safeguarded run takes the same steps, bit for bit.
  Once a full step is refused, the two paths part and nothing orders their ends: the kept loss
  is at most plain alternation's when plain alternation's best iterate comes before that
  point, and either can end lower afterwards.
- :math:`M = 1` is the monotone safeguard: :math:`R_k = L_k`, the training loss never rises.
  This is all that is claimed: Grippo, Lampariello and Lucidi prove convergence with a
  sufficient-decrease condition, and relustep asks for no decrease beyond :math:`R_k`.

*Why* :math:`M = 5` (relustep's measurement, on the runs of ``relustep reproduce --only
analytic``: its seven datasets, seeds 0 to 2, each of its five ridges, at most 60 iterations; 105
runs). Plain alternation raised the loss in 2040 of the 5565 iterations after its first; a window
of 5 would admit 72% of those rises, one of 10, 86%.
With :math:`M = 5` the safeguarded runs ended below plain alternation in 77 runs, level in 20
and above in 8, by at most 1%; with :math:`M = 1`, above in 21, by up to 35%; with
:math:`M = 10`, above in 11, by up to 17%. Longer windows follow plain alternation for longer
and end level with it more often, but when the paths part late they end above it more often.

**Dead units and singular systems** (relustep's choices). With :math:`a = 0`, a unit active on
no training row has zero rows and columns in :math:`A` and a zero column in :math:`H`; so has a
unit whose output weights are zero. Such units are left out of both systems (their weights do not
change the loss). By default a dead unit is re-initialised before the output step: a new random
direction of the same norm (so the ridge term is unchanged), a bias that makes it active on
half the training rows, and output weights zero (so the function is unchanged); the output step
then fits them, and under the safeguard the change is undone if it left the loss above the
reference. :math:`A` can
still be singular (more weights than rows, units with the same pattern). The hidden system gets
``damping`` times the mean of its diagonal added to its diagonal, a Levenberg-Marquardt step
:math:`\Delta = -n (A + \epsilon I)^{-1} \nabla \mathcal L`, still a descent direction and still
zero exactly when the gradient is; when Cholesky fails the damping grows a thousandfold per
retry. An output system that Cholesky cannot factor is solved by ``numpy.linalg.lstsq``. Every
such event is counted.

**Stopping**: after an iteration (a hidden step then an output step; the first iteration starts
with an output step) whose relative decrease of the training loss is at most ``tol``, or after
``max_iter`` iterations. The iterate with the lowest training loss is kept.

**Cost** per iteration: building :math:`A` from scratch costs about :math:`n h^2 p^2 / 16`
additions for ReLU with half the units active, and updating it after a fraction :math:`f` of the
pattern changed about :math:`4f` times as much (:mod:`relustep.kernels.twolayer`); the Cholesky
factorisation :math:`(hp)^3 / 3` multiply-adds, which dominates from a few iterations on; each
trial point one forward pass, and under the safeguard one output solve (about :math:`n h^2`),
whose result is the iteration's output step when the trial is kept.

**Where the code is.** This module holds the derivation, the single steps a reader can call one
at a time (:func:`output_step`, :func:`hidden_system`, :func:`hidden_step`) and the solver's entry
points (:func:`solve`, :func:`fit_two_layer`) with the memory guard; the solver's state, the
stages of an iteration with their safeguard, damping and dead-unit handling, and the iterations as
a task of the one training loop are in :mod:`relustep.solvers._solver`.

References
----------
A. Barbu (2023). Training a two-layer ReLU network analytically (only the abstract was read).

L. Grippo, F. Lampariello, S. Lucidi (1986). A nonmonotone line search technique for Newton's
method. SIAM Journal on Numerical Analysis 23(4), 707-716.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relustep import _threads, kernels, steps
from relustep._validation import (
    check_array,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_random_state,
    check_same_length,
)
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.solvers._solver import (
    Iterations,
    SolveSummary,
    _check_bool,
    _check_point,
    _output_weights,
    _Solver,
    _warm_up,
)
from relustep.train import Stepper, run_epochs, train

HIDDEN_STEPS = ("joint", "per_neuron")
DEFAULT_MAX_MEMORY = 2**30
DEFAULT_SAFEGUARD_WINDOW = 5
"""The safeguard's default window :math:`M` (see the module's Notes for why 5)."""


@dataclass
class TwoLayerFit:
    """What :func:`fit_two_layer` returns.

    Attributes
    ----------
    network : DenseReLUNetwork
        The network (one hidden layer, square loss).
    parameters : ndarray
        The flat parameter vector kept (the iterate with the lowest training loss); its layout is
        ``network.layout``: ``W1`` (d, h), ``b1`` (h,), ``W2`` (h, q), ``b2`` (q,).
    history : History
        Per-iteration records: ``history["epochs"]`` has ``train_loss``, ``val_loss``,
        ``seconds`` (cumulative) and the :data:`ITERATION_COLUMNS`; the per-step lists hold one
        entry per iteration (see :func:`solve`). Warm-start epochs, if any, come first.
    n_iter : int
        Iterations run.
    converged : bool
        Whether the relative-decrease tolerance stopped the run (rather than ``max_iter``).
    loss : float
        Training loss of ``parameters``.
    best_iteration : int
        The iteration that produced ``parameters`` (0: the starting point).
    """

    network: DenseReLUNetwork
    parameters: np.ndarray
    history: History
    n_iter: int
    converged: bool
    loss: float
    best_iteration: int

    def predict(self, X) -> np.ndarray:
        """The network's output on ``X``, shape ``(n, q)``."""
        X = check_array(X, "X", ndim=2, dtype=self.parameters.dtype)
        if X.shape[1] != self.network.n_inputs:
            raise ValueError(f"X must have {self.network.n_inputs} columns, got {X.shape[1]}")
        return self.network.forward(self.parameters, X)


def output_step(hidden, y, l2: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""The output layer that minimises the loss for fixed hidden activations.

    Parameters
    ----------
    hidden : array_like, shape (n, h)
        The hidden activations :math:`H` (the features).
    y : array_like, shape (n,) or (n, q)
        Targets.
    l2 : float
        Ridge coefficient :math:`\lambda` on :math:`W_2` (the bias is not penalised).

    Returns
    -------
    W2 : ndarray, shape (h, q)
    b2 : ndarray, shape (q,)

    Notes
    -----
    Minimises :math:`\frac{1}{2n}\lVert H W_2 + \mathbf 1 b_2^\top - Y\rVert^2 + \frac\lambda2
    \lVert W_2\rVert^2` by centring, :math:`(H_c^\top H_c + n\lambda I) W_2 = H_c^\top Y_c`,
    :math:`b_2 = \bar y - W_2^\top \bar h` (derived in relustep; the paper's exact form may
    differ). Columns of :math:`H` that are all zero (dead units) get zero weights. With
    :math:`\lambda = 0` this is ``numpy.linalg.lstsq`` on :math:`[H, \mathbf 1]`.
    """
    hidden = check_array(hidden, "hidden", ndim=2)
    y = check_array(y, "y", ndim=(1, 2), dtype=hidden.dtype)
    check_same_length(hidden, "hidden", y, "y")
    l2 = check_float(l2, "l2", low=0.0)
    W2, b2, _ = _output_weights(hidden, y.reshape(len(y), -1), l2)
    return W2, b2


def hidden_system(
    X, y, W1, b1, W2, b2, *, negative_slope: float = 0.0, l2: float = 0.0, backend: str = "numba"
) -> tuple[np.ndarray, np.ndarray]:
    r"""The hidden step's linear system :math:`A \Delta = -n \nabla_U \mathcal L` at a point.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,) or (n, q)
    W1, b1, W2, b2 : array_like
        The network's weights, shapes (d, h), (h,), (h, q), (q,).
    negative_slope : float
        The slope :math:`a \in [0, 1)` of the activation :math:`\max(z, a z)`.
    l2 : float
        Ridge coefficient on the weights.
    backend : {"numba", "numpy"}
        The assembly kernels of :mod:`relustep.kernels.twolayer`, or their NumPy twins.

    Returns
    -------
    matrix : ndarray, shape (h p, h p)
        :math:`A = G + n\lambda (I_h \otimes P)`; unit :math:`j` owns rows and columns
        :math:`jp` to :math:`jp + p - 1`, in the order (its ``d`` weights, its bias).
    rhs : ndarray, shape (h p,)
        :math:`-n \nabla_U \mathcal L` in the same order.

    Notes
    -----
    See the module's Notes for the derivation (relustep's; the paper's exact form may differ).
    No unit is left out here and no damping is added.
    """
    data, weights = _check_point(X, y, W1, b1, W2, b2, negative_slope, l2)
    backend = check_choice(backend, "backend", kernels.BACKENDS)
    solver = _Solver(data, weights, negative_slope, l2, backend=backend)
    units = np.arange(weights["W1"].shape[1])
    return solver.hidden_system(units)


def hidden_step(
    X,
    y,
    W1,
    b1,
    W2,
    b2,
    *,
    negative_slope: float = 0.0,
    l2: float = 0.0,
    damping: float = 0.0,
    backend: str = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    r"""The hidden layer that minimises the loss with the output layer and the activation
    pattern of ``(W1, b1)`` frozen: one full Newton step, no safeguard.

    Parameters are those of :func:`hidden_system`, plus ``damping`` (:math:`\epsilon`, a
    fraction of the mean diagonal of :math:`A` added to its diagonal; 0 solves exactly).

    Returns
    -------
    W1 : ndarray, shape (d, h)
    b1 : ndarray, shape (h,)

    Notes
    -----
    Solves :math:`A\Delta = -n\nabla_U\mathcal L` and returns :math:`U + \Delta` (see the
    module's Notes; derived in relustep, the paper's exact form may differ). Units that are dead
    or have zero output weights do not change the loss and are left unchanged.
    """
    data, weights = _check_point(X, y, W1, b1, W2, b2, negative_slope, l2)
    backend = check_choice(backend, "backend", kernels.BACKENDS)
    damping = check_float(damping, "damping", low=0.0)
    solver = _Solver(data, weights, negative_slope, l2, backend=backend, damping=damping)
    units = solver.units_in_hidden_system()
    increment = solver.hidden_increment(units)
    W1, b1 = weights["W1"].copy(), weights["b1"].copy()
    if increment is not None:
        W1[:, units] += increment[:, :-1].T
        b1[units] += increment[:, -1]
    return W1, b1


def memory_estimate(
    n_samples: int,
    n_features: int,
    n_hidden: int,
    n_outputs: int,
    hidden_step: str = "joint",
    backend: str = "numba",
    itemsize: int = 8,
) -> dict[str, int]:
    """Bytes the solver will allocate, before it allocates them.

    Returns
    -------
    dict
        ``"system"``: the linear system of the hidden step (the :math:`hp \\times hp` matrix and
        its Cholesky factor for ``"joint"``; one :math:`p \\times p` system for
        ``"per_neuron"``); ``"workspace"``: what assembling it needs (see
        :mod:`relustep.kernels.twolayer`); ``"arrays"``: the network's values on the rows
        (activations, outputs, residuals); ``"total"``.
    """
    n, p, h, q = n_samples, n_features + 1, n_hidden, n_outputs
    triangle = p * (p + 1) // 2
    if hidden_step == "joint":
        system = 2 * (h * p) ** 2 * itemsize
        workspace = h * h * triangle * itemsize + 2 * n * h  # pattern sums, two patterns
        if backend == "numba":
            workspace += n * triangle * itemsize + 2 * n * h * 4  # outer products, unit lists
        else:
            workspace += 2 * n * h * h * itemsize  # einsum's intermediate products
    else:
        system = 2 * p * p * itemsize
        workspace = 2 * n * p * itemsize
    arrays = (6 * n * h + 6 * n * q + n * p) * itemsize
    return {
        "system": system,
        "workspace": workspace,
        "arrays": arrays,
        "total": system + workspace + arrays,
    }


# -- the loop ------------------------------------------------------------------------------------
def solve(
    network: DenseReLUNetwork,
    theta: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    history: History,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    hidden_step: str = "joint",
    safeguard: bool = True,
    safeguard_window: int = DEFAULT_SAFEGUARD_WINDOW,
    reinitialize_dead: bool = True,
    max_halvings: int = 30,
    damping: float = 1e-4,
    max_memory: int = DEFAULT_MAX_MEMORY,
    rng: np.random.Generator | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: bool = False,
    description: str = "analytic solver",
    backend: str = "numba",
    blas_threads: int | None = 1,
) -> SolveSummary:
    r"""Run the alternating solver on ``theta`` (updated in place), recording into ``history``.

    Parameters
    ----------
    network : DenseReLUNetwork
        One hidden layer, square loss; its ``l2`` and ``negative_slope`` define the loss.
    theta : ndarray
        The starting parameters (``network.layout``); on return, the best iterate.
    X, y : ndarray
        Training rows ``(n, d)`` and targets ``(n, q)``, already checked, in ``theta``'s dtype.
    history : History
        Where the iterations are recorded; it may already hold warm-start epochs.
    max_iter : int
        The largest number of iterations.
    tol : float
        Stop after an iteration that lowers the training loss by at most ``tol`` times its value
        (and does not raise it).
    hidden_step : {"joint", "per_neuron"}
        One :math:`hp \times hp` system, or :math:`h` systems of :math:`p \times p` in turn.
    safeguard : bool
        Backtrack the hidden step until the loss is at most the largest of the last
        ``safeguard_window`` accepted losses, and undo any stage that left it above (the
        default); with ``False``, plain alternation.
    safeguard_window : int
        The number :math:`M \ge 1` of accepted losses, the current one included, whose largest
        bounds each iteration under the safeguard (see the module's Notes); 1 makes the training
        loss fall at every iteration.
    reinitialize_dead : bool
        Give dead units a new direction (see the module's Notes); else leave them out.
    max_halvings : int
        Halvings of the hidden step before it is skipped.
    damping : float
        Levenberg-Marquardt damping of the hidden systems, a fraction of their mean diagonal.
    max_memory : int
        Bytes; if :func:`memory_estimate` exceeds it, raise before building anything.
    rng : numpy.random.Generator, optional
        For re-initialising dead units.
    validation : (X_val, y_val), optional
        Scored after every iteration into ``val_loss`` (not timed).
    verbose : bool
        A progress bar on runs longer than two seconds.
    description : str
        The progress bar's label.
    backend : {"numba", "numpy"}
        The kernels of :mod:`relustep.kernels.twolayer`, or their NumPy twins.
    blas_threads : int or None
        Threads for BLAS and LAPACK during the run (through ``threadpoolctl``); ``None`` leaves
        them as they are. One by default: the solver's products and factorisations have a few
        hundred rows and columns, and on a two-core machine shared with other jobs, OpenBLAS's
        default two threads made whole runs 14 to 77 times slower in two measurements
        (``bench/bench_analytic.py``, part ``threads``): its threads wait for a core that another
        job holds.

    Returns
    -------
    SolveSummary

    Raises
    ------
    ValueError
        On a bad setting, or when the system would exceed ``max_memory`` (the message gives its
        size and which variant fits).
    DivergenceError
        If the loss becomes NaN or infinite (possible only without the safeguard); ``theta``
        then holds the best iterate.

    Notes
    -----
    The History gets, per iteration, one per-step entry (``loss``: the training loss at the start
    of the iteration; ``step_size``: the fraction :math:`\eta` of the hidden step kept, averaged
    over units for ``"per_neuron"``; ``n_forward``: forward passes over all training rows,
    trial points included (the safeguard's recomputation of a trial's output with its solved
    output layer is not counted: :math:`hq` multiply-adds per row, the second product of a
    pass only); ``n_backward``: passes that assemble a linear system, output solves included;
    ``seconds``) and one per-epoch entry (``train_loss`` after the iteration, as it was, even
    where it rose; ``val_loss``; cumulative ``seconds``; and the :data:`ITERATION_COLUMNS`, among
    them ``best_loss`` and ``reference_loss``). With ``"per_neuron"`` each unit's system
    and each of its trial points count as a whole pass although they touch one unit's column
    only: its passes overstate the work, by up to :math:`h` times.
    """
    if network.n_layers != 2 or network.loss_name != "square":
        raise ValueError(
            f"network must have exactly one hidden layer and the square loss, got {network!r}"
        )
    max_iter = check_int(max_iter, "max_iter")
    tol = check_float(tol, "tol", low=0.0)
    hidden_step = check_choice(hidden_step, "hidden_step", HIDDEN_STEPS)
    safeguard = _check_bool(safeguard, "safeguard")
    safeguard_window = check_int(safeguard_window, "safeguard_window")
    reinitialize_dead = _check_bool(reinitialize_dead, "reinitialize_dead")
    max_halvings = check_int(max_halvings, "max_halvings", low=0)
    damping = check_float(damping, "damping", low=0.0)
    max_memory = check_int(max_memory, "max_memory")
    backend = check_choice(backend, "backend", kernels.BACKENDS)
    if blas_threads is not None:
        blas_threads = check_int(blas_threads, "blas_threads")
    rng = check_random_state(rng)
    _check_memory(X.shape, network, hidden_step, backend, theta.dtype.itemsize, max_memory)
    _warm_up(theta.dtype)

    solver = _Solver(
        {"X": X, "y": y},
        network.layout.views(theta),
        network.negative_slope,
        network.l2,
        backend=backend,
        damping=damping,
        safeguard=safeguard,
        safeguard_window=safeguard_window,
        max_halvings=max_halvings,
        rng=rng if reinitialize_dead else None,
    )
    task = Iterations(solver, network, theta, hidden_step, tol, validation)
    with _threads.blas_threads(blas_threads):
        try:
            run_epochs(
                task,
                Stepper(theta, None, history),
                epochs=max_iter,
                rng=rng,
                verbose=verbose,
                description=description,
            )
        finally:
            summary = task.finish()
    return summary


def fit_two_layer(
    X,
    y,
    n_hidden: int,
    *,
    negative_slope: float = 0.0,
    l2: float = 0.0,
    hidden_step: str = "joint",
    safeguard: bool = True,
    safeguard_window: int = DEFAULT_SAFEGUARD_WINDOW,
    max_iter: int = 100,
    tol: float = 1e-6,
    init=None,
    warm_start_epochs: int = 0,
    warm_start_step="adam",
    batch_size: int = 32,
    reinitialize_dead: bool = True,
    max_halvings: int = 30,
    damping: float = 1e-4,
    max_memory: int = DEFAULT_MAX_MEMORY,
    validation_data=None,
    random_state=None,
    dtype: str = "float64",
    backend: str = "numba",
    blas_threads: int | None = 1,
    verbose: bool = False,
) -> TwoLayerFit:
    r"""Train a two-layer (leaky) ReLU network by alternating exact least-squares solves.

    The bare algorithm (``ReLURegressor(solver="analytic")`` runs the same code): initialise,
    optionally warm-start with a few epochs of a gradient method, then iterate a hidden step
    (pattern frozen, with backtracking) and an output step until the training loss stops
    decreasing.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Training rows.
    y : array_like, shape (n,) or (n, q)
        Targets; several columns give several outputs.
    n_hidden : int
        Hidden units :math:`h`.
    negative_slope : float
        Slope :math:`a \in [0, 1)` of the activation :math:`\max(z, a z)`; 0 is ReLU.
    l2 : float
        Ridge coefficient :math:`\lambda` on both weight matrices (biases unpenalised).
    hidden_step : {"joint", "per_neuron"}
        The hidden layer as one :math:`hp \times hp` system, or unit by unit.
    safeguard : bool
        Backtracking so that no iteration leaves the loss above the largest of the last
        ``safeguard_window`` accepted losses (default); ``False`` is plain alternation.
    max_iter : int
        Largest number of iterations.
    tol : float
        Stop when an iteration lowers the loss by at most this fraction.
    init : array_like, optional
        A starting parameter vector in the network's layout; by default He-uniform weights drawn
        from ``random_state`` (as ``ReLURegressor`` does).
    warm_start_epochs : int
        Epochs of ``warm_start_step`` on mini-batches of ``batch_size`` before the solver
        (0: none).
    warm_start_step : str, dict or StepRule
        The gradient method of the warm start.
    batch_size : int
        Rows per mini-batch of the warm start.
    safeguard_window : int
        The safeguard's window :math:`M` (see :func:`solve`).
    reinitialize_dead, max_halvings, damping, max_memory, backend, blas_threads, verbose
        See :func:`solve`.
    validation_data : pair (X_val, y_val), optional
        Scored after every iteration.
    random_state : None, int or numpy.random.Generator
        Seeds the initial weights, the warm start and the re-initialisation of dead units.
    dtype : {"float64", "float32"}
        Precision of the computation.

    Returns
    -------
    TwoLayerFit

    Notes
    -----
    The derivation is in this module's Notes (relustep's; the paper's exact form may differ).

    Examples
    --------
    >>> from relustep.datasets import teacher_network
    >>> data = teacher_network(500, n_features=3, n_hidden=4, noise=0.1, random_state=0)
    >>> fit = fit_two_layer(data.X_train, data.y_train, 8, max_iter=30, random_state=0)
    >>> bool(fit.loss < 0.5 * 0.1**2 * 1.5)  # half the MSE, near the noise level
    True
    """
    dtype = check_dtype(dtype)
    X = check_array(X, "X", ndim=2, dtype=dtype)
    y = check_array(y, "y", ndim=(1, 2), dtype=dtype)
    check_same_length(X, "X", y, "y")
    y = y.reshape(len(y), -1)
    n_hidden = check_int(n_hidden, "n_hidden")
    warm_start_epochs = check_int(warm_start_epochs, "warm_start_epochs", low=0)
    batch_size = check_int(batch_size, "batch_size")
    rule = steps.get(warm_start_step, "warm_start_step")
    rng = check_random_state(random_state)
    validation = None
    if validation_data is not None:
        if not (isinstance(validation_data, tuple | list) and len(validation_data) == 2):
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        X_val = check_array(validation_data[0], "validation_data[0]", ndim=2, dtype=dtype)
        y_val = check_array(validation_data[1], "validation_data[1]", ndim=(1, 2), dtype=dtype)
        check_same_length(X_val, "validation_data[0]", y_val, "validation_data[1]")
        y_val = y_val.reshape(len(y_val), -1)
        if X_val.shape[1] != X.shape[1] or y_val.shape[1] != y.shape[1]:
            raise ValueError(
                f"validation_data must have {X.shape[1]} feature and {y.shape[1]} target "
                f"column(s), got {X_val.shape[1]} and {y_val.shape[1]}"
            )
        validation = (X_val, y_val)
    network = DenseReLUNetwork(
        X.shape[1], (n_hidden,), y.shape[1], l2=l2, negative_slope=negative_slope, backend=backend
    )
    if init is None:
        theta = network.init_parameters(rng, dtype)
    else:
        theta = check_array(init, "init", ndim=1, dtype=dtype).copy()
        if theta.shape != (network.layout.size,):
            raise ValueError(
                f"init must have {network.layout.size} entries ({network.layout}), got {theta.size}"
            )
    history = History(rule.fallbacks)
    if warm_start_epochs:
        rule.start(theta.size, theta.dtype)
        train(
            network,
            theta,
            X,
            y,
            rule,
            history,
            epochs=warm_start_epochs,
            batch_size=min(batch_size, len(X)),
            rng=rng,
            validation=validation,
            verbose=verbose,
            description="warm start",
        )
    summary = solve(
        network,
        theta,
        X,
        y,
        history,
        max_iter=max_iter,
        tol=tol,
        hidden_step=hidden_step,
        safeguard=safeguard,
        safeguard_window=safeguard_window,
        reinitialize_dead=reinitialize_dead,
        max_halvings=max_halvings,
        damping=damping,
        max_memory=max_memory,
        rng=rng,
        validation=validation,
        verbose=verbose,
        backend=backend,
        blas_threads=blas_threads,
    )
    return TwoLayerFit(
        network,
        theta,
        history,
        summary.n_iter,
        summary.converged,
        summary.loss,
        summary.best_iteration,
    )


# -- the solver's state ----------------------------------------------------------------------------
def _check_memory(shape, network, hidden_step, backend, itemsize, max_memory) -> None:
    n, d = shape
    h, q = network.hidden_layer_sizes[0], network.n_outputs
    need = memory_estimate(n, d, h, q, hidden_step, backend, itemsize)
    if need["total"] <= max_memory:
        return
    p = d + 1
    if hidden_step == "joint":
        what = (
            f"the joint hidden step would build a {h * p} x {h * p} system ({h} units of {p} "
            f"weights): {_megabytes(need['system'])} for the matrix and its factor, "
            f"{_megabytes(need['total'])} in all"
        )
    else:
        what = f"the per-neuron hidden step would need {_megabytes(need['total'])}"
    per_neuron = memory_estimate(n, d, h, q, "per_neuron", backend, itemsize)["total"]
    if hidden_step == "joint" and per_neuron <= max_memory:
        advice = (
            f"The per-neuron variant (hidden_step='per_neuron') solves {h} systems of {p} x {p} "
            f"in turn and needs about {_megabytes(per_neuron)}: it fits."
        )
    else:
        advice = "No variant fits: use fewer training rows or hidden units."
    raise ValueError(
        f"max_memory: {what}, more than max_memory = {max_memory} bytes "
        f"({_megabytes(max_memory)}). {advice} Or raise max_memory."
    )


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.3g} MB"
