"""RBM epochs on the MNIST subset, 784 -> 256, CD-1: relustep against scikit-learn's BernoulliRBM,
against the matrix products alone, the online kernel against its NumPy twin and the memory floor,
the analytic step's overhead, and float32 against float64.

Run by hand (scikit-learn comes with the ``bench`` extra)::

    python bench/bench_rbm.py                 # everything, median of 5 interleaved repeats
    python bench/bench_rbm.py --repeats 7 --skip-compile

Every number printed is a ratio of two timings taken in the same run, interleaved, each the median
of ``--repeats`` runs, so that load on a shared machine affects both sides alike. Goals:

- Bernoulli RBM (sigmoid visibles, binary hidden units), PCD-1, constant step, batch 100:
  epoch / BernoulliRBM's <= 0.8;
- ReLU RBM ``fit`` with its default per-epoch loss / BernoulliRBM's epoch: <= 0.6 at batch 100,
  <= 0.35 at batch 10;
- epoch at batch 100 / the same matrix products alone: <= 1.5;
- online epoch (batch 1): NumPy twin / kernel >= 5; kernel / memory floor <= 2, the floor being
  four passes over W per sample at the read bandwidth measured in the same run;
- analytic step / constant step at batch 100: <= 1.15;
- float32 / float64 (no goal; reported).

Matrix products of a batch with the weights per step (``L x n x m``, CD-1): BernoulliRBM does 5
(the data's hidden means, the visible sample from the kept hidden samples, its hidden means, the
two halves of the update); relustep's persistent CD does the same 5 (see
:class:`relustep.models.rbm.RBMBatchObjective`), the ReLU RBM's CD-1 5 (its loss needs the
data chain's :math:`x(1), y(1)`, its direction one product of the stacked states), the analytic
step adds two Gram products of about half a product each at batch 100. ``fit`` adds the
per-epoch loss: 3 products per row of the training set.

"Epoch" is the steps over all 4000 rows in shuffled mini-batches, as BernoulliRBM's ``fit`` with
``n_iter=1`` does; relustep's ``fit`` also measures the loss on the whole training set after each
epoch, so it is timed both ways. The first-call compile cost of the kernels is measured in a fresh
process with an empty Numba cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import relustep
from relustep import kernels
from relustep.estimators import RBM
from relustep.kernels import rbm as rbm_kernels
from relustep.models.rbm import RBMNetwork

N_HIDDEN = 256
RELU_FIT_GOALS = {100: 0.6, 10: 0.35}


def sklearn_epoch(X, batch_size):
    from sklearn.neural_network import BernoulliRBM

    BernoulliRBM(n_components=N_HIDDEN, batch_size=batch_size, n_iter=1, random_state=0).fit(X)


def relustep_steps(X, batch_size, step="constant", dtype="float64", **settings):
    """The steps of one epoch alone, through the estimator's own task and the one loop's stepper,
    without the per-epoch loss (what BernoulliRBM's fit times)."""
    rbm = RBM(N_HIDDEN, step=step, batch_size=batch_size, dtype=dtype, random_state=0, **settings)
    rbm._check_settings()
    rbm._initialise(X.shape[1])
    rbm._task(X, None, batch_size).run_epoch(rbm._stepper(), rbm._rng)


def relustep_fit(X, batch_size, step="constant", **settings):
    RBM(N_HIDDEN, step=step, batch_size=batch_size, epochs=1, random_state=0, **settings).fit(X)


def matrix_products(X, batch_size):
    """The products of CD-1 alone: X0 W, Y0 W^T, X1 W and the one product of the direction."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(X.shape[1], N_HIDDEN)) * 0.05
    for start in range(0, len(X), batch_size):
        x0 = X[start : start + batch_size]
        y0 = x0 @ W
        x1 = y0 @ W.T
        y1 = x1 @ W
        np.concatenate([x1, x0]).T @ np.concatenate([y1, y0])


def online(X, order, step_kind, backend="numba"):
    """One online epoch of the kernel (or its twin); float32 when ``X`` is float32."""
    n = len(order)
    network = RBMNetwork(X.shape[1], N_HIDDEN)
    theta = network.init_parameters(np.random.default_rng(0), X.dtype)
    views = network.layout.views(theta)
    kernels.get("rbm_online_epoch", backend)(
        X,
        order,
        views["W"],
        views["b"],
        views["c"],
        rbm_kernels.SIGMOID,
        rbm_kernels.RELU,
        True,
        1,
        step_kind,
        0.01,
        False,
        False,
        0,
        np.empty(n),
        np.empty(n),
        np.zeros(n, np.int64),
        np.empty(n),
        *(np.zeros(n, np.int64) for _ in range(3)),
        np.empty(0, X.dtype),  # Adam's moments, not used by these steps
        np.empty(0, X.dtype),
        np.zeros(4),
    )


READ_PASSES = 100


def read_passes(W):
    """Read W ``READ_PASSES`` times in a row, so that it is in cache as in the online kernel."""
    flat = W.ravel()
    for _ in range(READ_PASSES):
        flat @ flat


def measure(cases: dict, repeats: int) -> dict:
    for function in cases.values():  # warm up: compilation, caches, BLAS threads
        function()
    timings = {name: [] for name in cases}
    for _ in range(repeats):
        for name, function in cases.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def report(title: str, median: dict, reference: str) -> None:
    print(f"\n{title}")
    for name, seconds in median.items():
        print(f"  {name:58s} {seconds / median[reference]:8.3f}")


COMPILE_PROGRAMS = {
    "mini-batch kernels (batch 5)": "RBM(4, batch_size=5, epochs=1, random_state=0).fit(X)",
    "online epoch kernel (batch 1)": "RBM(4, batch_size=1, epochs=1, random_state=0).fit(X)",
}


def compile_cost() -> None:
    """Seconds of the first fit in a fresh process with an empty Numba cache (compiling) and
    then with the cache it left (loading)."""
    print("\nFirst fit in a fresh process, seconds: empty Numba cache (compiles), then warm cache")
    for label, statement in COMPILE_PROGRAMS.items():
        program = (
            "import time, numpy as np; from relustep import RBM; "
            "X = np.random.default_rng(0).random((20, 6)); started = time.perf_counter(); "
            f"{statement}; print(time.perf_counter() - started)"
        )
        with tempfile.TemporaryDirectory() as cache:
            environment = {**os.environ, "NUMBA_CACHE_DIR": cache}
            seconds = [
                float(
                    subprocess.run(
                        [sys.executable, "-c", program],
                        env=environment,
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                )
                for _ in range(2)
            ]
        print(f"  {label:32s} {seconds[0]:6.2f} compiling, {seconds[1]:6.2f} from the cache")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--epochs-only", action="store_true", help="the mini-batch epochs only")
    args = parser.parse_args()
    X = relustep.datasets.load("mnist").X_train
    print(f"MNIST subset {X.shape}, {N_HIDDEN} hidden units, CD-1, median of {args.repeats}")
    if not args.skip_compile:
        compile_cost()

    bernoulli = {"hidden": "binary", "rule": "cd"}
    for batch_size in (100, 10):
        cases = {
            "scikit-learn BernoulliRBM (PCD-1)": lambda b=batch_size: sklearn_epoch(X, b),
            "relustep Bernoulli RBM, PCD-1, constant step": lambda b=batch_size: relustep_fit(
                X, b, persistent=True, **bernoulli
            ),
            "relustep Bernoulli RBM, PCD-1, constant step, steps only": lambda b=batch_size: (
                relustep_steps(X, b, persistent=True, **bernoulli)
            ),
            "relustep ReLU RBM (cse), constant step, fit": lambda b=batch_size: relustep_fit(X, b),
            "relustep ReLU RBM (cse), constant step, steps only": lambda b=batch_size: (
                relustep_steps(X, b)
            ),
            "relustep ReLU RBM (cse), analytic step, steps only": lambda b=batch_size: (
                relustep_steps(X, b, step="golovko")
            ),
        }
        if batch_size == 100:
            cases["matrix products of CD-1 alone"] = lambda: matrix_products(X, 100)
        median = measure(cases, args.repeats)
        title = f"Epoch at batch {batch_size}, / scikit-learn's"
        report(title, median, "scikit-learn BernoulliRBM (PCD-1)")
        sklearn = median["scikit-learn BernoulliRBM (PCD-1)"]
        relu_fit = median["relustep ReLU RBM (cse), constant step, fit"] / sklearn
        print(
            f"  ReLU RBM fit / scikit-learn (goal <= {RELU_FIT_GOALS[batch_size]}): {relu_fit:.3f}"
        )
        if batch_size == 100:
            pcd = median["relustep Bernoulli RBM, PCD-1, constant step, steps only"] / sklearn
            print(f"  Bernoulli PCD-1 epoch / scikit-learn (goal <= 0.8): {pcd:.3f}")
            steps_only = median["relustep ReLU RBM (cse), constant step, steps only"]
            floor = median["matrix products of CD-1 alone"]
            analytic = median["relustep ReLU RBM (cse), analytic step, steps only"]
            print(
                f"  ReLU RBM steps / matrix products alone (goal <= 1.5): {steps_only / floor:.3f}"
            )
            print(f"  analytic step / constant step (goal <= 1.15): {analytic / steps_only:.3f}")
    if args.epochs_only:
        return

    order = np.random.default_rng(0).permutation(len(X))
    twin_rows = order[:400]
    constant, analytic = rbm_kernels.STEP_CONSTANT, rbm_kernels.STEP_GOLOVKO
    W = np.random.default_rng(0).normal(size=(X.shape[1], N_HIDDEN))
    cases = {
        "kernel, constant step, 4000 samples": lambda: online(X, order, constant),
        "kernel, analytic step, 4000 samples": lambda: online(X, order, analytic),
        "kernel, constant step, 400 samples": lambda: online(X, twin_rows, constant),
        "NumPy twin, constant step, 400 samples": lambda: online(X, twin_rows, constant, "numpy"),
        "read passes over W (bandwidth)": lambda: read_passes(W),
    }
    median = measure(cases, args.repeats)
    bandwidth = READ_PASSES * W.nbytes / median["read passes over W (bandwidth)"]
    floor = len(X) * 4 * W.nbytes / bandwidth
    print(f"\nOnline epoch (batch 1), read bandwidth measured {bandwidth / 1e9:.1f} GB/s")
    twin = median["NumPy twin, constant step, 400 samples"]
    kernel = median["kernel, constant step, 400 samples"]
    print(f"  NumPy twin / kernel, 400 samples (goal >= 5): {twin / kernel:.2f}")
    for name in ("kernel, constant step, 4000 samples", "kernel, analytic step, 4000 samples"):
        print(f"  {name} / memory floor (goal <= 2): {median[name] / floor:.2f}")

    X32 = X.astype(np.float32)
    cases = {
        "float64 batch 100": lambda: relustep_steps(X, 100),
        "float32 batch 100": lambda: relustep_steps(X32, 100, dtype="float32"),
        "float64 online": lambda: online(X, order, rbm_kernels.STEP_GOLOVKO),
        "float32 online": lambda: online(X32, order, rbm_kernels.STEP_GOLOVKO),
    }
    median = measure(cases, args.repeats)
    print("\nfloat32 / float64 (ReLU RBM, cse)")
    for setting in ("batch 100", "online"):
        ratio = median[f"float32 {setting}"] / median[f"float64 {setting}"]
        print(f"  {setting:10s} {ratio:.2f}")


if __name__ == "__main__":
    main()
