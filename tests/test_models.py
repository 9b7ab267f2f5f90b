"""Backbones: shapes, the "embedding" output layer, layer lists, parameter counts, saving.

JAX (``slow_on_jax``) builds only the MLP here: it initialises a backbone's weights op by
op, compiling each convolution for its shape (1-30 s a backbone there); TensorFlow and
PyTorch build them all.
"""

import keras
import numpy as np
import pytest
from backend_tools import slow_on_jax

from keras_angular import models
from keras_angular.models import build_backbone, cifar_resnet


def _with_head(backbone, num_classes=10):
    logits = keras.layers.Dense(num_classes, name="head")(backbone.output)
    return keras.Model(backbone.input, logits)


def _trainable_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _layers_of(model, cls):
    return [layer for layer in model.layers if type(layer) is cls]


BUILDS = [
    # name, input_shape, kwargs, embedding size
    ("amc_cnn", (32, 32, 3), {}, 128),
    ("amc_cnn", (32, 32, 3), {"variant": "official", "embedding_dim": 16}, 16),
    ("amc_mnist_cnn", (28, 28, 1), {}, 3),
    ("amc_mnist_cnn", (28, 28, 1), {"embedding_dim": 2}, 2),
    ("resnet20", (32, 32, 3), {}, 64),
    ("resnet20", (8, 8, 1), {"base_width": 4}, 16),
    ("resnet18", (32, 32, 3), {"base_width": 8}, 64),
    ("resnet34", (32, 32, 3), {"base_width": 4}, 32),
    ("resnet50", (32, 32, 3), {"base_width": 4, "embedding_dim": 64}, 64),
    ("wsoftmax_cnn", (28, 28, 1), {}, 256),
    ("wsoftmax_cnn", (32, 32, 3), {"embedding_dim": 9}, 9),
    ("mlp", (8, 8, 1), {}, 32),
]


@pytest.mark.backends
@pytest.mark.parametrize(
    ("name", "input_shape", "kwargs", "dim"),
    [build if build[0] == "mlp" else slow_on_jax(*build) for build in BUILDS],
)
def test_backbone_builds_and_runs(name, input_shape, kwargs, dim):
    model = build_backbone(name, input_shape, **kwargs)
    assert model.output.shape == (None, dim)
    emb = model.get_layer("embedding")
    assert emb is model.layers[-1]
    assert model.output is emb.output
    x = np.random.default_rng(0).standard_normal((2, *input_shape)).astype("float32")
    out = model(x, training=False)
    assert tuple(out.shape) == (2, dim)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))
    # a head named "head" attaches on the embedding
    full = _with_head(model)
    assert tuple(full(x).shape) == (2, 10)


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_inference_is_deterministic():
    """Gaussian noise and dropout (AMC Table 2) act only in training."""
    model = models.amc_mnist_cnn((28, 28, 1))
    x = np.random.default_rng(1).standard_normal((3, 28, 28, 1)).astype("float32")
    a = keras.ops.convert_to_numpy(model(x, training=False))
    b = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(a, b)
    c = keras.ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(a, c)


def _convs(model):
    return [
        (layer.filters, layer.kernel_size[0], layer.padding)
        for layer in _layers_of(model, keras.layers.Conv2D)
    ]


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_amc_cnn_follows_table_2():
    model = models.amc_cnn((32, 32, 3))
    assert _convs(model) == [
        (128, 3, "same"),
        (128, 3, "same"),
        (128, 3, "same"),
        (256, 3, "same"),
        (256, 3, "same"),
        (256, 3, "same"),
        (512, 3, "valid"),
        (256, 1, "same"),
        (128, 1, "same"),
    ]
    assert model.get_layer("gaussian_noise").stddev == 0.15
    assert [d.rate for d in _layers_of(model, keras.layers.Dropout)] == [0.5, 0.5]
    assert {a.negative_slope for a in _layers_of(model, keras.layers.LeakyReLU)} == {0.1}
    assert len(_layers_of(model, keras.layers.BatchNormalization)) == 9
    assert len(_layers_of(model, keras.layers.MaxPooling2D)) == 2
    # "Global average pool 6x6 -> 1x1"
    assert model.get_layer("embedding").input.shape[1:3] == (6, 6)


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_amc_cnn_official_variant():
    model = models.amc_cnn((32, 32, 3), variant="official")
    assert [f for f, _, _ in _convs(model)] == [64, 64, 64, 128, 128, 128, 256, 128]
    with pytest.raises(ValueError, match="variant"):
        models.amc_cnn((32, 32, 3), variant="nope")


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_amc_mnist_cnn_follows_table_2():
    model = models.amc_mnist_cnn((28, 28, 1), embedding_dim=3)
    assert _convs(model) == [
        (64, 3, "same"),
        (64, 3, "same"),
        (128, 3, "valid"),
        (64, 1, "same"),
        (3, 1, "valid"),
    ]
    # "Global average pool 5x5 -> 1x1"
    assert model.get_layer("embedding").input.shape[1:3] == (5, 5)
    assert model.get_layer("projection").activation is keras.activations.linear


