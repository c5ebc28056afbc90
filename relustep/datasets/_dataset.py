"""The one container every loader and generator returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split with the facts a reader needs to use and cite it.

    Attributes
    ----------
    name : str
        Short name, as given to :func:`relustep.datasets.load`.
    task : {"classification", "regression"}
    X_train, X_test : ndarray of shape (n_train, n_features) and (n_test, n_features)
        Features, float64 and C-contiguous. Images are scaled to [0, 1].
    y_train, y_test : ndarray
        Labels (int64, 0 to ``n_classes - 1``) for classification; float64 targets for
        regression, of shape (n,) or, for a teacher network with several outputs, (n, n_outputs).
    description, licence, citation, source : str
        What the data are, under which terms they are shared (with the path of the licence text),
        what to cite, and where the file came from.
    feature_names : tuple of str
    target_name : str
    image_shape : tuple of int or None
        ``(height, width)`` of each image for image datasets, else None.
    class_names : tuple of str or None
        Name of each label for classification, else None.
    X_mean, X_std, y_mean, y_std : ndarray or None
        The training statistics used to standardise a regression dataset, or None when the values
        are raw. With them, ``X_raw = X * X_std + X_mean``; see :meth:`unstandardize_target`.
    teacher : dict of str to ndarray or None
        For a synthetic teacher network, the true weights that produced ``y``.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str
    licence: str
    citation: str
    source: str
    feature_names: tuple[str, ...]
    target_name: str
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, ...] | None = None
    X_mean: np.ndarray | None = None
    X_std: np.ndarray | None = None
    y_mean: np.ndarray | None = None
    y_std: np.ndarray | None = None
    teacher: dict[str, np.ndarray] | None = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    @property
    def standardized(self) -> bool:
        return self.y_std is not None

    def unstandardize_target(self, y: np.ndarray) -> np.ndarray:
        """Return targets (or predictions) in the original units, ``y * y_std + y_mean``.

        Parameters
        ----------
        y : array_like
            Targets or predictions in the units of ``y_train``.

        Returns
        -------
        ndarray
            ``y`` unchanged (as float64) when the dataset is not standardised.

        Examples
        --------
        >>> from relustep.datasets import load
        >>> data = load("concrete")
        >>> strength_mpa = data.unstandardize_target(data.y_test)
        """
        y = np.asarray(y, dtype=np.float64)
        if self.y_std is None:
            return y
        return y * self.y_std + self.y_mean

    def __repr__(self) -> str:
        def shape(array: np.ndarray) -> str:
            return f"{array.shape} {array.dtype}"

        lines = [
            f"Dataset({self.name!r}, task={self.task!r},",
            f"  X_train={shape(self.X_train)}, y_train={shape(self.y_train)},",
            f"  X_test={shape(self.X_test)}, y_test={shape(self.y_test)},",
        ]
        if self.image_shape is not None:
            lines.append(f"  image_shape={self.image_shape},")
        if self.class_names is not None:
            lines.append(f"  n_classes={self.n_classes},")
        if self.task == "regression":
            lines.append(f"  target_name={self.target_name!r}, standardized={self.standardized},")
        lines.append(f"  licence={self.licence!r})")
        return "\n".join(lines)
