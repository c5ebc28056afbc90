"""Parameters in one contiguous array, with named views.

A model keeps all its parameters in a single flat float array ``theta``. Named views (``W1``,
``b1``, ...) are reshaped slices of it that share its memory, so that a step ``theta - alpha * d``,
a dot product ``g @ d`` or a probe of the loss at a moved point is one line and one pass over
memory, and kernels receive plain arrays.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class ParameterLayout:
    """Names, shapes and offsets of the blocks inside a flat parameter vector.

    Parameters
    ----------
    shapes : list of (str, tuple of int)
        The blocks, in storage order.

    Examples
    --------
    >>> layout = ParameterLayout([("W", (3, 2)), ("b", (2,))])
    >>> theta = np.arange(layout.size, dtype=float)
    >>> layout.views(theta)["b"]
    array([6., 7.])
    """

    def __init__(self, shapes: list[tuple[str, tuple[int, ...]]]):
        self.shapes = [(name, tuple(int(s) for s in shape)) for name, shape in shapes]
        names = [name for name, _ in self.shapes]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names must be unique, got {names}")
        self.slices: dict[str, slice] = {}
        offset = 0
        for name, shape in self.shapes:
            size = int(np.prod(shape, dtype=np.int64))
            self.slices[name] = slice(offset, offset + size)
            offset += size
        self.size = offset

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.shapes)

    def __repr__(self) -> str:
        blocks = ", ".join(f"{name}{shape}" for name, shape in self.shapes)
        return f"ParameterLayout({blocks}; size={self.size})"

    def views(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Return the named blocks of ``theta`` as views that share its memory."""
        if theta.shape != (self.size,):
            raise ValueError(f"theta must have shape ({self.size},), got {theta.shape}")
        return {name: theta[self.slices[name]].reshape(shape) for name, shape in self.shapes}

    def empty(self, dtype=np.float64) -> np.ndarray:
        """A new uninitialised flat vector of this layout."""
        return np.empty(self.size, dtype=dtype)
