"""Numba kernels, each beside its plain-NumPy twin.

Every kernel ``foo`` (compiled with :data:`jit`) has a twin ``foo_numpy`` that computes
the same thing in a few readable NumPy lines. The twin is the one to read next to the derivation;
the kernel is the one that runs. The tests call both on the same inputs and compare them, and a
marked subset also runs with ``NUMBA_DISABLE_JIT=1`` so that the kernel bodies run as Python.

:data:`KERNELS` maps each kernel's name to its pair, and :func:`get` picks one by backend.
"""

from __future__ import annotations

from relustep.kernels import dense, steps

KERNELS = {
    "relu_backward": (dense.relu_backward, dense.relu_backward_numpy),
    "softmax_cross_entropy": (dense.softmax_cross_entropy, dense.softmax_cross_entropy_numpy),
    "square_loss": (dense.square_loss, dense.square_loss_numpy),
    "adam_direction": (steps.adam_direction, steps.adam_direction_numpy),
    "momentum_direction": (steps.momentum_direction, steps.momentum_direction_numpy),
    "step_along": (steps.step_along, steps.step_along_numpy),
}

BACKENDS = ("numba", "numpy")


def get(name: str, backend: str = "numba"):
    """Return the kernel ``name`` for ``backend`` (``"numba"`` or its ``"numpy"`` twin)."""
    if name not in KERNELS:
        raise ValueError(f"name must be one of {sorted(KERNELS)}, got {name!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    return KERNELS[name][BACKENDS.index(backend)]