@pytest.mark.backends
def test_amc_nets_reject_tiny_inputs():
    with pytest.raises(ValueError, match="at least 12x12"):
        models.amc_cnn((8, 8, 1))


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize(
    ("variant", "n_convs", "fc"), [("mnist", 10, 256), ("cifar10", 13, 256), ("cifar100", 13, 512)]
)
def test_wsoftmax_cnn_layer_list(variant, n_convs, fc):
    shape = (28, 28, 1) if variant == "mnist" else (32, 32, 3)
    model = models.wsoftmax_cnn(shape, variant=variant)
    convs = _layers_of(model, keras.layers.Conv2D)
    assert len(convs) == n_convs
    assert all(c.strides == (1, 1) and c.kernel_size == (3, 3) for c in convs)
    assert len(_layers_of(model, keras.layers.MaxPooling2D)) == 3
    assert model.output.shape == (None, fc)
    assert not _layers_of(model, keras.layers.Dropout)
    # W-Softmax Sec. 5.1: PReLU, then batch normalization after it
    names = [layer.name for layer in model.layers]
    for prelu in _layers_of(model, keras.layers.PReLU):
        following = model.layers[names.index(prelu.name) + 1]
        assert isinstance(following, keras.layers.BatchNormalization)


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_wsoftmax_default_variant_follows_channels():
    filters = [c.filters for c in _layers_of(models.wsoftmax_cnn((32, 32, 3)), keras.layers.Conv2D)]
    assert filters == [64] * 5 + [96] * 4 + [128] * 4


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_resnet20_parameter_count_matches_he_et_al():
    """He et al. 2016, Table 6: ResNet-20 has 0.27M parameters (option-A shortcuts)."""
    model = _with_head(cifar_resnet(20, (32, 32, 3)))
    n = _trainable_params(model)
    assert n == 269_722
    assert round(n / 1e6, 2) == 0.27
    assert not _layers_of(model, keras.layers.Dense)[:-1]  # only the head is dense
    assert len(_layers_of(model, keras.layers.Conv2D)) == 19  # + the head = 20 layers


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize(
    ("depth", "expected", "feature"),
    [(18, 11_173_962, 512), (34, 21_282_122, 512), (50, 23_520_842, 2048)],
)
def test_imagenet_style_resnet_parameter_counts(depth, expected, feature):
    """The usual CIFAR adaptations: 11.2M / 21.3M / 23.5M parameters with a 10-way head."""
    backbone = cifar_resnet(depth, (32, 32, 3))
    assert backbone.output.shape == (None, feature)
    assert _trainable_params(_with_head(backbone)) == expected


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_resnet50_haseparator_dense_layer():
    model = cifar_resnet(50, (32, 32, 3), embedding_dim=64, base_width=4)
    emb = model.get_layer("embedding")
    assert isinstance(emb, keras.layers.Dense) and emb.units == 64
    assert model.get_layer("avg_pool").output.shape == (None, 4 * 4 * 8)


@pytest.mark.backends
def test_resnet_shortcut_options():
    a = cifar_resnet(20, (16, 16, 3), shortcut="A")
    b = cifar_resnet(20, (16, 16, 3), shortcut="B")
    assert len(_layers_of(a, models.OptionAShortcut)) == 2
    assert not _layers_of(b, models.OptionAShortcut)
    assert _trainable_params(b) > _trainable_params(a)
    with pytest.raises(ValueError, match="depth"):
        cifar_resnet(101, (32, 32, 3))
    with pytest.raises(ValueError, match="shortcut"):
        cifar_resnet(20, (32, 32, 3), shortcut="C")


@pytest.mark.backends
def test_option_a_shortcut_subsamples_and_pads():
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    y = keras.ops.convert_to_numpy(models.OptionAShortcut(6, 2)(x))
    assert y.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(y[..., 2:4], x[:, ::2, ::2, :])
    assert not y[..., :2].any() and not y[..., 4:].any()


@pytest.mark.backends
def test_weight_decay_adds_one_l2_term_per_kernel():
    model = models.mlp((8, 8, 1), weight_decay=1e-4)
    assert len(model.losses) == 2
    kernel = model.get_layer("hidden").kernel
    expected = 0.5e-4 * float(np.sum(np.square(keras.ops.convert_to_numpy(kernel))))
    assert float(model.losses[0]) == pytest.approx(expected, rel=1e-5)
    assert not models.mlp((8, 8, 1)).losses


@pytest.mark.backends
def test_keras_round_trip_with_custom_shortcut(tmp_path):
    model = _with_head(cifar_resnet(20, (8, 8, 1), base_width=4))
    path = tmp_path / "resnet20.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    x = np.random.default_rng(2).standard_normal((2, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(reloaded(x))
    )


@pytest.mark.backends
@pytest.mark.slow_on_jax
def test_backbone_trains_one_step():
    backbone = build_backbone("resnet20", (8, 8, 1), base_width=4)
    model = _with_head(backbone)
    model.compile(
        optimizer="adam",
        run_eagerly=True,  # eager: tracing is slow on CPU
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, 8)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.backends
def test_build_backbone_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        build_backbone("vgg11", (32, 32, 3))
    for name in models.BACKBONES:
        assert name in str(err.value)
    assert build_backbone("MLP", (8, 8, 1)).name == "mlp"


@pytest.mark.parametrize(
    "input_shape, expected",
    [
        ((8, 8, 1), "mlp"),
        ((16, 16, 3), "mlp"),
        ((16, 17, 1), "small_cnn"),
        ((28, 28, 1), "small_cnn"),
    ],
)
def test_build_backbone_none_builds_the_default(input_shape, expected):
    assert models.default_backbone(input_shape) == expected
    assert build_backbone(None, input_shape, embedding_dim=4).name == expected
