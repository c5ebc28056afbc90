"""The course as files: the students' handout and the teacher's solved notebooks.

The exercise notebooks live in ``tutorials/exercises/``; the solutions, apart from them, in
``tutorials/exercises/solutions/tutorial_NN.py``, one function per blank with the blank's name.
:func:`solved_notebook` puts each solution's body in place of its blank's
``raise NotImplementedError`` (the blank's docstring, with its derivation, stays);
:func:`write_handout` zips the exercise notebooks with their outputs stripped.
"""

from __future__ import annotations

import ast
import copy
import json
import textwrap
import zipfile
from pathlib import Path

import relustep
from relustep.exercises import TUTORIALS

COURSE = Path(relustep.__file__).resolve().parent.parent / "tutorials" / "exercises"
HANDOUT_FOLDER = "relustep-exercises"


def exercise_notebooks(course: Path = COURSE) -> list[Path]:
    """The exercise notebooks of ``course``, in the course order."""
    notebooks = sorted(Path(course).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(
            f"course must be a folder of exercise notebooks; {course} holds none (the course "
            "ships with relustep's source, in tutorials/exercises)"
        )
    return notebooks


def stripped(notebook: dict) -> dict:
    """A copy of ``notebook`` without outputs or execution counts."""
    clean = copy.deepcopy(notebook)
    for cell in clean["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return clean


def solution_bodies(path: Path) -> dict[str, str]:
    """Each top-level function of the solutions module at ``path``: the source of its body
    without the docstring, as it is indented there."""
    source = Path(path).read_text()
    lines = source.splitlines(keepends=True)
    bodies = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            statements = node.body
            if ast.get_docstring(node) is not None:
                statements = statements[1:]
            bodies[node.name] = "".join(lines[statements[0].lineno - 1 : node.end_lineno])
    return bodies


def solved_notebook(path: Path, solutions: Path) -> dict:
    """The notebook at ``path`` with every blank whose function ``solutions`` defines filled in.

    A blank is a top-level function whose last statement raises ``NotImplementedError``; that
    statement is replaced by the solution's body. Outputs are stripped.
    """
    notebook = stripped(json.loads(Path(path).read_text()))
    bodies = solution_bodies(solutions)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        filled = _fill_blanks(source, bodies)
        if filled != source:
            cell["source"] = filled.splitlines(keepends=True)
    return notebook


def _fill_blanks(source: str, bodies: dict[str, str]) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython magics is no blank
        return source
    lines = source.splitlines(keepends=True)
    blanks = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in bodies and _raises_not_done(node)
    ]
    for node in sorted(blanks, key=lambda node: node.lineno, reverse=True):
        last = node.body[-1]
        body = bodies[node.name]
        if not body.endswith("\n"):
            body += "\n"
        lines[last.lineno - 1 : last.end_lineno] = [body]
    return "".join(lines)


def _raises_not_done(node: ast.FunctionDef) -> bool:
    last = node.body[-1]
    if not isinstance(last, ast.Raise) or last.exc is None:
        return False
    raised = last.exc.func if isinstance(last.exc, ast.Call) else last.exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def solutions_for(notebook: Path) -> Path:
    """The solutions module of an exercise notebook: ``solutions/tutorial_NN.py`` beside it."""
    path = notebook.parent / "solutions" / f"tutorial_{notebook.name[:2]}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{notebook.name} has no solutions: {path} does not exist")
    return path


def write_solved(out: Path, course: Path = COURSE) -> list[Path]:
    """Write the solved copy of every exercise notebook of ``course`` into the folder ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in exercise_notebooks(course):
        target = out / notebook.name.replace("_exercises_", "_solutions_")
        solved = solved_notebook(notebook, solutions_for(notebook))
        target.write_text(json.dumps(solved, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written


def handout_readme() -> str:
    """The handout's README: how to start, and the exercises in order with goals and times."""
    lines = [
        "relustep exercises",
        "==================",
        "",
        "Install relustep and Jupyter (in relustep's source folder: pip install -e . jupyter),",
        "then open these notebooks in order; read each tutorial of relustep's tutorials/ folder",
        "before its exercises. Write the body of each function, then run the cell below it:",
        "check(...) compares your function with relustep's own and tells you the first case",
        "that differs, with a hint.",
        "",
    ]
    for number, (tutorial, exercises) in TUTORIALS.items():
        minutes = sum(exercise.minutes for exercise in exercises)
        lines += [f"{number}. after {tutorial}.ipynb (about {minutes} minutes)", ""]
        for exercise in exercises:
            entry = (
                f"{exercise.number} {exercise.function}: {exercise.goal} ({exercise.minutes} min)"
            )
            lines += textwrap.wrap(entry, 96, initial_indent="   ", subsequent_indent="       ")
        lines.append("")
    return "\n".join(lines)


def write_handout(out: Path, course: Path = COURSE) -> Path:
    """Zip the exercise notebooks of ``course``, outputs stripped and no solution, into ``out``,
    with a README of the course order."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{HANDOUT_FOLDER}/README.txt", handout_readme())
        for notebook in exercise_notebooks(course):
            clean = stripped(json.loads(notebook.read_text()))
            archive.writestr(
                f"{HANDOUT_FOLDER}/{notebook.name}",
                json.dumps(clean, indent=1, ensure_ascii=False) + "\n",
            )
    return out
