"""Faithfulness scores against NumPy references.

* ``class_probabilities`` of a ``CosineDense`` model compiled with ``NormFaceLoss(scale=16)``
  is ``softmax(16 cos)``, and a deletion AUC equals one computed here step by step.
* ``insertion_auc`` puts pixels back on a blurred canvas by default, ``deletion_auc``
  removes them to a grey one.
* ``random_heatmaps`` follows its seed.
"""

import keras
import numpy as np

from keras_angular.explain import (
    class_probabilities,
    deletion_auc,
    insertion_auc,
    random_heatmaps,
)
from keras_angular.layers import CosineDense
from keras_angular.losses import NormFaceLoss

SIDE = 3
CLASSES = 3


def _cosine_model(scale=16.0, side=SIDE):
    """Flatten -> CosineDense(3): the class scores are cosines of the flattened image."""
    inputs = keras.Input((side, side, 1))
    head = CosineDense(CLASSES, name="head")
    model = keras.Model(inputs, head(keras.layers.Flatten()(inputs)))
    model.compile("sgd", NormFaceLoss(scale=scale))
    return model, keras.ops.convert_to_numpy(head.kernel).astype(np.float64)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cosines(images, kernel):
    x = images.reshape(len(images), -1).astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x @ (kernel / np.linalg.norm(kernel, axis=0, keepdims=True))


def _images(n=2, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, (n, SIDE, SIDE, 1)).astype(np.float32)


def test_class_probabilities_use_the_compiled_loss_scale():
    model, kernel = _cosine_model(scale=16.0)
    images = _images(4)
    expected = _softmax(16.0 * _cosines(images, kernel))
    np.testing.assert_allclose(class_probabilities(model, images), expected, atol=1e-5)
    # an explicit scale wins over the loss's
    np.testing.assert_allclose(
        class_probabilities(model, images, logit_scale=2.0),
        _softmax(2.0 * _cosines(images, kernel)),
        atol=1e-6,
    )


def test_deletion_auc_equals_a_step_by_step_numpy_reference():
    """Grey canvas, one pixel per step (steps = H * W), distinct heatmap values."""
    model, kernel = _cosine_model(scale=16.0)
    images = _images(2)
    heatmaps = np.random.default_rng(1).permutation(2 * SIDE * SIDE).reshape(2, SIDE, SIDE)
    heatmaps = heatmaps.astype(np.float32)
    grey = images.mean()
    classes = _cosines(images, kernel).argmax(axis=1)
    expected = []
    for image, heatmap, c in zip(images, heatmaps, classes, strict=True):
        order = np.argsort(-heatmap.ravel())
        curve = []
        for k in range(SIDE * SIDE + 1):
            flat = image.ravel().astype(np.float64).copy()
            flat[order[:k]] = grey
            curve.append(_softmax(16.0 * _cosines(flat.reshape(1, SIDE, SIDE, 1), kernel))[0, c])
        curve = np.array(curve)
        expected.append(((curve[1:] + curve[:-1]) / 2).sum() / (SIDE * SIDE))
    got = deletion_auc(model, images, heatmaps, steps=SIDE * SIDE)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_default_canvases_insertion_blurred_deletion_grey():
    model, _ = _cosine_model(scale=16.0, side=8)
    images = np.random.default_rng(2).uniform(0.0, 1.0, (3, 8, 8, 1)).astype(np.float32)
    images[:, :4] += 2.0  # a bright top half: the blur keeps it, the grey canvas does not
    heatmaps = random_heatmaps(3, 8, 8, seed=3)
    kwargs = {"steps": 4}
    default = insertion_auc(model, images, heatmaps, **kwargs)
    np.testing.assert_array_equal(
        default, insertion_auc(model, images, heatmaps, canvas="blur", **kwargs)
    )
    grey = insertion_auc(model, images, heatmaps, canvas="grey", **kwargs)
    assert np.abs(default - grey).max() > 1e-3
    deletion = deletion_auc(model, images, heatmaps, **kwargs)
    np.testing.assert_array_equal(
        deletion, deletion_auc(model, images, heatmaps, canvas="grey", **kwargs)
    )
    assert np.abs(deletion - deletion_auc(model, images, heatmaps, canvas="blur", **kwargs)).max()


def test_random_heatmaps_follow_their_seed():
    first = random_heatmaps(2, 5, 6, seed=0)
    np.testing.assert_array_equal(first, random_heatmaps(2, 5, 6, seed=0))
    assert not np.array_equal(first, random_heatmaps(2, 5, 6, seed=1))
    blocks = random_heatmaps(2, 5, 6, seed=0, cell=2)
    assert not np.array_equal(blocks, random_heatmaps(2, 5, 6, seed=7, cell=2))
    # cell x cell blocks share a value; the last, partial block too
    np.testing.assert_array_equal(blocks[:, 4, 4], blocks[:, 4, 5])
    np.testing.assert_array_equal(blocks[:, 0, 0], blocks[:, 1, 1])
    assert first.dtype == np.float32 and 0.0 <= first.min() and first.max() < 1.0
