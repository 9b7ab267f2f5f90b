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
    for entry in report["models"].values():
        for key in ("deletion_auc", "insertion_auc", "random_deletion_auc"):
            assert 0.0 <= entry[key]["mean"] <= 1.0 and entry[key]["sd"] >= 0.0
    # The margin needs unit class weights: reported for NormFace's CosineDense only.
    assert report["models"]["softmax"]["margin"] is None
    assert "Dense" in report["models"]["softmax"]["margin_note"]
    assert -1.0 <= report["models"]["normface"]["margin"]["mean"] <= 1.0


def test_explain_bad_input(tiny_npz, tmp_path, capsys):
    out = os.path.join(tmp_path, "e")
    assert main(["explain", "--models", str(tmp_path), "--dataset", tiny_npz, "--out", out]) == 2
    assert "no model.keras" in capsys.readouterr().err
    assert main(["explain", "--models", "a", "--n", "0", "--dataset", tiny_npz, "--out", out]) == 2
    assert "--n must be" in capsys.readouterr().err
    assert not os.path.exists(out)
