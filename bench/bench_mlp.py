"""One epoch of a dense ReLU network trained by Adam: relustep against scikit-learn's MLPRegressor.

Run by hand (scikit-learn comes with the ``bench`` extra)::

    python bench/bench_mlp.py            # MNIST subset, 784-256-10, batch 200, and a small case
    python bench/bench_mlp.py --repeats 7

Every number printed is a ratio of two timings taken in the same run, interleaved, each the
median of ``--repeats`` runs, so that load on a shared machine affects both sides alike.
Goal (issue 2): relustep's epoch at most 0.8 of scikit-learn's.

What is timed on each side is the same work: ``n / batch`` Adam steps, each a forward and a
backward pass on a shuffled mini-batch. scikit-learn's ``fit`` with ``max_iter=1`` also
accumulates the batch losses, which is what relustep's ``fit`` does with ``epoch_loss="batches"``
(the same work); by default (``epoch_loss="full"``) it also evaluates the loss on the whole
training set after the epoch, one more forward pass, timed too.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import relustep
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.train import train


def time_call(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def sklearn_epoch(X, y, hidden, batch_size):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(
        hidden_layer_sizes=hidden,
        solver="adam",
        batch_size=batch_size,
        max_iter=1,
        alpha=0.0,
        shuffle=True,
        random_state=0,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)


def relustep_fit(X, y, hidden, batch_size, epoch_loss="full"):
    relustep.ReLURegressor(
        hidden, step="adam", epochs=1, batch_size=batch_size, epoch_loss=epoch_loss, random_state=0
    ).fit(X, y)


def relustep_steps_only(X, y, hidden, batch_size, backend="numba"):
    network = DenseReLUNetwork(X.shape[1], hidden, y.shape[1], backend=backend)
    rng = np.random.default_rng(0)
    theta = network.init_parameters(rng)
    rule = relustep.steps.Adam()
    rule.start(theta.size)
    train(
        network,
        theta,
        X,
        y,
        rule,
        History(),
        epochs=1,
        batch_size=batch_size,
        rng=rng,
        epoch_loss="none",
    )


def matmul_floor(X, y, hidden, batch_size):
    """The matrix products of one epoch alone: forward, and the two backward products a layer."""
    rng = np.random.default_rng(0)
    sizes = (X.shape[1], *hidden, y.shape[1])
    weights = [
        rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    for start in range(0, len(X), batch_size):
        activations = [X[start : start + batch_size]]
        for w in weights:
            activations.append(activations[-1] @ w)
        delta = activations[-1]
        for layer in range(len(weights) - 1, -1, -1):
            activations[layer].T @ delta
            if layer:
                delta = delta @ weights[layer].T


def measure(cases: dict, repeats: int) -> dict:
    for function in cases.values():  # warm up: compilation, caches, BLAS threads
        function()
    timings = {name: [] for name in cases}
    for _ in range(repeats):
        for name, function in cases.items():
            timings[name].append(time_call(function))
    return {name: statistics.median(values) for name, values in timings.items()}


def run_case(title, X, y, hidden, batch_size, repeats):
    cases = {
        "scikit-learn MLPRegressor": lambda: sklearn_epoch(X, y, hidden, batch_size),
        "relustep fit, epoch_loss='batches'": lambda: relustep_fit(
            X, y, hidden, batch_size, "batches"
        ),
        "relustep fit, epoch_loss='full'": lambda: relustep_fit(X, y, hidden, batch_size),
        "relustep steps only": lambda: relustep_steps_only(X, y, hidden, batch_size),
        "relustep steps, NumPy twin kernels": lambda: relustep_steps_only(
            X, y, hidden, batch_size, backend="numpy"
        ),
        "matrix products alone": lambda: matmul_floor(X, y, hidden, batch_size),
    }
    median = measure(cases, repeats)
    reference = median["scikit-learn MLPRegressor"]
    floor = median["matrix products alone"]
    print(
        f"\n{title}: X {X.shape}, hidden {hidden}, outputs {y.shape[1]}, batch {batch_size}, "
        f"median of {repeats}"
    )
    print(f"  {'':40s} {'/ scikit-learn':>15s} {'/ matmul floor':>15s}")
    for name, seconds in median.items():
        print(f"  {name:40s} {seconds / reference:15.2f} {seconds / floor:15.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    mnist = relustep.datasets.load("mnist")
    one_hot = np.eye(10)[mnist.y_train]
    run_case("MNIST subset, one-hot targets", mnist.X_train, one_hot, (256,), 200, args.repeats)
    run_case(
        "MNIST subset, two hidden layers", mnist.X_train, one_hot, (256, 128), 64, args.repeats
    )
    concrete = relustep.datasets.load("concrete")
    run_case("concrete", concrete.X_train, concrete.y_train[:, None], (64,), 32, args.repeats)
    print("\nGoal: relustep's epoch / scikit-learn's epoch (the same work) <= 0.8")


if __name__ == "__main__":
    main()
