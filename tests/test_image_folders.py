"""Image folders and the training pipeline: a folder of mixed PNG / JPEG images of mixed sizes
loads with the right labels, class names, shapes and pixels (Pillow's decode and a NumPy
bilinear resize as the reference), in the split and order Keras' folder reader gives, with
one-sentence errors; ``train_dataset`` gives the batches it gave before, in the same order."""

import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_angular.data import DatasetSplits, augment_batch, load_dataset, train_dataset

CLASSES = ("moth", "ant", "bee")  # sorted: ant, bee, moth
SIZE = (12, 10)  # (H, W) the images are resized to: some files are larger, some smaller


def _write_folder(root, per_class=4):
    """Twelve noise images: PNG and JPEG, RGB and grey, of six sizes, one in a nested
    sub-folder; returns {path: class name}."""
    rng = np.random.default_rng(0)
    sizes = [(12, 10), (7, 5), (20, 31), (9, 14), (30, 8), (13, 11)]
    files = {}
    for c, name in enumerate(CLASSES):
        for i in range(per_class):
            h, w = sizes[(c * per_class + i) % len(sizes)]
            grey = i == 3
            pixels = rng.integers(0, 256, (h, w) if grey else (h, w, 3), dtype=np.uint8)
            folder = root / name / ("nested" if i == 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{i}.{'jpg' if i % 2 else 'png'}"
            Image.fromarray(pixels).save(path, quality=95)
            files[str(path)] = name
    (root / "ant" / "notes.txt").write_text("not an image: skipped")
    return files


def _bilinear(image, size):
    """Bilinear resize with half-pixel centres and no antialiasing (what
    ``tf.image.resize(method="bilinear")`` computes), in NumPy float64."""

    def axis(out_size, in_size):
        source = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        low = np.floor(source)
        lo = np.clip(low, 0, in_size - 1).astype(int)
        hi = np.clip(low + 1, 0, in_size - 1).astype(int)
        return lo, hi, (source - low)

    (r0, r1, fr), (c0, c1, fc) = axis(size[0], image.shape[0]), axis(size[1], image.shape[1])
    image = image.astype(np.float64)
    rows = image[r0] * (1 - fr)[:, None, None] + image[r1] * fr[:, None, None]
    return rows[:, c0] * (1 - fc)[None, :, None] + rows[:, c1] * fc[None, :, None]


def _reference(path):
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB"))
    return _bilinear(pixels, SIZE) / 255.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders") / "pets"
    return root, _write_folder(root)


def test_folder_loads_labels_names_shapes_and_pixels(folder):
    root, files = folder
    splits = load_dataset(
        str(root), test_fraction=0.25, seed=1, image_size=SIZE, color_mode="rgb", standardize=None
    )
    assert splits.name == "pets" and splits.class_names == ["ant", "bee", "moth"]
    assert splits.input_shape == (*SIZE, 3)
    assert (len(splits.x_train), len(splits.x_test)) == (9, 3)
    references = {path: _reference(path) for path in files}
    seen = []
    images = np.concatenate([splits.x_train, splits.x_test])
    labels = np.concatenate([splits.y_train, splits.y_test])
    for image, label in zip(images, labels, strict=True):
        errors = {path: np.abs(image - ref).max() for path, ref in references.items()}
        path = min(errors, key=errors.get)  # noise images: the nearest one is the file
        tolerance = 6 / 255 if path.endswith(".jpg") else 1e-5  # two JPEG decoders differ
        assert errors[path] <= tolerance, (path, errors[path])
        assert splits.class_names[label] == files[path]
        seen.append(path)
    assert sorted(seen) == sorted(files)  # each file once, across the two splits


def test_folder_split_and_order_are_keras_folder_readers(folder):
    """The split, the order and the pixels of ``keras.utils.image_dataset_from_directory``
    (what loaded folders before) in a fresh process, whatever global seed was set."""
    import keras

    root, _ = folder
    tf.random.set_seed(87654321)  # TensorFlow's seed for a random op when none is set
    train, test = keras.utils.image_dataset_from_directory(
        str(root),
        label_mode="int",
        color_mode="rgb",
        batch_size=256,
        image_size=SIZE,
        shuffle=True,
        seed=3,
        validation_split=0.25,
        subset="both",
        verbose=False,
    )
    expected = [next(iter(ds)) for ds in (train, test)]
    tf.random.set_seed(5)  # the folder's order does not depend on it
    splits = load_dataset(
        str(root), test_fraction=0.25, seed=3, image_size=SIZE, color_mode="rgb", standardize=None
    )
    np.testing.assert_array_equal(splits.y_train, expected[0][1].numpy())
    np.testing.assert_array_equal(splits.y_test, expected[1][1].numpy())
    np.testing.assert_array_equal(splits.x_train, expected[0][0].numpy() / np.float32(255))
    np.testing.assert_array_equal(splits.x_test, expected[1][0].numpy() / np.float32(255))


def test_folder_defaults_and_progress_line(tmp_path, capsys):
    root = tmp_path / "grey"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (6, 4), color=40 * i).save(root / name / f"{i}.png")
    splits = load_dataset(str(root), test_fraction=0.4, standardize=None)
    assert splits.input_shape == (4, 6, 1)  # the first image's size and mode
    out = capsys.readouterr().out
    assert f"Loading 6 images of 2 classes from {str(root)!r} (4 train, 2 test) as 4x6" in out
    assert "6/6" in out  # Keras' progress bar, at its end
    load_dataset(str(root), test_fraction=0.4, verbose=False)
    assert capsys.readouterr().out == ""


