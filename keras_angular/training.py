"""Train one method on one dataset and write everything it did to a folder.

:func:`run_method` is what ``keras-angular train`` runs and what
``keras-angular compare`` runs once per method and seed. It writes to
``out_dir``:

* ``model.keras`` - the trained model (outputs ``logits`` and ``embedding``);
* ``saved_model/`` - a SavedModel export serving both outputs, no label input;
* ``history.json`` - the Keras history (losses, accuracy, ramped values);
* ``metrics.json`` - test accuracy and the feature geometry of the test set
  (:func:`geometry_metrics`);
* ``figures/*.png`` - the geometry figures (:func:`geometry_figures`);
* ``backup/`` - a ``keras.callbacks.BackupAndRestore`` checkpoint while
  training runs: the same command resumes an interrupted run.
"""

import contextlib
import functools
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_angular import metrics, plots
from keras_angular.callbacks import GeometryMetrics, TemporalEnsemblingSchedule
from keras_angular.data import test_dataset, train_dataset
from keras_angular.methods import build_method, targets
from keras_angular.models import build_backbone


def default_backbone(input_shape):
    """The backbone used when none is named: ``mlp`` for tiny images (digits),
    the AMC paper's MNIST CNN for other grey images, its CIFAR CNN for colour."""
    height, _, channels = input_shape
    if height <= 16:
        return "mlp"
    return "amc_mnist_cnn" if channels == 1 else "amc_cnn"


def embed(model, dataset):
    """Predict ``(logits, embedding)`` as NumPy arrays over a ``tf.data`` dataset."""
    outputs = model.predict(dataset, verbose=0)
    return np.asarray(outputs["logits"]), np.asarray(outputs["embedding"])


def geometry_metrics(embeddings, labels, kernel, predictions, seed=0):
    """:func:`keras_angular.metrics.feature_geometry` with the per-class mean target
    angles (W-Softmax Eq. 14) as the list ``class_mean_angles_deg``: every angle in
    degrees, under a key ending ``_deg``."""
    return metrics.feature_geometry(
        embeddings, labels, kernel, predictions, seed=seed, class_means=True
    )


