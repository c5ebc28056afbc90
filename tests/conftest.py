import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def regression_data(n=120, d=4, q=1, seed=0):
    """A small smooth regression problem."""
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, d))
    y = np.stack([np.sin(X[:, 0] + k) + 0.5 * X[:, 1] * X[:, -1] for k in range(q)], axis=1)
    return X, (y[:, 0] if q == 1 else y)
