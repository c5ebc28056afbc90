"""Tests for relustep.datasets: the shipped files, their loader, and the synthetic generators."""

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from relustep.datasets import (
    Dataset,
    bars_and_stripes,
    load,
    load_fashion_mnist_full,
    names,
    teacher_network,
)
from relustep.datasets._loaders import data_folder, read_idx
from relustep.datasets._registry import DATASETS

DATA = Path(__file__).resolve().parents[1] / "data"
FASHION_FOLDER = Path("/usr/share/datasets/fashion-mnist")

# The shapes documented in data/README: (task, n_train, n_test, n_features).
DOCUMENTED = {
    "mnist": ("classification", 4000, 1000, 784),
    "fashion-mnist": ("classification", 2000, 1000, 784),
    "digits": ("classification", 1438, 359, 64),
    "diabetes": ("regression", 354, 88, 10),
    "concrete": ("regression", 824, 206, 8),
    "auto-mpg": ("regression", 314, 78, 7),
    "diamonds": ("regression", 4000, 1000, 6),
    "penguins": ("regression", 274, 68, 3),
}
IMAGE_SETS = [name for name, (task, *_) in DOCUMENTED.items() if task == "classification"]
TABLES = [name for name, (task, *_) in DOCUMENTED.items() if task == "regression"]


@pytest.fixture
def data_copy(tmp_path):
    """A private copy of the data folder that a test may damage."""
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


# ---- the shipped datasets ----------------------------------------------------------------------


def test_names_lists_every_shipped_dataset_in_a_fixed_order():
    assert names() == list(DOCUMENTED)
    for name in names():
        assert (DATA / DATASETS[name].file).is_file()
        assert (DATA / DATASETS[name].licence_file).is_file()


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_every_dataset_loads_with_the_documented_shapes_and_dtypes(name):
    task, n_train, n_test, n_features = DOCUMENTED[name]
    data = load(name)
    assert isinstance(data, Dataset)
    assert data.name == name and data.task == task
    assert data.X_train.shape == (n_train, n_features)
    assert data.X_test.shape == (n_test, n_features)
    assert data.y_train.shape == (n_train,) and data.y_test.shape == (n_test,)
    assert len(data.feature_names) == n_features
    for X in (data.X_train, data.X_test):
        assert X.dtype == np.float64 and X.flags.c_contiguous
        assert np.all(np.isfinite(X))
    if task == "classification":
        assert data.y_train.dtype == np.int64 and data.y_test.dtype == np.int64
        for y in (data.y_train, data.y_test):
            assert y.min() == 0 and y.max() == data.n_classes - 1 == 9
    else:
        assert data.y_train.dtype == np.float64 and np.all(np.isfinite(data.y_train))
        assert data.image_shape is None and data.n_classes is None
    assert data.licence and data.citation and data.source and data.description


@pytest.mark.parametrize("name", IMAGE_SETS)
def test_images_are_scaled_to_the_unit_interval(name):
    data = load(name)
    height, width = data.image_shape
    assert height * width == data.n_features
    for X in (data.X_train, data.X_test):
        assert X.min() == 0.0 and X.max() == 1.0


@pytest.mark.parametrize("name", IMAGE_SETS)
def test_binarize_gives_zeros_and_ones_at_threshold_one_half(name):
    grey = load(name)
    binary = load(name, binarize=True)
    assert set(np.unique(binary.X_train)) == {0.0, 1.0}
    np.testing.assert_array_equal(binary.X_test, (grey.X_test > 0.5).astype(np.float64))
    np.testing.assert_array_equal(binary.y_train, grey.y_train)


@pytest.mark.parametrize(
    ("name", "train_per_class", "test_per_class"),
    [("mnist", 400, 100), ("fashion-mnist", 200, 100)],
)
def test_image_splits_are_exactly_stratified(name, train_per_class, test_per_class):
    data = load(name)
    np.testing.assert_array_equal(np.bincount(data.y_train), [train_per_class] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [test_per_class] * 10)


def test_digits_split_is_stratified_twenty_percent_per_class():
    data = load("digits")
    per_class = np.bincount(data.y_train) + np.bincount(data.y_test)
    assert per_class.sum() == 1797
    assert np.all(np.abs(np.bincount(data.y_test) - 0.2 * per_class) <= 0.5)


@pytest.mark.parametrize("name", IMAGE_SETS)
def test_train_and_test_images_do_not_overlap_and_classes_are_interleaved(name):
    data = load(name)
    train_rows = {row.tobytes() for row in data.X_train}
    assert not any(row.tobytes() in train_rows for row in data.X_test)
    first = data.y_train[:50]
    assert len(np.unique(first)) >= 8, "the stored order should mix the classes"


