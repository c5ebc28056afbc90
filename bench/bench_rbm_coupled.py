"""The coupled analytic step of the RBM next to the frozen-activity step, scored against the best
step along the same line.

Run by hand::

    python bench/bench_rbm_coupled.py                # 60 steps per run, 64 hidden units, CD-1
    python bench/bench_rbm_coupled.py --steps 200 --hidden 128 --k 2

On the digits (8 x 8), standardised per pixel for linear (Gaussian) visibles and in [0, 1] for
sigmoid visibles, with ReLU hidden units, each step rule trains its own RBM from the same start
on the same sequence of mini-batches (online, ``batch_size=1``, and ``batch_size=32``). Each
step is scored, and the script prints per run:

- the median *decrease ratio*: the decrease of the batch loss the step achieved over the best
  decrease along the same direction on the same batch, found by the numerical exact line search
  (:func:`relustep.steps.exact.decrease_ratio`; 1 is the best step, below 0 a step that raised
  the loss); its lower quartile too;
- how many steps raised the batch loss :math:`E`.

These are ratios and counts, not timings: they do not depend on the machine or its load.
"""

from __future__ import annotations

import argparse

import numpy as np

import relustep
from relustep import steps
from relustep.history import History
from relustep.models.rbm import RBMBatchObjective, RBMNetwork
from relustep.train import Stepper

RULES = {"frozen (golovko)": "golovko", "coupled": "coupled"}


def digits(visible: str) -> np.ndarray:
    """The digits' training rows: standardised per pixel for linear visibles, else in [0, 1]."""
    X = relustep.datasets.load("digits").X_train
    if visible != "linear":
        return X
    spread = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def run(X, visible, rule_name, batch_size, n_steps, n_hidden, k, seed):
    """Train one RBM for ``n_steps`` steps; return each step's decrease ratio and whether the
    step raised the batch loss."""
    network = RBMNetwork(X.shape[1], n_hidden, visible=visible, hidden="relu", k=k)
    rng = np.random.default_rng(seed)
    theta = network.init_parameters(rng)
    rule = steps.get(rule_name)
    rule.start(theta.size, theta.dtype)
    history = History(rule.fallbacks)
    stepper = Stepper(theta, rule, history, record_optimality=True)
    order = np.random.default_rng(seed + 1).permutation(len(X))
    raised = []
    for step in range(n_steps):
        start = (step * batch_size) % (len(X) - batch_size + 1)
        batch = X[order[start : start + batch_size]]
        objective = RBMBatchObjective(network, batch, network.draw_noise(rng, len(batch)))
        loss = stepper.step(objective)
        raised.append(objective.loss(stepper.theta) > loss)
    return np.array(history["optimality"]), np.array(raised)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    print(
        f"{arguments.steps} steps per run, {arguments.hidden} ReLU hidden units, "
        f"CD-{arguments.k}, seed {arguments.seed}; decrease ratio = achieved / best decrease "
        "along the line (numerical exact search)"
    )
    print(f"{'visible':8s} {'batch':>5s}  {'rule':18s} {'median':>7s} {'q25':>7s} {'raised E':>9s}")
    for visible in ("linear", "sigmoid"):
        X = digits(visible)
        for batch_size in (1, 32):
            for label, rule_name in RULES.items():
                ratios, raised = run(
                    X,
                    visible,
                    rule_name,
                    batch_size,
                    arguments.steps,
                    arguments.hidden,
                    arguments.k,
                    arguments.seed,
                )
                finite = ratios[np.isfinite(ratios)]
                median, lower = np.median(finite), np.quantile(finite, 0.25)
                print(
                    f"{visible:8s} {batch_size:5d}  {label:18s} {median:7.3f} {lower:7.3f} "
                    f"{int(raised.sum()):4d} of {len(raised)}"
                )


if __name__ == "__main__":
    main()
