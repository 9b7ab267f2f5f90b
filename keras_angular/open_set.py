"""Open-set evaluation: hold classes out of training and score the embedding on them.

Margin losses are used where the test classes are not the training classes, and
there an embedding is judged by retrieval and verification on classes it never
saw. [`open_set_splits`][keras_angular.open_set.open_set_splits] holds ``K`` classes out: it trains
on the others and keeps the held-out classes' *test* images for scoring;
[`unseen_class_scores`][keras_angular.open_set.unseen_class_scores] embeds those with a trained
model and returns [`keras_angular.metrics.embedding_scores`][] (precision@1, R-precision, MAP@R,
ROC AUC, TAR at FAR, best accuracy) under keys starting ``open_``.
``keras-angular compare --open-set K`` ([`keras_angular.report.compare_methods`][]
with ``open_set=K``) runs both for every method and seed.
"""

import dataclasses

import numpy as np

from keras_angular.data import DatasetSplits
from keras_angular.metrics import RETRIEVAL_KEYS, embedding_scores
from keras_angular.run_config import RunSettingsError

PREFIX = "open_"
"""The prefix of the unseen-class scores' keys (``open_precision_at_1`` ...)."""

OPEN_SET_KEYS = tuple(PREFIX + key for key in RETRIEVAL_KEYS)
"""The keys [`unseen_class_scores`][keras_angular.open_set.unseen_class_scores] returns, in
order."""


@dataclasses.dataclass
class OpenSetSplits:
    """A dataset split by class: what to train on and what to score the embedding on.

    Attributes:
        train: a [`keras_angular.data.DatasetSplits`][] of the kept classes only
            (training and test images; labels renumbered ``0 .. C-K-1`` in the original
            order; the images keep the full dataset's standardization, whose per-channel
            statistics saw the held-out classes' training images - pixels, no labels).
        x_unseen, y_unseen: the held-out classes' test images and their original labels.
        held_out: the held-out classes' original indices, sorted.
        held_out_names: their names.
        seed: the seed that chose them.

    Examples:
        >>> from keras_angular.data import DatasetSplits
        >>> x, y = np.zeros((4, 1, 1, 1), "float32"), np.arange(4)  # 4 one-pixel images
        >>> data = DatasetSplits(x, y, x, y, 4, ["a", "b", "c", "d"], "toy")
        >>> split = open_set_splits(data, [1, 3])
        >>> split.train.y_train.tolist(), split.y_unseen.tolist(), split.held_out_names
        ([0, 1], [1, 3], ['b', 'd'])
    """

    train: DatasetSplits
    x_unseen: np.ndarray
    y_unseen: np.ndarray
    held_out: list
    held_out_names: list
    seed: int

    def describe(self):
        """The held-out classes in words, for reports."""
        names = ", ".join(
            f"{c} ({n})" for c, n in zip(self.held_out, self.held_out_names, strict=True)
        )
        return (
            f"{len(self.held_out)} classes held out of training (chosen with seed "
            f"{self.seed}): {names}; scored on their {len(self.y_unseen)} test images"
        )


