"""Every estimator on random shapes, dtypes and values, non-finite ones included: each outcome
is a fitted model with finite parameters, or one of relustep's documented exceptions (a
``ValueError`` or ``TypeError`` naming the argument, or a ``DivergenceError``)."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relustep
from relustep import DivergenceError

ARGUMENTS = re.compile(r"\b(X|y|validation_data)\b")
SMALL = {"epochs": 2, "random_state": 0}
ESTIMATORS = {
    "ReLURegressor": lambda batch, dtype: relustep.ReLURegressor(
        (3,), batch_size=batch, dtype=dtype, **SMALL
    ),
    "MLPClassifier": lambda batch, dtype: relustep.MLPClassifier(
        (3,), batch_size=batch, dtype=dtype, **SMALL
    ),
    "RBM": lambda batch, dtype: relustep.RBM(3, batch_size=batch, dtype=dtype, **SMALL),
    "Autoencoder": lambda batch, dtype: relustep.Autoencoder(
        3, batch_size=batch, dtype=dtype, **SMALL
    ),
    "DeepAutoencoder": lambda batch, dtype: relustep.DeepAutoencoder(
        (3, 2), pretrain_epochs=1, batch_size=batch, dtype=dtype, **SMALL
    ),
}
DAMAGES = {  # what may be done to a well-formed X or y, at most two, applied in this order
    "X nan": lambda X, y, index: (_put(X, index, np.nan), y),
    "X inf": lambda X, y, index: (_put(X, index, -np.inf), y),
    "X huge": lambda X, y, index: (_put(X, index, 1e300), y),
    "X large": lambda X, y, index: (_put(X, index, 1e12), y),
    "y nan": lambda X, y, index: (X, _put(y.astype(float), index, np.nan)),
    "y inf": lambda X, y, index: (X, _put(y.astype(float), index, np.inf)),
    "y huge": lambda X, y, index: (X, _put(y.astype(float), index, 1e300)),
    "y one class": lambda X, y, index: (X, np.zeros_like(y)),
    "X integers": lambda X, y, index: (np.round(X).astype(np.int64), y),
    "X booleans": lambda X, y, index: (X > 0.5, y),
    "X complex": lambda X, y, index: (X.astype(np.complex128), y),
    "X float32": lambda X, y, index: (X if np.iscomplexobj(X) else X.astype(np.float32), y),
    "X empty": lambda X, y, index: (X[:0], y),
    "X no features": lambda X, y, index: (X[..., :0], y),
    "X rank 1": lambda X, y, index: (X.ravel(), y),
    "X rank 3": lambda X, y, index: (X[..., None], y),
    "y one short": lambda X, y, index: (X, y[:-1]),
    "y rank 2": lambda X, y, index: (X, y[:, None]),
}


def _put(array, index, value):
    array = array.copy()
    if array.size:
        array.flat[index % array.size] = value
    return array


@st.composite
def inputs(draw, name: str):
    """Well-formed data for ``name`` (labels 0..2 for the classifier), then up to two damages."""
    n_rows = draw(st.integers(2, 12))
    n_features = draw(st.integers(1, 5))
    low, high = (-3.0, 3.0) if name in ("ReLURegressor", "MLPClassifier") else (0.0, 1.0)
    elements = st.floats(low, high, allow_nan=False)
    X = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=elements))
    y = draw(hnp.arrays(np.float64, (n_rows,), elements=st.floats(-3.0, 3.0)))
    if name == "MLPClassifier":
        y = np.arange(n_rows) % 3
    supervised = name in ("ReLURegressor", "MLPClassifier")
    damages = [key for key in DAMAGES if supervised or key.startswith("X")]
    chosen = draw(st.lists(st.sampled_from(damages), max_size=2, unique=True))
    for damage in sorted(chosen, key=damages.index):
        event(damage)
        with np.errstate(over="ignore", invalid="ignore"):
            X, y = DAMAGES[damage](X, y, draw(st.integers(0, 1000)))
    return (X, y) if supervised else (X,)


def fitted_or_documented_error(model, data) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(*data)
    except DivergenceError:
        return "diverged"
    except (ValueError, TypeError) as error:
        assert ARGUMENTS.search(str(error)), f"{type(error).__name__} names no argument: {error}"
        return "refused"
    assert np.all(np.isfinite(model.parameters_)), "fitted with non-finite parameters"
    return "fitted"


@pytest.mark.parametrize("name", ESTIMATORS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_outcome_is_finite_or_a_documented_error(name, data):
    arrays = data.draw(inputs(name))
    batch = data.draw(st.sampled_from([1, 3, 100]))
    dtype = data.draw(st.sampled_from(["float64", "float32"]))
    event(fitted_or_documented_error(ESTIMATORS[name](batch, dtype), arrays))
