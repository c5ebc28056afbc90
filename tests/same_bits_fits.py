"""Small fits of every step rule and every estimator; prints one line per fit: its name and the
SHA-256 of its fitted ``parameters_`` (or the error it raised).

Run by ``tests/test_same_bits.py`` twice, once with ``NUMBA_DISABLE_JIT=1``; the two outputs must
be identical.
"""

import hashlib
import warnings

import numpy as np

import relustep
from relustep import steps


def report(name: str, model, *data) -> None:
    """Fit ``model`` on ``data`` and print ``name`` with the fingerprint of its parameters."""
    try:
        parameters = model.fit(*data).parameters_
    except (ValueError, TypeError, relustep.DivergenceError) as error:
        print(name, type(error).__name__, error)
        return
    print(name, hashlib.sha256(np.ascontiguousarray(parameters).tobytes()).hexdigest())


def main() -> None:
    warnings.simplefilter("ignore")
    generator = np.random.default_rng(0)
    X = generator.normal(size=(40, 5))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    labels = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    images = generator.random((40, 6))
    print("relustep", relustep.__file__)
    print("rules", *steps.names())
    for dtype in ("float64", "float32"):
        small = {"epochs": 3, "batch_size": 10, "dtype": dtype, "random_state": 0}
        for rule in steps.names():
            regressor = relustep.ReLURegressor((6,), step=rule, **small)
            report(f"regressor {rule} {dtype}", regressor, X, y)
            classifier = relustep.MLPClassifier((6, 4), step=rule, **small)
            report(f"classifier {rule} {dtype}", classifier, X, labels)
        analytic = relustep.ReLURegressor((6,), solver="analytic", **small)
        report(f"analytic solver {dtype}", analytic, X, y)
        for step in (steps.Constant(0.01), steps.Golovko(), steps.CoupledGaussNewton()):
            for batch_size in (10, 1):
                for visible in ("sigmoid", "linear"):
                    rbm = {**small, "epochs": 2, "batch_size": batch_size, "visible": visible}
                    name = f"rbm {step.name} batch_size={batch_size} {visible} {dtype}"
                    report(name, relustep.RBM(5, step=step, **rbm), images)
        online = {**small, "epochs": 2, "batch_size": 1, "visible": "linear"}
        verified = relustep.RBM(5, step=steps.Golovko(verify=True), **online)
        report(f"rbm golovko verified batch_size=1 linear {dtype}", verified, images)
        report(f"rbm nrelu {dtype}", relustep.RBM(5, hidden="nrelu", **small), images)
        for rule in ("golovko", "adam"):
            autoencoder = relustep.Autoencoder(4, step=rule, **small)
            report(f"autoencoder {rule} {dtype}", autoencoder, images)
        deep = relustep.DeepAutoencoder((5, 3), pretrain_epochs=2, **small)
        report(f"deep autoencoder {dtype}", deep, images)


if __name__ == "__main__":
    main()
