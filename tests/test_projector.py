"""keras_angular.projector.write_projector: the files TensorBoard's Embedding Projector reads,
checked against NumPy references and a small reading of the config text of its own."""

import math
import os
import re

import numpy as np
import pytest
from PIL import Image

from keras_angular.projector import CONFIG_FILENAME, write_projector

CLASSES = ["cat", "dog", "tab\there"]


def _data(n=23, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, dim)).astype(np.float32)
    labels = np.arange(n) % 3
    return embeddings, labels


def _config(folder):
    """The ``embeddings { ... }`` blocks of the config as dicts of lists (a reading of the
    protocol buffer text format for the fields this config uses)."""
    text = open(os.path.join(folder, CONFIG_FILENAME)).read()
    blocks = []
    for block in re.findall(r"embeddings \{\n(.*?)\n\}\n", text, re.S):
        fields = {}
        for key, value in re.findall(r"^\s*(\w+): (.+)$", block, re.M):
            fields.setdefault(key, []).append(value[1:-1] if value.startswith('"') else int(value))
        blocks.append(fields)
    return blocks


def _metadata(folder):
    with open(os.path.join(folder, "metadata.tsv")) as f:
        return [line.rstrip("\n").split("\t") for line in f]


def test_files_tensors_and_metadata(tmp_path):
    embeddings, labels = _data()
    folder = write_projector(tmp_path / "p", embeddings, labels, class_names=CLASSES)
    assert folder == str(tmp_path / "p")
    expected = [CONFIG_FILENAME, "metadata.tsv", "tensors.tsv", "tensors_unit.tsv"]
    assert sorted(os.listdir(folder)) == sorted(expected)
    written = np.loadtxt(os.path.join(folder, "tensors.tsv"), delimiter="\t")
    np.testing.assert_allclose(written, embeddings, rtol=1e-5, atol=1e-6)  # 6 digits written
    unit = np.loadtxt(os.path.join(folder, "tensors_unit.tsv"), delimiter="\t")
    reference = embeddings / np.linalg.norm(embeddings.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(unit, reference, rtol=1e-5, atol=1e-6)
    rows = _metadata(folder)
    assert rows[0] == ["index", "label", "class"]
    expected = [[str(i), str(c), CLASSES[c].replace("\t", " ")] for i, c in enumerate(labels)]
    assert rows[1:] == expected


def test_metadata_without_class_names_and_config_without_sprite(tmp_path):
    embeddings, labels = _data(n=4)
    folder = write_projector(tmp_path, embeddings, labels, unit_sphere=False)
    assert _metadata(folder) == [["index", "label"], ["0", "0"], ["1", "1"], ["2", "2"], ["3", "0"]]
    (entry,) = _config(folder)
    assert "sprite" not in open(os.path.join(folder, CONFIG_FILENAME)).read()
    assert entry["tensor_path"] == ["tensors.tsv"] and entry["tensor_shape"] == [4, 5]


def _cell(sprite, index, side, w, h):
    r, c = divmod(index, side)
    return sprite[r * h : (r + 1) * h, c * w : (c + 1) * w]


@pytest.mark.parametrize("channels", [1, 3])
def test_sprite_grid_and_thumbnails(tmp_path, channels):
    embeddings, labels = _data(n=10)
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(10, 6, 9, channels)).astype(np.float32)  # in [0, 1]: as they are
    folder = write_projector(tmp_path, embeddings, labels, images=images)
    sprite = np.asarray(Image.open(os.path.join(folder, "sprite.png")))
    side = math.ceil(math.sqrt(10))  # 4 x 4 cells of 9 x 6 pixels
    assert sprite.shape == ((side * 6, side * 9) if channels == 1 else (side * 6, side * 9, 3))
    pixels = sprite.reshape(side * 6, side * 9, channels)
    for i in (0, 5, 9):
        reference = np.clip(np.round(images[i] * 255.0), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(_cell(pixels, i, side, 9, 6), reference)
    assert not _cell(pixels, 15, side, 9, 6).any()  # an empty cell is black
    for entry in _config(folder):
        assert entry["image_path"] == ["sprite.png"]
        assert entry["single_image_dim"] == [9, 6]  # width, height


def test_sprite_of_standardized_images_and_shrunk_thumbnails(tmp_path):
    embeddings, labels = _data(n=3)
    rng = np.random.default_rng(2)
    images = rng.normal(size=(3, 64, 64, 1)).astype(np.float32)  # z-scored: outside [0, 1]
    folder = write_projector(tmp_path, embeddings, labels, images=images, thumbnail_size=32)
    sprite = np.asarray(Image.open(os.path.join(folder, "sprite.png")))
    assert sprite.shape == (2 * 32, 2 * 32)
    for i in range(3):
        x = images[i, ..., 0].astype(np.float64)
        unit = (x - x.min()) / (x.max() - x.min())  # each image from its min to its max
        blocks = unit.reshape(32, 2, 32, 2).mean(axis=(1, 3))  # 2 x 2 area means
        reference = np.round(blocks * 255.0)
        np.testing.assert_allclose(_cell(sprite, i, 2, 32, 32), reference, atol=1)
    assert _config(folder)[0]["single_image_dim"] == [32, 32]


def test_uint8_images_are_divided_by_255(tmp_path):
    embeddings, labels = _data(n=2)
    images = np.array([[[0, 51], [204, 255]], [[10, 20], [30, 40]]], np.uint8)
    folder = write_projector(tmp_path, embeddings, labels, images=images)
    sprite = np.asarray(Image.open(os.path.join(folder, "sprite.png")))
    np.testing.assert_array_equal(sprite[:2, 2:], images[1])


def test_config_names_files_that_exist(tmp_path):
    embeddings, labels = _data(n=9)
    images = np.zeros((9, 4, 4, 3), np.float32)
    named = {"runs/arcface": embeddings, "softmax": 2 * embeddings}
    folder = write_projector(tmp_path, named, labels, images=images, class_names=CLASSES)
    entries = _config(folder)
    assert [e["tensor_name"][0] for e in entries] == [
        "runs/arcface",
        "runs/arcface (unit sphere)",
        "softmax",
        "softmax (unit sphere)",
    ]
    for entry in entries:
        for key in ("tensor_path", "metadata_path", "image_path"):
            assert os.path.isfile(os.path.join(folder, entry[key][0])), (key, entry)
        assert entry["tensor_shape"] == [9, 5] and entry["single_image_dim"] == [4, 4]
    paths = [e["tensor_path"][0] for e in entries]
    assert len(set(paths)) == 4
    softmax = np.loadtxt(os.path.join(folder, paths[2]), delimiter="\t")
    np.testing.assert_allclose(softmax, 2 * embeddings, rtol=1e-5, atol=1e-6)


def test_max_points_is_a_seeded_stratified_draw_of_distinct_rows(tmp_path):
    embeddings, labels = _data(n=60)
    labels = np.repeat([0, 1, 2], [30, 20, 10])

    images = np.repeat(np.arange(60) / 59, 4).reshape(60, 2, 2)  # image i: grey i / 59

    def drawn(name, seed):
        folder = write_projector(
            tmp_path / name, embeddings, labels, images=images, max_points=12, seed=seed
        )
        index = np.array([int(row[0]) for row in _metadata(folder)[1:]])
        assert [int(row[1]) for row in _metadata(folder)[1:]] == labels[index].tolist()
        sprite = np.asarray(Image.open(os.path.join(folder, "sprite.png")))
        cells = [_cell(sprite, k, 4, 2, 2)[0, 0] for k in range(12)]  # 4 x 4 cells of 2 px
        assert cells == np.round(255 * index / 59).astype(int).tolist()  # the drawn images
        written = np.loadtxt(os.path.join(folder, "tensors.tsv"), delimiter="\t")
        return index, written

    first, written = drawn("a", 0)
    again, _ = drawn("b", 0)
    other, _ = drawn("c", 1)
    assert len(first) == 12 and len(np.unique(first)) == 12
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    np.testing.assert_allclose(written, embeddings[first], rtol=1e-5, atol=1e-6)
    assert np.bincount(labels[first]).tolist() == [6, 4, 2]  # every class its share


def _nan(embeddings):
    bad = embeddings.copy()
    bad[3, 2] = np.nan
    return bad


BAD_INPUT = {  # what changes in the call -> what the message says
    "labels of another length": (
        lambda e, y: dict(labels=y[:7]),
        "labels has 7 entries but embeddings has 8 rows",
    ),
    "NaN embeddings": (
        lambda e, y: dict(embeddings=_nan(e)),
        "embeddings contains NaN or infinite values",
    ),
    "images of another count": (
        lambda e, y: dict(images=np.zeros((5, 4, 4))),
        "images has 5 images but embeddings has 8 rows",
    ),
    "two-channel images": (
        lambda e, y: dict(images=np.zeros((8, 4, 4, 2))),
        "1 \\(grey\\) or 3 \\(RGB\\) channels",
    ),
    "NaN images": (
        lambda e, y: dict(images=np.full((8, 4, 4), np.nan)),
        "images contains NaN or infinite values",
    ),
    "one-hot labels": (lambda e, y: dict(labels=np.eye(8, 3)), "one-hot labels"),
    "too few class names": (
        lambda e, y: dict(class_names=["a", "b"]),
        "class_names has 2 names but the labels go up to 2",
    ),
    "max_points 0": (lambda e, y: dict(max_points=0), "`max_points` must be an int >= 1"),
    "an empty mapping": (lambda e, y: dict(embeddings={}), "empty mapping"),
    "models of different lengths": (
        lambda e, y: dict(embeddings={"a": e, "b": e[:7]}),
        "different numbers of rows",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_sentence(tmp_path, case):
    embeddings, labels = _data(n=8)
    change, pattern = BAD_INPUT[case]
    kwargs = dict(embeddings=embeddings, labels=labels)
    kwargs.update(change(embeddings, labels))
    folder = tmp_path / "p"
    with pytest.raises(ValueError, match=pattern) as error:
        write_projector(folder, **kwargs)
    message = str(error.value)
    assert "\n" not in message and message.endswith(".") and ". " not in message, message
    assert not folder.exists()  # checked before anything is written


def test_tensorboard_projector_plugin_reads_the_folder(tmp_path):
    """TensorBoard's own projector plugin serves the tensors, metadata and sprite."""
    projector_plugin = pytest.importorskip("tensorboard.plugins.projector.projector_plugin")
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    embeddings, labels = _data(n=7)
    images = np.random.default_rng(3).uniform(size=(7, 5, 5, 1))
    folder = write_projector(
        tmp_path, {"a": embeddings}, labels, images=images, class_names=CLASSES
    )
    plugin = projector_plugin.ProjectorPlugin(base_plugin.TBContext(logdir=folder))
    apps = plugin.get_plugin_apps()

    def get(route, **query):
        response = Client(apps[route]).get(route, query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data()

    assert get("/runs") == b'["."]'
    tensor = np.frombuffer(get("/tensor", run=".", name="a (unit sphere)"), np.float32)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    np.testing.assert_allclose(tensor.reshape(7, 5), unit, rtol=1e-5, atol=1e-6)
    metadata = get("/metadata", run=".", name="a").decode().splitlines()
    assert metadata[0] == "index\tlabel\tclass" and len(metadata) == 8
    assert get("/sprite_image", run=".", name="a").startswith(b"\x89PNG")


def test_explain_writes_the_projector_of_each_model(tmp_path, capsys):
    """keras-angular explain --projector: OUT/projector holds each model's test embeddings."""
    import json

    import keras

    from keras_angular.cli import main
    from keras_angular.data import load_dataset
    from keras_angular.methods import build_method
    from keras_angular.models import small_cnn
    from keras_angular.saving import load_model

    rng = np.random.default_rng(0)
    x = (255 * rng.uniform(size=(20, 12, 12, 1))).astype(np.uint8)
    y = np.arange(20) % 3
    data = str(tmp_path / "tiny.npz")
    np.savez(data, x_train=x[:14], y_train=y[:14], x_test=x[14:], y_test=y[14:])
    setup = build_method(
        "normface", small_cnn((12, 12, 1), 4, widths=(4, 4), convs=(1, 1)), 3, epochs=1
    )
    run = tmp_path / "normface"
    run.mkdir()
    setup.model.save(run / "model.keras")
    out = tmp_path / "explain"
    argv = ["explain", "--models", str(run), "--dataset", data, "--n", "2", "--n-score", "2"]
    assert main(argv + ["--steps", "2", "--projector", "--out", str(out)]) == 0
    folder = out / "projector"
    assert f"tensorboard --logdir {folder}" in capsys.readouterr().out
    with open(out / "explain.json") as f:
        assert json.load(f)["projector"] == str(folder)
    splits = load_dataset(data)  # the test images explain read, standardized as it did
    model = load_model(str(run / "model.keras"))
    expected = model.predict(splits.x_test, verbose=0)["embedding"]
    written = np.loadtxt(folder / "tensors.tsv", delimiter="\t")
    np.testing.assert_allclose(written, expected, rtol=1e-4, atol=1e-5)
    assert [row[1:] for row in _metadata(folder)[1:]] == [
        [str(c), splits.class_names[c]] for c in splits.y_test
    ]
    assert _config(folder)[0]["tensor_name"] == ["normface"]
    sprite = np.asarray(Image.open(folder / "sprite.png"))
    assert sprite.shape == (3 * 12, 3 * 12)
    for i in range(len(splits.x_test)):  # standardized images: each from its min to its max
        image = splits.x_test[i, ..., 0].astype(np.float64)
        reference = np.round(255 * (image - image.min()) / (image.max() - image.min()))
        np.testing.assert_allclose(_cell(sprite, i, 3, 12, 12), reference, atol=1)

    # A model without train's 'embedding' output: one sentence, exit 2, nothing written.
    inputs = keras.Input((12, 12, 1))
    plain = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    plain.save(tmp_path / "plain.keras")
    argv = ["explain", "--models", str(tmp_path / "plain.keras"), "--dataset", data]
    assert main(argv + ["--projector", "--out", str(tmp_path / "bad")]) == 2
    assert "--projector needs models with an 'embedding' output" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "projector").exists()
