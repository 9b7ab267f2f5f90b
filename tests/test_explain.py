"""keras_angular.explain against independent references.

* Grad-CAM maps equal a plain ``tf.GradientTape`` Grad-CAM written here from
  Selvaraju et al. Eq. 1-2 (with a NumPy linear resize), for the three heads, the
  registry's dict outputs, a nested backbone and a model loaded back from ``.keras``.
* On images whose class is decided only by a bright patch at a place the test knows,
  a trained model's maps point at the patch and delete it first (deletion AUC below
  the random map's, insertion AUC above).
* Deletion / insertion curves equal a hand-worked case; overlays equal the jet colour
  map's known end points; bad input fails with a clear message.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_angular import explain
from keras_angular.layers import CosineDense, WeightsBiasedDense
from keras_angular.saving import load_model

SIZE = 12


def _backbone(name="backbone"):
    """conv -> BN -> ReLU, pool, conv -> ReLU ("feature"), GAP, Dense embedding."""
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv_last")(x)
    x = keras.layers.ReLU(name="feature")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="embedding")(x), name=name)


def _head(kind):
    return {
        "cosine": lambda: CosineDense(3, name="head"),
        "weights_biased": lambda: WeightsBiasedDense(3, name="head"),
        "dense": lambda: keras.layers.Dense(3, name="head"),
    }[kind]()


def _linear_resize(maps, height, width):
    """Align-corners linear interpolation along each axis (NumPy, one axis at a time)."""
    _, h, w = maps.shape
    rows = np.linspace(0, h - 1, height)
    cols = np.linspace(0, w - 1, width)
    along_rows = np.stack(
        [[np.interp(rows, np.arange(h), m[:, j]) for j in range(w)] for m in maps]
    ).transpose(0, 2, 1)
    return np.stack([[np.interp(cols, np.arange(w), r) for r in m] for m in along_rows])


def _reference_gradcam(feature_and_scores, images, classes):
    """Selvaraju et al. Eq. 1-2 with a GradientTape, then resize and min-max scale."""
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        features, scores = feature_and_scores(x)
        chosen = tf.gather(scores, classes, batch_dims=1)
    grads = tape.gradient(chosen, features).numpy()
    weights = grads.mean(axis=(1, 2), keepdims=True)
    cam = np.maximum((weights * features.numpy()).sum(axis=-1), 0.0)
    cam = _linear_resize(cam, images.shape[1], images.shape[2])
    low = cam.min(axis=(1, 2), keepdims=True)
    high = cam.max(axis=(1, 2), keepdims=True)
    return (cam - low) / np.maximum(high - low, 1e-12)


def _images(n=6, seed=0):
    return np.random.default_rng(seed).random((n, SIZE, SIZE, 1), dtype=np.float32)


@pytest.mark.parametrize("kind", ["cosine", "weights_biased", "dense"])
def test_gradcam_equals_gradient_tape_reference(kind):
    backbone = _backbone()
    head = _head(kind)
    embedding = backbone.output
    model = keras.Model(backbone.input, {"logits": head(embedding), "embedding": embedding})
    images = _images()
    feature = keras.Model(model.input, [model.get_layer("feature").output, model.output["logits"]])
    predicted = model.predict(images, verbose=0)["logits"].argmax(axis=-1)
    expected = _reference_gradcam(feature, images, predicted)

    # The default layer is the last spatial map, the rectified "feature" layer.
    assert explain.feature_map_layer(model).name == "feature"
    maps = explain.gradcam(model, images, batch_size=4, progress=False)
    assert maps.dtype == np.float32 and maps.shape == (6, SIZE, SIZE)
    np.testing.assert_allclose(maps, expected, atol=2e-5)


def test_gradcam_nested_backbone_and_loaded_model(tmp_path):
    backbone = _backbone()
    inputs = keras.Input((SIZE, SIZE, 1))
    embedding = backbone(inputs)
    head = CosineDense(3, name="head")
    model = keras.Model(inputs, {"logits": head(embedding), "embedding": embedding})
    # the default layer is the last spatial map, found inside the nested backbone
    assert explain.feature_map_layer(model) is backbone.get_layer("feature")
    inner = keras.Model(backbone.input, [backbone.get_layer("feature").output, backbone.output])

    def feature_and_scores(x):
        features, emb = inner(x)
        return features, head(emb)

    images = _images(seed=1)
    classes = np.array([0, 1, 2, 0, 1, 2])
    expected = _reference_gradcam(feature_and_scores, images, classes)
    np.testing.assert_allclose(
        explain.gradcam(model, images, class_index=classes, progress=False), expected, atol=2e-5
    )
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(
        explain.gradcam(loaded, images, class_index=classes, progress=False), expected, atol=2e-5
    )


def test_gradcam_plus_plus_of_one_channel_is_the_rectified_map():
    """With one feature channel both methods weigh the map by one positive number."""
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="one")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="ones")(x))
    images = _images()
    feature = keras.Model(inputs, model.get_layer("one").output)(images).numpy()[..., 0]
    expected = _linear_resize(feature, SIZE, SIZE)
    expected = (expected - expected.min(axis=(1, 2), keepdims=True)) / np.ptp(
        expected, axis=(1, 2), keepdims=True
    )
    for method in explain.METHODS:
        np.testing.assert_allclose(
            explain.gradcam(model, images, method=method, progress=False), expected, atol=2e-5
        )


PATCH = 4


def _patch_images(n, seed):
    """Class 1 = a bright 4x4 patch somewhere on noise, class 0 = the noise alone."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.uniform(0.0, 0.5, (n, 16, 16, 1)).astype(np.float32)
    masks = np.zeros((n, 16, 16), bool)
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, 16 - PATCH + 1, 2)
        x[i, r : r + PATCH, c : c + PATCH] = 1.0
        masks[i, r : r + PATCH, c : c + PATCH] = True
    return x, y, masks