@pytest.mark.parametrize("name", TABLES)
def test_standardisation_uses_training_statistics(name):
    data = load(name)
    raw = load(name, standardize=False)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(data.y_train.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.y_train.std(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(data.X_mean, raw.X_train.mean(axis=0), rtol=1e-12)
    # the test split is transformed with the training statistics, not its own
    train_mean, train_std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(data.X_test, (raw.X_test - train_mean) / train_std, rtol=1e-12)
    np.testing.assert_allclose(
        data.X_test * data.X_std + data.X_mean, raw.X_test, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(data.unstandardize_target(data.y_test), raw.y_test, rtol=1e-10)
    assert not np.allclose(data.X_test.mean(axis=0), 0.0, atol=1e-6)
    assert data.standardized and not raw.standardized


def test_raw_values_are_the_original_units():
    penguins = load("penguins", standardize=False)
    assert penguins.X_mean is None and penguins.y_std is None
    assert penguins.target_name == "body_mass_g"
    assert 2500 <= penguins.y_train.min() and penguins.y_train.max() <= 6500
    np.testing.assert_array_equal(penguins.unstandardize_target(penguins.y_test), penguins.y_test)
    auto = load("auto-mpg", standardize=False)
    assert set(np.unique(auto.X_train[:, auto.feature_names.index("origin")])) == {1.0, 2.0, 3.0}


def test_repr_shows_shapes_not_arrays():
    text = repr(load("mnist"))
    assert "(4000, 784) float64" in text and "(1000,) int64" in text
    assert "CC-BY-SA-3.0" in text and len(text) < 600


# ---- errors --------------------------------------------------------------------------------------


def test_a_copy_of_the_data_folder_loads_the_same_data(data_copy):
    copied = load("digits", data_home=data_copy)
    np.testing.assert_array_equal(copied.X_train, load("digits").X_train)
    assert str(data_copy) in copied.licence


@pytest.mark.parametrize("name", ["mnist", "concrete"])
def test_a_changed_byte_raises_an_error_naming_the_file_and_both_checksums(data_copy, name):
    path = data_copy / DATASETS[name].file
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="checksum mismatch") as error:
        load(name, data_home=data_copy)
    message = str(error.value)
    assert str(path) in message and DATASETS[name].sha256 in message
    assert f"found {hashlib.sha256(content).hexdigest()}" in message


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="name must be one of") as error:
        load("boston")
    assert all(name in str(error.value) for name in names())
    with pytest.raises(TypeError, match="name"):
        load(7)


def test_missing_data_folder_says_how_to_fix_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="does not exist") as error:
        load("mnist", data_home=missing)
    assert str(missing) in str(error.value) and "RELUSTEP_DATA" in str(error.value)


def test_environment_variable_chooses_the_folder(data_copy, monkeypatch, tmp_path):
    monkeypatch.setenv("RELUSTEP_DATA", str(data_copy))
    assert data_folder() == data_copy
    assert str(data_copy) in load("penguins").licence
    monkeypatch.setenv("RELUSTEP_DATA", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match="RELUSTEP_DATA"):
        load("penguins")
    monkeypatch.delenv("RELUSTEP_DATA")
    assert data_folder() == DATA


def test_missing_file_is_named(data_copy):
    (data_copy / "digits.npz").unlink()
    with pytest.raises(FileNotFoundError, match="digits.npz"):
        load("digits", data_home=data_copy)


def test_option_errors():
    with pytest.raises(TypeError, match="standardize"):
        load("diabetes", standardize=1)
    with pytest.raises(TypeError, match="binarize"):
        load("mnist", binarize="yes")
    with pytest.raises(ValueError, match="binarize=True applies to image datasets only"):
        load("diabetes", binarize=True)


def test_read_idx_rejects_a_wrong_header_and_a_short_body(tmp_path):
    good = tmp_path / "good.gz"
    good.write_bytes(gzip.compress(b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" * 2 + bytes(range(4))))
    np.testing.assert_array_equal(read_idx(good), [[0, 1], [2, 3]])
    wrong_type = tmp_path / "float.gz"
    wrong_type.write_bytes(gzip.compress(b"\x00\x00\x0d\x01\x00\x00\x00\x01" + bytes(4)))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(wrong_type)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(3)))
    with pytest.raises(ValueError, match="found 3 values"):
        read_idx(short)


def test_full_fashion_mnist_missing_names_path_and_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as error:
        load_fashion_mnist_full(tmp_path)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(error.value)


@pytest.mark.skipif(
    not FASHION_FOLDER.is_dir(),
    reason="full Fashion-MNIST absent: apt-get install dataset-fashion-mnist",
)
def test_full_fashion_mnist_contains_the_shipped_subset():
    full = load_fashion_mnist_full(FASHION_FOLDER)
    assert full.X_train.shape == (60000, 784) and full.X_test.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(full.y_test), [1000] * 10)
    subset = load("fashion-mnist")
    official = {row.tobytes(): label for row, label in zip(full.X_test, full.y_test, strict=True)}
    for row, label in zip(subset.X_test, subset.y_test, strict=True):
        assert official[row.tobytes()] == label


# ---- teacher network -----------------------------------------------------------------------------


