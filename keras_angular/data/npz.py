"""``.npz`` archives as a dataset source: ``x_train, y_train, x_test, y_test``, or ``x, y``
split by seed, with optional ``class_names`` / ``classes``."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from keras_angular.data.preprocessing import with_channel
from keras_angular.data.splits import RawSplits, check_finite_images
from keras_angular.data.subsampling import split_indices

__all__ = ["encode_labels", "load_npz", "read_npz"]


def read_npz(path):
    """The arrays of the ``.npz`` archive ``path`` that ``load_npz`` uses, as a dict;
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


def load_npz(path, test_fraction, seed):
    """``RawSplits`` of the archive ``path``: its train and
    test arrays, or ``x, y`` split by ``split_indices`` (``test_fraction``, ``seed``);
    labels re-indexed by ``encode_labels``, the name is the file's stem. Each check
    raises ``ValueError`` with one sentence naming ``path`` and the array.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
        >>> np.savez(path, x=np.zeros((10, 4, 4), np.uint8), y=np.repeat(["cat", "dog"], 5))
        >>> raw = load_npz(path, test_fraction=0.2, seed=0)
        >>> raw.x_train.shape, raw.x_test.shape, raw.class_names, raw.name
        ((8, 4, 4, 1), (2, 4, 4, 1), ['cat', 'dog'], 'toy')
    """
    f = read_npz(path)
    image_keys, label_keys = (
        (("x",), ("y",)) if "x" in f else (("x_train", "x_test"), ("y_train", "y_test"))
    )
    for x_key, y_key in zip(image_keys, label_keys, strict=True):
        x, y = f[x_key], f[y_key].reshape(-1)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise ValueError(f"{path}: {x_key} has dtype {x.dtype}, and images must be numbers.")
        with_channel(x, f"{path}: {x_key}")
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
        check_finite_images(f["x"], "x", path)
        x, y = f["x"], f["y"].reshape(-1)
        train, test = split_indices(y, seed, test_size=test_fraction)
        x_train, x_test, y_train, y_test = x[train], x[test], y[train], y[test]
    else:
        x_train, y_train, x_test, y_test = (
            f[k] for k in ("x_train", "y_train", "x_test", "y_test")
        )
    names_key = next((k for k in ("class_names", "classes") if k in f), None)
    names = [str(c) for c in f[names_key]] if names_key else None
    y_train, y_test, class_names = encode_labels(
        np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1), names
    )
    name = os.path.splitext(os.path.basename(path))[0]
    return RawSplits(
        with_channel(x_train), y_train, with_channel(x_test), y_test, class_names, name
    )


def encode_labels(y_train, y_test, names):
    """Train and test labels as integers in ``[0, K)`` and ``K`` class names: non-negative
    integer labels (or floats holding integers) are kept, with ``names`` if it has ``K``
    or more entries; other labels (strings, negative numbers) are re-indexed in sorted
    order and named by their values.

    Examples:
        >>> y_train, y_test, names = encode_labels(np.array(["b", "a"]), np.array(["c"]), None)
        >>> y_train.tolist(), y_test.tolist(), names
        ([1, 0], [2], ['a', 'b', 'c'])
    """
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