def geometry_figures(embeddings, labels, kernel, folder, class_names=None, seed=0):
    """Draw the geometry figures of one model into ``folder``; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    if embeddings.shape[-1] in (2, 3):
        features = plots.plot_embedding(embeddings, labels, path("embedding.png"))
    else:
        features = plots.plot_tsne(embeddings, labels, path("tsne.png"), seed=seed)
    return [
        features,
        plots.plot_pair_angle_histograms(embeddings, labels, path("pair_angles.png")),
        plots.plot_class_mean_angles(
            embeddings, labels, kernel, path("class_mean_angles.png"), class_names=class_names
        ),
        plots.plot_cosine_similarity(embeddings, labels, path("cosine_similarity.png")),
    ]


def _fit(setup, train, test, epochs, initial_epoch, callbacks, verbose):
    return setup.model.fit(
        train,
        validation_data=test,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # train_dataset shuffles, seeded
    )


def run_method(
    method,
    splits,
    *,
    epochs,
    batch_size=128,
    seed=0,
    backbone=None,
    backbone_kwargs=None,
    learning_rate=1e-3,
    overrides=None,
    out_dir=None,
    augment=False,
    figures=True,
    verbose=1,
    jit_compile="auto",
    strategy=None,
    extra_callbacks=(),
    recipe=None,
    geometry_every=None,
):
    """Train ``method`` on ``splits`` and evaluate it on the test split.

    Args:
        method: a name in :data:`keras_angular.methods.METHODS`.
        splits: a :class:`keras_angular.data.DatasetSplits`.
        epochs: number of epochs.
        batch_size: global batch size.
        seed: seeds Keras, NumPy, TensorFlow and the data order.
        backbone: a name for :func:`keras_angular.models.build_backbone`
            (default :func:`default_backbone`).
        backbone_kwargs: extra arguments for the backbone builder.
        learning_rate: Adam's learning rate.
        overrides: the method's hyper-parameters to change (``{"margin": 0.3}``).
        out_dir: where to write the files listed in the module docstring;
            None writes nothing.
        augment: passed to :func:`keras_angular.data.train_dataset`.
        figures: draw the geometry figures (needs ``out_dir``).
        verbose: Keras' progress-bar verbosity.
        jit_compile: passed to ``model.compile``.
        strategy: a ``tf.distribute.Strategy`` to build and train under.
        extra_callbacks: more Keras callbacks.
        geometry_every: also log the test set's feature geometry every this many
            epochs (:class:`keras_angular.callbacks.GeometryMetrics`, keys ``val_w_inter_deg``
            ...) into the history; None does not.
        recipe: None, or ``"paper"`` / ``"official"``: train with the AMC paper's whole
            temporal-ensembling recipe (:class:`keras_angular.callbacks.TemporalEnsemblingSchedule`:
            ramped learning rate, Adam beta_1 and feature-loss weight, EMA weights for the
            official code's variant) in place of ``learning_rate`` and the method's own ramp.

    Returns:
        A dict: ``method``, ``seed``, ``params``, ``test_accuracy``, the
        :func:`geometry_metrics`, ``train_seconds`` and ``history``.
    """
    keras.utils.set_random_seed(seed)
    backbone = backbone or default_backbone(splits.input_shape)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        net = build_backbone(backbone, splits.input_shape, **(backbone_kwargs or {}))
        setup = build_method(method, net, splits.num_classes, epochs, **dict(overrides or {}))
        if recipe is None:
            make_optimizer = functools.partial(keras.optimizers.Adam, learning_rate)
        else:
            schedule = TemporalEnsemblingSchedule(
                loss=setup.loss.get("embedding"), total_epochs=epochs, recipe=recipe
            )
            make_optimizer = schedule.make_optimizer
            setup.callbacks = [schedule]
        setup.compile(make_optimizer(), loss=setup.pretrain_loss, jit_compile=jit_compile)

    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = train_dataset(splits, batch_size, augment=augment, seed=seed, epoch=epoch).map(
        lambda x, y: (x, targets(y))
    )
    test = test_dataset(splits, batch_size).map(lambda x, y: (x, targets(y)))
    callbacks = [_EpochCounter(epoch), *setup.callbacks, *extra_callbacks]
    if geometry_every:
        callbacks.append(
            GeometryMetrics(splits.x_test, splits.y_test, every=geometry_every, prefix="val_")
        )
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        callbacks.append(keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup")))

    started = time.perf_counter()
    history = {}
    first_epochs = 0
    if setup.pretrain_loss is not None:
        first_epochs = min(int(setup.params["pretrain_epochs"]), epochs)
        phase = _fit(setup, train, test, first_epochs, 0, callbacks, verbose)
        history = dict(phase.history)
        with scope:
            setup.compile(make_optimizer(), jit_compile=jit_compile)
    phase = _fit(setup, train, test, epochs, first_epochs, callbacks, verbose)
    for key, values in phase.history.items():
        history.setdefault(key, []).extend(values)
    train_seconds = time.perf_counter() - started

    logits, embeddings = embed(setup.model, test_dataset(splits, batch_size))
    predictions = np.argmax(logits, axis=-1)
    kernel = keras.ops.convert_to_numpy(setup.head.kernel)
    result = {
        "method": method,
        "seed": seed,
        "backbone": backbone,
        "params": setup.params,
        "test_accuracy": float(np.mean(predictions == splits.y_test)),
        **geometry_metrics(embeddings, splits.y_test, kernel, predictions, seed=seed),
        "train_seconds": train_seconds,
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
    }
    if out_dir is not None:
        _write_outputs(setup.model, result, out_dir)
        if figures:
            result["figures"] = geometry_figures(
                embeddings,
                splits.y_test,
                kernel,
                os.path.join(out_dir, "figures"),
                class_names=splits.class_names,
                seed=seed,
            )
    return result


class _EpochCounter(keras.callbacks.Callback):
    """Keeps the data pipeline's epoch variable on the epoch Keras is running, so the
    batches of epoch ``e`` depend only on ``(seed, e)`` - also after a resume."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


def _write_outputs(model, result, out_dir):
    model.save(os.path.join(out_dir, "model.keras"))
    model.export(os.path.join(out_dir, "saved_model"), verbose=False)
    with open(os.path.join(out_dir, "history.json"), "w") as f:
        json.dump(result["history"], f, indent=1)
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump({k: v for k, v in result.items() if k != "history"}, f, indent=1)


__all__ = ["default_backbone", "embed", "geometry_figures", "geometry_metrics", "run_method"]
