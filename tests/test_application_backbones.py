"""The ``keras.applications`` backbones of ``build_backbone``: names, input handling, the
ImageNet preprocessing, weights (ImageNet offline, local files) and the layers frozen first."""

import re

import keras
import numpy as np
import pytest
from keras.src.utils import file_utils

from keras_angular.models import (
    APPLICATIONS,
    BACKBONES,
    OWN_BACKBONES,
    BackboneWeightsError,
    ImageNetPreprocessing,
    build_backbone,
    feature_extractor_layers,
)
from keras_angular.registry_names import BACKBONE_NAMES

RNG = np.random.default_rng(0)
GRAY = RNG.random((4, 28, 28, 1)).astype("float32")


def _one_sentence(message):
    return "\n" not in message and message.endswith(".") and not re.search(r"\.\s+[A-Z]", message)


def test_every_application_is_a_keras_constructor_and_resnet50_stays_the_package_one():
    for name, spec in APPLICATIONS.items():
        assert callable(getattr(keras.applications, spec.constructor)), name
        assert hasattr(getattr(keras.applications, spec.module), "preprocess_input"), name
    assert APPLICATIONS["keras_resnet50"].constructor == "ResNet50"
    assert "resnet50" in OWN_BACKBONES and "resnet50" not in APPLICATIONS
    assert BACKBONE_NAMES == tuple(BACKBONES) == (*OWN_BACKBONES, *APPLICATIONS)


@pytest.mark.parametrize(
    "name", sorted({spec.module: n for n, spec in APPLICATIONS.items()}.values())
)
def test_preprocessing_matches_the_family_preprocess_input(name):
    """Keras' NumPy ``preprocess_input`` is the reference; a family without a mode must leave
    the pixels as they are (its network holds its preprocessing)."""
    spec = APPLICATIONS[name]
    pixels = RNG.uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    expected = getattr(keras.applications, spec.module).preprocess_input(pixels.copy())
    if spec.preprocessing is None:
        np.testing.assert_array_equal(expected, pixels)
    else:
        got = keras.ops.convert_to_numpy(ImageNetPreprocessing(spec.preprocessing)(pixels))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def _outputs(net, x):
    return keras.ops.convert_to_numpy(net(x))


@pytest.fixture(scope="module")
def gray_net():
    """MobileNetV3Small for 28x28 grayscale images, 8-d embedding (built once: ~3 s)."""
    return build_backbone("MobileNetV3Small", (28, 28, 1), embedding_dim=8)


def test_grayscale_28px_becomes_32px_rgb_and_ends_in_the_embedding(gray_net):
    net = gray_net
    assert net.name == "mobilenetv3small" and net.output_shape == (None, 8)
    assert net.layers[-1].name == "embedding"
    assert isinstance(net.layers[-1], keras.layers.Dense)
    assert net.layers[-1].activation is keras.activations.linear
    resized = _outputs(keras.Model(net.input, net.get_layer("resize").output), GRAY)
    reference = keras.ops.image.resize(np.repeat(GRAY * 255.0, 3, axis=-1), (32, 32))
    np.testing.assert_allclose(resized, keras.ops.convert_to_numpy(reference), atol=1e-3)
    assert np.isfinite(_outputs(net, GRAY)).all()


def test_channel_statistics_are_undone_before_the_pixels():
    mean, std = np.array([0.3]), np.array([0.2])
    net = build_backbone(
        "mobilenetv2", (32, 32, 1), embedding_dim=4, input_mean=mean, input_std=std
    )
    x = RNG.random((2, 32, 32, 1)).astype("float32")
    z = (x - mean) / std
    pixels = _outputs(keras.Model(net.input, net.get_layer("to_pixels").output), z)
    np.testing.assert_allclose(pixels, x * 255.0, atol=1e-3)
    preprocessed = _outputs(keras.Model(net.input, net.get_layer("preprocess").output), z)
    # MobileNetV2's "tf" mode: [0, 1] -> [-1, 1], as RGB
    np.testing.assert_allclose(preprocessed, np.repeat(x * 2 - 1, 3, axis=-1), atol=1e-5)


def test_the_preprocessing_layer_round_trips_through_keras_serialization():
    layer = ImageNetPreprocessing("caffe", name="preprocess")
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(copy) is ImageNetPreprocessing and copy.mode == "caffe"
    with pytest.raises(ValueError, match="mode"):
        ImageNetPreprocessing("bgr")


