"""Numba kernels, each beside its plain-NumPy twin.

Every kernel ``foo`` (compiled with :data:`jit`) has a twin ``foo_numpy`` that computes
the same thing in a few readable NumPy lines. The twin is the one to read next to the derivation;
the kernel is the one that runs. The tests call both on the same inputs and compare them, and a
marked subset also runs with ``NUMBA_DISABLE_JIT=1`` so that the kernel bodies run as Python.

:data:`KERNELS` maps each kernel's name to its pair, and :func:`get` picks one by backend.
"""

from __future__ import annotations

import numpy as np

from relustep.kernels import dense, linesearch, networkline, rbm, rbm_tangent, steps, twolayer

KERNELS = {
    "relu_backward": (dense.relu_backward, dense.relu_backward_numpy),
    "softmax_cross_entropy": (dense.softmax_cross_entropy, dense.softmax_cross_entropy_numpy),
    "square_loss": (dense.square_loss, dense.square_loss_numpy),
    "adam_direction": (steps.adam_direction, steps.adam_direction_numpy),
    "momentum_direction": (steps.momentum_direction, steps.momentum_direction_numpy),
    "step_into": (steps.step_into, steps.step_into_numpy),
    "rbm_transfer": (rbm.transfer, rbm.transfer_numpy),
    "rbm_local_errors": (rbm.local_errors, rbm.local_errors_numpy),
    "golovko_sums": (rbm.golovko_sums, rbm.golovko_sums_numpy),
    "zero_crossings": (rbm.zero_crossings, rbm.zero_crossings_numpy),
    "rbm_online_epoch": (rbm.online_epoch, rbm.online_epoch_numpy),
    "rbm_transfer_tangent": (rbm_tangent.transfer_tangent, rbm_tangent.transfer_tangent_numpy),
    "quartic_sweep": (linesearch.quartic_sweep, linesearch.quartic_sweep_numpy),
    "sorted_breakpoints": (linesearch.sorted_breakpoints, linesearch.sorted_breakpoints_numpy),
    "moved_activation": (networkline.moved_activation, networkline.moved_activation_numpy),
    "crossings": (networkline.crossings, networkline.crossings_numpy),
    "tangent_sums": (networkline.tangent_sums, networkline.tangent_sums_numpy),
    "gibbs_bound": (networkline.gibbs_bound, networkline.gibbs_bound_numpy),
    "pattern_sums": (twolayer.pattern_sums, twolayer.pattern_sums_numpy),
    "update_pattern_sums": (twolayer.update_pattern_sums, twolayer.update_pattern_sums_numpy),
    "gram_from_sums": (twolayer.gram_from_sums, twolayer.gram_from_sums_numpy),
}

BACKENDS = ("numba", "numpy")
_WARM: set = set()


def get(name: str, backend: str = "numba"):
    """Return the kernel ``name`` for ``backend`` (``"numba"`` or its ``"numpy"`` twin)."""
    if name not in KERNELS:
        raise ValueError(f"name must be one of {sorted(KERNELS)}, got {name!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    return KERNELS[name][BACKENDS.index(backend)]


def warm_up(dtype=np.float64) -> None:
    """Load (or compile) the training kernels for ``dtype`` now, once per process.

    The first call of a Numba kernel in a process costs a fraction of a second even when its
    machine code is cached on disk. The trainer calls this before it starts its clock, so that
    this cost is not charged to the first training step of whichever run comes first.
    """
    dtype = np.dtype(dtype)
    if dtype in _WARM:
        return
    matrix, vector = np.ones((2, 2), dtype), np.ones(2, dtype)
    out_matrix, out_vector = np.empty_like(matrix), np.empty_like(vector)
    dense.relu_backward(out_matrix, matrix, dtype.type(0.0))
    dense.square_loss(matrix, matrix, out_matrix)
    dense.softmax_cross_entropy(matrix, np.zeros(2, np.int64), out_matrix)
    steps.adam_direction(vector, vector.copy(), vector.copy(), 0.9, 0.999, 1e-8, 1, out_vector)
    steps.momentum_direction(vector, vector.copy(), 0.9, False, out_vector)
    steps.step_into(out_vector, vector, 0.5, vector)
    _WARM.add(dtype)
