"""Loaders for the files in ``data/`` and for the full Fashion-MNIST of the Debian package.

Every shipped file is checked against the sha256 in :mod:`relustep.datasets._registry` before it is
read, is read with ``allow_pickle=False``, and has its dtype, shapes and label range checked against
the same registry. Images are stored as integers and become floats in [0, 1] only here.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
from pathlib import Path

import numpy as np

from relustep._validation import check_choice
from relustep.datasets._dataset import Dataset
from relustep.datasets._registry import DATASETS, FASHION_NAMES, Entry

ENVIRONMENT_VARIABLE = "RELUSTEP_DATA"
# An installed package carries the data as relustep/_data (setup.py copies data/ there when it
# builds); an editable install or a source checkout reads data/ beside the package.
INSTALLED_DATA = Path(__file__).resolve().parents[1] / "_data"
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "data"
IMAGE_KEYS = ("X_train", "y_train", "X_test", "y_test")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def names() -> list[str]:
    """Return the short names of the datasets shipped in ``data/``, in a fixed order.

    Returns
    -------
    list of str
        Names accepted by :func:`load`: the image sets first, then the regression tables.

    Examples
    --------
    >>> from relustep.datasets import names
    >>> names()[:3]
    ['mnist', 'fashion-mnist', 'digits']
    """
    return list(DATASETS)


def load(
    name: str,
    *,
    standardize: bool = True,
    binarize: bool = False,
    data_home: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a shipped dataset with its fixed train/test split.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    standardize : bool, default True
        Regression only: subtract the training split's mean and divide by its standard deviation,
        for every feature and for the target, and store those statistics on the dataset. Ignored
        for image datasets, which are always scaled to [0, 1].
    binarize : bool, default False
        Image datasets only: pixels above 0.5 (after scaling to [0, 1]) become 1, the rest 0.
    data_home : str or path-like, optional
        The folder holding the data files. By default the environment variable ``RELUSTEP_DATA``,
        else the copy of ``data/`` inside an installed package (``relustep/_data``), else the
        ``data/`` folder of the source checkout (an editable install).

    Returns
    -------
    Dataset
        Float64, C-contiguous features; int64 labels for classification, float64 targets for
        regression.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names), if a file's sha256 differs from
        the registered one (the message names the file and both checksums), or if its contents
        have the wrong dtype, shape or label range.
    FileNotFoundError
        If the data folder or the file is missing; the message says how to get it.

    Notes
    -----
    With ``standardize=True`` a regression dataset is in standardised units:

    .. math::

        \\tilde x_j = \\frac{x_j - \\bar x_j}{s_j}, \\qquad \\tilde y = \\frac{y - \\bar y}{s_y},

    where :math:`\\bar x_j, s_j, \\bar y, s_y` are the mean and the (population) standard deviation
    over the training split only, so no test information leaks into training. A mean squared error
    computed on these targets is in units of :math:`s_y^2`; multiply it by ``y_std ** 2`` (or use
    :meth:`Dataset.unstandardize_target` on predictions) to get original units.

    Examples
    --------
    >>> from relustep.datasets import load
    >>> mnist = load("mnist")
    >>> mnist.X_train.shape, float(mnist.X_train.max()) <= 1.0
    ((4000, 784), True)
    >>> concrete = load("concrete")
    >>> concrete.target_name
    'compressive_strength'
    """
    name = check_choice(name, "name", names())
    _check_bool(standardize, "standardize")
    _check_bool(binarize, "binarize")
    entry = DATASETS[name]
    if binarize and entry.image_shape is None:
        raise ValueError(f"binarize=True applies to image datasets only; {name!r} is a table")
    path = data_folder(data_home) / entry.file
    if not path.is_file():
        raise FileNotFoundError(
            f"data file {path} for dataset {name!r} is missing; restore it from the repository "
            "(git checkout -- data) or rebuild it with `python data/build.py`"
        )
    verify_checksum(path, entry.sha256)
    if entry.image_shape is not None:
        return _image_dataset(entry, path, binarize)
    return _table_dataset(entry, path, standardize)


