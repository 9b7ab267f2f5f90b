"""Precise BN: population statistics against NumPy, and inference that tracks training
on real images (the test-time collapse of batch-norm CNNs in short runs)."""

import os

import keras
import numpy as np
import pytest

from keras_angular.callbacks import PreciseBatchNorm, recompute_batch_norm_statistics

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
EPSILON = 1e-3  # Keras' BatchNormalization default


def _moments(x):
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return flat.mean(0), flat.var(0)


def test_statistics_equal_numpy_population_moments_over_many_batches(rng):
    x = rng.normal(2.0, 3.0, (300, 5, 5, 2)).astype("float32")
    conv = keras.layers.Conv2D(4, 3, padding="same")
    bn1 = keras.layers.BatchNormalization()
    bn2 = keras.layers.BatchNormalization()
    model = keras.Sequential(
        [keras.Input((5, 5, 2)), conv, bn1, keras.layers.ReLU(), keras.layers.Dense(3), bn2]
    )
    # Non-trivial gamma / beta, so the second layer's input depends on them.
    bn1.gamma.assign(np.array([0.5, 2.0, 1.0, 3.0], "float32"))
    bn1.beta.assign(np.array([0.1, -0.2, 0.3, 0.0], "float32"))

    # batch_size 300 = one batch: the batch moments are the population moments, so the
    # second layer sees exactly relu(bn1 with population moments).
    assert recompute_batch_norm_statistics(model, x, batch_size=300) == 2

    h = keras.ops.convert_to_numpy(conv(x)).astype(np.float64)
    mean1, var1 = _moments(h)
    np.testing.assert_allclose(bn1.moving_mean.numpy(), mean1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), var1, rtol=1e-4)
    gamma, beta = bn1.gamma.numpy(), bn1.beta.numpy()
    normed = np.maximum(gamma * (h - mean1) / np.sqrt(var1 + EPSILON) + beta, 0.0)
    dense = model.layers[3]
    z = normed @ dense.kernel.numpy() + dense.bias.numpy()
    mean2, var2 = _moments(z)
    np.testing.assert_allclose(bn2.moving_mean.numpy(), mean2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn2.moving_variance.numpy(), var2, rtol=1e-4)

    # In batches of 64 (the last one of 44) the first layer's statistics are still the
    # exact population moments, not an average of batch variances.
    bn1.moving_mean.assign(np.zeros(4, "float32"))
    recompute_batch_norm_statistics(model, x, batch_size=64)
    np.testing.assert_allclose(bn1.moving_mean.numpy(), mean1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), var1, rtol=1e-4)


def test_dropout_and_noise_are_off_and_frozen_or_nested_layers_handled(rng):
    x = rng.normal(1.0, 2.0, (512, 6)).astype("float32")
    inner_bn = keras.layers.BatchNormalization(name="inner_bn")
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(6), inner_bn], name="inner")
    frozen = keras.layers.BatchNormalization(name="frozen")
    outer_bn = keras.layers.BatchNormalization(name="outer_bn")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.GaussianNoise(1.0),
            keras.layers.Dropout(0.5),
            outer_bn,
            frozen,
            inner,
        ]
    )
    frozen.trainable = False
    assert recompute_batch_norm_statistics(model, x) == 2  # outer_bn and inner_bn
    # Inference-mode input of outer_bn is x itself: no noise, no dropout (which would
    # double the second moment).
    mean, var = _moments(x)
    np.testing.assert_allclose(outer_bn.moving_mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(outer_bn.moving_variance.numpy(), var, rtol=1e-4)
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), np.zeros(6))
    np.testing.assert_array_equal(frozen.moving_variance.numpy(), np.ones(6))
    assert not np.allclose(inner_bn.moving_variance.numpy(), 1.0)
    # The layers' own call is back: training mode updates the moving mean again.
    before = outer_bn.moving_mean.numpy().copy()
    model(x[:8] + 100.0, training=True)
    assert not np.allclose(outer_bn.moving_mean.numpy(), before)


def test_callback_recomputes_before_validation_and_checks_its_arguments(rng):
    x = rng.normal(3.0, 2.0, (400, 4)).astype("float32")
    bn = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((4,)), bn, keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            seen.append(bn.moving_mean.numpy().copy())

    subset = PreciseBatchNorm(x, num_samples=100, seed=3)
    assert len(subset.images) == 100
    model.fit(
        x,
        x[:, :1],
        epochs=2,
        validation_data=(x, x[:, :1]),
        verbose=0,
        callbacks=[subset, Probe()],
    )
    np.testing.assert_allclose(seen[0], subset.images.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), subset.images.mean(0), rtol=1e-5)
    config = subset.get_config()
    assert config == {"num_samples": 100, "batch_size": 256, "seed": 3}
    with pytest.raises(ValueError, match="no images"):
        PreciseBatchNorm.from_config(config).recompute()
    with pytest.raises(ValueError, match="num_samples"):
        PreciseBatchNorm(x, num_samples=0)
    with pytest.raises(ValueError, match="empty"):
        PreciseBatchNorm(x[:0])


def _fashion_subset(n_train, n_test):
    path = os.path.join(SHARED_DATA, "fashion_mnist.npz")
    if not os.path.exists(path):
        pytest.skip("../shared/data/fashion_mnist.npz is not here")
    rng = np.random.default_rng(0)
    with np.load(path) as f:
        train = rng.choice(len(f["y_train"]), n_train, replace=False)
        test = rng.choice(len(f["y_test"]), n_test, replace=False)
        return f["x_train"][train], f["y_train"][train], f["x_test"][test], f["y_test"][test]


@pytest.mark.parametrize(
    "backbone, backbone_kwargs", [(None, None), ("amc_mnist_cnn", {"embedding_dim": 128})]
)
def test_inference_mode_tracks_training_mode_on_real_images(backbone, backbone_kwargs, tmp_path):
    """The symptom precise BN removes: after a short run the training images scored 64 % in
    training mode and 25 % in inference mode. Here, on 600 Fashion-MNIST images after
    two epochs, inference mode must not fall far below training mode on the same images,
    nor below what the run logged."""
    from keras_angular.data import load_dataset
    from keras_angular.training import run_method

    x_train, y_train, x_test, y_test = _fashion_subset(600, 300)
    path = tmp_path / "fm.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    splits = load_dataset(str(path))
    out = tmp_path / "run"
    result = run_method(
        "softmax",
        splits,
        epochs=2,
        batch_size=32,
        backbone=backbone,
        backbone_kwargs=backbone_kwargs,
        verbose=0,
        out_dir=str(out),
        figures=False,
    )
    model = keras.saving.load_model(out / "model.keras")  # what a user reads back

    def accuracy(training):
        logits = np.concatenate(
            [
                keras.ops.convert_to_numpy(
                    model(splits.x_train[i : i + 100], training=training)["logits"]
                )
                for i in range(0, len(splits.x_train), 100)
            ]
        )
        return float(np.mean(logits.argmax(-1) == splits.y_train))

    train_mode, inference_mode = accuracy(True), accuracy(False)
    print(f"training mode {train_mode:.3f}, inference mode {inference_mode:.3f}")
    assert train_mode > 0.5, train_mode  # it learned something: 10 classes
    assert inference_mode >= train_mode - 0.1, (inference_mode, train_mode)
    assert result["test_accuracy"] >= result["history"]["logits_accuracy"][-1] - 0.15
