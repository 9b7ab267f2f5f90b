"""Datasets and input pipelines: TFDS loaders, an offline default, and the papers' preprocessing.

``load_dataset(name)`` returns a :class:`DatasetSplits` of float32 NHWC images and int32
labels from:

- a TensorFlow Datasets name: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``
  (fine labels; ``coarse_labels=True`` gives the 20 superclasses AMC-Loss Sec. 4.2
  evaluates) or ``svhn_cropped`` (the 73,257 / 26,032 train / test images, without
  "extra", as AMC-Loss and HASeparator use). Loaded with ``tfds.load``; a dataset that
  is neither on disk nor downloadable raises :class:`DatasetUnavailableError`;
- ``"digits"``: scikit-learn's bundled 1,797 real 8x8 handwritten digits (offline default);
- a folder with one sub-folder of images per class;
- an ``.npz`` file with ``x_train, y_train, x_test, y_test`` or with ``x, y``.

Preprocessing (``standardize``):

- ``"channel"`` (default): scale to [0, 1], then z-score each channel with the mean and
  std of the *training* images, applied to both splits (Angular loss Sec. 4.1: "a
  z-score normalization"; the statistics are kept on the splits as ``mean`` / ``std``);
- ``"image"``: scale to [0, 1], then each image to zero mean and unit variance
  (HASeparator Sec. IV-A: "each image is linearly scaled to display a mean value of 0
  and a variance of 1"; its code uses ``tf.image.per_image_standardization``);
- ``None``: scale to [0, 1] only (the AMC-Loss authors' code divides by 256 and does not
  whiten).

``train_dataset`` / ``test_dataset`` build seeded ``tf.data`` pipelines; augmentation
``"cifar"`` is the CIFAR10+ recipe (pad 4, random crop, random horizontal flip; Angular
loss Sec. 4.1 after Lee et al.), ``"translate"`` the AMC-Loss code's random translation
by up to 2 pixels (reflect padding, no flip).
"""

from __future__ import annotations

import os
import socket
import threading
import zipfile
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = [
    "AUGMENTATIONS",
    "DatasetSplits",
    "DatasetUnavailableError",
    "STANDARDIZATIONS",
    "TFDS_DATASETS",
    "augment_batch",
    "load_dataset",
    "subsample",
    "test_dataset",
    "train_dataset",
]

TFDS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn_cropped")
"""The TensorFlow Datasets names ``load_dataset`` accepts."""

STANDARDIZATIONS = ("channel", "image", None)
AUGMENTATIONS = ("cifar", "translate", None)

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_CHUNK = 4096  # images per chunk for the statistics and in-place standardization


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
            :func:`load_dataset`); error messages name it (default: ``name``).

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
            _check_finite_images(getattr(self, f"x_{split}"), f"x_{split}", where)

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


# --------------------------------------------------------------------------- loading


