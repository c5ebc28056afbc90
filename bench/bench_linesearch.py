"""What QLABGrad, LQA and the exact line search cost, as ratios measured side by side.

Run by hand::

    python bench/bench_linesearch.py              # everything, median of 7 interleaved repeats
    python bench/bench_linesearch.py --repeats 11 --parts 1,2
    python bench/bench_linesearch.py --blas-threads 1   # BLAS on one thread (threadpoolctl)

On a machine shared with other jobs, one BLAS thread makes the ratios much less noisy.

Every verdict printed is a ratio of two timings taken in the same run, interleaved, each the
median of ``--repeats`` repeats, so that load on a shared machine affects both sides alike.

1. One training step (forward, backward, the rule's probes, the update) with QLABGrad and with
   LQA, as a ratio of a plain SGD step on the same MLP and batch. Goals (issue 4): at most 1.6
   and 2.2. By counting alone a step of QLABGrad costs one forward pass more than SGD's
   (one forward and one backward, about three forward passes of work), LQA two more.
2. The exact line search for a two-layer regressor with one output, n = 4000, d = 784,
   h = 256 (MNIST images, the digit as target), as a ratio of one forward pass of the same
   network on the same data (goal: at most 5), with its parts; and how it grows with the
   number of outputs.
3. The Numba kernels' first-call cost: compiling them into an empty cache, and loading them
   from a warm one, each in a fresh process (seconds, for information).
4. The search for a softmax classifier, MNIST rows, batch 64, on 784-256-10 (certified branch
   and bound) and 784-256-128-10 (grid and Brent's method over the line's probes), on lines
   taken at several points of an SGD run, as a ratio of one forward pass of the same network on
   the same batch (goal: at most 10; 107 passes before the line reused the first layer), beside
   the same numerical search over full forward passes, the passes the history counts, and the
   search's shortfall against a dense grid (the excess of its loss over the grid's best, as a
   fraction of the best decrease).
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
from relustep import kernels, steps
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.steps.base import Line
from relustep.steps.exact import ExactLineSearch, dense_network_line, exact_line_minimum
from relustep.train import BatchObjective, Stepper


def measure(cases: dict, repeats: int) -> dict:
    """Median seconds of each case, the cases interleaved within every repeat."""
    for function in cases.values():  # warm up: compilation, caches, BLAS threads
        function()
    timings = {name: [] for name in cases}
    for _ in range(repeats):
        for name, function in cases.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def training_step_cases(sizes, batch_size, steps_per_case=10):
    """One case per rule: ``steps_per_case`` training steps on one fixed batch."""
    rng = np.random.default_rng(0)
    mnist = relustep.datasets.load("mnist")
    X = mnist.X_train[:batch_size]
    if sizes[0] == 1024:  # the official codes' 32 x 32 inputs
        from relustep.experiments.linesearch import pad_images

        X = pad_images(X, 32)
    objective = BatchObjective(
        DenseReLUNetwork(sizes[0], sizes[1:-1], sizes[-1], loss="softmax"),
        X,
        mnist.y_train[:batch_size],
    )
    start = objective.model.init_parameters(rng)
    cases = {}
    for name, config in (
        ("sgd", {"name": "constant", "lr": 0.05}),
        ("qlab", "qlab"),
        ("lqa", "lqa"),
    ):
        rule = steps.get(config)
        theta = start.copy()
        rule.start(theta.size)
        stepper = Stepper(theta, rule, History(rule.fallbacks))

        def case(stepper=stepper):
            for _ in range(steps_per_case):
                stepper.step(objective)

        cases[name] = case
    return cases


def exact_search_cases(X, y, hidden=256):
    network = DenseReLUNetwork(X.shape[1], (hidden,), y.shape[1])
    theta = network.init_parameters(np.random.default_rng(0))
    _, gradient = network.loss_and_gradient(theta, X, y)
    parts_holder = {}

    def first_layer_products():
        parts_holder["parts"] = dense_network_line(network, theta, gradient, X, y)

    first_layer_products()
    parts = parts_holder["parts"]

    def exact_search():
        exact_line_minimum(dense_network_line(network, theta, gradient, X, y))

    def breakpoints():
        kernels.get("sorted_breakpoints")(parts.pre_activation, parts.pre_activation_rate, np.inf)

    return {
        "forward pass": lambda: network.loss(theta, X, y),
        "exact line search": exact_search,
        "  of which the products Z0 and Zdot": first_layer_products,
        "  of which sorting the breakpoints": breakpoints,
    }


COMPILE_SCRIPT = """
import time
started = time.perf_counter()
from relustep.steps.exact import _warm_up_sweep
_warm_up_sweep()
print(time.perf_counter() - started)
"""


def first_call_seconds(cache_dir: str) -> float:
    environment = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    output = subprocess.run(
        [sys.executable, "-c", COMPILE_SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(output.stdout.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--parts", default="1,2,3,4", help="which parts to run, e.g. 1,2")
    parser.add_argument("--blas-threads", type=int, default=None, help="limit BLAS threads")
    args = parser.parse_args()
    parts = {int(part) for part in args.parts.split(",")}
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)
    threads = "default" if args.blas_threads is None else args.blas_threads
    print(f"median of {args.repeats} interleaved repeats; ratios only; BLAS threads: {threads}\n")
    if 1 in parts:
        training_step_ratios(args.repeats)
    if 2 in parts:
        exact_search_ratios(args.repeats)
    if 3 in parts:
        first_call_cost()
    if 4 in parts:
        classifier_search_ratios(args.repeats)


def training_step_ratios(repeats: int) -> None:
    print("1. One training step, as a ratio of an SGD step on the same MLP and batch")
    for sizes, batch_size in (((1024, 1000, 1000, 10), 64), ((784, 256, 10), 200)):
        median = measure(training_step_cases(sizes, batch_size), repeats)
        shape = "-".join(map(str, sizes))
        print(
            f"  MLP {shape}, batch {batch_size}:  QLABGrad / SGD = "
            f"{median['qlab'] / median['sgd']:.2f}   LQA / SGD = "
            f"{median['lqa'] / median['sgd']:.2f}"
        )
    print("  goals: QLABGrad <= 1.6, LQA <= 2.2\n")


def exact_search_ratios(repeats: int) -> None:
    print(
        "2. Exact line search, two-layer regressor n=4000, d=784, h=256, as a ratio of one "
        "forward pass"
    )
    mnist = relustep.datasets.load("mnist")
    X = mnist.X_train[:4000]
    one_hot = np.eye(10)[mnist.y_train[:4000]]
    outputs_targets = {1: mnist.y_train[:4000, None].astype(float)}
    outputs_targets.update({q: one_hot[:, :q] for q in (2, 5, 10)})
    exact_at_one = None
    for q, y in outputs_targets.items():
        median = measure(exact_search_cases(X, y), repeats)
        forward = median["forward pass"]
        exact_at_one = exact_at_one or median["exact line search"]
        if q == 1:
            for name, seconds in median.items():
                if name != "forward pass":
                    print(f"  q = 1: {name:38s} / forward = {seconds / forward:.2f}")
            print("  goal: exact line search / forward <= 5")
            print("  growth with the number of outputs q (same data, same h):")
        print(
            f"  q = {q:2d}: exact / forward (same q) = "
            f"{median['exact line search'] / forward:.2f}   exact / exact at q = 1 = "
            f"{median['exact line search'] / exact_at_one:.2f}"
        )
    print()


def first_call_cost() -> None:
    print("3. First call of the line-search kernels in a fresh process (seconds, information)")
    with tempfile.TemporaryDirectory() as cache_dir:
        compiling = first_call_seconds(cache_dir)
        loading = first_call_seconds(cache_dir)
    print(
        f"  compiling into an empty cache: {compiling:.2f} s;  loading from the cache: "
        f"{loading:.2f} s (import of relustep included)"
    )


def classifier_lines(sizes, batch_size=64, sgd_steps=(0, 30, 150), lr=0.1):
    """Lines along the gradient at several points of an SGD run (fixed seed), each on the next
    batch of MNIST rows."""
    mnist = relustep.datasets.load("mnist")
    network = DenseReLUNetwork(sizes[0], sizes[1:-1], sizes[-1], loss="softmax")
    theta = network.init_parameters(np.random.default_rng(0))
    lines = []
    n_batches = len(mnist.X_train) // batch_size
    for step in range(max(sgd_steps) + 1):
        rows = slice((step % n_batches) * batch_size, (step % n_batches + 1) * batch_size)
        objective = BatchObjective(network, mnist.X_train[rows], mnist.y_train[rows])
        loss, gradient = objective.loss_and_gradient(theta, np.empty_like(theta))
        if step in sgd_steps:
            lines.append(Line(theta.copy(), gradient, gradient, loss, objective))
        theta -= lr * gradient
    return lines


FORWARD_PASSES = 20  # timed together, so that the yardstick lasts about as long as a search


def search_cases(line):
    """``FORWARD_PASSES`` forward passes, the search, and the numerical search over full forward
    passes. On a loaded machine a call much shorter than the scheduler's time slice runs at full
    speed more often than a long one, so the yardstick is as long as what it measures."""
    objective = line.objective
    without_model = argparse.Namespace(loss=objective.loss)  # no model: probes are full passes
    rule = ExactLineSearch()

    def search(objective):
        return rule.search(Line(line.theta, line.gradient, line.direction, line.loss, objective))

    def forward_passes():
        for _ in range(FORWARD_PASSES):
            objective.loss(line.theta)

    return {
        "forward passes": forward_passes,
        "search": lambda: search(objective),
        "over full passes": lambda: search(without_model),
    }


def shortfall(line, minimum, points=4001):
    """The search's excess over a dense grid's best, as a fraction of the best decrease."""
    parts = line.objective.model.line(
        line.theta, line.direction, line.objective.X, line.objective.y
    )
    alphas = np.concatenate(
        [np.linspace(0.0, 3.0 * max(minimum.alpha, 1e-3), points), np.geomspace(1e-6, 1e3, 1001)]
    )
    grid = min(parts.loss(alpha) for alpha in alphas)
    return (minimum.loss - grid) / (line.loss - min(grid, minimum.loss))


def classifier_search_ratios(repeats: int) -> None:
    print("4. The search of a softmax classifier, MNIST, batch 64, as a ratio of one forward pass")
    for sizes in ((784, 256, 10), (784, 256, 128, 10)):
        shape = "-".join(map(str, sizes))
        for index, line in enumerate(classifier_lines(sizes)):
            median = measure(search_cases(line), repeats)
            forward = median["forward passes"] / FORWARD_PASSES
            counted = Line(line.theta, line.gradient, line.direction, line.loss, line.objective)
            minimum = ExactLineSearch().search(counted)
            print(
                f"  {shape}, line {index}: search / forward = {median['search'] / forward:5.2f}"
                f"   over full passes / forward = {median['over full passes'] / forward:5.2f}"
                f"   counted passes {counted.n_probes:5.2f}   {minimum.method}"
                f"   shortfall vs dense grid {shortfall(line, minimum):.1e}"
            )
    print("  goal: search / forward <= 10 (107 passes before the line reused the first layer)\n")


if __name__ == "__main__":
    main()
