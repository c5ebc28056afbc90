"""Every tutorial notebook runs top to bottom at a small size, and none is committed with outputs.

The notebooks are executed here without a Jupyter kernel: their code cells run in order in one
namespace, which is what "Run all" does. ``RELUSTEP_TUTORIAL_SIZE=small`` tells a notebook to use
fewer epochs and rows.
"""

import json
import os
from pathlib import Path

import matplotlib
import pytest

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("*.ipynb"))


def code_cells(path):
    notebook = json.loads(path.read_text())
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_there_are_tutorials():
    assert TUTORIALS, "tutorials/ holds no notebook"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for cell in code_cells(path):
        assert cell.get("outputs", []) == [], f"{path.name} has outputs; clear them before commit"
        assert cell.get("execution_count") is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch, tmp_path):
    matplotlib.use("Agg")
    monkeypatch.setenv("RELUSTEP_TUTORIAL_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__tutorial__"}
    for number, cell in enumerate(code_cells(path), start=1):
        source = "".join(cell["source"])
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        exec(compile("\n".join(lines), f"{path.name}, code cell {number}", "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    assert os.environ["RELUSTEP_TUTORIAL_SIZE"] == "small"