def open_set_splits(splits, held_out, seed=0):
    """Hold ``held_out`` classes out of training (Musgrave et al.'s open-set protocol).

    Args:
        splits: a [`keras_angular.data.DatasetSplits`][].
        held_out: K, the number of classes to hold out (chosen by
            ``numpy.random.default_rng(seed).choice(C, K, replace=False)``), or an
            explicit list of class indices.
        seed: the seed of that choice (one choice for every method and run seed).

    Returns:
        An [`OpenSetSplits`][keras_angular.open_set.OpenSetSplits].

    Raises:
        RunSettingsError: (a ``ValueError``) K < 2 (verification needs two unseen
            classes), fewer than two classes left to train on, unknown class indices,
            or held-out classes with fewer than two test images in all.

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> split = open_set_splits(load_dataset("digits"), 3)  # doctest: +SKIP
        >>> split.held_out, split.train.num_classes  # doctest: +SKIP
        ([1, 5, 8], 7)
    """
    c = splits.num_classes
    if isinstance(held_out, (int, np.integer)) and not isinstance(held_out, bool):
        k = int(held_out)
        if not 2 <= k <= c - 2:
            raise RunSettingsError(
                f"open set: hold out between 2 and {c - 2} of the {c} classes (two to score "
                f"verification on, two to train on), got {k}."
            )
        chosen = np.sort(np.random.default_rng(seed).choice(c, size=k, replace=False))
    else:
        chosen = np.unique(np.asarray(held_out, dtype=np.int64))
        if chosen.size < 2 or chosen.size > c - 2 or chosen.min() < 0 or chosen.max() >= c:
            raise RunSettingsError(
                f"open set: held-out classes must be 2 to {c - 2} distinct indices in "
                f"[0, {c}), got {list(held_out)}."
            )
    unseen = np.isin(np.arange(c), chosen)
    kept = np.flatnonzero(~unseen)
    renumber = np.full(c, -1, dtype=np.int64)
    renumber[kept] = np.arange(kept.size)
    train_mask, test_mask = ~unseen[splits.y_train], ~unseen[splits.y_test]
    if np.count_nonzero(~test_mask) < 2:
        raise RunSettingsError(
            f"open set: the held-out classes {chosen.tolist()} have "
            f"{np.count_nonzero(~test_mask)} test images; at least 2 are needed."
        )
    train = DatasetSplits(
        x_train=splits.x_train[train_mask],
        y_train=renumber[splits.y_train[train_mask]],
        x_test=splits.x_test[test_mask],
        y_test=renumber[splits.y_test[test_mask]],
        num_classes=kept.size,
        class_names=[splits.class_names[i] for i in kept],
        name=f"{splits.name} without classes {','.join(str(i) for i in chosen)}",
        mean=splits.mean,
        std=splits.std,
        standardize=splits.standardize,
        source=splits.source,
    )
    return OpenSetSplits(
        train=train,
        x_unseen=splits.x_test[~test_mask],
        y_unseen=splits.y_test[~test_mask].astype(np.int64),
        held_out=[int(i) for i in chosen],
        held_out_names=[splits.class_names[i] for i in chosen],
        seed=int(seed),
    )


def unseen_class_scores(model, split, batch_size=256, seed=0):
    """Score ``model``'s embedding of the held-out classes' test images.

    Args:
        model: a trained model with an ``"embedding"`` output (every model of
            [`keras_angular.methods.build_method`][]).
        split: the [`OpenSetSplits`][keras_angular.open_set.OpenSetSplits] it was trained on
            (``split.train``).
        batch_size: of the embedding pass.
        seed: seed of the verification pair sampler (above its pair budget).

    Returns:
        The [`OPEN_SET_KEYS`][keras_angular.open_set.OPEN_SET_KEYS]:
        [`keras_angular.metrics.embedding_scores`][] of the unseen images, each key prefixed
        ``open_``.

    Examples:
        >>> import keras
        >>> from keras_angular.data import DatasetSplits
        >>> x = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [1, 1], [1, -1]], "float32")
        >>> x = x.reshape(6, 1, 1, 2)  # six 1 x 1 images with two channels
        >>> y = np.array([1, 1, 3, 3, 0, 2])
        >>> data = DatasetSplits(x, y, x, y, 4, ["a", "b", "c", "d"], "toy")
        >>> split = open_set_splits(data, [1, 3])
        >>> inputs = keras.Input((1, 1, 2))
        >>> model = keras.Model(inputs, {"embedding": keras.layers.Flatten()(inputs)})
        >>> scores = unseen_class_scores(model, split)  # classes 1 and 3: clusters apart
        >>> scores["open_precision_at_1"], scores["open_roc_auc"]
        (1.0, 1.0)
    """
    outputs = model.predict(split.x_unseen, batch_size=batch_size, verbose=0)
    embeddings = np.asarray(outputs["embedding"]).reshape(len(split.x_unseen), -1)
    scores = embedding_scores(embeddings, split.y_unseen, seed=seed)
    return {PREFIX + key: float(scores[key]) for key in RETRIEVAL_KEYS}


__all__ = ["OPEN_SET_KEYS", "OpenSetSplits", "open_set_splits", "unseen_class_scores"]
