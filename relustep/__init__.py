"""relustep: ReLU networks whose learning steps are derived analytically.

A model gives a loss and its explicit gradient on a batch; a step rule decides how far to move
along a direction; one trainer runs the epochs and records what happened. See ``README.rst``.
"""

__version__ = "0.1.0"

from relustep import datasets, steps  # noqa: E402
from relustep._sklearn import NotFittedError  # noqa: E402
from relustep.base import load  # noqa: E402
from relustep.estimators import (  # noqa: E402
    RBM,
    Autoencoder,
    DeepAutoencoder,
    MLPClassifier,
    ReLURegressor,
)
from relustep.history import History  # noqa: E402
from relustep.optimize import minimize  # noqa: E402
from relustep.train import DivergenceError  # noqa: E402

__all__ = [
    "RBM",
    "Autoencoder",
    "DeepAutoencoder",
    "DivergenceError",
    "History",
    "MLPClassifier",
    "NotFittedError",
    "ReLURegressor",
    "__version__",
    "datasets",
    "load",
    "minimize",
    "steps",
]
