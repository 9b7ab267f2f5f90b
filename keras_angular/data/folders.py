"""A folder of class sub-folders as ``RawSplits``: the index of
its images, the seeded split, and parallel decoding and resizing through ``tf.data``.

The split and the order of the images are those of ``keras.utils.image_dataset_from_directory``
(``shuffle=True``, ``validation_split=test_fraction``, ``subset="both"``, batches of 256), which
loaded folders before, in a fresh process: the files shuffled with ``numpy``'s
``RandomState(seed)``, the last ``int(test_fraction * n)`` of them the test split, the training
images then in the order of a ``tf.data`` shuffle buffer of 2,048 seeded with ``seed``. Pixels
are those of its default reader too: ``tf.image.decode_image`` (first frame of a GIF), a
bilinear ``tf.image.resize`` (half-pixel centres, no antialiasing), divided by 255.
"""

from __future__ import annotations

import os
import re

import numpy as np

from keras_angular.data.splits import RawSplits

__all__ = ["COLOR_MODES", "IMAGE_EXTENSIONS", "index_image_folder", "load_image_folder"]

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
"""The file endings (any case) a class folder's images may have; other files are skipped."""

COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
"""``color_mode`` -> channels of the loaded images."""

_BATCH = 256  # images decoded per batch: the unit of progress and of the error search
_SHUFFLE_BUFFER = 8 * _BATCH  # the training order's shuffle buffer (Keras: 8 batches)


def index_image_folder(path):
    """The images of a folder of class sub-folders, in Keras' order.

    Class names are the sub-folders' names (hidden ones skipped), sorted; a class's
    images are its folder's files ending in ``IMAGE_EXTENSIONS``, its sub-folders'
    included, sorted by folder then name.

    Returns:
        ``(paths, labels, class_names)``: a list of file paths, int32 labels, a list.

    Raises:
        ValueError: the folder holds no class sub-folder, or a class folder holds no image.

    Examples:
        >>> import tempfile
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> for name in ("cat", "ant"):
        ...     os.makedirs(os.path.join(root, name))
        ...     Image.new("L", (3, 2)).save(os.path.join(root, name, "a.png"))
        >>> paths, labels, class_names = index_image_folder(root)
        >>> [os.path.relpath(p, root) for p in paths], labels.tolist(), class_names
        (['ant/a.png', 'cat/a.png'], [0, 1], ['ant', 'cat'])
    """
    class_names = sorted(
        name
        for name in os.listdir(path)
        if not name.startswith(".") and os.path.isdir(os.path.join(path, name))
    )
    kinds = ", ".join(IMAGE_EXTENSIONS)
    if not class_names:
        raise ValueError(
            f"The folder {path!r} holds no class sub-folders: put each class's images "
            f"({kinds}) in a sub-folder named after the class."
        )
    paths, labels, empty = [], [], []
    for label, name in enumerate(class_names):
        found = _class_images(os.path.join(path, name))
        if not found:
            empty.append(name)
        paths += found
        labels += [label] * len(found)
    if empty:
        raise ValueError(
            f"The class folder{'s' if len(empty) > 1 else ''} "
            f"{', '.join(repr(name) for name in empty)} under {path!r} "
            f"hold{'' if len(empty) > 1 else 's'} no images ({kinds}): add images or "
            f"remove {'them' if len(empty) > 1 else 'it'}."
        )
    return paths, np.asarray(labels, np.int32), class_names