def test_images_smaller_than_the_minimum_size_are_resized_up_to_it():
    assert APPLICATIONS["xception"].min_size == 71
    with pytest.raises(ValueError, match="at least 32"):
        build_backbone("mobilenetv3small", (28, 28, 1), image_size=16)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        build_backbone("mobilenetv3small", (32, 32, 2))


def test_a_local_weights_file_round_trips(gray_net, tmp_path):
    """Only the loaded weights give the same outputs: the build draws its initial weights from
    another seed than the saved backbone's."""
    path = str(tmp_path / "net.weights.h5")
    gray_net.save_weights(path)
    keras.utils.set_random_seed(4321)
    loaded = build_backbone("mobilenetv3small", (28, 28, 1), embedding_dim=8, weights=path)
    np.testing.assert_allclose(_outputs(loaded, GRAY), _outputs(gray_net, GRAY), rtol=1e-4, atol=0)


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square")
def test_imagenet_weights_offline_fail_in_one_sentence(monkeypatch):
    calls = []

    def no_network(*args, **kwargs):  # what Keras' get_file raises when the host is unknown
        calls.append(kwargs.get("origin", args[1] if len(args) > 1 else None))
        raise Exception(  # noqa: TRY002 - Keras raises a bare Exception
            "URL fetch failure on https://storage.googleapis.com/x.h5: None -- "
            "[Errno -2] Name or service not known"
        )

    monkeypatch.setattr(file_utils, "get_file", no_network)
    with pytest.raises(BackboneWeightsError) as caught:
        build_backbone("mobilenetv3small", (28, 28, 1), embedding_dim=8, weights="imagenet")
    message = str(caught.value)
    assert len(calls) == 1
    assert message.startswith("could not download the ImageNet weights of mobilenetv3small")
    assert "--weights PATH" in message and "Name or service not known" in message
    assert _one_sentence(message)


def test_the_package_backbones_refuse_imagenet_and_load_a_path(tmp_path):
    with pytest.raises(BackboneWeightsError) as caught:
        build_backbone("small_cnn", (28, 28, 1), weights="imagenet")
    assert _one_sentence(str(caught.value)) and "no pretrained weights" in str(caught.value)
    with pytest.raises(BackboneWeightsError, match="no weights file"):
        build_backbone("mlp", (8, 8, 1), weights=str(tmp_path / "missing.weights.h5"))
    path = str(tmp_path / "mlp.weights.h5")
    net = build_backbone("mlp", (8, 8, 1), embedding_dim=3)
    net.save_weights(path)
    loaded = build_backbone("mlp", (8, 8, 1), embedding_dim=3, weights=path)
    x = RNG.random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(_outputs(loaded, x), _outputs(net, x))
    with pytest.raises(BackboneWeightsError) as caught:
        build_backbone("mlp", (8, 8, 1), embedding_dim=4, weights=path)
    assert "\n" not in str(caught.value) and "embedding_dim" in str(caught.value)


def test_unknown_name_lists_the_application_names():
    with pytest.raises(ValueError) as caught:
        build_backbone("resnet51", (32, 32, 3))
    for name in ("mobilenetv3small", "keras_resnet50", "convnexttiny", "resnet50", "mlp"):
        assert f" {name}," in str(caught.value) or str(caught.value).endswith(f" {name}.")


def test_feature_extractor_layers_are_the_body_without_the_embedding(gray_net):
    body = feature_extractor_layers(gray_net)
    assert [layer.name for layer in body] == ["MobileNetV3Small"]
    assert isinstance(body[0], keras.Model)
    try:
        for layer in body:
            layer.trainable = False
        assert feature_extractor_layers(gray_net) == body  # the same list unfreezes them
        trainable = {id(v) for v in gray_net.trainable_weights}
        assert trainable == {id(v) for v in gray_net.get_layer("embedding").trainable_weights}
    finally:
        for layer in body:
            layer.trainable = True

    own = build_backbone("small_cnn", (8, 8, 1), embedding_dim=4, widths=(4,), convs=(1,))
    assert [layer.name for layer in feature_extractor_layers(own)] == ["conv1_1", "conv1_1_bn"]
    with pytest.raises(ValueError, match="no layer named 'embedding'"):
        feature_extractor_layers(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
