"""The command line: help, datasets, train (with its failure paths) and a tiny reproduce."""

import math
import re
import subprocess
import sys

import numpy as np
import pytest

import relustep
from relustep import datasets
from relustep.cli import main
from relustep.experiments import baselines

TRAIN_FILES = ("history_steps.csv", "history_epochs.csv", "loss.png", "model.npz")


def csv_rows(path):
    return path.read_text().strip().splitlines()


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "reproduce" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert relustep.__version__ in capsys.readouterr().out
    assert main([]) == 2  # a command is required


def test_python_dash_m_runs_the_same_main():
    completed = subprocess.run(
        [sys.executable, "-m", "relustep", "--version"], capture_output=True, text=True
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"relustep {relustep.__version__}"


def test_datasets_lists_every_dataset(capsys):
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == datasets.names()
    diabetes = lines[datasets.names().index("diabetes")]
    assert "regression" in diabetes and "(354, 10)" in diabetes


def test_train_writes_history_plot_and_model(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "diabetes", "--epochs", "2", "--batch-size", "64"]
    assert main([*argv, "--hidden", "8,4", "--step", "nesterov", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test R²" in printed and "test loss" in printed
    for name in TRAIN_FILES:
        assert (out / name).stat().st_size > 0
    n_train = len(datasets.load("diabetes").X_train)
    steps_per_epoch = math.ceil(n_train / 64)
    assert len(csv_rows(out / "history_steps.csv")) == 1 + 2 * steps_per_epoch
    assert len(csv_rows(out / "history_epochs.csv")) == 1 + 2
    model = relustep.load(out / "model.npz")
    assert model.hidden_layer_sizes == (8, 4)
    assert model.step_.nesterov and model.n_iter_ == 2


@pytest.mark.parametrize(
    "argument, choice", [("--dataset", "diabetes"), ("--step", "adam"), ("--seed", ">= 0")]
)
def test_wrong_argument_exits_2_naming_it(argument, choice, capsys):
    argv = {"--dataset": "diabetes", "--step": "adam", "--seed": "0"}
    argv[argument] = "nope" if argument != "--seed" else "-1"
    assert main(["train", *[item for pair in argv.items() for item in pair]]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {argument}" in error and choice in error


def test_momentum_for_a_rule_without_it_exits_2(capsys):
    assert main(["train", "--dataset", "diabetes", "--step", "adam", "--momentum", "0.5"]) == 2
    assert "--momentum" in capsys.readouterr().err


def test_a_rule_the_network_cannot_take_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "golovko"
    assert main(["train", "--dataset", "diabetes", "--step", "golovko", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "golovko" in error and "Traceback" not in error
    assert not out.exists()


def test_divergence_exits_1_and_still_writes_the_history(tmp_path, capsys):
    out = tmp_path / "diverged"
    argv = ["train", "--dataset", "diabetes", "--step", "constant", "--lr", "1000"]
    assert main([*argv, "--epochs", "3", "--out", str(out)]) == 1
    assert "training diverged" in capsys.readouterr().err
    steps = csv_rows(out / "history_steps.csv")
    assert 1 < len(steps) < 1 + 3 * math.ceil(354 / 64)
    assert all(np.isfinite(relustep.load(out / "model.npz").parameters_))


def test_ctrl_c_writes_what_it_has_and_exits_130(tmp_path, monkeypatch, capsys):
    from relustep.estimators import _base

    real_run_epochs = _base.run_epochs

    def one_epoch_then_interrupt(*args, **kwargs):
        real_run_epochs(*args, **{**kwargs, "epochs": 1})
        raise KeyboardInterrupt

    monkeypatch.setattr(_base, "run_epochs", one_epoch_then_interrupt)
    out = tmp_path / "stopped"
    assert main(["train", "--dataset", "auto-mpg", "--epochs", "50", "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert len(csv_rows(out / "history_epochs.csv")) == 1 + 1
    assert (out / "model.npz").is_file()


def test_reproduce_writes_every_section_and_resumes(tmp_path, monkeypatch, capsys):
    from relustep.experiments import SECTIONS
    from relustep.experiments.reproduce import section

    calls = []
    real_run_one = baselines.run_one

    def counted_run_one(data, *args):
        calls.append(data.name)
        return real_run_one(data, *args)

    monkeypatch.setattr(baselines, "run_one", counted_run_one)
    out = tmp_path / "report"
    argv = ["reproduce", "--tiny", "--seeds", "1", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    n_runs = len(datasets.names()) * len(baselines.RULES)
    assert len(calls) == n_runs
    printed = capsys.readouterr().out
    assert str(out / "report.md") in printed and "| section | claim | verdict |" in printed

    report = (out / "report.md").read_text()
    assert f"relustep {relustep.__version__}" in report
    for name in SECTIONS:
        part = section(name)
        assert f"## {'Appendix: ' if part.appendix else ''}{part.title}" in report
        assert part.claim in report
    assert section("baselines").verdicts([]) == []  # the reference claims nothing
    verdicts = re.findall(r"\| \*\*(inconclusive)\*\* \|", report)  # one seed: provisional
    assert len(verdicts) >= len(SECTIONS) - 1 and "Provisional" in report
    assert "| dataset | rule | lr |" in report and "| mnist | adam |" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    for name in SECTIONS:
        assert any(f"figures/{name}-" in image for image in images), name
    assert all((out / image).stat().st_size > 0 for image in images)
    html = (out / "report.html").read_text()
    assert "<table>" in html and html.count("data:image/png;base64,") == len(images)

    results = sorted(path.name for path in (out / "results").glob("*.json"))
    assert results == sorted(f"{name}-tiny-seed0.json" for name in SECTIONS)
    stored = {path: path.stat().st_mtime_ns for path in (out / "results").glob("*.json")}
    (out / "results" / "baselines-tiny-seed0.json").unlink()
    calls.clear()
    assert main(argv) == 0
    assert len(calls) == n_runs  # only the deleted result was computed again
    for path, mtime in stored.items():
        if path.name != "baselines-tiny-seed0.json":
            assert path.stat().st_mtime_ns == mtime
    calls.clear()
    assert main([*argv, "--only", "baselines", "--force"]) == 0
    assert len(calls) == n_runs


def test_reproduce_rejects_unknown_sections(capsys):
    assert main(["reproduce", "--only", "baselines,nope"]) == 2
    assert "--only" in capsys.readouterr().err


def test_format_table_aggregates_seeds():
    common = {"dataset": "toy", "rule": "adam", "metric": "R²", "epochs": 3, "passes": 12}
    keys = ("seed", "lr", "diverged", "train_loss", "test_loss", "test_score", "seconds")
    runs = [(0, 0.01, False, 1.0, 2.0, 0.5, 1.0), (1, 0.001, True, 3.0, None, 0.7, 3.0)]
    rows = [{**common, **dict(zip(keys, run, strict=True))} for run in runs]
    (line,) = baselines.format_table(rows).splitlines()[2:]
    assert line == (
        "| toy | adam (diverged in 1 of 2) | 0.001, 0.01 | 2 ± 1 | 2 (1 of 2) | R² | 0.6 ± 0.1 "
        "| 2 ± 1 | 3 ± 0 | 12 ± 0 |"
    )


def test_course_handout_zips_the_exercise_notebooks_without_outputs_or_solutions(tmp_path, capsys):
    import json
    import zipfile

    from relustep.exercises import course

    folder = tmp_path / "course"
    folder.mkdir()
    for notebook in course.exercise_notebooks():  # one with an output, as after a classroom run
        content = json.loads(notebook.read_text())
        for cell in content["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["x"]}]
                cell["execution_count"] = 1
        (folder / notebook.name).write_text(json.dumps(content))
    out = tmp_path / "handout.zip"
    assert main(["course", "handout", str(out), "--course", str(folder)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        notebooks = [f"relustep-exercises/{p.name}" for p in course.exercise_notebooks()]
        assert names == ["relustep-exercises/README.txt", *notebooks]
        assert "2.6 coupled_step" in archive.read(names[0]).decode()
        for name in notebooks:
            cells = json.loads(archive.read(name))["cells"]
            code = [cell for cell in cells if cell["cell_type"] == "code"]
            assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
            assert "NotImplementedError" in archive.read(name).decode()


def test_course_solutions_fill_every_blank(tmp_path, capsys):
    import json

    from relustep.exercises import EXERCISES

    assert main(["course", "solutions", str(tmp_path / "solved")]) == 0
    written = sorted((tmp_path / "solved").glob("*.ipynb"))
    assert len(written) == 4 and len(capsys.readouterr().out.splitlines()) == 4
    text = "".join(path.read_text() for path in written)
    assert "raise NotImplementedError" not in text
    for exercise in EXERCISES.values():  # the blank's docstring, with its derivation, stays
        assert f"def {exercise.function}(" in text
    assert all(json.loads(path.read_text())["nbformat"] == 4 for path in written)


def test_course_without_notebooks_or_solutions_is_exit_2(tmp_path, capsys):
    assert main(["course", "handout", str(tmp_path / "h.zip"), "--course", str(tmp_path)]) == 2
    assert "holds none" in capsys.readouterr().err
    (tmp_path / "01_exercises.ipynb").write_text('{"cells": []}')
    assert main(["course", "solutions", str(tmp_path / "out"), "--course", str(tmp_path)]) == 2
    assert "01_exercises.ipynb has no solutions" in capsys.readouterr().err
