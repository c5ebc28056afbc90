"""Checks at the library's boundary.

Every public function and estimator validates what it is given here, so that a wrong argument is
answered by an error that names the argument and says what was expected, before any work starts.
Inside the library, arrays are trusted.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse

FLOAT_DTYPES = (np.float64, np.float32)


def check_random_state(random_state) -> np.random.Generator:
    """Return a NumPy Generator from ``None``, an int seed or a Generator."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be None, a non-negative int or a numpy.random.Generator, "
        f"got {type(random_state).__name__}"
    )


def check_int(value, name: str, *, low: int = 1, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]``, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {allowed}, got {value}")
    return value


def check_float(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float inside the given bounds, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "-inf" if low is None else f"{low}"
        right = "inf" if high is None else f"{high}"
        interval = (
            ("[" if low_inclusive and low is not None else "(")
            + f"{left}, {right}"
            + ("]" if high_inclusive and high is not None else ")")
        )
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices`` (strings), or raise naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return a float dtype (float64 or float32) from a name or a dtype."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{name} must be 'float64' or 'float32', got {dtype!r}") from error
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be 'float64' or 'float32', got {resolved}")
    return resolved


def check_array(
    array,
    name: str,
    *,
    ndim: int | tuple[int, ...] = 2,
    dtype=np.float64,
    allow_empty: bool = False,
) -> np.ndarray:
    """Return a C-contiguous float array of the given dimension, with only finite values.

    Booleans, integers and floats are accepted and converted to ``dtype``, and so is an object
    array whose every item is a real number (a table read by pandas may arrive so). Strings and
    other objects raise ``TypeError``, complex numbers ``ValueError``, a sparse matrix
    ``TypeError``, each naming ``name`` (with the wording scikit-learn's checks look for).
    """
    if array is None:
        raise TypeError(f"{name} must be an array, got None")
    if scipy.sparse.issparse(array):
        raise TypeError(
            f"{name} is a sparse {type(array).__name__}, and sparse input is not supported: "
            f"pass a dense array ({name}.toarray())"
        )
    try:
        raw = np.asarray(array)
    except ValueError as error:
        raise ValueError(f"{name} could not be read as an array (ragged rows?): {error}") from error
    if raw.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} must hold real numbers, got dtype {raw.dtype}"
        )
    if raw.dtype.kind == "O":
        try:
            raw = raw.astype(dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must hold real numbers (bool, int or float); an item of its object "
                f"array is not one: {error}"
            ) from error
    if raw.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, int or float), got dtype {raw.dtype}"
        )
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if raw.ndim not in allowed:
        expected = " or ".join(f"{d}-D" for d in allowed)
        hint = ""
        if raw.ndim == 1 and 2 in allowed:
            hint = (
                f". Reshape your data: {name}.reshape(-1, 1) if it is one feature, "
                f"{name}.reshape(1, -1) if it is one sample"
            )
        raise ValueError(f"{name} must be a {expected} array, got shape {raw.shape}{hint}")
    if raw.size == 0 and not allow_empty:
        if raw.ndim == 2 and raw.shape[0] > 0:
            count = f"0 feature(s) (shape={raw.shape}) while a minimum of 1 is required"
        else:
            count = f"0 sample(s) (shape={raw.shape}) while a minimum of 1 is required"
        raise ValueError(f"{name} must not be empty: it has {count}.")
    result = np.ascontiguousarray(raw, dtype=dtype)
    if not np.all(np.isfinite(result)):
        bad = int(np.size(result) - np.count_nonzero(np.isfinite(result)))
        raise ValueError(f"{name} must hold only finite values, found {bad} NaN or inf")
    return result


def check_same_length(first: np.ndarray, first_name: str, second: np.ndarray, second_name: str):
    """Raise if two arrays disagree on their number of rows."""
    if len(first) != len(second):
        raise ValueError(
            f"{first_name} and {second_name} must have the same number of rows, "
            f"got {len(first)} and {len(second)}"
        )
