"""A loss that reads its head's weights sees this step's weights, not the optimizer's update
of them, in a TensorFlow graph step (no XLA): the Euclidean contrastive loss's predicted
labels (AMC paper Eq. 3) come from the head before the step, so a fresh model on a fixed
batch gives the same loss every time (TensorFlow's graph optimiser let the update run first
in about one graph in five: ``keras_angular.backend.keep_variable_reads_before_updates``)."""

import keras
import numpy as np
import tensorflow as tf

from keras_angular.losses import EuclideanContrastiveLoss

BATCH, FEATURES, EMBEDDING, CLASSES = 16, 12, 8, 4


def _weights():
    shapes = [
        (FEATURES, 16),
        (16,),
        (16, EMBEDDING),
        (EMBEDDING,),
        (EMBEDDING, CLASSES),
        (CLASSES,),
    ]
    return [
        np.random.default_rng(100 + i).normal(0.0, 0.5, shape).astype("float32")
        for i, shape in enumerate(shapes)
    ]


def _reference_loss(weights, x, margin=1.0, weight=0.1):
    """Eq. 1 with S from the head's argmax before the step, in NumPy."""
    w1, b1, w2, b2, wh, bh = (w.astype("float64") for w in weights)
    embedding = np.tanh(x @ w1 + b1) @ w2 + b2
    predicted = (embedding @ wh + bh).argmax(axis=1)
    half = BATCH // 2
    same = predicted[:half] == predicted[half:]
    distance = np.linalg.norm(embedding[:half] - embedding[half:], axis=1)
    values = np.where(same, distance**2, np.maximum(margin - distance, 0.0) ** 2)
    return weight * values.mean()


def _first_step_embedding_loss(weights, x):
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(16, activation="tanh")(inputs)
    embedding = keras.layers.Dense(EMBEDDING)(hidden)
    head = keras.layers.Dense(CLASSES)
    model = keras.Model(inputs, {"logits": head(embedding), "embedding": embedding})
    model.set_weights(weights)
    model.compile(
        keras.optimizers.SGD(1.0),  # a large step: the updated head predicts other labels
        loss={
            "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "embedding": EuclideanContrastiveLoss(head=head),
        },
        jit_compile=False,
    )
    y = np.zeros(BATCH, "int32")
    logs = model.train_on_batch(x, {"logits": y, "embedding": y}, return_dict=True)
    return logs["embedding_loss"]


def test_a_head_reading_loss_reads_the_head_before_the_update():
    # the process default, as a user's first loss with a head finds it
    tf.config.optimizer.set_experimental_options({"dependency_optimization": True})
    weights = _weights()
    x = np.random.default_rng(0).normal(size=(BATCH, FEATURES)).astype("float32")
    expected = _reference_loss(weights, x)
    # 12 fresh graphs: with the reordering, 12 agree by chance less than one time in 10
    losses = [_first_step_embedding_loss(weights, x) for _ in range(12)]
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
