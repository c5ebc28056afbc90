"""Every Numba kernel against its NumPy twin, on the same inputs, in both precisions.

Marked ``nojit``: CI also runs these with NUMBA_DISABLE_JIT=1, so the kernel bodies run as Python.
"""

import numpy as np
import pytest

from relustep import kernels

pytestmark = pytest.mark.nojit

DTYPES = [np.float64, np.float32]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def both(name):
    return kernels.get(name, "numba"), kernels.get(name, "numpy")


@pytest.mark.parametrize("slope", [0.0, 0.1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_matches_twin(rng, dtype, slope):
    delta = rng.normal(size=(7, 5)).astype(dtype)
    z = rng.normal(size=(7, 5))
    activation = np.maximum(z, slope * z).astype(dtype)
    kernel, twin = both("relu_backward")
    a, b = delta.copy(), delta.copy()
    kernel(a, activation, dtype(slope))
    twin(b, activation, dtype(slope))
    np.testing.assert_array_equal(a, b)
    inactive = z <= 0
    np.testing.assert_array_equal(a[inactive], delta[inactive] * dtype(slope))
    np.testing.assert_array_equal(a[~inactive], delta[~inactive])


@pytest.mark.parametrize("dtype", DTYPES)
def test_square_loss_matches_twin(rng, dtype):
    output = rng.normal(size=(9, 3)).astype(dtype)
    target = rng.normal(size=(9, 3)).astype(dtype)
    kernel, twin = both("square_loss")
    gradient_a, gradient_b = np.empty_like(output), np.empty_like(output)
    loss_a = kernel(output, target, gradient_a)
    loss_b = twin(output, target, gradient_b)
    expected = 0.5 * np.sum((output.astype(float) - target) ** 2) / 9
    assert loss_a == pytest.approx(expected, rel=TOLERANCE[dtype])
    assert loss_b == pytest.approx(expected, rel=TOLERANCE[dtype])
    np.testing.assert_allclose(gradient_a, gradient_b, rtol=TOLERANCE[dtype], atol=0)
    assert gradient_a.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_matches_twin(rng, dtype):
    logits = (5 * rng.normal(size=(11, 4))).astype(dtype)
    logits[0] = [800.0, 0.0, -3.0, 1.0]  # a huge logit must not overflow
    labels = rng.integers(0, 4, size=11)
    kernel, twin = both("softmax_cross_entropy")
    gradient_a, gradient_b = np.empty_like(logits), np.empty_like(logits)
    loss_a = kernel(logits, labels, gradient_a)
    loss_b = twin(logits, labels, gradient_b)
    assert np.isfinite(loss_a)
    assert loss_a == pytest.approx(loss_b, rel=TOLERANCE[dtype])
    np.testing.assert_allclose(gradient_a, gradient_b, rtol=TOLERANCE[dtype], atol=1e-7)
    # each row of the gradient is (p - onehot)/n, which sums to zero
    np.testing.assert_allclose(gradient_a.sum(axis=1), 0, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_direction_matches_twin(rng, dtype):
    kernel, twin = both("adam_direction")
    n = 50
    states = []
    for function in (kernel, twin):
        first, second, out = np.zeros(n, dtype), np.zeros(n, dtype), np.empty(n, dtype)
        generator = np.random.default_rng(1)
        for t in range(1, 4):
            gradient = generator.normal(size=n).astype(dtype)
            function(gradient, first, second, 0.9, 0.999, 1e-8, t, out)
        states.append((first, second, out))
    for a, b in zip(*states, strict=True):
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype] * 10)


def test_adam_first_step_is_sign_of_gradient():
    gradient = np.array([3.0, -0.5, 2e-3])
    out = np.empty(3)
    kernels.get("adam_direction")(gradient, np.zeros(3), np.zeros(3), 0.9, 0.999, 0.0, 1, out)
    np.testing.assert_allclose(out, np.sign(gradient), rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_momentum_direction_matches_twin(rng, dtype, nesterov):
    kernel, twin = both("momentum_direction")
    results = []
    for function in (kernel, twin):
        velocity, out = np.zeros(20, dtype), np.empty(20, dtype)
        generator = np.random.default_rng(2)
        for _ in range(3):
            function(generator.normal(size=20).astype(dtype), velocity, 0.9, nesterov, out)
        results.append((velocity, out))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=TOLERANCE[dtype])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_step_into_matches_twin(rng, dtype):
    kernel, twin = both("step_into")
    theta = rng.normal(size=30).astype(dtype)
    direction = rng.normal(size=30).astype(dtype)
    a, b = np.empty_like(theta), np.empty_like(theta)
    kernel(a, theta, 0.25, direction)
    twin(b, theta, 0.25, direction)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, theta - dtype(0.25) * direction)
    in_place = theta.copy()
    assert kernel(in_place, in_place, 0.25, direction) and twin(b, theta, 0.25, direction)
    np.testing.assert_array_equal(in_place, a)
    direction[3] = np.inf
    assert not kernel(a, theta, 0.25, direction) and not twin(b, theta, 0.25, direction)


def test_get_rejects_unknown_names():
    with pytest.raises(ValueError, match="name"):
        kernels.get("nope")
    with pytest.raises(ValueError, match="backend"):
        kernels.get("relu_backward", "cuda")
