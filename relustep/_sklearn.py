"""What makes relustep's estimators work inside scikit-learn's tools, without depending on it.

scikit-learn's ``clone``, ``Pipeline``, ``GridSearchCV``, ``cross_val_score``, ``is_classifier``
and ``is_regressor`` need three things from an estimator besides ``get_params``/``set_params``:

- its **tags** (``__sklearn_tags__``): what kind of estimator it is and what input it takes;
- errors of the **classes scikit-learn catches**: ``NotFittedError`` and, for a column-vector
  ``y``, the ``DataConversionWarning``;
- for transformers, ``fit_transform`` (:class:`relustep.estimators._base.UnsupervisedEstimator`
  has it).

relustep never imports scikit-learn on its own: it takes seconds to import, and relustep runs
without it. Tags are built when scikit-learn asks for them (it is then imported already), and an
error or a warning takes on scikit-learn's class as well as relustep's when
``sklearn.exceptions`` has been imported, which any code that catches scikit-learn's classes has
done.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``.

    A ``ValueError`` and an ``AttributeError``, as scikit-learn's ``NotFittedError`` is; where
    scikit-learn is in use, what relustep raises is an instance of scikit-learn's class too.
    """


class DataConversionWarning(UserWarning):
    """The data was converted to the shape the estimator needs (a column-vector ``y``)."""


_COMBINED: dict[type, type] = {}


def _with_sklearn_class(relustep_class: type, sklearn_name: str) -> type:
    """``relustep_class``, or a subclass of it and of scikit-learn's class of the same role when
    ``sklearn.exceptions`` has been imported."""
    exceptions = sys.modules.get("sklearn.exceptions")
    sklearn_class = getattr(exceptions, sklearn_name, None)
    if sklearn_class is None:
        return relustep_class
    if sklearn_class not in _COMBINED:
        _COMBINED[sklearn_class] = type(
            relustep_class.__name__,
            (relustep_class, sklearn_class),
            {"__module__": relustep_class.__module__, "__doc__": relustep_class.__doc__},
        )
    return _COMBINED[sklearn_class]


def not_fitted_error(message: str) -> NotFittedError:
    """A :class:`NotFittedError` that scikit-learn's ``except NotFittedError`` also catches."""
    return _with_sklearn_class(NotFittedError, "NotFittedError")(message)


def warn_data_conversion(message: str) -> None:
    """Warn with a :class:`DataConversionWarning` (scikit-learn's too, where it is in use)."""
    category = _with_sklearn_class(DataConversionWarning, "DataConversionWarning")
    warnings.warn(message, category, stacklevel=3)


class RegressorMixin:
    """Marks a regressor: ``score`` is :math:`R^2`, ``y`` is required, and may have columns."""

    _estimator_type = "regressor"


class ClassifierMixin:
    """Marks a classifier: ``score`` is the accuracy, ``y`` holds class labels."""

    _estimator_type = "classifier"


class TransformerMixin:
    """Marks an unsupervised transformer: ``transform`` gives features, ``score`` is higher for
    a better model."""

    _estimator_type = "transformer"


def sklearn_tags(estimator):
    """The scikit-learn ``Tags`` of a relustep estimator (called by ``__sklearn_tags__``)."""
    from sklearn.utils import (
        ClassifierTags,
        InputTags,
        RegressorTags,
        Tags,
        TargetTags,
        TransformerTags,
    )

    kind = getattr(estimator, "_estimator_type", None)
    supervised = kind in ("regressor", "classifier")
    tags = Tags(
        estimator_type=kind if supervised else None,
        target_tags=TargetTags(
            required=supervised,
            multi_output=kind == "regressor",
            single_output=True,
        ),
        input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False),
    )
    if kind == "regressor":
        tags.regressor_tags = RegressorTags()
    elif kind == "classifier":
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=False)
    elif kind == "transformer":
        try:
            dtype = np.dtype(estimator.dtype).name
        except TypeError:
            dtype = "float64"
        tags.transformer_tags = TransformerTags(preserves_dtype=[dtype])
    return tags
