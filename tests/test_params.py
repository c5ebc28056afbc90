import numpy as np
import pytest

from relustep.gradcheck import check_gradient, numerical_gradient
from relustep.params import ParameterLayout


def test_views_share_memory_and_cover_the_vector():
    layout = ParameterLayout([("W", (2, 3)), ("b", (3,))])
    theta = np.arange(layout.size, dtype=float)
    views = layout.views(theta)
    assert views["W"].shape == (2, 3) and views["W"].flags.c_contiguous
    views["b"][:] = -1
    np.testing.assert_array_equal(theta[6:], -1)
    assert list(layout) == ["W", "b"]
    with pytest.raises(ValueError, match="theta"):
        layout.views(np.zeros(5))
    with pytest.raises(ValueError, match="unique"):
        ParameterLayout([("W", (1,)), ("W", (2,))])


def test_numerical_gradient_of_a_cubic():
    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda t: np.sum(t**3), x), 3 * x**2, rtol=1e-8)


def test_check_gradient_catches_a_wrong_gradient():
    x = np.array([0.5, -1.5])
    assert check_gradient(lambda t: np.sum(t**2), lambda t: 2 * t, x) < 1e-9
    assert check_gradient(lambda t: np.sum(t**2), lambda t: 2.1 * t, x) > 1e-2
