"""Saving is atomic, and loading trusts nothing in the file: each damage is one ValueError that
names the file and what is wrong."""

import json

import numpy as np
import pytest

import relustep
from relustep import base

X = np.random.default_rng(0).normal(size=(30, 4))
LABELS = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
IMAGES = np.random.default_rng(1).random((30, 4))


def fitted(name):
    small = {"epochs": 1, "batch_size": 10, "random_state": 0}
    return {
        "regressor": lambda: relustep.ReLURegressor((3,), **small).fit(X, X.sum(axis=1)),
        "classifier": lambda: relustep.MLPClassifier((3,), **small).fit(X, LABELS),
        "rbm": lambda: relustep.RBM(3, **small).fit(IMAGES),
        "autoencoder": lambda: relustep.Autoencoder(3, **small).fit(IMAGES),
        "deep autoencoder": lambda: relustep.DeepAutoencoder(
            (3, 2), pretrain_epochs=1, **small
        ).fit(IMAGES),
    }[name]()


def read(path):
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return json.loads(str(arrays.pop("config"))), arrays


def write(path, document, arrays):
    np.savez(path, config=np.array(json.dumps(document)), **arrays)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved regressor and a saved classifier: their paths."""
    folder = tmp_path_factory.mktemp("saved")
    paths = {}
    for name in ("regressor", "classifier", "rbm"):
        paths[name] = folder / f"{name}.npz"
        fitted(name).save(paths[name])
    return paths


def damaged(saved, tmp_path, name, change):
    document, arrays = read(saved[name])
    change(document, arrays)
    path = tmp_path / "damaged.npz"
    write(path, document, arrays)
    return path


def load_fails(path, *words):
    with pytest.raises(ValueError) as caught:
        relustep.load(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize(
    "name", ["regressor", "classifier", "rbm", "autoencoder", "deep autoencoder"]
)
def test_every_estimator_round_trips(tmp_path, name):
    model = fitted(name)
    model.save(tmp_path / "m.npz")
    loaded = relustep.load(tmp_path / "m.npz")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.parameters_, model.parameters_)


def test_a_crash_while_saving_leaves_the_old_file_whole(saved, tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    path.write_bytes(saved["regressor"].read_bytes())
    before = path.read_bytes()

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        relustep.load(path).save(path)
    assert path.read_bytes() == before
    assert [item.name for item in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left


def test_a_model_with_non_finite_parameters_is_not_saved(tmp_path):
    model = fitted("regressor")
    model.parameters_[0] = np.nan
    with pytest.raises(ValueError, match="non-finite parameters_"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(
    "source, label, words",
    [
        ("regressor", "MLPClassifier", ["arrays of MLPClassifier", "missing ['classes_']"]),
        ("classifier", "ReLURegressor", ["arrays of ReLURegressor", "unknown ['classes_']"]),
        ("rbm", "Autoencoder", ["Autoencoder has no setting", "'k'"]),
        ("regressor", "Nope", ["unknown estimator 'Nope'"]),
    ],
)
def test_a_file_relabelled_as_another_class_is_refused(saved, tmp_path, source, label, words):
    path = damaged(
        saved, tmp_path, source, lambda document, arrays: document.update(estimator=label)
    )
    load_fails(path, *words)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d, a: a.update(parameters_=a["parameters_"][:-1]), ["parameters_ has shape"]),
        (lambda d, a: d["params"].update(hidden_layer_sizes=[5]), ["parameters_ has shape"]),
        (lambda d, a: d["fitted"].update(n_features_in_=5), ["parameters_ has shape"]),
        (lambda d, a: a.update(parameters_=a["parameters_"].astype(np.float32)), ["dtype float32"]),
        (
            lambda d, a: a.update(parameters_=a["parameters_"].reshape(1, -1)),
            ["parameters_ has shape"],
        ),
        (lambda d, a: a["parameters_"].__setitem__(0, np.nan), ["non-finite"]),
        (lambda d, a: a["parameters_"].__setitem__(1, np.inf), ["non-finite"]),
        (lambda d, a: d["fitted"].update(predict=1), ["fitted values", "unknown ['predict']"]),
        (lambda d, a: d["fitted"].pop("n_iter_"), ["fitted values", "missing ['n_iter_']"]),
        (lambda d, a: d["fitted"].update(n_iter_="3"), ["n_iter_ must be an int"]),
        (lambda d, a: d.update(score=0), ["file's entries", "unknown ['score']"]),
        (lambda d, a: d["params"].update(predict=0), ["no setting 'predict'"]),
        (lambda d, a: a.update(predict=np.ones(2)), ["arrays of ReLURegressor", "['predict']"]),
        (lambda d, a: d.update(history=[]), ["history must be an object"]),
        (lambda d, a: d["params"].update(step={"name": "nope"}), ["nope"]),
    ],
)
def test_each_damage_to_the_contents_is_named(saved, tmp_path, change, words):
    load_fails(damaged(saved, tmp_path, "regressor", change), *words)


def test_classes_of_the_wrong_length_are_refused(saved, tmp_path):
    path = damaged(saved, tmp_path, "classifier", lambda d, a: a.update(classes_=np.arange(5)))
    load_fails(path, "classes_ has shape (5,)")


def truncated(data):
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "make, words",
    [
        (truncated, ["not a relustep model file"]),
        (lambda data: data[:-30], ["not a relustep model file"]),
        (lambda data: b"", ["not a relustep model file"]),
        (lambda data: b"garbage " * 100, ["not a relustep model file"]),
        (lambda data: data[:200] + b"\0" * (len(data) - 200), ["not a relustep model file"]),
    ],
)
def test_a_file_cut_short_or_garbage_is_one_clear_error(saved, tmp_path, make, words):
    path = tmp_path / "broken.npz"
    path.write_bytes(make(saved["regressor"].read_bytes()))
    load_fails(path, *words)


def test_files_that_are_not_model_files_are_named(tmp_path):
    np.save(tmp_path / "array.npy", np.ones(3))
    load_fails(tmp_path / "array.npy", "single array")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    load_fails(tmp_path / "other.npz", "no 'config' entry")
    np.savez(tmp_path / "text.npz", config=np.array("{not json"))
    load_fails(tmp_path / "text.npz", "not a relustep model file")
    np.savez(tmp_path / "list.npz", config=np.array("[1, 2]"))
    load_fails(tmp_path / "list.npz", "'config' is not an object")


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        relustep.load(tmp_path / "absent.npz")


def test_load_sets_no_attribute_it_does_not_know(saved):
    loaded = relustep.load(saved["regressor"])
    document, arrays = read(saved["regressor"])
    known = {*document["fitted"], *arrays, *document["params"]}
    assert set(vars(loaded)) - known <= {"network_", "step_", "_rng", "history_"}
    assert base.DOCUMENT_KEYS == tuple(document)