def test_maps_of_a_trained_model_point_at_the_deciding_patch():
    x, y, _ = _patch_images(512, seed=0)
    inputs = keras.Input((16, 16, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(h))
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)

    xt, yt, masks = _patch_images(64, seed=1)
    xt, masks = xt[yt == 1], masks[yt == 1]
    assert (explain.class_scores(model, xt).argmax(axis=-1) == 1).mean() >= 0.95
    maps = explain.gradcam(model, xt, progress=False)

    # Pointing game, checked by hand as well as by the package's function.
    peak = maps.reshape(len(maps), -1).argmax(axis=-1)
    hits = masks.reshape(len(masks), -1)[np.arange(len(masks)), peak]
    assert hits.mean() >= 0.9
    np.testing.assert_array_equal(explain.pointing_game(maps, masks), hits)
    # Most of the mass lies on the patch grown by one pixel (the resize's reach); the
    # bare patch (1/16 of the image) holds several times its area share.
    grown = masks.copy()
    grown[:, 1:] |= masks[:, :-1]
    grown[:, :-1] |= masks[:, 1:]
    grown[:, :, 1:] |= grown[:, :, :-1]
    grown[:, :, :-1] |= grown[:, :, 1:]
    share = (maps * grown).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
    assert share.mean() > 0.5
    assert explain.mass_in_mask(maps, masks).mean() > 4 * masks.mean()

    noise = explain.random_heatmaps(len(xt), 16, 16, seed=3)
    deletion = explain.deletion_auc(model, xt, maps, steps=16)
    deletion_random = explain.deletion_auc(model, xt, noise, steps=16)
    assert deletion.mean() < deletion_random.mean() - 0.1
    insertion = explain.insertion_auc(model, xt, maps, steps=16)
    insertion_random = explain.insertion_auc(model, xt, noise, steps=16)
    assert insertion.mean() > insertion_random.mean()


def test_deletion_and_insertion_curves_hand_worked():
    """Logit of class 1 = sum of the pixels, class 0 = 0: p_1 = sigmoid(sum)."""
    inputs = keras.Input((2, 2, 1))
    flat = keras.layers.Flatten()(inputs)
    kernel = np.stack([np.zeros(4), np.ones(4)], axis=1)
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(flat))
    dense.set_weights([kernel, np.zeros(2)])
    image = np.array([[[[4.0], [0.0]], [[0.0], [0.0]]]], np.float32)  # grey canvas = mean 1
    heat = np.array([[[1.0, 0.0], [0.0, 0.0]]])
    sigmoid = lambda s: 1.0 / (1.0 + np.exp(-np.asarray(s, float)))  # noqa: E731
    fractions, curve = explain.perturbation_curves(model, image, heat, "deletion", steps=4)
    np.testing.assert_allclose(fractions, [0, 0.25, 0.5, 0.75, 1])
    # The 4 goes to the canvas first, then each 0 becomes 1: sums 4, 1, 2, 3, 4.
    np.testing.assert_allclose(curve[0], sigmoid([4, 1, 2, 3, 4]), rtol=1e-6)
    np.testing.assert_allclose(
        explain.deletion_auc(model, image, heat, steps=4), [np.trapezoid(curve[0], fractions)]
    )
    _, inserted = explain.perturbation_curves(
        model, image, heat, "insertion", steps=4, canvas="grey"
    )
    # From the canvas (sum 4), the 4 comes back first (sum 7), then each 1 becomes 0.
    np.testing.assert_allclose(inserted[0], sigmoid([4, 7, 6, 5, 4]), rtol=1e-6)
    # A class given: the probability of class 0 instead.
    _, other = explain.perturbation_curves(model, image, heat, "deletion", steps=4, class_index=0)
    np.testing.assert_allclose(other[0], 1.0 - sigmoid([4, 1, 2, 3, 4]), rtol=1e-6)


