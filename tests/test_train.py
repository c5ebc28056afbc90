"""The trainer and its history."""

import math

import numpy as np
import pytest

from relustep import steps
from relustep.history import History
from relustep.models.dense import DenseReLUNetwork
from relustep.steps.base import StepRule
from relustep.train import DivergenceError, train


class HalfOrSkip(StepRule):
    """A test rule: probes the loss once and counts a fallback on every other step."""

    name = "half-or-skip"
    fallbacks = ("skipped",)

    def size(self, line):
        line.probe(0.01)
        if self.n_steps % 2 == 0:  # steps are counted from 1
            self.count("skipped")
            return 0.0
        return 0.01


def setup(n=50, seed=0):
    rng = np.random.default_rng(seed)
    net = DenseReLUNetwork(3, (4,), 1)
    theta = net.init_parameters(rng)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 1))
    return net, theta, X, y


def test_history_lists_have_equal_length_and_count_passes():
    net, theta, X, y = setup()
    rule = HalfOrSkip()
    rule.start(theta.size)
    history = History(rule.fallbacks)
    train(net, theta, X, y, rule, history, epochs=3, batch_size=20, rng=np.random.default_rng(0))
    lengths = {key: len(history[key]) for key in history.step_keys}
    assert set(lengths.values()) == {9}  # 3 epochs of ceil(50/20) batches
    assert history["n_forward"] == [2] * 9 and history["n_backward"] == [1] * 9
    assert history["skipped"] == [0, 1] * 4 + [0]
    assert history["step_size"][1] == 0.0 and history["step_size"][0] == 0.01
    assert history.total("skipped") == 4
    assert history["epochs"]["step"] == [3, 6, 9]
    seconds = history["epochs"]["seconds"]
    assert seconds == sorted(seconds) and seconds[-1] >= sum(history["seconds"]) * 0.5


def test_epoch_train_loss_is_the_full_data_loss():
    net, theta, X, y = setup()
    rule = steps.Constant(lr=0.01)
    rule.start(theta.size)
    history = History()
    train(net, theta, X, y, rule, history, epochs=1, batch_size=50, rng=np.random.default_rng(0))
    assert history["epochs"]["train_loss"][0] == pytest.approx(net.loss(theta, X, y), rel=1e-14)


def test_each_epoch_sees_every_row_once():
    seen = []

    class Recorder:
        def loss(self, theta, X, y):
            return 0.0

        def loss_and_gradient(self, theta, X, y, gradient):
            seen.extend(X[:, 0].tolist())
            gradient[:] = 0
            return 0.0, gradient

    X = np.arange(10, dtype=float)[:, None]
    rule = steps.Constant()
    rule.start(1)
    train(
        Recorder(),
        np.zeros(1),
        X,
        X,
        rule,
        History(),
        epochs=2,
        batch_size=3,
        rng=np.random.default_rng(0),
    )
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]  # shuffled anew each epoch


def test_divergence_keeps_last_finite_parameters():
    net, theta, X, y = setup()
    rule = steps.Constant(lr=1e8)
    rule.start(theta.size)
    history = History()
    with pytest.raises(DivergenceError, match="loss (became|grew)"):
        train(
            net,
            theta,
            X,
            1e6 * y,
            rule,
            history,
            epochs=100,
            batch_size=10,
            rng=np.random.default_rng(0),
        )
    assert np.all(np.isfinite(theta))
    assert math.isfinite(net.loss(theta, X, 1e6 * y))


def test_history_json_round_trip(tmp_path):
    history = History(("skipped",))
    history.record_step(
        {
            "loss": 1.0,
            "step_size": 0.1,
            "n_forward": 1,
            "n_backward": 1,
            "seconds": 0.01,
            "skipped": 0,
        }
    )
    history.record_epoch(1.0, float("nan"), 0.5)
    restored = History.from_json(history.to_json())
    assert restored["loss"] == [1.0] and math.isnan(restored["epochs"]["val_loss"][0])
    history.to_csv(tmp_path / "steps.csv")
    history.to_csv(tmp_path / "epochs.csv", which="epochs")
    assert (tmp_path / "steps.csv").read_text().splitlines()[0].startswith("index,loss")
    assert len((tmp_path / "epochs.csv").read_text().splitlines()) == 2


def test_columns_added_later_are_zero_for_counts_and_nan_for_values():
    history = History()
    history.record_step(
        {"loss": 1.0, "step_size": 0.1, "n_forward": 1, "n_backward": 1, "seconds": 0.0}
    )
    history.add_fallbacks(("skipped",))
    history.add_logged(("curvature",))
    assert history["skipped"] == [0] and math.isnan(history["curvature"][0])
