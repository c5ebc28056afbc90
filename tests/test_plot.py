"""The plot functions draw one curve per run, at the right places, and save PNG files."""

import numpy as np
import pytest

from relustep.history import History
from relustep.plot import (
    epoch_positions,
    filter_mosaic,
    new_figure,
    plot_losses,
    plot_per_step,
    plot_step_sizes,
    running_median,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_history(n_epochs=3, steps_per_epoch=4, probes=0, scale=1.0):
    """A history as the trainer would record it; each step costs ``2 + probes`` passes."""
    history = History()
    for epoch in range(n_epochs):
        for step in range(steps_per_epoch):
            history.record_step(
                {
                    "loss": scale / (1 + epoch + step),
                    "step_size": 0.1 / (1 + step),
                    "n_forward": 1 + probes,
                    "n_backward": 1,
                    "seconds": 0.01,
                }
            )
        history.record_epoch(scale / (2 + epoch), scale / (1 + epoch), 0.5 * (epoch + 1))
    return history


@pytest.fixture(autouse=True)
def close_pyplot_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_one_line_per_run_with_its_label():
    histories = {"constant": make_history(), "adam": make_history(scale=2.0)}
    figure = plot_losses(histories)
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["constant", "adam"]
    np.testing.assert_allclose(lines[1].get_ydata(), histories["adam"]["epochs"]["train_loss"])
    assert figure.axes[0].get_yscale() == "log"


def test_passes_count_forward_and_backward_passes_up_to_each_epoch_end():
    history = make_history(n_epochs=3, steps_per_epoch=4, probes=2)  # 4 passes per step
    np.testing.assert_allclose(epoch_positions(history, "passes"), [16, 32, 48])
    np.testing.assert_allclose(epoch_positions(history, "seconds"), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(epoch_positions(history, "epochs"), [1, 2, 3])
    figure, axes = new_figure()
    plot_losses({"probing": history}, x="passes", which="val_loss", ax=axes, logy=False)
    (line,) = axes.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [16, 32, 48])
    np.testing.assert_allclose(line.get_ydata(), [1, 1 / 2, 1 / 3])
    assert axes.get_yscale() == "linear"
    assert "passes" in axes.get_xlabel()


def test_wrong_axis_or_loss_names_the_argument():
    with pytest.raises(ValueError, match="x must be one of"):
        plot_losses({"run": make_history()}, x="steps")
    with pytest.raises(ValueError, match="which must be one of"):
        plot_losses({"run": make_history()}, which="test_loss")


def test_step_sizes_one_point_per_step_and_a_running_median():
    histories = {"a": make_history(n_epochs=2), "b": make_history(n_epochs=1), "c": History()}
    figure = plot_step_sizes(histories)
    axes = figure.axes[0]
    lines = axes.get_lines()  # per run with steps: the points, then their running median
    assert [len(line.get_xdata()) for line in lines] == [8, 8, 4, 4]
    np.testing.assert_allclose(lines[2].get_ydata(), histories["b"]["step_size"])
    assert lines[2].get_linestyle() == "None" and lines[2].get_color() == lines[3].get_color()
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["a", "b"]
    assert axes.get_yscale() == "log"


def test_per_step_losses_are_drawn_like_the_step_sizes():
    history = make_history(n_epochs=2)
    axes = plot_per_step({"run": history}, "loss").axes[0]
    points, median = axes.get_lines()
    np.testing.assert_allclose(points.get_ydata(), history["loss"])
    assert median.get_label() == "run" and axes.get_ylabel() == "batch loss before the step"


def test_running_median_spans_the_window_before_each_value():
    values = np.array([1.0, 100.0, 2.0, 3.0, 50.0, 4.0])
    np.testing.assert_allclose(running_median(values, 3), [1, 50.5, 2, 3, 3, 4])
    np.testing.assert_allclose(running_median(values, 1), values)


def test_filter_mosaic_leaves_gaps_between_tiles():
    filters = np.ones((5, 4))  # five 2 x 2 filters: a 3 x 2 grid of tiles
    figure = filter_mosaic(filters, gap=1)
    blank = np.ma.getmaskarray(figure.axes[0].get_images()[0].get_array())  # NaN: not drawn
    assert blank.shape == (2 * 2 + 1, 3 * 2 + 2)
    assert blank[2].all() and blank[:, 2].all() and blank[:, 5].all()  # the gaps
    assert blank[3:, 6:].all() and not blank[:2, :2].any()  # no sixth filter; the first drawn


def test_save_figure_writes_png_and_creates_the_folder(tmp_path):
    figure, axes = new_figure(2)
    plot_losses({"run": make_history()}, ax=axes[0])
    plot_step_sizes({"run": make_history()}, ax=axes[1])
    path = save_figure(figure, tmp_path / "new" / "losses.png")
    assert path == tmp_path / "new" / "losses.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert path.stat().st_size > 1000
