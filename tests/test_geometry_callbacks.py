"""GeometryMetrics and AngleHistograms on a real, tiny model.fit (scikit-learn digits)."""

import csv
import glob
import math
import os

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_angular import metrics
from keras_angular.callbacks import AngleHistograms, GeometryMetrics
from keras_angular.callbacks.geometry import histogram_buckets
from keras_angular.metrics import GEOMETRY_KEYS


@pytest.fixture(scope="module")
def digits_split():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:1000], y[:1000], x[1500:], y[1500:]


def _model(head="dense", seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(16, activation="relu", name="embedding")(inputs)
    if head == "dense":
        out = keras.layers.Dense(10, name="head")(h)
    else:
        from keras_angular.layers import CosineDense

        out = keras.layers.Lambda(lambda t: 8.0 * t, name="scale")(CosineDense(10, name="head")(h))
    model = keras.Model(inputs, out)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.fixture(scope="module")
def trained(digits_split, tmp_path_factory):
    x, y, xv, yv = digits_split
    folder = tmp_path_factory.mktemp("geometry")
    model = _model()
    geometry = GeometryMetrics(xv, yv, prefix="val_")
    angles = AngleHistograms(xv, yv, log_dir=str(folder / "angles"), samples_per_class=20)
    logger = keras.callbacks.CSVLogger(str(folder / "log.csv"))
    history = model.fit(
        x, y, epochs=3, batch_size=64, verbose=0, callbacks=[geometry, angles, logger]
    )
    return model, history, geometry, folder


@pytest.mark.backends
def test_keys_reach_history(trained):
    _, history, geometry, _ = trained
    for key in GEOMETRY_KEYS:
        values = history.history["val_" + key]
        assert len(values) == 3
        assert all(isinstance(v, float) and math.isfinite(v) for v in values)
    h = history.history
    for key in ("w_inter_deg", "c_inter_deg", "cw_inter_deg", "wc_intra_deg", "emd_deg"):
        assert all(0.0 <= v <= 180.0 for v in h["val_" + key])  # degrees
    for key in ("homogeneity", "completeness", "prediction_homogeneity"):
        assert all(0.0 <= v <= 1.0 for v in h["val_" + key])
    assert geometry.keys == ["val_" + k for k in (*GEOMETRY_KEYS, *metrics.RETRIEVAL_KEYS)]


def test_training_pulls_centres_toward_their_weights(trained):
    """TensorFlow only: with this plain Dense head (with a bias) WC-Intra need not fall in
    3 epochs. Measured over seeds 0-4 (first vs third epoch): it fell for 5 of 5 on
    TensorFlow, 4 of 5 on PyTorch and 2 of 5 on JAX (their random streams differ), with
    the same prediction homogeneity (0.62-0.72) everywhere."""
    h = trained[1].history
    # Training pulls each class centre toward its weight and the classes apart.
    assert h["val_wc_intra_deg"][-1] < h["val_wc_intra_deg"][0]
    assert h["val_prediction_homogeneity"][-1] > 0.5


@pytest.mark.backends
def test_keys_reach_csv_logger(trained):
    _, history, _, folder = trained
    with open(folder / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert float(rows[-1]["val_emd_deg"]) == pytest.approx(history.history["val_emd_deg"][-1])


@pytest.mark.backends
def test_logged_values_equal_direct_metrics(trained, digits_split):
    model, history, geometry, _ = trained
    _, _, xv, yv = digits_split
    embedding = keras.Model(model.inputs, model.get_layer("embedding").output).predict(
        xv, verbose=0
    )
    kernel = keras.ops.convert_to_numpy(model.get_layer("head").kernel)
    stats = metrics.angle_statistics(embedding, yv, kernel)  # radians
    div = metrics.pair_angle_divergence(embedding, yv)  # emd in degrees
    expected = {f"{key}_deg": math.degrees(value) for key, value in stats.items()}
    expected.update(kl=div["kl"], emd_deg=div["emd"])
    expected.update(metrics.retrieval_scores(embedding, yv))  # 297 samples: no subset
    expected["roc_auc"] = metrics.verification_scores(embedding, yv)["roc_auc"]
    for key, value in expected.items():
        assert history.history["val_" + key][-1] == pytest.approx(value, rel=1e-4, abs=1e-6)
    assert geometry.compute()["wc_intra_deg"] == pytest.approx(
        math.degrees(stats["wc_intra"]), rel=1e-5
    )


@pytest.mark.backends
def test_angle_histograms_event_file(trained):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    _, _, _, folder = trained
    files = glob.glob(os.path.join(folder, "angles", "events.out.tfevents.*"))
    assert len(files) == 1 and os.path.getsize(files[0]) > 0
    found = {}
    for record in tf.data.TFRecordDataset(files[0]):
        event = event_pb2.Event.FromString(record.numpy())
        for value in event.summary.value:
            tensor = tf.make_ndarray(value.tensor)
            found[(value.tag, event.step)] = (value.metadata.plugin_data.plugin_name, tensor)
    assert {tag for tag, _ in found} == {f"target_angle/class_{c}" for c in range(10)}
    assert {step for _, step in found} == {0, 1, 2}
    plugin, tensor = found[("target_angle/class_3", 2)]
    assert plugin == "histograms"
    assert tensor.shape == (30, 3)
    assert tensor[:, 2].sum() == 20  # samples_per_class
    assert 0.0 <= tensor[0, 0] and tensor[-1, 1] <= 180.0


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_every_writes_nan_between_evaluations(digits_split):
    x, y, xv, yv = digits_split
    model = _model(head="cosine")
    cb = GeometryMetrics(xv, yv, every=2, clustering=False, max_pairs=5000)
    history = model.fit(x[:256], y[:256], epochs=2, batch_size=128, verbose=0, callbacks=[cb])
    assert "homogeneity" not in history.history
    assert math.isnan(history.history["w_inter_deg"][0])
    assert math.isfinite(history.history["w_inter_deg"][1])
    assert math.isfinite(history.history["kl"][1])


@pytest.mark.backends
def test_config_round_trip_and_set_data(digits_split):
    x, y, xv, yv = digits_split
    cb = GeometryMetrics(xv, yv, every=3, prefix="val_", max_pairs=1234, seed=5)
    config = cb.get_config()
    assert "x" not in config and config["every"] == 3
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cb))
    assert isinstance(restored, GeometryMetrics)
    assert restored.get_config() == config
    model = _model()
    with pytest.raises(ValueError, match="set_data"):
        model.fit(x[:64], y[:64], epochs=1, verbose=0, callbacks=[restored])
    with pytest.raises(ValueError, match=r"^GeometryMetrics: labels must be .* one-hot labels\?"):
        restored.set_data(xv, keras.utils.to_categorical(yv, 10))  # the one label policy
    restored.set_data(xv, yv[:, None])
    np.testing.assert_array_equal(restored.y, yv)

    hist = AngleHistograms(xv, yv, log_dir="somewhere", classes=[0, 3], samples_per_class=5)
    config = hist.get_config()
    assert config["classes"] == [0, 3] and config["log_dir"] == "somewhere"
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(hist))
    assert again.get_config() == config


@pytest.mark.backends
def test_missing_layer_message(digits_split):
    x, y, xv, yv = digits_split
    model = _model()
    cb = GeometryMetrics(xv, yv, embedding_layer="penultimate")
    with pytest.raises(ValueError, match="'penultimate' not found"):
        model.fit(x[:64], y[:64], epochs=1, verbose=0, callbacks=[cb])
    with pytest.raises(ValueError, match="every"):
        GeometryMetrics(xv, yv, every=0)
    with pytest.raises(ValueError, match="class 42"):
        AngleHistograms(xv, yv, log_dir="x", classes=[42])


@pytest.mark.backends
def test_histogram_buckets():
    out = histogram_buckets([0.0, 1.0, 1.0, 4.0], buckets=4)
    np.testing.assert_allclose(out[:, 0], [0, 1, 2, 3])
    np.testing.assert_allclose(out[:, 1], [1, 2, 3, 4])
    np.testing.assert_allclose(out[:, 2], [1, 2, 0, 1])
    constant = histogram_buckets([7.0, 7.0], buckets=3)
    np.testing.assert_allclose(constant, [[7, 7, 2], [7, 7, 0], [7, 7, 0]])
    assert histogram_buckets([], buckets=2).sum() == 0
