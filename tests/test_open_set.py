"""Open-set splits and `compare --open-set` on the bundled digits (tiny, one epoch)."""

import json

import numpy as np
import pytest

from keras_angular import metrics
from keras_angular.cli import main
from keras_angular.data import load_dataset
from keras_angular.open_set import OPEN_SET_KEYS, open_set_splits
from keras_angular.run_config import RunSettingsError


@pytest.fixture(scope="module")
def digits_splits():
    return load_dataset("digits", seed=0)


def test_open_set_splits_hold_out_seeded_classes(digits_splits):
    s = digits_splits
    split = open_set_splits(s, 3, seed=0)
    chosen = sorted(np.random.default_rng(0).choice(10, size=3, replace=False).tolist())
    assert split.held_out == chosen
    kept = [c for c in range(10) if c not in chosen]
    # training and closed-set test images: only the kept classes, renumbered in order
    train_mask = np.isin(s.y_train, kept)
    assert split.train.num_classes == 7
    np.testing.assert_array_equal(split.train.x_train, s.x_train[train_mask])
    np.testing.assert_array_equal(
        np.array(kept)[split.train.y_train], s.y_train[train_mask]
    )  # label i of the new splits is kept[i]
    assert split.train.class_names == [s.class_names[c] for c in kept]
    # the unseen images: exactly the held-out classes' test images
    unseen = np.isin(s.y_test, chosen)
    np.testing.assert_array_equal(split.x_unseen, s.x_test[unseen])
    np.testing.assert_array_equal(split.y_unseen, s.y_test[unseen])
    assert str(chosen[0]) in split.describe()
    assert open_set_splits(s, [4, 2]).held_out == [2, 4]
    for bad in (1, 9, [3], [0, 10]):
        with pytest.raises(RunSettingsError, match="open set"):
            open_set_splits(s, bad)


def test_compare_open_set_writes_unseen_class_scores(tmp_path):
    from keras_angular.saving import load_model

    out = tmp_path / "cmp"
    argv = ["compare", "--methods", "arc", "--seeds", "1", "--epochs", "1", "--no-figures"]
    assert main([*argv, "--open-set", "9", "--out", str(tmp_path / "bad")]) == 2  # 1 class left
    assert not (tmp_path / "bad").exists()
    assert main([*argv, "--open-set", "3", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["open_set"]["held_out"] == sorted(
        np.random.default_rng(0).choice(10, size=3, replace=False).tolist()
    )
    text = (out / "report.md").read_text()
    assert "Open set" in text and "MAP@R" in text
    split = open_set_splits(load_dataset("digits", seed=0), 3)
    for row in report["rows"]:
        for key in (*OPEN_SET_KEYS, *metrics.RETRIEVAL_KEYS[:4]):
            assert 0.0 <= row[key] <= 1.0 or (np.isnan(row[key]) and "1e-4" in key)
        # the report's unseen-class scores are those of the saved model's embedding
        model = load_model(out / row["method"] / "seed_0" / "model.keras")
        embedding = model.predict(split.x_unseen, verbose=0)["embedding"]
        expected = metrics.retrieval_scores(embedding, split.y_unseen)
        for key, value in expected.items():
            assert row["open_" + key] == pytest.approx(value, abs=1e-6)
        auc = metrics.verification_scores(embedding, split.y_unseen)["roc_auc"]
        assert row["open_roc_auc"] == pytest.approx(auc, abs=1e-6)
