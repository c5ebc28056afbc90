"""What every relustep estimator shares: settings, and saving to and loading from a file.

Estimators follow scikit-learn's conventions: ``__init__`` only stores its arguments, which are
checked when ``fit`` starts; fitted state ends in ``_``; ``fit`` returns ``self``.

A saved estimator is one ``.npz`` file read with ``allow_pickle=False``: its arrays, plus a JSON
document with the estimator's class and settings, the fitted scalars, the training history and the
relustep version that wrote it.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np

from relustep import steps
from relustep._validation import check_array, check_dtype

ESTIMATORS: dict[str, type] = {}


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``."""


class BaseEstimator:
    """Settings access (``get_params``, ``set_params``), ``repr``, ``save`` and the registry
    that lets :func:`load` rebuild any estimator from its file."""

    _array_attributes: tuple[str, ...] = ()
    _scalar_attributes: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            ESTIMATORS[cls.__name__] = cls

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The settings given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> BaseEstimator:
        """Change settings; they are checked at the next ``fit``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{name!r} is not a setting of {type(self).__name__}: {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_X(self, X, name: str = "X") -> np.ndarray:
        """``X`` as a C-contiguous array of the estimator's ``dtype``, with the number of
        features seen in ``fit`` once there is one."""
        X = check_array(X, name, ndim=2, dtype=check_dtype(self.dtype))
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_}"
            )
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "parameters_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit before using it."
            )

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to ``path`` (an ``.npz`` file); read it with
        :func:`relustep.load`. The step rule's internal state (moment estimates) is not saved:
        further training starts the rule afresh."""
        from relustep import __version__

        self._check_fitted()
        params = self.get_params()
        if isinstance(params.get("step"), steps.StepRule):
            params["step"] = params["step"].get_config()
        if isinstance(params.get("random_state"), np.random.Generator):
            params["random_state"] = None
        document = {
            "relustep_version": __version__,
            "estimator": type(self).__name__,
            "params": params,
            "fitted": {name: getattr(self, name) for name in self._scalar_attributes},
            "history": self.history_.to_json(),
        }
        arrays = {name: getattr(self, name) for name in self._array_attributes}
        with open(path, "wb") as handle:
            np.savez(handle, config=np.array(json.dumps(document)), **arrays)


def load(path: str | os.PathLike):
    """Read an estimator written by ``save``; its predictions are identical to the original's.

    Examples
    --------
    >>> import relustep, numpy as np, tempfile, os
    >>> X = np.random.default_rng(0).normal(size=(20, 3)); y = X.sum(axis=1)
    >>> model = relustep.ReLURegressor((4,), epochs=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> model.save(path)
    >>> bool(np.array_equal(relustep.load(path).predict(X), model.predict(X)))
    True
    """
    from relustep.history import History

    with np.load(path, allow_pickle=False) as data:
        if "config" not in data:
            raise ValueError(f"{path} is not a relustep model file (it has no 'config' entry)")
        document = json.loads(str(data["config"]))
        arrays = {name: data[name] for name in data.files if name != "config"}
    name = document.get("estimator")
    if name not in ESTIMATORS:
        raise ValueError(f"{path} holds an unknown estimator {name!r}; known: {sorted(ESTIMATORS)}")
    params = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in document["params"].items()
    }
    if isinstance(params.get("step"), dict):
        params["step"] = steps.get(params["step"])
    estimator = ESTIMATORS[name](**params)
    for key, value in document["fitted"].items():
        setattr(estimator, key, tuple(value) if isinstance(value, list) else value)
    for key, value in arrays.items():
        setattr(estimator, key, value)
    estimator.history_ = History.from_json(document["history"])
    estimator._after_load()
    return estimator


def _same(value, default) -> bool:
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False
