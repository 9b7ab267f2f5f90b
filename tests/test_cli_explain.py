"""keras-angular train --gradcam-every and keras-angular explain, end to end on tiny runs."""

import json
import os

import numpy as np
import pytest

from keras_angular.cli import main


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)

    def draw(n):
        y = np.arange(n) % 3
        x = rng.uniform(0, 0.3, (n, 12, 12, 1))
        for i, c in enumerate(y):  # one bright square per class, at a class's own place
            x[i, 1 + 3 * c : 5 + 3 * c, 2:6] = 1.0
        return (255 * x).astype(np.uint8), y

    x_train, y_train = draw(48)
    x_test, y_test = draw(12)
    path = os.path.join(tmp_path, "tiny.npz")
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def _logits(model, x):
    out = model.predict(x, verbose=0)
    return np.asarray(out["logits"] if isinstance(out, dict) else out, np.float64)


def _random_deletion_aucs(model, images, heatmaps, scale, steps):
    """RISE deletion on the images' mean grey, most salient pixels first, by hand."""
    n, h, w, _ = images.shape
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(int)
    grey = images.mean(axis=(0, 1, 2))
    classes = _logits(model, images).argmax(axis=-1)
    aucs = []
    for image, heatmap, c in zip(images, heatmaps, classes, strict=True):
        order = np.argsort(-heatmap.ravel())
        deleted = np.repeat(image.reshape(1, h * w, -1), steps + 1, axis=0).astype(np.float64)
        for row, k in enumerate(counts):
            deleted[row, order[:k]] = grey
        z = scale * _logits(model, deleted.reshape(steps + 1, h, w, -1).astype(np.float32))
        p = np.exp(z - z.max(axis=1, keepdims=True))
        curve = (p / p.sum(axis=1, keepdims=True))[:, c]
        aucs.append(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(counts / (h * w))))
    return np.array(aucs)


def _margins(embeddings, kernel):
    """HASeparator's margin: min over j != c of e_hat . (w_c - w_j) / ||w_c - w_j||."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    w = kernel / np.linalg.norm(kernel, axis=0, keepdims=True)
    out = []
    for x, c in zip(e, (e @ w).argmax(axis=1), strict=True):
        normals = w[:, [c]] - np.delete(w, c, axis=1)
        out.append((x @ normals / np.linalg.norm(normals, axis=0)).min())
    return np.array(out)


def test_train_with_gradcam_then_explain(tiny_npz, tmp_path):
    trained = os.path.join(tmp_path, "softmax")
    status = main(
        ["train", "--method", "softmax", "--dataset", tiny_npz, "--epochs", "1"]
        + ["--batch-size", "16", "--backbone", "small_cnn", "--embedding-dim", "8"]
        + ["--no-figures", "--gradcam-every", "1", "--out", trained]
    )
    assert status == 0
    assert os.listdir(os.path.join(trained, "gradcam")) == ["epoch-001.png"]
    # A second, untrained model of train's layout with a cosine head, saved as train does.
    import keras

    from keras_angular.methods import build_method
    from keras_angular.models import small_cnn

    setup = build_method(
        "normface", small_cnn((12, 12, 1), 8, widths=(4, 8), convs=(1, 1)), 3, epochs=1
    )
    setup.compile(keras.optimizers.Adam())
    cosine = os.path.join(tmp_path, "normface")
    os.makedirs(cosine)
    setup.model.save(os.path.join(cosine, "model.keras"))
    runs = {"softmax": trained, "normface": cosine}

    out = os.path.join(tmp_path, "explain")
    models = ",".join(runs.values())
    argv = ["explain", "--models", models, "--dataset", tiny_npz, "--n", "3"]
    assert main(argv + ["--n-score", "6", "--steps", "4", "--out", out]) == 0
    assert os.path.getsize(os.path.join(out, "grid.png")) > 1000
    with open(os.path.join(out, "explain.json")) as f:
        report = json.load(f)
    assert report["images"] == 6 and sorted(report["models"]) == ["normface", "softmax"]
    # The random maps' deletion AUCs and the margin, recomputed here from the saved models.
    from keras_angular.data import load_dataset
    from keras_angular.explain import random_heatmaps
    from keras_angular.saving import load_model

    splits = load_dataset(tiny_npz)
    images = splits.x_test[np.random.default_rng(0).permutation(len(splits.x_test))[:6]]
    noise = random_heatmaps(6, 12, 12, seed=0)
    scales = {"softmax": 1.0, "normface": float(setup.loss["logits"].scale)}
    for name, folder in runs.items():
        model = load_model(os.path.join(folder, "model.keras"))
        aucs = _random_deletion_aucs(model, images, noise, scales[name], steps=4)
        entry = report["models"][name]["random_deletion_auc"]
        assert entry["mean"] == pytest.approx(aucs.mean(), abs=1e-5), name
        assert entry["sd"] == pytest.approx(aucs.std(ddof=1), abs=1e-5), name
    # The margin needs unit class weights: reported for NormFace's CosineDense only.
    assert report["models"]["softmax"]["margin"] is None
    assert "Dense" in report["models"]["softmax"]["margin_note"]
    normface = load_model(os.path.join(cosine, "model.keras"))
    embeddings = normface.predict(images, verbose=0)["embedding"]
    kernel = keras.ops.convert_to_numpy(normface.get_layer("head").kernel)
    margins = _margins(embeddings, kernel)
    assert report["models"]["normface"]["margin"]["mean"] == pytest.approx(margins.mean(), abs=1e-5)


def test_explain_bad_input(tiny_npz, tmp_path, capsys):
    out = os.path.join(tmp_path, "e")
    assert main(["explain", "--models", str(tmp_path), "--dataset", tiny_npz, "--out", out]) == 2
    assert "no model.keras" in capsys.readouterr().err
    assert main(["explain", "--models", "a", "--n", "0", "--dataset", tiny_npz, "--out", out]) == 2
    assert "--n must be" in capsys.readouterr().err
    assert not os.path.exists(out)


def test_explain_of_a_model_without_feature_maps_is_one_sentence(tmp_path, capsys):
    """train's default backbone for the 8x8 digits is an mlp: Grad-CAM has no feature map to
    weigh, which explain says in one sentence (exit 2) before it writes anything."""
    from keras_angular.methods import build_method
    from keras_angular.models import mlp

    run = tmp_path / "run"
    run.mkdir()
    setup = build_method("softmax", mlp((8, 8, 1), embedding_dim=4), 10, epochs=1)
    setup.model.save(run / "model.keras")
    out = tmp_path / "e"
    assert main(["explain", "--models", str(run), "--dataset", "digits", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-angular: ") and "Grad-CAM needs a convolutional model" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()
