"""Datasets: small real data shipped in ``data/``, and synthetic data with known answers.

- :func:`names` and :func:`load` give the shipped datasets (MNIST 5k, a Fashion-MNIST subset,
  digits 8x8, and regression tables), checksummed and with fixed train/test splits.
- :func:`load_fashion_mnist_full` reads all of Fashion-MNIST from Debian's
  ``dataset-fashion-mnist`` package, when it is installed.
- :func:`teacher_network` and :func:`bars_and_stripes` generate data whose right answer is known.

Every loader returns a :class:`Dataset`; nothing is downloaded.
"""

from relustep.datasets._dataset import Dataset
from relustep.datasets._loaders import load, load_fashion_mnist_full, names
from relustep.datasets.synthetic import bars_and_stripes, teacher_network

__all__ = [
    "Dataset",
    "bars_and_stripes",
    "load",
    "load_fashion_mnist_full",
    "names",
    "teacher_network",
]