def _classes(root, counts):
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (5, 5)).save(root / name / f"{i}.png")
    return str(root)


def test_folder_errors_are_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    Image.new("RGB", (5, 5)).save(tmp_path / "empty" / "loose.png")
    with pytest.raises(ValueError, match=r"^The folder .*empty' holds no class sub-folders: put"):
        load_dataset(str(tmp_path / "empty"), verbose=False)
    root = _classes(tmp_path / "one_empty", {"a": 2, "b": 0, "c": 2})
    with pytest.raises(ValueError, match=r"^The class folder 'b' under .* holds no images \("):
        load_dataset(root, verbose=False)
    root = _classes(tmp_path / "two_empty", {"a": 2, "b": 0, "c": 0})
    with pytest.raises(ValueError, match=r"^The class folders 'b', 'c' under .* hold no images"):
        load_dataset(root, verbose=False)
    root = _classes(tmp_path / "few", {"a": 2, "b": 2})
    with pytest.raises(ValueError, match=r"holds 4 images, and test_fraction=0.2 .* test split"):
        load_dataset(root, test_fraction=0.2, verbose=False)
    with pytest.raises(ValueError, match=r"`color_mode` must be one of"):
        load_dataset(root, color_mode="cmyk", verbose=False)


def test_unreadable_image_is_named(tmp_path):
    root = _classes(tmp_path / "broken", {"a": 3, "b": 300})  # the bad file in the 2nd batch
    bad = os.path.join(root, "b", "150.png")
    with open(bad, "wb") as f:
        f.write(b"this is not a PNG")
    with pytest.raises(ValueError) as error:
        load_dataset(root, test_fraction=0.5, image_size=(5, 5), color_mode="rgb", verbose=False)
    message = str(error.value)
    assert message.startswith(f"Cannot decode the image {bad!r} (")
    assert message.endswith("): replace or remove the file.") and "\n" not in message
    assert "Unknown image file format" in message and "{{" not in message and "[Op:" not in message


# --------------------------------------------------------------------------- the pipeline


def _toy_splits(n=50):
    x = np.random.default_rng(0).standard_normal((n, 8, 8, 3)).astype(np.float32)
    return DatasetSplits(
        x,
        np.arange(n),  # labels as ids
        x[:9],
        np.arange(9),
        n,
        [str(i) for i in range(n)],
        "toy",
        mean=np.full(3, 0.5, np.float32),
        std=np.full(3, 0.25, np.float32),
        standardize="channel",
    )


@pytest.mark.parametrize("augment", [None, "cifar", "translate"])
def test_epoch_batches_follow_their_definition(augment):
    """With an epoch variable, batch b of epoch e holds the images ``index_shuffle(i, (seed,
    e), n - 1)`` for its positions i, augmented with the seed ``stateless_split((seed *
    1_000_003 + e, b))[0]``: an independent reference of what a resumed run relies on."""
    splits, seed, batch = _toy_splits(), 3, 16
    pad = -splits.mean / splits.std
    epoch = tf.Variable(0, dtype=tf.int64)
    ds = train_dataset(splits, batch, augment=augment, seed=seed, epoch=epoch)
    for e in (0, 1):
        epoch.assign(e)
        for b, (images, labels) in enumerate(ds):
            positions = tf.range(b * batch, min((b + 1) * batch, 50), dtype=tf.int64)
            key = tf.constant([seed, e], tf.int64)
            order = tf.random.experimental.index_shuffle(positions, key, 49).numpy()
            np.testing.assert_array_equal(labels.numpy(), order)
            expected = splits.x_train[order]
            if augment is not None:
                draw = tf.constant([seed * 1_000_003 + e, b], tf.int64)
                draw = tf.random.experimental.stateless_split(draw, 1)[0]
                expected = augment_batch(expected, draw, augment, pad).numpy()
            np.testing.assert_array_equal(images.numpy(), expected)


# sha256 (first 16 hex digits) of two epochs of images, and the first 12 labels, as the
# pipeline gave them before it gathered with NumPy (commit 0db1dcf), under tf.random.set_seed(0)
# (the shuffle and the augmentation's random stream depend on the global seed).
_BEFORE = {
    (None, False): ("4916addc5772eaa7", [31, 32, 33, 39, 45, 27, 42, 11, 41, 43, 49, 40]),
    ("cifar", False): ("ea21117b96e33251", [31, 32, 33, 39, 45, 27, 42, 11, 41, 43, 49, 40]),
    ("translate", False): ("86cf2a917477a29f", [31, 32, 33, 39, 45, 27, 42, 11, 41, 43, 49, 40]),
    ("cifar", True): ("4f4b181ae8092389", [31, 32, 33, 39, 45, 27, 42, 11, 41, 43, 49, 40]),
}


@pytest.mark.parametrize(("augment", "drop_remainder"), list(_BEFORE))
def test_batches_without_an_epoch_variable_are_as_before(augment, drop_remainder):
    tf.random.set_seed(0)
    ds = train_dataset(_toy_splits(), 16, augment=augment, seed=3, drop_remainder=drop_remainder)
    digest, labels = hashlib.sha256(), []
    for _ in range(2):  # the second epoch reshuffles and redraws
        for images, y in ds:
            digest.update(images.numpy().tobytes())
            labels += y.numpy().tolist()
    assert (digest.hexdigest()[:16], labels[:12]) == _BEFORE[(augment, drop_remainder)]
    if drop_remainder:
        assert ds.element_spec[0].shape.as_list() == [16, 8, 8, 3]
