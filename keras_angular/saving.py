"""Load a saved model whose compiled losses read its layers, ready to train on.

``keras.saving.load_model`` restores a model compiled with any loss of
``keras_angular.losses``, with bit-identical predictions and, for
[`CenterLoss`][keras_angular.losses.CenterLoss], the saved class centres. A loss that
reads a layer of the model (``head=``: [`HASeparatorLoss`][keras_angular.losses.HASeparatorLoss],
[`WSoftmaxLoss`][keras_angular.losses.WSoftmaxLoss], [`AMCLoss`][keras_angular.losses.AMCLoss]
and [`EuclideanContrastiveLoss`][keras_angular.losses.EuclideanContrastiveLoss] with a head,
[`CenterLoss`][keras_angular.losses.CenterLoss] with its ``ClassCenters`` layer) is rebuilt
by Keras from its config before Keras can hand it the model, so it knows that layer
only by name. [`load_model`][keras_angular.saving.load_model] is ``keras.saving.load_model`` plus
that one step: it binds every such loss to the loaded model's own layer before any train step is
traced, so ``fit`` continues training with no other call.
"""

import keras


def compiled_losses(model):
    """The loss objects ``model`` was compiled with, flattened (a dict, list or one loss).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((2,))
        >>> outputs = {"a": keras.layers.Dense(2)(inputs), "b": keras.layers.Dense(1)(inputs)}
        >>> model = keras.Model(inputs, outputs)
        >>> model.compile("adam", loss={"a": "mse", "b": "mae"})
        >>> compiled_losses(model)
        ['mse', 'mae']
    """
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        return list(loss.values())
    if isinstance(loss, (list, tuple)):
        return list(loss)
    return [] if loss is None else [loss]


def bind_losses(model):
    """Bind every compiled loss that knows its head layer by name to ``model``; returns it.

    Examples:
        >>> import keras, keras_angular as ka
        >>> inputs = keras.Input((4,))
        >>> head = ka.layers.CosineDense(3, name="head")
        >>> model = keras.Model(inputs, head(inputs))
        >>> loss = ka.losses.HASeparatorLoss(head="head")  # known by name only
        >>> model.compile("adam", loss=loss)
        >>> bind_losses(model).loss.head is head
        True
    """
    for loss in compiled_losses(model):
        if callable(getattr(loss, "bind", None)):
            loss.bind(model)
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``keras.saving.load_model`` with the compiled losses bound to their head layers.

    Args:
        filepath, custom_objects, compile, safe_mode: as for ``keras.saving.load_model``.

    Returns:
        The loaded model; with ``compile=True`` it is ready to ``fit``, ``evaluate``
        and ``predict``.

    Examples:
        >>> import keras, keras_angular as ka, numpy as np, tempfile, os
        >>> inputs = keras.Input((4,))
        >>> head = ka.layers.CosineDense(3, name="head")
        >>> model = keras.Model(inputs, head(keras.layers.Dense(5)(inputs)))
        >>> model.compile("adam", loss=ka.losses.HASeparatorLoss(head=head))
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> model.save(path)
        >>> loaded = load_model(path)
        >>> loaded.loss.head is loaded.get_layer("head")
        True
    """
    model = keras.saving.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )
    return bind_losses(model)


__all__ = ["bind_losses", "compiled_losses", "load_model"]
