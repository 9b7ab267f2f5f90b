"""Data: TFDS loaders (mocked), the offline error, digits, .npz, folders, z-score, pipelines."""

from pathlib import Path

import numpy as np
import pytest
import requests
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_angular.cli import main
from keras_angular.data import (
    DatasetSplits,
    DatasetUnavailableError,
    augment_batch,
    load_dataset,
    test_dataset,
    train_dataset,
)

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist_test.npz"


def _assert_channel_zscored(splits):
    mean = splits.x_train.mean(axis=(0, 1, 2), dtype=np.float64)
    std = splits.x_train.std(axis=(0, 1, 2), dtype=np.float64)
    np.testing.assert_allclose(mean, 0.0, atol=1e-4)
    np.testing.assert_allclose(std, 1.0, atol=1e-3)


# --------------------------------------------------------------------------- TFDS, mocked


@pytest.mark.parametrize(
    ("name", "coarse", "shape", "num_classes"),
    [
        ("mnist", False, (28, 28, 1), 10),
        ("fashion_mnist", False, (28, 28, 1), 10),
        ("cifar10", False, (32, 32, 3), 10),
        ("cifar100", False, (32, 32, 3), 100),
        ("cifar100", True, (32, 32, 3), 20),
        ("svhn_cropped", False, (32, 32, 3), 10),
    ],
)
def test_tfds_datasets_through_load_dataset(name, coarse, shape, num_classes):
    with tfds.testing.mock_data(num_examples=16):
        splits = load_dataset(name, coarse_labels=coarse)
    assert isinstance(splits, DatasetSplits)
    assert splits.name == (f"{name}_coarse" if coarse else name)
    assert splits.input_shape == shape
    assert splits.x_train.shape == (16, *shape) and splits.x_test.shape == (16, *shape)
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int32
    assert splits.num_classes == num_classes == len(splits.class_names)
    for y in (splits.y_train, splits.y_test):
        assert y.min() >= 0 and y.max() < num_classes
    assert splits.mean.shape == splits.std.shape == (shape[-1],)
    _assert_channel_zscored(splits)


def test_cifar100_coarse_and_fine_labels_differ():
    with tfds.testing.mock_data(num_examples=32):
        fine = load_dataset("cifar100")
        coarse = load_dataset("cifar100", coarse_labels=True)
    np.testing.assert_array_equal(fine.x_train, coarse.x_train)
    assert coarse.y_train.max() < 20 and not np.array_equal(fine.y_train, coarse.y_train)
    with pytest.raises(ValueError, match="cifar100"):
        load_dataset("cifar10", coarse_labels=True)


# --------------------------------------------------------------------------- TFDS, offline


def _check_unavailable_message(err, data_dir):
    msg = str(err.value)
    assert "'mnist'" in msg and str(data_dir) in msg
    assert "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0  # one sentence
    assert isinstance(err.value, ValueError)


# What tfds raises offline: its downloader retries with backoff for minutes, then the
# requests session gives up with this ConnectionError.
OFFLINE = requests.exceptions.ConnectionError(
    "HTTPSConnectionPool(host='storage.googleapis.com', port=443): Max retries exceeded with "
    "url: /cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz (Caused by NameResolutionError("
    "\"HTTPSConnection(host='storage.googleapis.com', port=443): Failed to resolve "
    "'storage.googleapis.com' ([Errno -2] Name or service not known)\"))"
)


@pytest.fixture
def offline(monkeypatch):
    """tfds.load's real path to the downloader, whose download fails as it does offline."""
    calls = []

    def download_and_prepare(self, *args, **kwargs):
        calls.append(self.name)
        raise OFFLINE

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)
    return calls


def test_missing_tfds_dataset_offline_is_one_sentence(tmp_path, offline):
    """Not on disk: tfds tries to download, and its failure becomes one clear sentence."""
    bogus = tmp_path / "no_tfds_here"
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset("mnist", data_dir=str(bogus))
    assert offline == ["mnist"]  # the download was tried, once
    _check_unavailable_message(err, bogus)
    assert "could not be downloaded (download failed: ConnectionError: " in str(err.value)
    assert err.value.__cause__ is OFFLINE


