"""What a newcomer meets first: the README's ``minimize`` example, ``print(result)``, saving a
loss plot from a script."""

import re
from pathlib import Path

import numpy as np

import relustep
from relustep.plot import plot_losses

README = Path(__file__).resolve().parent.parent / "README.rst"


def readme_block_after(sentence: str) -> str:
    """The literal block (``::`` then indented lines) that follows ``sentence`` in the README."""
    text = README.read_text()
    start = text.index(sentence)
    block = re.search(r"::\n\n((?:    .*\n|\n)+)", text[start:])
    return "\n".join(line[4:] for line in block.group(1).splitlines())


def test_the_readme_minimize_example_converges_and_prints_what_the_readme_shows(capsys):
    code = readme_block_after("Any rule also runs on a function you write")
    namespace = {"relustep": relustep}
    exec(compile(code, "README.rst", "exec"), namespace)
    result = namespace["result"]
    assert result.success and result.fun < 1e-12
    printed = capsys.readouterr().out.strip()
    shown = readme_block_after("which prints").strip()
    assert printed == shown


def test_optimize_result_prints_short():
    result = relustep.minimize(lambda x: (0.5 * x @ x, x), np.ones(50), maxiter=2000)
    assert len(result.history) == 2000
    text = repr(result)
    assert len(text) < 1000  # the history used to be printed in full (28 KB at 500 steps)
    assert "History of 2000 steps" in text and "success: False" in text
    assert result.history["loss"][0] == 25.0  # the history itself is all there


def test_plot_losses_saves_the_figure_to_a_path(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    model = relustep.ReLURegressor((4,), epochs=3, batch_size=10, random_state=0)
    model.fit(X, X.sum(axis=1))
    path = tmp_path / "plots" / "losses.png"
    figure = plot_losses({"adam": model.history_}, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        figure.axes[0].get_lines()[0].get_ydata().tolist() == model.history_["epochs"]["train_loss"]
    )
