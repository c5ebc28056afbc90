"""The command line's failures: one line on stderr, a non-zero status, no traceback, and the
output folder checked before any training."""

import shutil
import subprocess
import sys

import pytest

from relustep import cli
from relustep.cli import main
from relustep.datasets._loaders import data_folder
from relustep.estimators.mlp import MLPClassifier, ReLURegressor

TRAIN = ["train", "--dataset", "diabetes", "--epochs", "1"]


def one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def damaged_data(tmp_path, monkeypatch):
    """A data folder whose diabetes file lost a byte and that lacks every other file."""
    folder = tmp_path / "data"
    folder.mkdir()
    text = (data_folder() / "diabetes.csv").read_bytes()
    (folder / "diabetes.csv").write_bytes(text[:-1])
    monkeypatch.setenv("RELUSTEP_DATA", str(folder))
    return folder


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any training starts."""

    def fit(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(ReLURegressor, "fit", fit)
    monkeypatch.setattr(MLPClassifier, "fit", fit)


def test_a_damaged_data_file_is_one_line(damaged_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("relustep train: error: cannot read the dataset diabetes")
    assert "checksum mismatch" in line and "diabetes.csv" in line
    assert not out.exists()  # nothing was written


def test_a_missing_data_file_is_one_line_in_every_command(damaged_data, tmp_path, capsys):
    assert main(["datasets"]) == 1
    assert "cannot read the dataset mnist" in one_line(capsys.readouterr().err)
    assert main(["reproduce", "--tiny", "--out", str(tmp_path / "report")]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("relustep reproduce: error: cannot read the dataset mnist")
    assert not (tmp_path / "report" / "results").exists()  # it stopped before any run


@pytest.mark.parametrize("command", ["train", "reproduce"])
def test_an_out_that_cannot_be_written_stops_before_any_work(
    tmp_path, capsys, no_training, command
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    argv = TRAIN if command == "train" else ["reproduce", "--tiny", "--only", "baselines"]
    assert main([*argv, "--out", str(blocker / "run")]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"relustep {command}: error: argument --out: cannot write in")
    assert str(blocker / "run") in line


def test_an_output_in_the_way_stops_train_before_training(tmp_path, capsys, no_training):
    out = tmp_path / "run"
    (out / "model.npz").mkdir(parents=True)
    assert main([*TRAIN, "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.endswith(f"argument --out: cannot overwrite {out / 'model.npz'}")


def test_a_write_that_fails_after_training_is_one_line(tmp_path, capsys, monkeypatch):
    def disk_full(model, out):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "_write_run", disk_full)
    assert main([*TRAIN, "--out", str(tmp_path / "run")]) == 1
    line = one_line(capsys.readouterr().err)
    assert "cannot write the outputs" in line and "No space left on device" in line


def test_the_installed_command_prints_no_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    completed = subprocess.run(
        [sys.executable, "-m", "relustep", *TRAIN, "--out", str(blocker / "run")],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert "argument --out" in one_line(completed.stderr)


def test_a_whole_copy_of_the_data_trains(tmp_path, monkeypatch, capsys):
    """The control of the tests above: with the same file whole, the same command works."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(data_folder() / "diabetes.csv", folder / "diabetes.csv")
    monkeypatch.setenv("RELUSTEP_DATA", str(folder))
    assert main([*TRAIN, "--out", str(tmp_path / "run")]) == 0
