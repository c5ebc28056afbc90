"""The estimators: scikit-learn's interface (``fit``, ``partial_fit``, ``transform``, ``predict``,
``score``) to the models of :mod:`relustep.models`, each trained by the one loop of
:mod:`relustep.train` with any step rule of :mod:`relustep.steps` the model can take."""

from relustep.estimators.autoencoder import Autoencoder
from relustep.estimators.deep import DeepAutoencoder
from relustep.estimators.mlp import MLPClassifier, ReLURegressor
from relustep.estimators.rbm import RBM

__all__ = ["RBM", "Autoencoder", "DeepAutoencoder", "MLPClassifier", "ReLURegressor"]