def _class_images(folder):
    found = []
    for root, _, files in sorted(os.walk(folder), key=lambda entry: entry[0]):
        found += [
            os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return found


def load_image_folder(path, test_fraction, seed, image_size=None, color_mode=None, verbose=True):
    """Decode and resize a folder of class sub-folders into seeded train / test splits.

    Decoding and resizing run in parallel (``tf.data``, ``num_parallel_calls=AUTOTUNE``),
    256 images at a time, straight into one float32 array per split.

    Args:
        path: the folder; see ``index_image_folder``.
        test_fraction: the test split's share (``int(test_fraction * n)`` images).
        seed: seed of the split and of the training images' order.
        image_size: ``(H, W)`` every image is resized to (default: the first image's).
        color_mode: "grayscale", "rgb" or "rgba" (default: from the first image's mode).
        verbose: print one line (how many images, classes, the size) and Keras' progress
            bar while decoding.

    Returns:
        ``RawSplits`` of float32 images in [0, 1].

    Raises:
        ValueError: see ``index_image_folder``;
            a bad ``image_size`` or ``color_mode``; a split left empty; an image that cannot
            be decoded (the message names its file).
    """
    paths, labels, class_names = index_image_folder(path)
    image_size, color_mode = _image_format(paths[0], image_size, color_mode)
    n = len(paths)
    # Keras' index_directory: one RandomState(seed) shuffle for paths and labels alike.
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    n_test = int(test_fraction * n)
    if n_test == 0 or n_test == n:
        raise ValueError(
            f"The folder {path!r} holds {n} images, and test_fraction={test_fraction} of "
            f"them leaves the {'test' if n_test == 0 else 'training'} split empty: add "
            f"images or change test_fraction."
        )
    train, test = order[: n - n_test], order[n - n_test :]
    train = train[_shuffle_buffer_order(len(train), seed)]
    height, width = image_size
    if verbose:
        print(
            f"Loading {n} images of {len(class_names)} classes from {path!r} "
            f"({len(train)} train, {len(test)} test) as {height}x{width} {color_mode}."
        )
    progress = _progress_bar(n, verbose)
    splits = [
        _decode_all([paths[i] for i in split], image_size, COLOR_MODES[color_mode], progress)
        for split in (train, test)
    ]
    name = os.path.basename(os.path.normpath(path))
    return RawSplits(splits[0], labels[train], splits[1], labels[test], class_names, name)


def _image_format(first_path, image_size, color_mode):
    """``image_size`` and ``color_mode``, checked, with defaults from the first image."""
    if image_size is None or color_mode is None:
        from PIL import Image

        with Image.open(first_path) as img:
            size, mode = (img.height, img.width), img.mode
        image_size = image_size or size
        if color_mode is None:
            grey = mode in ("1", "L", "LA", "I", "I;16", "F")
            color_mode = "grayscale" if grey else "rgba" if mode == "RGBA" else "rgb"
    if color_mode not in COLOR_MODES:
        raise ValueError(f"`color_mode` must be one of {tuple(COLOR_MODES)}, got {color_mode!r}.")
    size = tuple(image_size)
    if len(size) != 2 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in size):
        raise ValueError(
            f"`image_size` must be (height, width), two positive integers, got {image_size!r}."
        )
    return tuple(int(d) for d in size), color_mode


def _shuffle_buffer_order(n, seed):
    """The order a ``tf.data`` shuffle buffer of 2,048 seeded with ``seed`` gives ``n``
    items when no global seed is set (a fresh graph: the order does not depend on
    ``tf.random.set_seed`` calls made before)."""
    import tensorflow as tf

    with tf.Graph().as_default():
        ds = tf.data.Dataset.range(n).shuffle(_SHUFFLE_BUFFER, seed=seed).batch(n)
        batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
        with tf.compat.v1.Session() as session:
            return session.run(batch)


def _progress_bar(total, verbose):
    import keras

    return keras.utils.Progbar(total, verbose=1 if verbose else 0, unit_name="image")


def _decoder(image_size, channels):
    import tensorflow as tf

    def decode(path):
        image = tf.image.decode_image(
            tf.io.read_file(path), channels=channels, expand_animations=False
        )
        image = tf.image.resize(image, image_size, method="bilinear")
        image.set_shape((*image_size, channels))
        return image / 255.0

    return decode


def _decode_all(paths, image_size, channels, progress):
    """float32 ``(len(paths), H, W, channels)`` array of the decoded, resized images."""
    import tensorflow as tf

    out = np.empty((len(paths), *image_size, channels), np.float32)
    decode = _decoder(image_size, channels)
    ds = (
        tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
        .map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(_BATCH)
        .prefetch(tf.data.AUTOTUNE)
    )
    batches = iter(ds)
    for start in range(0, len(paths), _BATCH):
        try:
            images = next(batches)
        except tf.errors.OpError as error:
            raise _unreadable(paths[start : start + _BATCH], decode, error) from error
        out[start : start + len(images)] = images.numpy()
        progress.add(len(images))
    return out


def _unreadable(paths, decode, error):
    """The ``ValueError`` naming the first file of ``paths`` that ``decode`` fails on."""
    import tensorflow as tf

    culprit = f"one of {paths[0]!r} .. {paths[-1]!r}"
    for path in paths:
        try:
            decode(tf.constant(path))
        except tf.errors.OpError as failed:
            culprit, error = repr(path), failed
            break
    # TensorFlow's message without its "{{function_node ...}}" prefix and "[Op:...]" suffix.
    reason = re.sub(r"^\{\{.*?\}\}\s*|\s*\[Op:.*$", "", error.message.strip().split("\n")[0])
    reason = reason or type(error).__name__
    return ValueError(
        f"Cannot decode the image {culprit} ({reason.rstrip('.')}): replace or remove the file."
    )
