"""Every tutorial notebook runs top to bottom at a small size, and none is committed with outputs;
so does every exercise notebook, both as handed out (every check says "not done yet") and with its
blanks filled by the solutions (every check passes).

The notebooks are executed here without a Jupyter kernel: their code cells run in order in one
namespace, which is what "Run all" does. ``RELUSTEP_TUTORIAL_SIZE=small`` tells a notebook to use
fewer epochs and rows.
"""

import ast
import json
import os
from pathlib import Path

import matplotlib
import pytest

from relustep.exercises import TUTORIALS as EXERCISE_TUTORIALS
from relustep.exercises import course

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("*.ipynb"))
EXERCISE_NOTEBOOKS = sorted(
    (Path(__file__).parent.parent / "tutorials" / "exercises").glob("*.ipynb")
)


def code_cells(path):
    notebook = json.loads(path.read_text())
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_there_are_tutorials():
    assert TUTORIALS, "tutorials/ holds no notebook"


@pytest.mark.parametrize("path", TUTORIALS + EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
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


def test_one_exercise_notebook_per_tutorial_in_the_course_order():
    assert [path.name[:2] for path in EXERCISE_NOTEBOOKS] == [path.name[:2] for path in TUTORIALS]
    assert [f"{number:02d}" for number in EXERCISE_TUTORIALS] == [p.name[:2] for p in TUTORIALS]
    for number, (tutorial, _) in EXERCISE_TUTORIALS.items():
        assert TUTORIALS[number - 1].stem == tutorial


def run_checks_of(notebook: dict, name: str) -> dict:
    """Run the code cells in one namespace; return the value of every cell that ends in a call
    of ``check``, by exercise number."""
    namespace = {"__name__": "__exercises__"}
    results = {}
    for number, cell in enumerate(notebook["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body[-1] if tree.body else None
        is_check = (
            isinstance(last, ast.Expr)
            and isinstance(last.value, ast.Call)
            and getattr(last.value.func, "id", "") == "check"
        )
        if is_check:
            tree.body.pop()
        exec(compile(tree, f"{name}, code cell {number}", "exec"), namespace)
        if is_check:
            value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
            results[value.number] = value
    return results


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_notebook_runs_as_handed_out(path):
    results = run_checks_of(json.loads(path.read_text()), path.name)
    exercises = EXERCISE_TUTORIALS[int(path.name[:2])][1]
    assert list(results) == [exercise.number for exercise in exercises]
    assert all(result.status == "not done" for result in results.values())


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_notebook_runs_with_the_solutions(path):
    solved = course.solved_notebook(path, course.solutions_for(path))
    results = run_checks_of(solved, path.name)
    exercises = EXERCISE_TUTORIALS[int(path.name[:2])][1]
    assert list(results) == [exercise.number for exercise in exercises]
    for result in results.values():
        assert result.passed, result.message


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_every_blank_carries_its_derivation_and_names_its_exercise(path):
    exercises = EXERCISE_TUTORIALS[int(path.name[:2])][1]
    blanks = {}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, ast.FunctionDef):
                    blanks[node.name] = node
    for exercise in exercises:
        blank = blanks[exercise.function]
        docstring = ast.get_docstring(blank)
        for section in ("Parameters\n----------", "Returns\n-------", "Notes\n-----", ".. math::"):
            assert section in docstring, f"{exercise.function}'s docstring lacks {section!r}"
        raised = ast.unparse(blank.body[-1])
        assert raised.startswith("raise NotImplementedError(")
        assert f"exercise {exercise.number}" in raised