def test_overlay_and_grid(tmp_path):
    images = np.zeros((2, 4, 4, 1), np.float32)
    maps = np.zeros((2, 4, 4), np.float32)
    maps[:, 0, 0] = 1.0
    mixed = explain.overlay(images, maps, alpha=0.5)
    assert mixed.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(mixed[0, 0, 0], [0.25, 0.0, 0.0])  # jet(1) = dark red
    np.testing.assert_allclose(mixed[0, 1, 1], [0.0, 0.0, 0.25], atol=1e-6)  # jet(0) = navy
    path = os.path.join(tmp_path, "grid.png")
    fig = explain.save_grid(
        path,
        images,
        {"softmax": maps, "amc": maps},
        predictions_by_model={"amc": ([1, 0], [0.93, 0.51])},
        class_names=["cat", "dog"],
        labels=[1, 0],
    )
    assert os.path.getsize(path) > 1000
    assert len(fig.axes) == 2 * 5
    assert [ax.get_title() for ax in fig.axes[:5]] == [
        "true: dog",
        "softmax map",
        "softmax",
        "amc map",
        "amc: dog p=0.93",
    ]
    # a score outside [0, 1] is not a probability: refused unless it is named
    with pytest.raises(ValueError, match="score_name"):
        explain.save_grid(
            path, images, {"amc": maps}, predictions_by_model={"amc": ([1, 0], [1.93, 0.5])}
        )
    fig = explain.save_grid(
        path,
        images,
        {"amc": maps},
        predictions_by_model={"amc": ([1, 0], [1.93, -0.5])},
        class_names=["cat", "dog"],
        score_name="cos",
    )
    assert [ax.get_title() for ax in fig.axes[2::3]] == ["amc: dog cos=1.93", "amc: cat cos=-0.50"]


def test_bad_input_fails_clearly():
    backbone = _backbone()
    model = keras.Model(backbone.input, CosineDense(3, name="head")(backbone.output))
    images = _images(2)
    with pytest.raises(ValueError, match="shape"):
        explain.gradcam(model, images[0], progress=False)
    with pytest.raises(ValueError, match="takes"):
        explain.gradcam(model, np.zeros((2, 8, 8, 1)), progress=False)
    bad = images.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        explain.gradcam(model, bad, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        explain.gradcam(model, images, class_index=3, progress=False)
    with pytest.raises(ValueError, match="one per image"):
        explain.gradcam(model, images, class_index=[0, 1, 2], progress=False)
    with pytest.raises(ValueError, match="method"):
        explain.gradcam(model, images, method="scorecam", progress=False)
    with pytest.raises(ValueError, match="no layer named"):
        explain.gradcam(model, images, layer="nope", progress=False)
    with pytest.raises(ValueError, match="spatial"):
        explain.gradcam(model, images, layer="embedding", progress=False)
    dense_only = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="convolutional"):
        explain.gradcam(dense_only, np.zeros((1, 4, 4, 1)), progress=False)
    two = keras.Model(backbone.input, [backbone.output, model.output])
    with pytest.raises(ValueError, match="2 outputs"):
        explain.gradcam(two, images, progress=False)
    with pytest.raises(ValueError, match="heatmaps"):
        explain.deletion_auc(model, images, np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="canvas"):
        explain.insertion_auc(model, images, np.zeros((2, SIZE, SIZE)), canvas="black")
    with pytest.raises(ValueError, match="masks"):
        explain.pointing_game(np.zeros((1, 3, 3)), np.zeros((1, 2, 2)))
