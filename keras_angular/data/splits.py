"""The arrays a dataset loads into: [`DatasetSplits`][keras_angular.data.DatasetSplits], and the
checks its construction runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = ["CHUNK", "DatasetSplits", "RawSplits", "check_finite_images"]

CHUNK = 4096
"""Images per chunk wherever whole splits are scanned or changed in place, so that a
temporary holds one chunk, never a second copy of the images."""


@dataclass(repr=False)
class DatasetSplits:
    """Train / test arrays of one dataset, preprocessed.

    Attributes:
        x_train, x_test: float32 images, ``(N, H, W, C)``.
        y_train, y_test: int32 labels in ``[0, num_classes)``, ``(N,)``.
        num_classes: number of classes.
        class_names: one name per class.
        name: dataset name.
        mean, std: per-channel training statistics of the [0, 1] images used by
            ``standardize="channel"`` (``None`` otherwise); ``(x01 - mean) / std`` maps new
            [0, 1] images the same way.
        standardize: the preprocessing applied (``"channel"``, ``"image"`` or ``None``).
        source: where the arrays came from (the path or name given to
            [`load_dataset`][keras_angular.data.load_dataset]); error messages name it (default:
            ``name``).

    Construction checks the arrays and raises ``ValueError`` with one sentence that
    names the source, what is wrong and where: shapes and label ranges, an empty split,
    a training split with fewer than two classes, and the first image holding NaN or
    +-Inf (scanned ``4096`` images at a time, with no full-size temporary).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.random((6, 4, 4, 1), dtype=np.float32), np.array([0, 1, 2] * 2)
        >>> splits = DatasetSplits(x, y, x[:3], y[:3], 3, ["a", "b", "c"], "toy")
        >>> splits.input_shape, splits.y_train.dtype.name
        ((4, 4, 1), 'int32')
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: list[str]
    name: str
    mean: np.ndarray | None = field(default=None)
    std: np.ndarray | None = field(default=None)
    standardize: str | None = field(default=None)
    source: str | None = field(default=None)

    def __post_init__(self):
        where = self.source if self.source is not None else f"dataset {self.name!r}"
        self.x_train = np.asarray(self.x_train, dtype=np.float32)
        self.x_test = np.asarray(self.x_test, dtype=np.float32)
        self.y_train = np.asarray(self.y_train, dtype=np.int32).reshape(-1)
        self.y_test = np.asarray(self.y_test, dtype=np.int32).reshape(-1)
        self.num_classes = int(self.num_classes)
        self.class_names = [str(c) for c in self.class_names]
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 4:
                raise ValueError(f"{where}: x_{split} must be (N, H, W, C), got shape {x.shape}.")
            if len(x) != len(y):
                raise ValueError(
                    f"{where}: x_{split} has {len(x)} images but y_{split} {len(y)} labels."
                )
            if not len(y):
                raise ValueError(f"{where}: the {split} split (x_{split}) holds no images.")
            if y.min() < 0 or y.max() >= self.num_classes:
                raise ValueError(f"{where}: y_{split} has labels outside [0, {self.num_classes}).")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"{where}: train images {self.x_train.shape[1:]} and test images "
                f"{self.x_test.shape[1:]} differ in shape."
            )
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{where}: {len(self.class_names)} class names for {self.num_classes} classes."
            )
        present = np.unique(self.y_train)
        if len(present) < 2:
            raise ValueError(
                f"{where}: y_train (the training split) holds one class only "
                f"({self.class_names[present[0]]!r}, {len(self.y_train)} images), and a "
                "classifier needs two or more to train."
            )
        for split in ("train", "test"):
            check_finite_images(getattr(self, f"x_{split}"), f"x_{split}", where)

    @property
    def input_shape(self):
        """``(H, W, C)`` of one image."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    def __repr__(self):
        return (
            f"DatasetSplits(name={self.name!r}, train={len(self.x_train)}, "
            f"test={len(self.x_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, standardize={self.standardize!r})"
        )


class RawSplits(NamedTuple):
    """What each source's loader returns to [`load_dataset`][keras_angular.data.load_dataset],
    before scaling, checks and standardization: images as the source holds them (integers,
    or floats already in [0, 1]), labels in ``[0, len(class_names))``, and the dataset's
    name.

    Examples:
        >>> raw = RawSplits(np.zeros((2, 4, 4)), [0, 1], np.zeros((1, 4, 4)), [1], ["a", "b"], "t")
        >>> raw.name, raw.class_names
        ('t', ['a', 'b'])
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    name: str


def check_finite_images(x, key, where):
    """Raise ``ValueError`` naming the first image of ``x`` that holds NaN or +-Inf.

    Scans ``CHUNK`` images at a time, so the temporary is one chunk's booleans, never
    a second copy of the images. Integer and boolean images are finite by construction.
    ``key`` names the array and ``where`` its source in the message.

    Examples:
        >>> x = np.zeros((3, 2, 2, 1), np.float32)
        >>> x[1, 0, 0, 0] = np.nan
        >>> check_finite_images(x, "x_train", "toy.npz")
        Traceback (most recent call last):
        ...
        ValueError: toy.npz: x_train[1] holds NaN (not finite: 1 of 3 images in x_train), and ...
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.inexact):
        return
    first, bad_images = None, 0
    for start in range(0, len(x), CHUNK):
        chunk = x[start : start + CHUNK]
        finite = np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1)
        bad = np.flatnonzero(~finite)
        if len(bad) and first is None:
            first = start + int(bad[0])
        bad_images += len(bad)
    if first is None:
        return
    image = x[first]
    what = "NaN" if np.isnan(image).any() else "+Inf" if np.isposinf(image).any() else "-Inf"
    raise ValueError(
        f"{where}: {key}[{first}] holds {what} (not finite: {bad_images} of {len(x)} images "
        f"in {key}), and images must be finite numbers."
    )
