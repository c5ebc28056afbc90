"""Models: each gives a loss and its explicit gradient for a flat parameter vector."""

from relustep.models.dense import DenseReLUNetwork

__all__ = ["DenseReLUNetwork"]