def test_missing_tfds_dataset_offline_from_the_command_line(tmp_path, offline, capsys):
    bogus, out = tmp_path / "no_tfds_here", tmp_path / "out"
    args = ["train", "--method", "softmax", "--dataset", "mnist", "--data-dir", str(bogus)]
    assert main([*args, "--no-figures", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Dataset 'mnist' is not in data_dir" in err and "could not be downloaded" in err
    assert "\n" not in err and not out.exists()


def test_missing_tfds_dataset_download_false(tmp_path):
    bogus = tmp_path / "no_tfds_here"
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset("mnist", data_dir=str(bogus), download=False)
    _check_unavailable_message(err, bogus)


def test_failed_download_is_wrapped(tmp_path, monkeypatch):
    """A download that fails in tfds.load itself keeps its cause."""
    real_load = tfds.load

    def fake_load(name, *args, download=True, **kwargs):
        if download:
            raise ConnectionError("simulated: name resolution failed")
        return real_load(name, *args, download=False, **kwargs)

    monkeypatch.setattr(tfds, "load", fake_load)
    bogus = tmp_path / "no_tfds_here"
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset("mnist", data_dir=str(bogus), download=True)
    _check_unavailable_message(err, bogus)
    assert "ConnectionError" in str(err.value)
    assert isinstance(err.value.__cause__, ConnectionError)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="mnist, fashion_mnist, cifar10, cifar100, svhn"):
        load_dataset("imagenet2012")
    with pytest.raises(FileNotFoundError):
        load_dataset("/nonexistent/file.npz")


# --------------------------------------------------------------------------- digits


def test_digits_shapes_and_stratified_seeded_split():
    a = load_dataset("digits", seed=0)
    assert a.name == "digits" and a.input_shape == (8, 8, 1) and a.num_classes == 10
    assert len(a.x_train) + len(a.x_test) == 1797
    assert len(a.x_test) == 360  # ceil(0.2 * 1797)
    # stratified: each class's test share is 20% up to rounding
    total = np.bincount(np.concatenate([a.y_train, a.y_test]), minlength=10)
    test = np.bincount(a.y_test, minlength=10)
    assert np.all(np.abs(test - 0.2 * total) <= 1)
    _assert_channel_zscored(a)

    b = load_dataset("digits", seed=0)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = load_dataset("digits", seed=1)
    assert not np.array_equal(a.y_test, c.y_test)
    d = load_dataset("digits", test_fraction=0.5)
    assert len(d.x_test) == 899
    with pytest.raises(ValueError, match="test_fraction"):
        load_dataset("digits", test_fraction=1.0)


def test_standardization_modes_use_training_statistics():
    raw = load_dataset("digits", standardize=None)
    assert raw.mean is None and 0.0 <= raw.x_train.min() and raw.x_train.max() <= 1.0
    assert raw.x_train.max() == 1.0  # 0..16 pixels scaled to [0, 1]

    z = load_dataset("digits", standardize="channel")
    mean = raw.x_train.mean(axis=(0, 1, 2), dtype=np.float64)
    std = raw.x_train.std(axis=(0, 1, 2), dtype=np.float64)
    np.testing.assert_allclose(z.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(z.std, std, rtol=1e-5)
    # the test split is mapped with the *training* statistics
    np.testing.assert_allclose(z.x_test, (raw.x_test - z.mean) / z.std, atol=1e-5)
    assert abs(z.x_test.mean()) > 1e-3  # so it is not itself exactly centred

    per_image = load_dataset("digits", standardize="image")
    np.testing.assert_allclose(per_image.x_test.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_image.x_test.std(axis=(1, 2, 3)), 1.0, atol=1e-4)
    expected = tf.image.per_image_standardization(raw.x_test[:5]).numpy()
    np.testing.assert_allclose(per_image.x_test[:5], expected, atol=1e-5)
    with pytest.raises(ValueError, match="standardize"):
        load_dataset("digits", standardize="global")


# --------------------------------------------------------------------------- .npz


def test_npz_with_train_and_test_arrays(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (20, 6, 5), dtype=np.uint8),
        y_train=rng.integers(0, 3, (20, 1)),
        x_test=rng.integers(0, 256, (7, 6, 5), dtype=np.uint8),
        y_test=rng.integers(0, 3, (7, 1)),
        classes=np.array(["cat", "dog", "emu"]),
    )
    splits = load_dataset(str(path), standardize=None)
    assert splits.name == "tiny"
    assert splits.x_train.shape == (20, 6, 5, 1) and splits.x_test.shape == (7, 6, 5, 1)
    assert splits.y_train.shape == (20,) and splits.class_names == ["cat", "dog", "emu"]
    with np.load(path) as f:
        np.testing.assert_allclose(splits.x_train[..., 0], f["x_train"] / 255.0, atol=1e-7)
        np.testing.assert_array_equal(splits.y_test, f["y_test"].reshape(-1))


def test_npz_with_x_and_y_is_split_by_seed(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "xy.npz"
    y = np.repeat(np.array(["b", "a", "c"]), 10)  # string labels are re-indexed
    np.savez(path, x=rng.random((30, 4, 4, 3), dtype=np.float32), y=y)
    a = load_dataset(path, test_fraction=0.3, seed=3)
    assert len(a.x_train) == 21 and len(a.x_test) == 9
    assert a.class_names == ["a", "b", "c"]
    assert np.array_equal(np.bincount(a.y_test, minlength=3), [3, 3, 3])  # stratified
    b = load_dataset(path, test_fraction=0.3, seed=3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="x_train"):
        load_dataset(bad)


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared/data/mnist_test.npz not present")
def test_shared_mnist_test_npz():
    splits = load_dataset(SHARED_MNIST, test_fraction=0.2, seed=0)
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    assert (len(splits.x_train), len(splits.x_test)) == (8000, 2000)
    assert np.all(np.bincount(splits.y_test, minlength=10) > 150)
    _assert_channel_zscored(splits)


# --------------------------------------------------------------------------- folders


def _write_folder(root, mode, size=(10, 12), per_class=6):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("zebra", "ant", "moth"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            shape = (*size, 3) if mode == "RGB" else size
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode=mode).save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize(("mode", "channels"), [("RGB", 3), ("L", 1)])
def test_image_folder(tmp_path, mode, channels):
    root = _write_folder(tmp_path / "pics", mode)
    splits = load_dataset(str(root), test_fraction=0.25, seed=0, standardize=None)
    assert splits.name == "pics"
    assert splits.class_names == ["ant", "moth", "zebra"]
    assert splits.input_shape == (10, 12, channels)
    assert len(splits.x_train) + len(splits.x_test) == 18 and len(splits.x_test) == 4
    assert 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0
    again = load_dataset(str(root), test_fraction=0.25, seed=0, standardize=None)
    np.testing.assert_array_equal(splits.x_test, again.x_test)
    np.testing.assert_array_equal(splits.y_test, again.y_test)


# --------------------------------------------------------------------------- pipelines


def _toy_splits(n=50, shape=(8, 8, 3)):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    return DatasetSplits(
        x,
        np.arange(n) % 5,
        x[:9],
        np.arange(9) % 5,
        5,
        list("abcde"),
        "toy",
        mean=np.full(shape[-1], 0.5, np.float32),
        std=np.full(shape[-1], 0.25, np.float32),
        standardize="channel",
    )


def _epoch(ds):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds), strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_train_dataset_covers_each_example_once_and_is_seeded():
    splits = _toy_splits()
    splits.y_train = np.arange(50, dtype=np.int32)  # labels as ids
    splits.num_classes, splits.class_names = 50, [str(i) for i in range(50)]
    ds = train_dataset(splits, batch_size=16, seed=4)
    x1, y1 = _epoch(ds)
    assert sorted(y1.tolist()) == list(range(50))
    np.testing.assert_array_equal(x1, splits.x_train[y1])
    x2, y2 = _epoch(ds)
    assert not np.array_equal(y1, y2)  # reshuffled every epoch
    _, y_same = _epoch(train_dataset(splits, batch_size=16, seed=4))
    np.testing.assert_array_equal(y1, y_same)  # same seed, same order
    _, y_other = _epoch(train_dataset(splits, batch_size=16, seed=5))
    assert not np.array_equal(y1, y_other)
    _, y_plain = _epoch(train_dataset(splits, batch_size=16, shuffle=False))
    np.testing.assert_array_equal(y_plain, np.arange(50))
    batches = [len(y) for _, y in train_dataset(splits, 16, drop_remainder=True)]
    assert batches == [16, 16, 16]
    assert train_dataset(splits, 16).element_spec[1].dtype == tf.int32


@pytest.mark.parametrize("augment", ["cifar", "translate"])
def test_augmentation_keeps_shapes_and_is_seeded(augment):
    splits = _toy_splits()
    first = next(iter(train_dataset(splits, 16, augment=augment, seed=7)))
    again = next(iter(train_dataset(splits, 16, augment=augment, seed=7)))
    other = next(iter(train_dataset(splits, 16, augment=augment, seed=8)))
    assert first[0].shape == (16, 8, 8, 3) and first[0].dtype == tf.float32
    np.testing.assert_array_equal(first[0].numpy(), again[0].numpy())
    np.testing.assert_array_equal(first[1].numpy(), again[1].numpy())
    assert not np.array_equal(first[0].numpy(), other[0].numpy())
    with pytest.raises(ValueError, match="augment"):
        train_dataset(splits, 16, augment="mixup")


def _windows(padded, h, w, pad, flips):
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            window = padded[dy : dy + h, dx : dx + w]
            yield window
            if flips:
                yield window[:, ::-1]


@pytest.mark.parametrize(
    ("kind", "pad", "mode", "flips"),
    [("cifar", 4, "constant", True), ("translate", 2, "reflect", False)],
)
def test_augment_batch_is_a_padded_crop(kind, pad, mode, flips):
    rng = np.random.default_rng(5)
    images = rng.standard_normal((12, 6, 7, 2)).astype(np.float32)
    fill = np.array([-2.0, 3.0], np.float32)
    out = augment_batch(images, [1, 2], kind, pad_value=fill).numpy()
    assert out.shape == images.shape
    np.testing.assert_array_equal(out, augment_batch(images, [1, 2], kind, fill).numpy())
    shifted = 0
    for img, aug in zip(images, out, strict=True):
        widths = ((pad, pad), (pad, pad), (0, 0))
        if mode == "constant":
            padded = np.pad(img - fill, widths) + fill
        else:
            padded = np.pad(img, widths, mode="reflect")
        assert any(np.array_equal(aug, win) for win in _windows(padded, 6, 7, pad, flips))
        shifted += not np.array_equal(aug, img)
    assert shifted >= 8  # most images moved


def test_cifar_padding_is_black_in_raw_pixels():
    splits = _toy_splits(n=64)
    splits.x_train[:] = 5.0  # far from the pad value
    x, _ = next(iter(train_dataset(splits, 64, augment="cifar", seed=0)))
    values = np.unique(x.numpy())
    black = -0.5 / 0.25  # (0 - mean) / std
    assert set(values.tolist()) == {5.0, black}


def test_test_dataset_keeps_order():
    splits = _toy_splits()
    x, y = _epoch(test_dataset(splits, 4))
    np.testing.assert_array_equal(x, splits.x_test)
    np.testing.assert_array_equal(y, splits.y_test)


def test_splits_validation():
    x = np.zeros((3, 4, 4, 1))
    with pytest.raises(ValueError, match="labels outside"):
        DatasetSplits(x, [0, 1, 5], x, [0, 0, 0], 3, list("abc"), "bad")
    with pytest.raises(ValueError, match="class names"):
        DatasetSplits(x, [0, 1, 2], x, [0, 0, 0], 3, list("ab"), "bad")
    s = DatasetSplits(x, [0, 1, 2], x, [0, 0, 0], 3, list("abc"), "ok")
    assert s.input_shape == (4, 4, 1) and "ok" in repr(s)
