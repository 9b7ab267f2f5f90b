"""Views of a classifier that Grad-CAM and the class scores need.

* ``functional_view`` - a Functional model of a built Sequential one;
* [`score_model`][keras_angular.explain.score_model] - the model from the inputs to the class scores
  (the single output or the ``"logits"`` entry of a dict output);
* [`feature_map_layer`][keras_angular.explain.feature_map_layer] - the layer whose feature maps
  Grad-CAM weighs;
* ``gradcam_model`` - the class scores with an identity layer marking that
  layer's output, in one graph from the model's inputs (nested models inlined).

All of them share the model's layers and weights.
"""

import keras

from keras_angular import backend

__all__ = [
    "FEATURE_MAP_MARKER",
    "feature_map_layer",
    "functional_view",
    "gradcam_model",
    "has_nonlinear_activation",
    "score_model",
]

FEATURE_MAP_MARKER = "keras_angular_gradcam_feature_map"
"""Name of the identity layer that ``gradcam_model`` puts after the explained layer."""


def functional_view(model):
    """A Functional view of ``model`` (a built Sequential becomes one with the same layers).

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> type(functional_view(model)).__name__
        'Functional'
    """
    if isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, model.outputs, name=model.name)
    return model


def _score_tensor(model, owner):
    """The class-score output of ``model``: its only output or its ``"logits"`` entry."""
    try:
        output = model.output
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"{owner}: the model must be a built Functional or Sequential model ({error})."
        ) from None
    if isinstance(output, dict):
        if "logits" not in output:
            raise ValueError(
                f"{owner}: the model's outputs {sorted(output)} have no 'logits' entry; "
                "the class scores must be the only output or the one named 'logits'."
            )
        output = output["logits"]
    elif isinstance(output, (list, tuple)):
        if len(output) != 1:
            raise ValueError(
                f"{owner}: the model has {len(output)} outputs; the class scores must be "
                "the only output or the 'logits' entry of a dict output."
            )
        output = output[0]
    if len(output.shape) != 2:
        raise ValueError(
            f"{owner}: the class scores must have shape (batch, classes), got {output.shape}."
        )
    return output


def score_model(model):
    """A ``keras.Model`` from ``model``'s inputs to its class scores (the head's output).

    Its only output, or the ``"logits"`` entry of a dict output (the registry's
    ``{"logits", "embedding"}`` models). Shares ``model``'s layers and weights.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((4,))
        >>> logits = keras.layers.Dense(3, name="head")(inputs)
        >>> model = keras.Model(inputs, {"logits": logits, "embedding": inputs})
        >>> score_model(model).output.shape
        (None, 3)
    """
    model = functional_view(model)
    output = _score_tensor(model, "score_model")
    if not isinstance(model.output, dict) and model.output is output:
        return model
    return keras.Model(model.inputs, output, name=f"{model.name}_scores")


def _layers_walk(model):
    """Every layer of ``model``, nested models included, from the output back."""
    for layer in reversed(model.layers):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers_walk(layer)


def _output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # no or several call sites
        return None


def feature_map_layer(model, layer=None):
    """The layer whose output Grad-CAM weighs (see [`keras_angular.explain`][]).

    Args:
        model: a built Keras model.
        layer: None (the last layer with a (B, h, w, k) output, nested models
            searched), a layer name, or a layer of ``model``.

    Returns:
        The layer.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
        >>> x = keras.layers.ReLU(name="relu")(x)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> feature_map_layer(keras.Model(inputs, keras.layers.Dense(2)(x))).name
        'relu'
    """
    model = functional_view(model)
    candidates = [lay for lay in _layers_walk(model) if not isinstance(lay, keras.Model)]
    if layer is None:
        for candidate in candidates:
            if not isinstance(candidate, keras.layers.InputLayer) and _output_rank(candidate) == 4:
                return candidate
        raise ValueError(
            f"gradcam: model {model.name!r} has no layer with a spatial (batch, height, "
            "width, channels) output to explain; Grad-CAM needs a convolutional model."
        )
    if isinstance(layer, str):
        found = [lay for lay in candidates if lay.name == layer]
        if not found:
            raise ValueError(f"gradcam: no layer named {layer!r} in model {model.name!r}.")
        layer = found[0]
    elif not any(lay is layer for lay in candidates):
        raise ValueError(
            f"gradcam: `layer` must be None, a layer name or a layer of the model, got {layer!r}."
        )
    if _output_rank(layer) != 4:
        raise ValueError(
            f"gradcam: layer {layer.name!r} must have a spatial (batch, height, width, channels) "
            f"output, got rank {_output_rank(layer)}."
        )
    return layer


def _contains(model, target):
    return any(lay is target for lay in _layers_walk(model))


def gradcam_model(model, target):
    """``model``'s class scores with an identity layer named ``FEATURE_MAP_MARKER``
    after ``target``.

    The graph is rebuilt with the same layers (shared weights); nested models that hold
    ``target`` are inlined, so the marked feature map and the scores are tensors of one
    graph from the model's inputs, as tf-keras-vis needs.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> model = keras.Model(inputs, keras.layers.Dense(2)(x))
        >>> vis = gradcam_model(model, model.get_layer("conv"))
        >>> vis.get_layer(FEATURE_MAP_MARKER).output.shape
        (None, 6, 6, 2)
    """
    marker = keras.layers.Identity(name=FEATURE_MAP_MARKER)

    def call_function(layer, *args, **kwargs):
        if layer is target:
            return marker(layer(*args, **kwargs))
        if isinstance(layer, keras.Model) and _contains(layer, target):
            inner = keras.models.clone_model(
                functional_view(layer),
                input_tensors=args[0],
                clone_function=lambda lay: lay,
                call_function=call_function,
            )
            return inner.output
        return layer(*args, **kwargs)

    clone = keras.models.clone_model(
        functional_view(model), clone_function=lambda lay: lay, call_function=call_function
    )
    scores = _score_tensor(clone, "gradcam")
    return keras.Model(clone.inputs, scores, name=f"{model.name}_gradcam")


def has_nonlinear_activation(vis_model):
    """Whether the layer that produces ``vis_model``'s first output applies an activation
    other than the identity (a softmax head, which Grad-CAM replaces by the identity).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((2,))
        >>> has_nonlinear_activation(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
        False
    """
    producer = backend.producing_operation(vis_model.outputs[0])
    activation = getattr(producer, "activation", None)
    return activation is not None and activation is not keras.activations.linear
