"""What every relustep estimator shares: settings, and saving to and loading from a file.

Estimators follow scikit-learn's conventions: ``__init__`` only stores its arguments, which are
checked when ``fit`` starts; fitted state ends in ``_``; ``fit`` returns ``self``.

A saved estimator is one ``.npz`` file read with ``allow_pickle=False``: its arrays, plus a JSON
document with the estimator's class and settings, the fitted scalars, the training history and the
relustep version that wrote it. :meth:`BaseEstimator.save` writes a new file and renames it over the
old one, so a crash while saving leaves the old file whole. :func:`load` trusts nothing in the
file: it accepts only the entries and settings the named class has, rebuilds the network from
the settings and checks every array's shape and dtype against it, refuses non-finite parameters,
and reports any of these, or a file cut short or not a model at all, as one ``ValueError`` that
names the file and what is wrong.
"""

from __future__ import annotations

import inspect
import json
import os
import zipfile
import zlib

import numpy as np

from relustep import steps
from relustep._atomic import atomic_write
from relustep._sklearn import NotFittedError as NotFittedError  # importable from here as before
from relustep._sklearn import not_fitted_error, sklearn_tags
from relustep._validation import check_array, check_dtype

ESTIMATORS: dict[str, type] = {}


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
                f"{name} has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (it was fitted with that many)"
            )
        return X

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise not_fitted_error(
                f"This {type(self).__name__} is not fitted yet; call fit before using it."
            )

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has run (scikit-learn's ``check_is_fitted`` asks this)."""
        return hasattr(self, "parameters_")

    def __sklearn_tags__(self):
        """scikit-learn's description of this estimator (see :mod:`relustep._sklearn`)."""
        return sklearn_tags(self)

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
        if not np.all(np.isfinite(self.parameters_)):
            raise ValueError(
                f"This {type(self).__name__} has non-finite parameters_; it is not saved "
                "(relustep.load would refuse the file)"
            )
        with atomic_write(path, binary=True) as handle:
            np.savez(handle, config=np.array(json.dumps(document)), **arrays)

    def _saved_array_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each array in ``_array_attributes``, from the settings and the fitted
        scalars alone (what :func:`load` checks a file's arrays against)."""
        return {"parameters_": (self._make_network().layout.size,)}


DOCUMENT_KEYS = ("relustep_version", "estimator", "params", "fitted", "history")
#: what reading a damaged or foreign file raises inside NumPy and zipfile
ARCHIVE_ERRORS = (OSError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def load(path: str | os.PathLike):
    """Read an estimator written by ``save``; its predictions are identical to the original's.

    Raises
    ------
    ValueError
        Naming the file and what is wrong, when it is not a whole relustep model file: not an
        ``.npz`` archive, cut short, an entry or setting the estimator does not have (or lacks),
        an array whose shape or dtype does not fit the settings, non-finite parameters.
    OSError
        When the file cannot be opened (``FileNotFoundError``, ``PermissionError``, ...).

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
    document, arrays = _read_model_file(path)
    try:
        return _rebuild(document, arrays)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is not a relustep model file: {error}") from None


def _read_model_file(path) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON document and the arrays of a model file; ``ValueError`` naming the file when it
    cannot be read as one. (The file is opened here, so that it is closed whatever NumPy makes
    of its contents.)"""
    with open(path, "rb") as handle:
        try:
            data = np.load(handle, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    data = {name: data[name] for name in data.files}
        except (ValueError, *ARCHIVE_ERRORS) as error:  # NumPy takes other files for pickles
            reason = f"cut short or not an .npz archive ({type(error).__name__}: {error})"
            raise ValueError(f"{path} is not a relustep model file: {reason}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a relustep model file: it is a single array")
    if "config" not in data:
        raise ValueError(f"{path} is not a relustep model file: it has no 'config' entry")
    try:
        document = json.loads(str(data.pop("config")))
    except ValueError as error:
        raise ValueError(
            f"{path} is not a relustep model file: its 'config' is not JSON ({error})"
        ) from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a relustep model file: its 'config' is not an object")
    return document, data


def _rebuild(document: dict, arrays: dict[str, np.ndarray]):
    """The estimator described by a model file, after checking every entry against its class."""
    from relustep.history import History

    _check_keys("the file's entries", document, DOCUMENT_KEYS)
    name = document["estimator"]
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; known: {sorted(ESTIMATORS)}")
    cls = ESTIMATORS[name]
    params = _mapping(document["params"], "params")
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ValueError(f"{name} has no setting {', '.join(map(repr, unknown))}")
    params = {
        key: tuple(value) if isinstance(value, list) else value for key, value in params.items()
    }
    if isinstance(params.get("step"), dict):
        params["step"] = steps.get(params["step"])
    estimator = cls(**params)
    fitted = _mapping(document["fitted"], "fitted")
    _check_keys(f"the fitted values of {name}", fitted, cls._scalar_attributes)
    for key, value in fitted.items():
        if key != "loss_" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"fitted {key} must be an int >= 0, got {value!r}")
        if key == "loss_" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"fitted loss_ must be a number, got {value!r}")
        setattr(estimator, key, value)
    _check_keys(f"the arrays of {name}", arrays, cls._array_attributes)
    for key, shape in estimator._saved_array_shapes().items():
        if arrays[key].shape != shape:
            raise ValueError(f"{key} has shape {arrays[key].shape}; the settings give {shape}")
    parameters = arrays["parameters_"]
    dtype = check_dtype(estimator.dtype)
    if parameters.dtype != dtype:
        raise ValueError(f"parameters_ has dtype {parameters.dtype}; the settings give {dtype}")
    if not np.all(np.isfinite(parameters)):
        raise ValueError("parameters_ has non-finite values")
    for key, value in arrays.items():
        setattr(estimator, key, value)
    estimator.history_ = History.from_json(_mapping(document["history"], "history"))
    estimator._after_load()
    return estimator


def _mapping(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, got {type(value).__name__}")
    return value


def _check_keys(what: str, found, expected) -> None:
    """``found`` (a mapping) must have exactly the keys ``expected``."""
    missing = sorted(set(expected) - set(found))
    unknown = sorted(set(found) - set(expected))
    if missing or unknown:
        raise ValueError(
            f"{what} must be {sorted(expected)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )


def _same(value, default) -> bool:
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False
