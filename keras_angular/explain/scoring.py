"""Class scores (the head's output, what Grad-CAM explains) and their softmax probabilities."""

import numbers

import keras
import numpy as np
from scipy.special import softmax

from keras_angular.checks import check_int, check_positive
from keras_angular.explain.model_surgery import score_model

__all__ = ["class_probabilities", "class_scores", "training_logit_scale"]


def predict_in_chunks(model, images, batch_size):
    """A functional ``model``'s output on ``images``, ``batch_size`` rows at a time, in NumPy.

    The model is called directly (inference mode), not through ``predict_on_batch``, which
    traces a new ``tf.function`` for every chunk shape it meets (a last, partial chunk; the
    perturbation blocks of [`deletion_auc`][keras_angular.explain.deletion_auc]) and has
    TensorFlow warn of retracing.

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((2,))
        >>> model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False,
        ...     kernel_initializer="ones")(inputs))
        >>> predict_in_chunks(model, np.arange(6.0).reshape(3, 2), batch_size=2).ravel().tolist()
        [1.0, 5.0, 9.0]
    """

    def call(chunk):  # in the structure the model was built with (a tensor, or a list of one)
        inputs = keras.tree.pack_sequence_as(model.input, [chunk])
        return keras.ops.convert_to_numpy(model(inputs, training=False))

    return np.concatenate(
        [call(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    )


def class_scores(model, images, batch_size=256):
    """The head's output (the class scores Grad-CAM explains), ``(B, C)`` float32.

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((2,))
        >>> model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False,
        ...     kernel_initializer="ones")(inputs))
        >>> class_scores(model, np.ones((1, 2)), batch_size=4).tolist()
        [[2.0, 2.0, 2.0]]
    """
    batch_size = check_int("class_scores", "batch_size", batch_size, 1)
    scorer = score_model(model)
    images = np.asarray(images, dtype=np.float32)
    return predict_in_chunks(scorer, images, batch_size).astype(np.float32)


def training_logit_scale(model, scale=None):
    """The factor that turns the head's output into the softmax logits of training.

    ``scale`` when given (checked > 0), else the ``scale`` of the loss ``model`` was
    compiled with on its class scores, else 1 (see
    [`class_probabilities`][keras_angular.explain.class_probabilities]).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((2,))
        >>> training_logit_scale(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
        1.0
    """
    if scale is not None:
        return check_positive("class_probabilities", "logit_scale", scale)
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        loss = loss.get("logits")
    compiled = getattr(loss, "scale", None)
    return float(compiled) if isinstance(compiled, numbers.Real) and compiled > 0 else 1.0


def class_probabilities(model, images, batch_size=256, logit_scale=None):
    """Softmax of the logits, ``(B, C)``: ``softmax(s * class_scores)``.

    ``s`` (``logit_scale``) defaults to the ``scale`` of the loss the model was compiled
    with on its class scores (NormFace, CosFace, ArcFace, SphereFace, HASeparator: the
    head outputs cosines, the loss multiplies them by ``s``), else 1 (a ``Dense`` or
    ``WeightsBiasedDense`` head outputs the logits themselves).

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((2,))
        >>> model = keras.Model(inputs, keras.layers.Dense(2, kernel_initializer="zeros")(inputs))
        >>> class_probabilities(model, np.ones((1, 2))).tolist()
        [[0.5, 0.5]]
    """
    scale = training_logit_scale(model, logit_scale)
    return softmax(scale * class_scores(model, images, batch_size).astype(np.float64), axis=-1)
