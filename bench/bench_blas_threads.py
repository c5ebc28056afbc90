"""BLAS threads under load: an MNIST baseline fit on OpenBLAS's default threads and on the
threads relustep chooses (:func:`relustep._threads.chosen_blas_threads`), with and without other
processes keeping every core busy.

Run by hand::

    python bench/bench_blas_threads.py                # 3 interleaved repeats, 3 epochs
    python bench/bench_blas_threads.py --repeats 5 --epochs 20

1. In this process: the baseline protocol's MNIST network at size "quick" (2000 training rows,
   one hidden layer of 64 units, Adam, mini-batches of 32, the test loss measured after every
   epoch), on the default threads and on the chosen ones, with no extra load and with busy
   processes.
2. The command ``relustep train --dataset mnist`` (all 4000 training rows, its defaults), with
   busy processes: as it ran before relustep chose threads (``OPENBLAS_NUM_THREADS`` set to the
   number of cores, OpenBLAS's own default) and as it runs now.

The busy processes are ``python -c "while True: pass"``, one per core, started by this script and
stopped by it. Every verdict is a ratio of medians of interleaved runs taken in this one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from threadpoolctl import threadpool_info

from relustep import datasets
from relustep._threads import blas_threads, chosen_blas_threads
from relustep.estimators.mlp import MLPClassifier
from relustep.experiments.baselines import SIZES

BUSY_LOOP = "while True: pass"


def mnist_fit(epochs: int) -> None:
    data = datasets.load("mnist")
    settings = SIZES["quick"]
    rows = settings["max_train_rows"]
    model = MLPClassifier(
        tuple(settings["hidden_layer_sizes"]),
        step="adam",
        epochs=epochs,
        batch_size=settings["batch_size"],
        random_state=0,
    )
    model.fit(
        data.X_train[:rows], data.y_train[:rows], validation_data=(data.X_test, data.y_test)
    )


def timed_fits(epochs: int, repeats: int) -> dict[str, float]:
    """Median seconds of the fit on the default threads and on the chosen ones, interleaved."""
    choices = {"default threads": None, "chosen threads": chosen_blas_threads()}
    seconds = {name: [] for name in choices}
    for _ in range(repeats):
        for name, threads in choices.items():
            with blas_threads(threads):
                started = time.perf_counter()
                mnist_fit(epochs)
                seconds[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in seconds.items()}


def timed_commands(epochs: int, repeats: int, cores: int) -> dict[str, float]:
    """Median seconds of ``relustep train`` on MNIST before and after the thread choice."""
    environment = {name: value for name, value in os.environ.items() if "NUM_THREADS" not in name}
    settings = {"before": {"OPENBLAS_NUM_THREADS": str(cores)}, "after": {}}
    seconds = {name: [] for name in settings}
    command = [sys.executable, "-m", "relustep", "train", "--dataset", "mnist"]
    for _ in range(repeats):
        for name, variables in settings.items():
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                subprocess.run(
                    [*command, "--epochs", str(epochs), "--out", out],
                    env={**environment, **variables},
                    check=True,
                    capture_output=True,
                )
                seconds[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    blas = [(info["internal_api"], info["num_threads"]) for info in threadpool_info()]
    print(f"{cores} cores; BLAS libraries and default threads: {blas}; "
          f"relustep chooses {chosen_blas_threads()} thread(s)")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    mnist_fit(1)  # load the data and the kernels once
    results = {"no extra load": timed_fits(args.epochs, args.repeats)}
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(cores)]
    try:
        time.sleep(1.0)
        results[f"{cores} busy processes"] = timed_fits(args.epochs, args.repeats)
        commands = timed_commands(args.epochs, args.repeats, cores)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print(f"\nMNIST baseline fit, {args.epochs} epochs, median of {args.repeats} interleaved "
          "repeats (ratios; seconds for orientation only):")
    for condition, seconds in results.items():
        ratio = seconds["default threads"] / seconds["chosen threads"]
        print(f"  {condition:18s} default / chosen threads: {ratio:5.2f}   "
              f"({seconds['default threads']:.1f} s / {seconds['chosen threads']:.1f} s)")
    for name in ("default threads", "chosen threads"):
        slowdown = results[f"{cores} busy processes"][name] / results["no extra load"][name]
        print(f"  {name:18s} busy / no extra load:      {slowdown:5.2f}")
    ratio = commands["before"] / commands["after"]
    print(f"\nrelustep train --dataset mnist --epochs {args.epochs}, {cores} busy processes, "
          f"whole command: before / after the thread choice: {ratio:.2f}   "
          f"({commands['before']:.1f} s / {commands['after']:.1f} s)")


if __name__ == "__main__":
    main()
