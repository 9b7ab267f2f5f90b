"""Where a dataset comes from: [`load_dataset`][keras_angular.data.load_dataset] and its sources
(tensorflow-datasets, scikit-learn's digits, a folder of class sub-folders, an ``.npz`` archive)."""

from __future__ import annotations

import os

import numpy as np

from keras_angular.data.folders import load_image_folder
from keras_angular.data.npz import load_npz
from keras_angular.data.preprocessing import STANDARDIZATIONS, standardize_splits, to_unit_float
from keras_angular.data.splits import CHUNK, DatasetSplits, RawSplits
from keras_angular.data.subsampling import split_indices

__all__ = ["DatasetUnavailableError", "TFDS_DATASETS", "load_dataset"]

TFDS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn_cropped")
"""The TensorFlow Datasets names ``load_dataset`` accepts."""


class DatasetUnavailableError(ValueError):
    """A TFDS dataset is not on disk and cannot be downloaded.

    Examples:
        >>> import tempfile
        >>> try:
        ...     load_dataset("mnist", data_dir=tempfile.mkdtemp(), download=False)
        ... except DatasetUnavailableError as error:
        ...     print(type(error).__name__, isinstance(error, ValueError))
        DatasetUnavailableError True
    """


def load_dataset(
    name,
    data_dir=None,
    *,
    test_fraction=0.2,
    seed=0,
    coarse_labels=False,
    standardize="channel",
    download=None,
    image_size=None,
    color_mode=None,
    verbose=True,
):
    """Load a dataset as preprocessed [`DatasetSplits`][keras_angular.data.DatasetSplits].

    Args:
        name: a TFDS name in ``TFDS_DATASETS``, ``"digits"``, a folder of class
            sub-folders, or an ``.npz`` path (see [`keras_angular.data`][]).
        data_dir: TFDS data directory (``None``: TFDS's default, ``~/tensorflow_datasets``
            or ``$TFDS_DATA_DIR``). Ignored by the other sources.
        test_fraction: test share for sources without a test split ("digits", a folder,
            an ``.npz`` with ``x, y``); the split is seeded, and stratified where every
            class has two or more images (not for folders, which Keras splits).
        seed: seed of that split.
        coarse_labels: CIFAR-100 only: the 20 superclasses instead of the 100 classes.
        standardize: ``"channel"`` (default), ``"image"`` or ``None``.
        download: TFDS only. ``None`` (default) or ``True``: let tensorflow-datasets
            download a dataset that is not in ``data_dir`` (offline, it retries with
            backoff for a few minutes before it gives up); ``False``: never download.
        image_size: folders only: ``(H, W)`` to resize to (default: the first image's).
        color_mode: folders only: "grayscale", "rgb" or "rgba" (default: from the first
            image).
        verbose: folders only: print one line (images, classes, size) and Keras' progress
            bar while the images are decoded (in parallel, through ``tf.data``).

    Returns:
        [`DatasetSplits`][keras_angular.data.DatasetSplits].

    Raises:
        DatasetUnavailableError: a TFDS dataset is not on disk and cannot be downloaded.
        ValueError: unknown name or bad argument; a folder without class sub-folders, a
            class folder without images, an image that cannot be decoded (named).
            FileNotFoundError: a missing path.

    Examples:
        >>> digits = load_dataset("digits", seed=0)   # 1,797 8x8 images, 20 % for the test
        >>> digits.x_train.shape, digits.x_test.shape, digits.num_classes
        ((1437, 8, 8, 1), (360, 8, 8, 1), 10)
    """
    if standardize in (False, "none"):
        standardize = None
    if standardize not in STANDARDIZATIONS:
        raise ValueError(f"`standardize` must be one of {STANDARDIZATIONS}, got {standardize!r}.")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction}.")
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a string or a path, got {type(name).__name__}.")
    if coarse_labels and name != "cifar100":
        raise ValueError("`coarse_labels=True` only applies to 'cifar100'.")

    folder = os.path.isdir(name)
    if folder:
        raw = load_image_folder(name, test_fraction, seed, image_size, color_mode, verbose)
    elif name.lower().endswith(".npz"):
        if not os.path.isfile(name):
            raise FileNotFoundError(f"No such .npz file: {name!r}.")
        raw = load_npz(name, test_fraction, seed)
    elif name == "digits":
        raw = _load_digits(test_fraction, seed)
    elif name in TFDS_DATASETS:
        raw = _load_tfds(name, data_dir, coarse_labels, download)
    else:
        raise ValueError(
            f"Unknown dataset {name!r}: use one of {', '.join(TFDS_DATASETS)}, "
            "'digits', a folder of class sub-folders, or an existing .npz file."
        )

    # Check the [0, 1] images before standardizing: one NaN would spread through the
    # channel statistics to every image. DatasetSplits checks in place (float32, no copy).
    # A folder's images are new float32 arrays in [0, 1] already: no second copy.
    x_train, x_test = raw.x_train, raw.x_test
    if not folder:
        x_train, x_test = to_unit_float(x_train, name), to_unit_float(x_test, name)
    splits = DatasetSplits(
        x_train,
        raw.y_train,
        x_test,
        raw.y_test,
        len(raw.class_names),
        raw.class_names,
        raw.name,
        source=name,
    )
    standardize_splits(splits, standardize)
    return splits


def _load_tfds(name, data_dir, coarse_labels, download):
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ImportError(
            f"load_dataset({name!r}) needs tensorflow-datasets: pip install tensorflow-datasets"
        ) from e

    where = (
        repr(data_dir)
        if data_dir is not None
        else "the TFDS default (~/tensorflow_datasets or $TFDS_DATA_DIR)"
    )

    def unavailable(reason):
        return DatasetUnavailableError(
            f"Dataset {name!r} is not in data_dir {where} and could not be downloaded "
            f"({reason}); download it once where the internet is reachable and pass that "
            "data_dir, or use load_dataset('digits'), which works offline."
        )

    kwargs = dict(split=["train", "test"], data_dir=data_dir, with_info=True)
    try:
        (train, test), info = tfds.load(name, download=False, **kwargs)
    except (AssertionError, tfds.core.DatasetNotFoundError) as missing:
        # tfds signals "not prepared in data_dir" with an AssertionError.
        if download is False:
            raise unavailable("download=False") from missing
        try:
            (train, test), info = tfds.load(name, download=True, **kwargs)
        except Exception as e:
            detail = (str(e).strip().splitlines() or [""])[0]
            detail = detail if len(detail) <= 120 else detail[:117] + "..."
            raise unavailable(f"download failed: {type(e).__name__}: {detail}") from e

    label_key = "coarse_label" if coarse_labels else "label"
    class_names = list(info.features[label_key].names)
    x_train, y_train = _tfds_to_numpy(train, label_key)
    x_test, y_test = _tfds_to_numpy(test, label_key)
    ds_name = f"{name}_coarse" if coarse_labels else name
    return RawSplits(x_train, y_train, x_test, y_test, class_names, ds_name)


def _tfds_to_numpy(ds, label_key):
    xs, ys = [], []
    pairs = ds.map(lambda ex: (ex["image"], ex[label_key])).batch(CHUNK)
    for x, y in pairs.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _load_digits(test_fraction, seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # pixel values are 0..16
    y = digits.target.astype(np.int32)
    train, test = split_indices(y, seed, test_size=test_fraction)
    names = [str(c) for c in digits.target_names]
    return RawSplits(x[train], y[train], x[test], y[test], names, "digits")
