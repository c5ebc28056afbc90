"""The line view: true losses, the parabolas through their probes, the replayed step, the plot."""

import matplotlib
import numpy as np
import pytest

from relustep import steps
from relustep.history import History
from relustep.lineview import capture_line, line_view, plot_line_view
from relustep.models.dense import DenseReLUNetwork
from relustep.plot import new_figure
from relustep.train import train

matplotlib.use("Agg")


def problem(seed=0, loss="square", hidden=(6,)):
    rng = np.random.default_rng(seed)
    net = DenseReLUNetwork(3, hidden, 1 if loss == "square" else 3, loss=loss)
    X = rng.normal(size=(60, 3))
    y = np.abs(X[:, :1]) - X[:, 1:2] if loss == "square" else rng.integers(0, 3, 60)
    return net, X, y


def test_captured_line_is_the_runs_line():
    net, X, y = problem()
    rng = np.random.default_rng(7)
    theta = net.init_parameters(rng)
    rule = steps.QLAB()
    rule.start(theta.size)
    history = History(rule.fallbacks)
    train(net, theta, X, y, rule, history, epochs=3, batch_size=20, rng=rng)
    for step in (0, 4, 7):
        captured = capture_line(net, X, y, "qlab", step=step, batch_size=20, random_state=7)
        assert captured.line.loss == history["loss"][step]
        assert captured.step_taken == history["step_size"][step]
        assert captured.trial_step == history["trial_step"][step]


def test_view_curves_pass_through_what_they_should():
    net, X, y = problem()
    captured = capture_line(net, X, y, "lqa", step=3, batch_size=20, random_state=0)
    line = captured.line
    view = line_view(
        line,
        qlab_trial_step=0.3,
        lqa_delta=0.2,
        n_points=21,
        step_taken=captured.step_taken,
        curves={"half the loss": lambda a: 0.5 * line.probe(a)},
    )
    objective = line.objective
    for alpha, loss in zip(view.alphas, view.losses, strict=True):
        assert loss == pytest.approx(objective.loss(line.theta - alpha * line.direction), rel=1e-12)
    np.testing.assert_allclose(view.curves["half the loss"], 0.5 * view.losses, rtol=1e-12)
    # QLABGrad's parabola: value and slope at 0, and its probe
    assert view.qlab(0.0) == line.loss and view.qlab.slope == line.slope
    ((trial, probed),) = view.qlab.probes
    assert trial == 0.3 and view.qlab(trial) == pytest.approx(probed, rel=1e-12)
    # LQA's parabola: through its three points
    assert view.lqa(0.0) == line.loss
    for alpha, value in view.lqa.probes:
        assert view.lqa(alpha) == pytest.approx(value, rel=1e-12)
    assert {abs(alpha) for alpha, _ in view.lqa.probes} == {0.2}
    # the exact minimum is below every grid point with alpha >= 0
    assert view.exact.exact
    assert view.exact.loss <= view.losses[view.alphas >= 0].min() + 1e-12
    assert view.step_taken == captured.step_taken
    assert line.n_probes == 21  # only the extra curve probed the original line


def test_parabola_minima_are_the_rules_steps():
    net, X, y = problem(seed=1)
    captured = capture_line(net, X, y, "qlab", step=2, batch_size=20, random_state=1)
    view = line_view(captured.line, qlab_trial_step=captured.trial_step)
    assert view.qlab.minimum == pytest.approx(captured.step_taken, rel=1e-12)
    captured = capture_line(net, X, y, "lqa", step=2, batch_size=20, random_state=1)
    view = line_view(captured.line, lqa_delta=captured.trial_step)
    assert view.lqa.minimum == pytest.approx(captured.step_taken, rel=1e-12)


@pytest.mark.parametrize("hidden, exact", [((6,), True), ((6, 4), False)])
def test_softmax_models_minimum_and_plot(hidden, exact):
    net, X, y = problem(loss="softmax", hidden=hidden)
    captured = capture_line(net, X, y, "constant", step=1, batch_size=30, random_state=0)
    view = line_view(captured.line, n_points=15, step_taken=captured.step_taken)
    assert view.exact.exact == exact  # certified branch and bound, or the numerical search
    assert view.exact.loss <= view.losses[view.alphas >= 0].min() + 1e-12
    figure, ax = new_figure()
    plot_line_view(view, ax=ax, title="softmax")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    kind = "exact" if exact else "numerical"
    assert "true loss on the batch" in labels and f"minimum along the line ({kind})" in labels
    assert "step taken" in labels


def test_plot_draws_every_curve():
    net, X, y = problem()
    captured = capture_line(net, X, y, "qlab", step=0, batch_size=20, random_state=0)
    view = line_view(captured.line, n_points=11, curves={"quadratic": lambda a: a * a})
    figure = plot_line_view(view)
    ax = figure.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:3] == ["true loss on the batch", "QLABGrad parabola", "LQA parabola"]
    assert "quadratic" in labels and "minimum along the line (exact)" in labels
    import matplotlib.pyplot as plt

    plt.close(figure)


@pytest.mark.parametrize(
    "call, argument, error",
    [
        (lambda line: line_view(line, n_points=2), "n_points", ValueError),
        (lambda line: line_view(line, qlab_trial_step=0.0), "qlab_trial_step", ValueError),
        (lambda line: line_view(line, lqa_delta=float("nan")), "lqa_delta", ValueError),
        (lambda line: line_view(line, max_alpha=-1.0), "max_alpha", ValueError),
        (lambda line: line_view(line, curves={"bad": 3.0}), "curves", TypeError),
    ],
)
def test_bad_arguments_are_named(call, argument, error):
    net, X, y = problem()
    line = capture_line(net, X, y, "sgd", step=0, batch_size=20, random_state=0).line
    with pytest.raises(error, match=argument):
        call(line)


def test_bad_capture_arguments_are_named():
    net, X, y = problem()
    with pytest.raises(ValueError, match="step"):
        capture_line(net, X, y, "sgd", step=-1, batch_size=20)
    with pytest.raises(TypeError, match="batch_size"):
        capture_line(net, X, y, "sgd", step=0, batch_size=2.5)
    with pytest.raises(ValueError, match="rule"):
        capture_line(net, X, y, "newton", step=0, batch_size=20)