class RawSplits(NamedTuple):
    """What each source's loader returns to :func:`load_dataset`, before scaling,
    checks and standardization: images as the source holds them (integers, or floats
    already in [0, 1]), labels in ``[0, len(class_names))``, and the dataset's name."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    name: str


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
):
    """Load a dataset as preprocessed :class:`DatasetSplits`.

    Args:
        name: a TFDS name in ``TFDS_DATASETS``, ``"digits"``, a folder of class
            sub-folders, or an ``.npz`` path (see the module docstring).
        data_dir: TFDS data directory (``None``: TFDS's default, ``~/tensorflow_datasets``
            or ``$TFDS_DATA_DIR``). Ignored by the other sources.
        test_fraction: test share for sources without a test split ("digits", a folder,
            an ``.npz`` with ``x, y``); the split is seeded, and stratified where every
            class has two or more images (not for folders, which Keras splits).
        seed: seed of that split.
        coarse_labels: CIFAR-100 only: the 20 superclasses instead of the 100 classes.
        standardize: ``"channel"`` (default), ``"image"`` or ``None``.
        download: TFDS only. ``None`` (default): download a dataset that is not on disk
            if a 3-second probe of the network answers (fails at once offline);
            ``True``: always try (offline, tfds retries with backoff for minutes before
            the error); ``False``: never.
        image_size: folders only: ``(H, W)`` to resize to (default: the first image's).
        color_mode: folders only: "grayscale", "rgb" or "rgba" (default: from the first
            image).

    Returns:
        :class:`DatasetSplits`.

    Raises:
        DatasetUnavailableError: a TFDS dataset is not on disk and cannot be downloaded.
        ValueError: unknown name or bad argument. FileNotFoundError: a missing path.

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

    if os.path.isdir(name):
        raw = _load_folder(name, test_fraction, seed, image_size, color_mode)
    elif name.lower().endswith(".npz"):
        if not os.path.isfile(name):
            raise FileNotFoundError(f"No such .npz file: {name!r}.")
        raw = _load_npz(name, test_fraction, seed)
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
    splits = DatasetSplits(
        _to_unit_float(raw.x_train, name),
        raw.y_train,
        _to_unit_float(raw.x_test, name),
        raw.y_test,
        len(raw.class_names),
        raw.class_names,
        raw.name,
        source=name,
    )
    if standardize == "channel":
        splits.mean, splits.std = _channel_stats(splits.x_train)
        for x in (splits.x_train, splits.x_test):
            _apply_channel_standardization(x, splits.mean, splits.std)
    elif standardize == "image":
        for x in (splits.x_train, splits.x_test):
            _apply_image_standardization(x)
    splits.standardize = standardize
    return splits


def _check_finite_images(x, key, where):
    """Raise ``ValueError`` naming the first image of ``x`` that holds NaN or +-Inf.

    Scans ``_CHUNK`` images at a time, so the temporary is one chunk's booleans, never a
    second copy of the images. Integer and boolean images are finite by construction.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.inexact):
        return
    first, bad_images = None, 0
    for start in range(0, len(x), _CHUNK):
        chunk = x[start : start + _CHUNK]
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
        if download is None and not _network_available():
            raise unavailable("no network connection") from missing
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
    pairs = ds.map(lambda ex: (ex["image"], ex[label_key])).batch(_CHUNK)
    for x, y in pairs.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _network_available(host="storage.googleapis.com", port=443, timeout=3.0):
    """Whether a TCP connection to ``host`` opens within ``timeout`` seconds.

    Run in a daemon thread so that a hanging DNS lookup cannot block the caller. With an
    HTTP(S) proxy configured we cannot tell, and answer True (let tfds try).
    """
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")):
        return True
    result = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(result and result[0])


def _load_digits(test_fraction, seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # pixel values are 0..16
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = _split(x, y, test_fraction, seed)
    names = [str(c) for c in digits.target_names]
    return RawSplits(x_train, y_train, x_test, y_test, names, "digits")


def _read_npz(path):
    """The arrays of the ``.npz`` archive ``path`` that :func:`_load_npz` uses, as a dict;
    ``ValueError`` naming ``path`` when it is not an archive of numeric / string arrays."""
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        detail = "neither a zip of .npy arrays nor one array" if isinstance(e, ValueError) else e
        raise ValueError(f"{path}: not a readable .npz archive ({detail}).") from None
    if not isinstance(f, np.lib.npyio.NpzFile):  # a .npy file renamed: one bare array
        raise ValueError(f"{path}: holds one array, not an .npz archive of named arrays.")
    with f:
        keys = set(f.files)
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            wanted = ["x_train", "y_train", "x_test", "y_test"]
        elif {"x", "y"} <= keys:
            wanted = ["x", "y"]
        else:
            raise ValueError(
                f"{path!r} must hold x_train, y_train, x_test, y_test or x, y; "
                f"it holds {sorted(keys)}."
            )
        wanted += [k for k in ("class_names", "classes") if k in keys][:1]
        arrays = {}
        for key in wanted:
            try:
                arrays[key] = f[key]
            except ValueError as e:  # object arrays need pickle, which is never allowed
                raise ValueError(f"{path}: array {key!r} cannot be read ({e}).") from None
    return arrays


def _load_npz(path, test_fraction, seed):
    f = _read_npz(path)
    image_keys, label_keys = (
        (("x",), ("y",)) if "x" in f else (("x_train", "x_test"), ("y_train", "y_test"))
    )
    for x_key, y_key in zip(image_keys, label_keys, strict=True):
        x, y = f[x_key], f[y_key].reshape(-1)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise ValueError(f"{path}: {x_key} has dtype {x.dtype}, and images must be numbers.")
        _with_channel(x, f"{path}: {x_key}")
        if len(x) != len(y):
            raise ValueError(f"{path}: {x_key} has {len(x)} images but {y_key} {len(y)} labels.")
        if np.issubdtype(y.dtype, np.inexact) and not np.isfinite(y).all():
            first = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(
                f"{path}: {y_key}[{first}] is {y[first]}, and labels must be integers, "
                "finite numbers or strings."
            )
    if "x" in f:
        # Messages must give the file's own indices: check x before the split shuffles it.
        _check_finite_images(f["x"], "x", path)
        x_train, x_test, y_train, y_test = _split(f["x"], f["y"].reshape(-1), test_fraction, seed)
    else:
        x_train, y_train, x_test, y_test = (
            f[k] for k in ("x_train", "y_train", "x_test", "y_test")
        )
    names_key = next((k for k in ("class_names", "classes") if k in f), None)
    names = [str(c) for c in f[names_key]] if names_key else None
    y_train, y_test, class_names = _encode_labels(
        np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1), names
    )
    name = os.path.splitext(os.path.basename(path))[0]
    return RawSplits(
        _with_channel(x_train), y_train, _with_channel(x_test), y_test, class_names, name
    )


def _load_folder(path, test_fraction, seed, image_size, color_mode):
    import keras

    if image_size is None or color_mode is None:
        from PIL import Image  # Keras' own image loader needs Pillow too

        with Image.open(_first_image(path)) as img:
            size, mode = (img.height, img.width), img.mode
        image_size = image_size or size
        if color_mode is None:
            color_mode = (
                "grayscale"
                if mode in ("1", "L", "LA", "I", "I;16", "F")
                else "rgba"
                if mode == "RGBA"
                else "rgb"
            )
    train, test = keras.utils.image_dataset_from_directory(
        path,
        labels="inferred",
        label_mode="int",
        color_mode=color_mode,
        batch_size=256,
        image_size=tuple(image_size),
        shuffle=True,
        seed=seed,
        validation_split=test_fraction,
        subset="both",
        verbose=False,
    )
    class_names = list(train.class_names)

    def to_numpy(ds):
        xs, ys = zip(*((x, y) for x, y in ds.as_numpy_iterator()), strict=True)
        return np.concatenate(xs) / np.float32(255.0), np.concatenate(ys)

    x_train, y_train = to_numpy(train)
    x_test, y_test = to_numpy(test)
    name = os.path.basename(os.path.normpath(path))
    return RawSplits(x_train, y_train, x_test, y_test, class_names, name)


def _first_image(path):
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for f in sorted(files):
            if f.lower().endswith(_IMAGE_EXTENSIONS):
                return os.path.join(root, f)
    raise ValueError(f"No images ({', '.join(_IMAGE_EXTENSIONS)}) under {path!r}.")


def _split(x, y, test_fraction, seed):
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    try:
        return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=stratify)
    except ValueError:  # e.g. fewer test slots than classes: fall back to a plain split
        return train_test_split(x, y, test_size=test_fraction, random_state=seed)


def _encode_labels(y_train, y_test, names):
    """Labels as int32 in [0, K); non-integer or negative labels are re-indexed."""
    both = np.concatenate([y_train, y_test])
    if (
        np.issubdtype(both.dtype, np.floating)
        and both.size
        and np.array_equal(both, np.round(both))
    ):
        y_train, y_test, both = (a.astype(np.int64) for a in (y_train, y_test, both))
    if np.issubdtype(both.dtype, np.integer) and both.size and both.min() >= 0:
        k = int(both.max()) + 1
        if names is not None and len(names) >= k:
            return y_train, y_test, list(names)
        return y_train, y_test, [str(i) for i in range(k)]
    values, inverse = np.unique(both, return_inverse=True)
    inverse = inverse.reshape(-1)
    return (inverse[: len(y_train)], inverse[len(y_train) :], [str(v) for v in values])


def _with_channel(x, what="images"):
    x = np.asarray(x)
    if x.ndim == 3:
        return x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{what} must be (N, H, W) or (N, H, W, C), got shape {x.shape}.")
    return x


def _to_unit_float(x, source=None):
    """float32 copy in [0, 1]: integer images are divided by 255 (or by their maximum if
    that exceeds 255, e.g. 16-bit), boolean ones become 0 / 1, float images are kept as
    they are (assumed to be in [0, 1] already)."""
    x = _with_channel(x, f"{source}: images" if source is not None else "images")
    if x.dtype == bool:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        top = float(x.max()) if x.size else 255.0
        scale = 255.0 if top <= 255 else top
        out = x.astype(np.float32)
        out /= np.float32(scale)
        return out
    return np.array(x, dtype=np.float32, copy=True)


def _channel_stats(x):
    """Per-channel mean and std of ``x`` (N, H, W, C), accumulated in float64 by chunks."""
    c = x.shape[-1]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    for i in range(0, len(x), _CHUNK):
        chunk = x[i : i + _CHUNK].reshape(-1, c).astype(np.float64)
        total += chunk.sum(axis=0)
        total_sq += np.square(chunk).sum(axis=0)
    count = max(x.size // c, 1)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    std = np.where(std < 1e-8, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def _apply_channel_standardization(x, mean, std):
    for i in range(0, len(x), _CHUNK):
        chunk = x[i : i + _CHUNK]
        chunk -= mean
        chunk /= std


def _apply_image_standardization(x):
    """In place, as ``tf.image.per_image_standardization``: std floored at 1/sqrt(pixels)."""
    n_pixels = np.prod(x.shape[1:])
    floor = 1.0 / np.sqrt(n_pixels)
    for i in range(0, len(x), _CHUNK):
        chunk = x[i : i + _CHUNK]
        mean = chunk.mean(axis=(1, 2, 3), keepdims=True, dtype=np.float64)
        std = chunk.std(axis=(1, 2, 3), keepdims=True, dtype=np.float64)
        chunk -= mean.astype(np.float32)
        chunk /= np.maximum(std, floor).astype(np.float32)


# --------------------------------------------------------------------------- pipelines


def augment_batch(images, seed, kind, pad_value=0.0):
    """Augment a batch ``(B, H, W, C)`` with stateless randomness from ``seed`` (shape [2]).

    ``kind="cifar"``: pad 4 pixels with ``pad_value`` (per channel, broadcastable to C),
    random HxW crop, random horizontal flip with probability 0.5 (He et al. 2016 Sec.
    4.2; Angular loss Sec. 4.1). ``kind="translate"``: reflect-pad 2 pixels and random
    HxW crop, i.e. a random translation by -2..2 pixels per axis (the AMC-Loss code,
    ``augment_translation=2``, no mirroring). Same seed, same output.

    Examples:
        >>> images = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
        >>> out = augment_batch(images, [1, 2], "cifar")
        >>> tuple(out.shape), bool(np.all(augment_batch(images, [1, 2], "cifar") == out))
        ((2, 8, 8, 3), True)
    """
    import tensorflow as tf

    if kind == "cifar":
        pad, mode, flip = 4, "CONSTANT", True
    elif kind == "translate":
        pad, mode, flip = 2, "REFLECT", False
    else:
        raise ValueError(f"Unknown augmentation {kind!r}; use one of {AUGMENTATIONS}.")
    images = tf.convert_to_tensor(images)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    if mode == "CONSTANT":
        fill = tf.cast(pad_value, images.dtype)
        padded = tf.pad(images - fill, paddings) + fill
    else:
        padded = tf.pad(images, paddings, mode=mode)
    offsets = tf.random.stateless_uniform(
        [b, 2], crop_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
    )
    rows = offsets[:, :1] + tf.range(h)[None, :]
    cols = offsets[:, 1:] + tf.range(w)[None, :]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, cols, axis=2, batch_dims=1)
    if flip:
        mirror = tf.random.stateless_uniform([b], flip_seed) < 0.5
        out = tf.where(mirror[:, None, None, None], tf.reverse(out, axis=[2]), out)
    return out


def subsample(splits, train_size=None, test_size=None, seed=0):
    """A seeded, class-stratified subset of ``splits`` (a
    :class:`~keras_angular.data.DatasetSplits`): ``train_size`` training and ``test_size``
    test images (None, or at least the split's size, keeps the split whole). Each class
    keeps its share (largest-remainder rounding, so the sizes are exact), the order is
    shuffled, and the preprocessing statistics are the original's.

    Examples:
        >>> small = subsample(load_dataset("digits"), 300, 100, seed=0)
        >>> len(small.x_train), len(small.x_test), small.num_classes
        (300, 100, 10)
    """
    rng = np.random.default_rng(seed)

    def pick(y, size):
        if size is None or size >= len(y):
            return None
        if size < 1:
            raise ValueError(f"subsample: sizes must be >= 1, got {size}.")
        classes, counts = np.unique(y, return_counts=True)
        share = counts * size / len(y)
        quota = np.floor(share).astype(int)  # largest remainders get the rest: exactly size
        quota[np.argsort(quota - share, kind="stable")[: size - quota.sum()]] += 1
        chosen = [
            rng.permutation(np.flatnonzero(y == c))[:q] for c, q in zip(classes, quota, strict=True)
        ]
        return rng.permutation(np.concatenate(chosen))

    train, test = pick(splits.y_train, train_size), pick(splits.y_test, test_size)
    if train is None and test is None:
        return splits
    x_train, y_train = _take(splits.x_train, splits.y_train, train)
    x_test, y_test = _take(splits.x_test, splits.y_test, test)
    return DatasetSplits(
        x_train,
        y_train,
        x_test,
        y_test,
        splits.num_classes,
        splits.class_names,
        f"{splits.name} ({len(y_train)} train / {len(y_test)} test)",
        mean=splits.mean,
        std=splits.std,
        standardize=splits.standardize,
        source=splits.source,
    )


def _take(x, y, index):
    return (x, y) if index is None else (x[index], y[index])


def train_dataset(
    splits, batch_size, augment=False, seed=0, shuffle=True, drop_remainder=False, epoch=None
):
    """A seeded ``tf.data`` pipeline of ``(images, labels)`` training batches.

    Args:
        splits: :class:`DatasetSplits`.
        batch_size: images per batch.
        augment: ``False`` / ``None``, ``"cifar"`` or ``"translate"`` (see
            :func:`augment_batch`). For ``"cifar"`` the padding is black in the raw image
            (``-mean / std`` after channel standardization), as in He et al.
        seed: seeds the shuffle and the augmentation: the same seed gives the same
            batches, epoch after epoch (each epoch reshuffles and redraws).
        shuffle: reshuffle the whole training set every epoch.
        drop_remainder: drop the last incomplete batch (AMC pairs the two halves of a
            batch; the authors' code drops it).
        epoch: optionally a scalar int64 ``tf.Variable`` holding the current epoch
            (``keras_angular.training`` sets it in ``on_epoch_begin``). With it, epoch
            ``e``'s order and augmentation are a pure function of ``(seed, e)``
            (``tf.random.experimental.index_shuffle`` and stateless draws), so a run
            resumed at epoch ``e`` sees exactly the batches an uninterrupted run would.

    Returns:
        ``tf.data.Dataset`` of ``(float32 (B, H, W, C), int32 (B,))``.

    Examples:
        >>> digits = load_dataset("digits")
        >>> images, labels = next(iter(train_dataset(digits, 32, augment="translate", seed=0)))
        >>> tuple(images.shape), tuple(labels.shape), labels.dtype.name
        ((32, 8, 8, 1), (32,), 'int32')
    """
    import tensorflow as tf

    if augment in (False, "none"):
        augment = None
    if augment not in AUGMENTATIONS:
        raise ValueError(f"`augment` must be one of {AUGMENTATIONS}, got {augment!r}.")
    n = len(splits.x_train)
    if n == 0:
        raise ValueError("The training split is empty.")
    # Shuffle indices, not images, then gather whole batches: the shuffle buffer holds
    # n integers instead of a second copy of the images.
    index = tf.data.Dataset.range(n)
    if shuffle and epoch is not None:
        index = index.map(
            lambda i: tf.random.experimental.index_shuffle(
                i, tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]), n - 1
            )
        )
    elif shuffle:
        index = index.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    index = index.batch(batch_size, drop_remainder=drop_remainder)
    arrays = tf.data.Dataset.from_tensors((splits.x_train, splits.y_train)).repeat()
    ds = tf.data.Dataset.zip((index, arrays)).map(
        lambda i, xy: (tf.gather(xy[0], i), tf.gather(xy[1], i)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if augment is not None:
        pad_value = 0.0
        if augment == "cifar" and splits.mean is not None and splits.std is not None:
            pad_value = (-splits.mean / splits.std).astype(np.float32)
        if epoch is not None:  # stateless: batch b of epoch e draws from (seed, e, b)

            def batch_seed(b):
                key = tf.constant(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)
                return tf.random.experimental.stateless_split(tf.stack([key, b]), 1)[0]

            seeds = tf.data.Dataset.range(1 << 62).map(batch_seed)
        else:
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment_batch(xy[0], s, augment, pad_value), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def test_dataset(splits, batch_size):
    """``tf.data`` pipeline of ``(images, labels)`` test batches, in order, no augmentation.

    Examples:
        >>> digits = load_dataset("digits")   # 360 test images
        >>> len(digits.x_test), sum(1 for _ in test_dataset(digits, 100))
        (360, 4)
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((splits.x_test, splits.y_test))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


test_dataset.__test__ = False  # not a pytest test when imported into a test module
