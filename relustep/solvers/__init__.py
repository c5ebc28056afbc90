"""Solvers that train a network without a step rule.

:mod:`relustep.solvers.analytic` trains a two-layer (leaky) ReLU network by alternating two
linear least-squares solves, one per layer, with the activation pattern frozen (after Barbu
2023). It runs behind ``ReLURegressor(solver="analytic")`` and, for readers who want the bare
algorithm, as :func:`fit_two_layer`.
"""

from relustep.solvers.analytic import TwoLayerFit, fit_two_layer

__all__ = ["TwoLayerFit", "fit_two_layer"]