def load_fashion_mnist_full(
    path: str | os.PathLike[str] = "/usr/share/datasets/fashion-mnist",
    *,
    binarize: bool = False,
) -> Dataset:
    """Load all 60,000 training and 10,000 test images of Fashion-MNIST from the Debian package.

    Parameters
    ----------
    path : str or path-like, default "/usr/share/datasets/fashion-mnist"
        Folder holding the four ``*-ubyte.gz`` files, where Debian's ``dataset-fashion-mnist``
        package puts them.
    binarize : bool, default False
        Pixels above 0.5 (after scaling to [0, 1]) become 1, the rest 0.

    Returns
    -------
    Dataset
        ``X_train`` of shape (60000, 784) and ``X_test`` of shape (10000, 784), float64 in [0, 1]
        (about 550 MB together); int64 labels 0 to 9.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message names the path and the package to install.
    ValueError
        If a file is not an IDX file of the expected shape or holds labels outside 0 to 9.

    Notes
    -----
    The files are not checksummed (a new Debian build may recompress them); their IDX headers,
    shapes and label range are checked instead. The official train/test split is kept.

    Examples
    --------
    >>> from relustep.datasets import load_fashion_mnist_full
    >>> full = load_fashion_mnist_full()  # doctest: +SKIP
    >>> full.X_train.shape  # doctest: +SKIP
    (60000, 784)
    """
    _check_bool(binarize, "binarize")
    folder = Path(path)
    arrays = {}
    for key, file_name in FASHION_MNIST_FILES.items():
        file_path = folder / file_name
        if not file_path.is_file():
            raise FileNotFoundError(
                f"Fashion-MNIST file {file_path} not found. The full set comes from the Debian "
                f"package {FASHION_MNIST_PACKAGE} (apt-get install {FASHION_MNIST_PACKAGE}), "
                "or pass path= the folder that holds its four *-ubyte.gz files"
            )
        arrays[key] = read_idx(file_path)
    expected_shapes = {
        "X_train": (60000, 28, 28),
        "y_train": (60000,),
        "X_test": (10000, 28, 28),
        "y_test": (10000,),
    }
    for key, shape in expected_shapes.items():
        if arrays[key].shape != shape:
            raise ValueError(
                f"{folder / FASHION_MNIST_FILES[key]} holds an array of shape {arrays[key].shape}, "
                f"expected {shape}"
            )
    for key in ("y_train", "y_test"):
        _check_labels(arrays[key], len(FASHION_NAMES), folder / FASHION_MNIST_FILES[key])
    return Dataset(
        name="fashion-mnist-full",
        task="classification",
        X_train=_scale_images(arrays["X_train"].reshape(60000, 784), 255, binarize),
        y_train=arrays["y_train"].astype(np.int64),
        X_test=_scale_images(arrays["X_test"].reshape(10000, 784), 255, binarize),
        y_test=arrays["y_test"].astype(np.int64),
        description="All of Fashion-MNIST: 70,000 Zalando article images, 28x28, 10 classes.",
        licence=f"MIT, (c) 2017 Zalando SE (/usr/share/doc/{FASHION_MNIST_PACKAGE}/copyright)",
        citation=DATASETS["fashion-mnist"].citation,
        source=f"{folder}, Debian package {FASHION_MNIST_PACKAGE}",
        feature_names=_pixel_names((28, 28)),
        target_name="article",
        image_shape=(28, 28),
        class_names=FASHION_NAMES,
    )


