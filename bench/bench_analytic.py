"""The two-layer analytic solver, measured side by side with what it replaces.

Run by hand (scikit-learn comes with the ``bench`` extra)::

    python bench/bench_analytic.py              # everything, median of 5 interleaved repeats
    python bench/bench_analytic.py --repeats 3 --only race

Every verdict printed is a ratio of two timings taken in the same run, interleaved, each the
median of ``--repeats`` runs, so that load on a shared machine affects both sides alike.

1. ``race``: on the concrete data with 64 hidden units, the time the solver takes to reach the
   lowest training MSE that Adam reaches in 300 epochs, as a ratio of Adam's time to reach it
   (goal: at most 0.2); Adam at relustep's default rate and at the best rate of a small grid.
   The same against scikit-learn's ``MLPRegressor`` with ``lbfgs`` (300 iterations) and ``adam``
   (300 epochs): the solver's time to reach their final training MSE over their ``fit`` time.
   relustep's times come from the History (training only, no evaluations).
2. ``gram``: assembling the hidden step's matrix with the kernels of
   :mod:`relustep.kernels.twolayer` (from scratch, and updated after 3% of the pattern changed)
   against the BLAS floor ``Z.T @ Z`` with ``Z`` already formed and against forming ``Z``,
   multiplying and scaling (goal: from scratch at most 1.5 times the floor); and the forward
   kernel against its NumPy twin. With BLAS on one thread and on its default threads.
3. ``growth``: seconds per iteration and memory as ``n``, ``h`` and ``d`` grow, with the
   exponent fitted to each sweep.
4. ``threads``: whole runs of the solver with BLAS on one thread (its default) and on
   OpenBLAS's default threads.
5. ``compile``: the Numba kernels' first-call compile time in a fresh cache, and loading them
   from the cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import relustep
from relustep import kernels
from relustep.datasets import teacher_network
from relustep.solvers.analytic import fit_two_layer, memory_estimate

N_HIDDEN = 64
ADAM_EPOCHS = 300
SOLVER_ITERATIONS = 100
ADAM_RATES = (0.001, 0.003, 0.01, 0.03)


def median_of(timings: dict) -> dict:
    return {name: statistics.median(values) for name, values in timings.items()}


def first_time_below(history, target: float) -> float | None:
    """Training seconds until the loss (half the MSE) first fell to ``target / 2``."""
    for loss, seconds in zip(
        history["epochs"]["train_loss"], history["epochs"]["seconds"], strict=True
    ):
        if 2 * loss <= target:
            return seconds
    return None


# -- 1. the race -------------------------------------------------------------------------------
def adam_run(X, y, lr):
    model = relustep.ReLURegressor(
        (N_HIDDEN,), step={"name": "adam", "lr": lr}, epochs=ADAM_EPOCHS, batch_size=32,
        random_state=0,
    ).fit(X, y)
    mse = 2 * np.array(model.history_["epochs"]["train_loss"])
    best = float(mse.min())
    return best, first_time_below(model.history_, best)


def solver_run(X, y, max_iter=SOLVER_ITERATIONS):
    return relustep.ReLURegressor(
        (N_HIDDEN,), solver="analytic", epochs=max_iter, tol=0.0, random_state=0
    ).fit(X, y)


def sklearn_run(X, y, solver):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    options = {"max_iter": 300, "alpha": 0.0, "random_state": 0, "tol": 0.0}
    if solver == "adam":
        options.update(batch_size=32, n_iter_no_change=10**6)
    else:
        options.update(max_fun=10**6)
    model = MLPRegressor(hidden_layer_sizes=(N_HIDDEN,), solver=solver, **options)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    seconds = time.perf_counter() - started
    return float(np.mean((model.predict(X) - y) ** 2)), seconds


def race(repeats: int) -> None:
    data = relustep.datasets.load("concrete")
    X, y = data.X_train, data.y_train
    print(f"\n1. Race on concrete: {X.shape[0]} rows, {X.shape[1]} features, {N_HIDDEN} hidden "
          f"units; median of {repeats} interleaved repeats")
    best_rates = {lr: adam_run(X, y, lr)[0] for lr in ADAM_RATES}  # the grid, once
    tuned = min(best_rates, key=best_rates.get)
    print("   Adam's lowest training MSE in 300 epochs by rate: "
          + ", ".join(f"{lr:g}: {mse:.4f}" for lr, mse in best_rates.items()))
    solver_run(X, y, 2)  # warm up the kernels
    opponents = {
        f"relustep Adam, lr {ADAM_RATES[0]:g} (default)": lambda: adam_run(X, y, ADAM_RATES[0]),
        f"relustep Adam, lr {tuned:g} (best of grid)": lambda: adam_run(X, y, tuned),
        "scikit-learn MLPRegressor lbfgs": lambda: sklearn_run(X, y, "lbfgs"),
        "scikit-learn MLPRegressor adam": lambda: sklearn_run(X, y, "adam"),
    }
    timings = {name: [] for name in opponents}
    solver_times = {name: [] for name in opponents}
    targets = {}
    for _ in range(repeats):
        for name, opponent in opponents.items():
            target, seconds = opponent()
            targets[name] = target
            timings[name].append(seconds)
            history = solver_run(X, y).history_
            reached = first_time_below(history, target)
            solver_times[name].append(np.inf if reached is None else reached)
            best_solver = 2 * min(history["epochs"]["train_loss"])
    print(f"   the solver's lowest training MSE in {SOLVER_ITERATIONS} iterations: "
          f"{best_solver:.4f}")
    print(f"   {'opponent':42s} {'its MSE':>8s} {'solver time / its time':>24s}")
    for name in opponents:
        ratio = statistics.median(solver_times[name]) / statistics.median(timings[name])
        shown = "never reached" if not np.isfinite(ratio) else f"{ratio:.3f}"
        print(f"   {name:42s} {targets[name]:8.4f} {shown:>24s}")
    print("   goal against relustep's Adam: at most 0.2")


# -- 2. the matrix ---------------------------------------------------------------------------
def gram_cases(X, hidden, slope, W2):
    n, d = X.shape
    h = hidden.shape[1]
    p = d + 1
    active = hidden > 0
    changed = active.copy()
    flips = np.random.default_rng(1).random(active.shape) < 0.03
    changed[flips] ^= True
    units = np.arange(h)
    sums = np.empty((h, h, p * (p + 1) // 2))
    row_sum = kernels.twolayer.outer_triangles(X).sum(axis=0)
    gram = np.empty((h * p, h * p))
    output_gram = W2 @ W2.T
    augmented = np.hstack([X, np.ones((n, 1))])
    pattern = np.where(active, 1.0, slope)
    Z = (pattern[:, :, None] * augmented[:, None, :]).reshape(n, h * p)
    scale = np.kron(output_gram, np.ones((p, p)))

    def kernel_from_scratch():
        kernels.twolayer.pattern_sums(X, active, sums)
        kernels.twolayer.gram_from_sums(sums, row_sum, slope, output_gram, units, gram)

    def kernel_update():
        kernels.twolayer.update_pattern_sums(X, active, changed, sums)
        kernels.twolayer.update_pattern_sums(X, changed, active, sums)  # and back, for the next
        kernels.twolayer.gram_from_sums(sums, row_sum, slope, output_gram, units, gram)

    def explicit_Z():
        formed = (pattern[:, :, None] * augmented[:, None, :]).reshape(n, h * p)
        np.multiply(formed.T @ formed, scale, out=gram)

    return {
        "kernels, from scratch": kernel_from_scratch,
        "kernels, update 3% of the pattern (twice)": kernel_update,
        "form Z, Z.T @ Z, scale (explicit Z)": explicit_Z,
        "Z.T @ Z alone, Z formed (BLAS floor)": lambda: Z.T @ Z,
    }


def measure(cases: dict, repeats: int) -> dict:
    for function in cases.values():
        function()
    timings = {name: [] for name in cases}
    for _ in range(repeats):
        for name, function in cases.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return median_of(timings)


def gram(repeats: int) -> None:
    print(f"\n2. The hidden step's matrix; median of {5 * repeats} "
          "interleaved repeats")
    rng = np.random.default_rng(0)
    for name in ("concrete", "diamonds"):
        data = relustep.datasets.load(name)
        X = data.X_train
        for slope in (0.0, 0.1):
            W1 = rng.uniform(-1, 1, size=(X.shape[1], N_HIDDEN)) * np.sqrt(6 / X.shape[1])
            b1, W2 = np.zeros(N_HIDDEN), rng.normal(size=(N_HIDDEN, 1))
            hidden = np.maximum(X @ W1 + b1, slope * (X @ W1 + b1))
            for threads in (1, None):
                with threadpool_limits(limits=threads, user_api="blas"):
                    times = measure(gram_cases(X, hidden, slope, W2), 5 * repeats)
                floor = times["Z.T @ Z alone, Z formed (BLAS floor)"]
                explicit = times["form Z, Z.T @ Z, scale (explicit Z)"]
                label = "1 thread" if threads else "default threads"
                print(f"   {name} (n {len(X)}, p {X.shape[1] + 1}, h {N_HIDDEN}), slope {slope}, "
                      f"BLAS on {label}:")
                print(f"     {'':44s} {'/ BLAS floor':>13s} {'/ explicit Z':>13s}")
                for case, seconds in times.items():
                    print(f"     {case:44s} {seconds / floor:13.2f} {seconds / explicit:13.2f}")
    print("   goal: kernels from scratch at most 1.5 times the BLAS floor")


# -- 3. growth ---------------------------------------------------------------------------------
def one_fit(n, d, h, iterations=6):
    data = teacher_network(n, d, 8, noise=0.1, n_test=0, random_state=0)
    tracemalloc.start()
    fit = fit_two_layer(data.X_train, data.y_train, h, max_iter=iterations, tol=0.0,
                        random_state=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(fit.history["seconds"][1:]), peak


def growth(repeats: int) -> None:
    print(f"\n3. Growth: seconds per iteration (median over iterations 2-6, then of {repeats} "
          "repeats), BLAS on 1 thread")
    print("   memory: the solver's estimate (memory_estimate) and the peak NumPy allocation "
          "(tracemalloc; the kernels' own workspace is not traced)")
    one_fit(500, 8, 16)
    sweeps = {
        "n": [(n, 8, N_HIDDEN) for n in (500, 1000, 2000, 4000, 8000)],
        "h": [(1000, 8, h) for h in (16, 32, 64, 128, 256)],
        "d": [(1000, d, N_HIDDEN) for d in (2, 4, 8, 16, 32)],
    }
    theory = {
        "n": "n^1 (assembly, forward passes)",
        "h": "h^2 (assembly) to h^3 (Cholesky)",
        "d": "d^2 (assembly) to d^3 (Cholesky)",
    }
    for varied, cases in sweeps.items():
        print(f"   {'n':>6s} {'d':>4s} {'h':>4s} {'ms / iteration':>15s} {'x first':>8s} "
              f"{'estimate MB':>12s} {'traced MB':>10s}")
        seconds = []
        for n, d, h in cases:
            results = []
            with threadpool_limits(limits=1, user_api="blas"):
                for _ in range(repeats):
                    results.append(one_fit(n, d, h))
            per_iteration = statistics.median(r[0] for r in results)
            peak = max(r[1] for r in results)
            seconds.append(per_iteration)
            estimate = memory_estimate(n, d, h, 1)["total"]
            print(f"   {n:6d} {d:4d} {h:4d} {1e3 * per_iteration:15.2f} "
                  f"{per_iteration / seconds[0]:8.2f} {estimate / 1e6:12.2f} {peak / 1e6:10.2f}")
        sizes = np.array([case["ndh".index(varied)] for case in cases], dtype=float)
        exponent = np.polyfit(np.log(sizes[-3:]), np.log(seconds[-3:]), 1)[0]
        print(f"   time grows like {varied}^{exponent:.2f} over the last three "
              f"(in theory: {theory[varied]})\n")


# -- 4. threads --------------------------------------------------------------------------------
def threads(repeats: int) -> None:
    print(f"\n4. Whole runs (30 iterations, {N_HIDDEN} hidden units) with BLAS on one thread and "
          f"on its default threads; median of {repeats} interleaved repeats")
    for name in ("concrete", "diamonds"):
        data = relustep.datasets.load(name)

        def whole_run(blas_threads, X=data.X_train, y=data.y_train):
            fit_two_layer(X, y, N_HIDDEN, max_iter=30, tol=0.0, random_state=0,
                          blas_threads=blas_threads)

        times = measure({1: lambda: whole_run(1), None: lambda: whole_run(None)}, repeats)
        print(f"   {name}: default threads / one thread = {times[None] / times[1]:.2f}")


# -- 5. compile --------------------------------------------------------------------------------
COMPILE_SCRIPT = """
import time, numpy as np
started = time.perf_counter()
from relustep.solvers import analytic
imported = time.perf_counter()
analytic._warm_up(np.float64)
print(imported - started, time.perf_counter() - imported)
"""


def compile_cost() -> None:
    print("\n5. Numba: the solver's kernels for float64 in a fresh process")
    with tempfile.TemporaryDirectory() as cache:
        environment = {"NUMBA_CACHE_DIR": cache}
        for label in ("empty cache (compile)", "warm cache (load)"):
            output = subprocess.run(
                [sys.executable, "-c", COMPILE_SCRIPT], capture_output=True, text=True,
                check=True, env={**os.environ, **environment},
            ).stdout.split()
            print(f"   {label:24s} import relustep {float(output[0]):.2f} s, kernels "
                  f"{float(output[1]):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("race", "gram", "growth", "threads", "compile"))
    args = parser.parse_args()
    parts = {
        "race": race,
        "gram": gram,
        "growth": growth,
        "threads": threads,
        "compile": lambda _: compile_cost(),
    }
    for name, part in parts.items():
        if args.only in (None, name):
            part(args.repeats)


if __name__ == "__main__":
    main()