def test_teacher_network_is_reproducible_bit_for_bit():
    first = teacher_network(50, 4, 6, n_outputs=2, noise=0.1, slope=0.2, n_test=20, random_state=7)
    again = teacher_network(50, 4, 6, n_outputs=2, noise=0.1, slope=0.2, n_test=20, random_state=7)
    generator = teacher_network(
        50,
        4,
        6,
        n_outputs=2,
        noise=0.1,
        slope=0.2,
        n_test=20,
        random_state=np.random.default_rng(7),
    )
    other = teacher_network(50, 4, 6, n_outputs=2, noise=0.1, slope=0.2, n_test=20, random_state=8)
    for key in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, key), getattr(again, key))
        np.testing.assert_array_equal(getattr(first, key), getattr(generator, key))
    for key in "WbVc":
        np.testing.assert_array_equal(first.teacher[key], again.teacher[key])
    assert not np.array_equal(first.y_train, other.y_train)


@pytest.mark.parametrize(("n_outputs", "slope"), [(1, 0.0), (3, 0.3)])
def test_teacher_weights_reproduce_the_targets_exactly(n_outputs, slope):
    data = teacher_network(40, 5, 7, n_outputs=n_outputs, slope=slope, n_test=15, random_state=3)
    W, b, V, c = (data.teacher[key] for key in "WbVc")
    assert W.shape == (7, 5) and b.shape == (7,) and V.shape == (n_outputs, 7)
    assert c.shape == (n_outputs,)
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        Z = X @ W.T + b
        expected = np.maximum(Z, slope * Z) @ V.T + c
        np.testing.assert_array_equal(expected[:, 0] if n_outputs == 1 else expected, y)


def test_teacher_noise_has_the_requested_standard_deviation():
    clean = teacher_network(4000, 3, 5, n_test=1, random_state=11)
    noisy = teacher_network(4000, 3, 5, noise=0.5, n_test=1, random_state=11)
    residual = noisy.y_train - clean.y_train
    assert abs(residual.std() - 0.5) < 0.03 and abs(residual.mean()) < 0.03


@pytest.mark.parametrize(
    ("n_features", "n_hidden", "slope"), [(1, 50, 0.0), (20, 50, 0.0), (100, 8, 0.5)]
)
def test_teacher_targets_have_order_one_variance_and_units_are_partly_active(
    n_features, n_hidden, slope
):
    variances = []
    for seed in range(5):
        data = teacher_network(2000, n_features, n_hidden, slope=slope, n_test=0, random_state=seed)
        variances.append(data.y_train.var())
        Z = data.X_train @ data.teacher["W"].T + data.teacher["b"]
        active = (Z > 0).mean(axis=0)
        assert np.mean((active > 0.02) & (active < 0.98)) >= 0.9
    assert 0.25 < np.mean(variances) < 4.0
    assert data.X_test.shape == (0, n_features)


# ---- bars and stripes ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_bars_and_stripes_are_all_distinct_patterns(size):
    patterns = bars_and_stripes(size)
    assert patterns.shape == (2 * 2**size - 2, size * size) and patterns.dtype == np.float64
    assert len({row.tobytes() for row in patterns}) == len(patterns)
    assert set(np.unique(patterns)) <= {0.0, 1.0}
    for row in patterns.reshape(-1, size, size):
        rows_constant = np.all(row == row[:, :1])
        columns_constant = np.all(row == row[:1, :])
        assert rows_constant or columns_constant


def test_bars_and_stripes_samples_come_from_the_patterns():
    distinct = {row.tobytes() for row in bars_and_stripes(4)}
    sample = bars_and_stripes(4, n_samples=500, random_state=0)
    assert sample.shape == (500, 16)
    assert {row.tobytes() for row in sample} <= distinct
    assert len({row.tobytes() for row in sample}) == 30
    np.testing.assert_array_equal(sample, bars_and_stripes(4, n_samples=500, random_state=0))


# ---- argument checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "argument"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": -3}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"n_hidden": -1}, ValueError, "n_hidden"),
        ({"n_outputs": 0}, ValueError, "n_outputs"),
        ({"n_test": -1}, ValueError, "n_test"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"slope": 1.0}, ValueError, "slope"),
        ({"slope": -0.1}, ValueError, "slope"),
        ({"slope": float("nan")}, ValueError, "slope"),
        ({"random_state": "seven"}, TypeError, "random_state"),
        ({"random_state": 1.5}, TypeError, "random_state"),
        ({"random_state": -1}, ValueError, "random_state"),
    ],
)
def test_teacher_network_rejects_bad_arguments(arguments, error, argument):
    valid = {"n_samples": 10, "n_features": 3, "n_hidden": 4, "random_state": 0}
    with pytest.raises(error, match=argument):
        teacher_network(**{**valid, **arguments})


@pytest.mark.parametrize(
    ("arguments", "error", "argument"),
    [
        ({"size": 0}, ValueError, "size"),
        ({"size": -2}, ValueError, "size"),
        ({"size": 13}, ValueError, "size"),
        ({"size": 2.0}, TypeError, "size"),
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"random_state": "zero"}, TypeError, "random_state"),
    ],
)
def test_bars_and_stripes_rejects_bad_arguments(arguments, error, argument):
    with pytest.raises(error, match=argument):
        bars_and_stripes(**arguments)