def data_folder(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder of the shipped data files, or raise saying how to provide it."""
    if data_home is not None:
        folder, origin = Path(data_home), "data_home"
    elif os.environ.get(ENVIRONMENT_VARIABLE):
        folder, origin = Path(os.environ[ENVIRONMENT_VARIABLE]), ENVIRONMENT_VARIABLE
    elif INSTALLED_DATA.is_dir():
        folder, origin = INSTALLED_DATA, "the installed package"
    else:
        folder, origin = CHECKOUT_DATA, "the source checkout"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"relustep data folder {folder} (from {origin}) does not exist. The data files ship "
            "in the data/ folder of relustep's source repository, which a build copies into the "
            "package: install relustep with pip (pip install . or a wheel, or pip install -e . "
            f"in a checkout), or set the environment variable {ENVIRONMENT_VARIABLE} to a copy "
            "of that data/ folder, or pass data_home=."
        )
    return folder


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: Path, expected: str) -> None:
    """Raise ``ValueError`` naming the file and both checksums unless they agree."""
    found = file_sha256(path)
    if found != expected:
        raise ValueError(
            f"checksum mismatch for {path}: expected sha256 {expected}, found {found}. The file "
            "is damaged or was changed; restore it from the repository or rebuild it with "
            "`python data/build.py`"
        )


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (the MNIST format) into a uint8 array.

    The header is two zero bytes, the type code 0x08 (unsigned byte), the number of dimensions,
    then each dimension as a big-endian 32-bit integer; the values follow in C order.
    """
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (header {raw[:4].hex()})")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    values = np.frombuffer(raw, dtype=np.uint8, offset=header_size)
    if values.size != math.prod(shape):
        raise ValueError(
            f"{path}: header announces shape {shape} ({math.prod(shape)} values), "
            f"found {values.size} values"
        )
    return values.reshape(shape)


def _image_dataset(entry: Entry, path: Path, binarize: bool) -> Dataset:
    arrays = {}
    with np.load(path, allow_pickle=False) as archive:
        if sorted(archive.files) != sorted(IMAGE_KEYS):
            raise ValueError(f"{path} holds arrays {archive.files}, expected {list(IMAGE_KEYS)}")
        for key in IMAGE_KEYS:
            arrays[key] = archive[key]
    for split, n_rows in (("train", entry.n_train), ("test", entry.n_test)):
        images, labels = arrays[f"X_{split}"], arrays[f"y_{split}"]
        _check_array(images, f"X_{split}", np.uint8, (n_rows, entry.n_features), path)
        _check_array(labels, f"y_{split}", np.uint8, (n_rows,), path)
        if images.max() > entry.pixel_max:
            raise ValueError(f"{path}: X_{split} has a pixel above {entry.pixel_max}")
        _check_labels(labels, entry.n_classes, path)
    return Dataset(
        X_train=_scale_images(arrays["X_train"], entry.pixel_max, binarize),
        y_train=arrays["y_train"].astype(np.int64),
        X_test=_scale_images(arrays["X_test"], entry.pixel_max, binarize),
        y_test=arrays["y_test"].astype(np.int64),
        feature_names=_pixel_names(entry.image_shape),
        image_shape=entry.image_shape,
        class_names=entry.class_names,
        **_facts(entry, path),
    )


def _table_dataset(entry: Entry, path: Path, standardize: bool) -> Dataset:
    with open(path, encoding="utf-8") as stream:
        header = tuple(stream.readline().rstrip("\n").split(","))
    expected_header = (*entry.feature_names, entry.target_name, "is_test")
    if header != expected_header:
        raise ValueError(f"{path} has columns {header}, expected {expected_header}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    n_rows = entry.n_train + entry.n_test
    _check_array(table, "table", np.float64, (n_rows, len(expected_header)), path)
    if not np.all(np.isfinite(table)):
        raise ValueError(f"{path} holds missing or infinite values")
    is_test = table[:, -1]
    if not np.all((is_test == 0) | (is_test == 1)):
        raise ValueError(f"{path}: column is_test must hold only 0 and 1")
    if int(is_test.sum()) != entry.n_test:
        raise ValueError(f"{path} marks {int(is_test.sum())} test rows, expected {entry.n_test}")
    test_rows = is_test == 1
    X_train = np.ascontiguousarray(table[~test_rows, :-2])
    y_train = np.ascontiguousarray(table[~test_rows, -2])
    X_test = np.ascontiguousarray(table[test_rows, :-2])
    y_test = np.ascontiguousarray(table[test_rows, -2])
    statistics = {}
    if standardize:
        X_mean, X_std = X_train.mean(axis=0), X_train.std(axis=0)
        y_mean, y_std = y_train.mean(), y_train.std()
        X_train, X_test = (X_train - X_mean) / X_std, (X_test - X_mean) / X_std
        y_train, y_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std
        statistics = {
            "X_mean": X_mean,
            "X_std": X_std,
            "y_mean": np.asarray(y_mean),
            "y_std": np.asarray(y_std),
        }
    return Dataset(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=entry.feature_names,
        **statistics,
        **_facts(entry, path),
    )


def _facts(entry: Entry, path: Path) -> dict[str, str]:
    return {
        "name": entry.name,
        "task": entry.task,
        "description": f"{entry.description} Changes: {entry.changes}",
        "licence": f"{entry.licence} ({path.parent / entry.licence_file})",
        "citation": entry.citation,
        "source": entry.source,
        "target_name": entry.target_name,
    }


def _scale_images(images: np.ndarray, pixel_max: int, binarize: bool) -> np.ndarray:
    scaled = np.ascontiguousarray(images, dtype=np.float64) / pixel_max
    if binarize:
        return (scaled > 0.5).astype(np.float64)
    return scaled


def _pixel_names(image_shape: tuple[int, int]) -> tuple[str, ...]:
    height, width = image_shape
    return tuple(f"pixel_{row}_{col}" for row in range(height) for col in range(width))


def _check_array(array: np.ndarray, key: str, dtype, shape: tuple[int, ...], path: Path) -> None:
    if array.dtype != dtype:
        raise ValueError(f"{path}: {key} has dtype {array.dtype}, expected {np.dtype(dtype)}")
    if array.shape != shape:
        raise ValueError(f"{path}: {key} has shape {array.shape}, expected {shape}")


def _check_labels(labels: np.ndarray, n_classes: int, path: Path) -> None:
    if labels.size and int(labels.max()) >= n_classes:
        raise ValueError(f"{path}: labels must lie in 0 to {n_classes - 1}, found {labels.max()}")


def _check_bool(value, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} ({value!r})")
