"""Your own Keras CNN with every head and loss of keras_angular: train, save, reload, train on.

Each loss is a ``keras.losses.Loss``; the heads are label-free layers on your embedding. Losses on
the class scores take the head's output; losses on the embedding (AMC, Euclidean contrastive,
center) sit next to cross-entropy in a model with two outputs. After training, the model is
saved, loaded back with ``keras_angular.saving.load_model`` (which binds the losses that read the
head), checked to predict the same, and trained one more epoch::

    python examples/custom_backbone.py --tiny --losses arc amc  # seconds: 512 digits
    python examples/custom_backbone.py --dataset fashion_mnist --epochs 10
    python examples/custom_backbone.py --dataset fashion_mnist.npz --losses arc amc

``--dataset`` is anything ``keras_angular.data.load_dataset`` reads (``digits``, the offline
default; a tensorflow-datasets name; an ``.npz`` with ``x_train, y_train, x_test, y_test``,
which works offline; a folder of class folders).
"""

import argparse
import os
import tempfile

import keras
import numpy as np

import keras_angular as ka
from keras_angular.data import load_dataset, subsample

# loss name -> (head, loss on the head's output, loss on the embedding or None)
LOSSES = {
    "normface": (ka.layers.CosineDense, lambda h, c: ka.losses.NormFaceLoss(scale=16.0), None),
    "cosface": (
        ka.layers.CosineDense,
        lambda h, c: ka.losses.CosFaceLoss(scale=16.0, margin=0.2),
        None,
    ),
    "arcface": (
        ka.layers.CosineDense,
        lambda h, c: ka.losses.ArcFaceLoss(scale=16.0, margin=0.3),
        None,
    ),
    "sphereface": (
        ka.layers.CosineDense,
        lambda h, c: ka.losses.SphereFaceLoss(scale=16.0, margin=2),
        None,
    ),
    "arc": (ka.layers.CosineDense, lambda h, c: ka.losses.AngularLoss(scale=4.0), None),
    "haseparator": (
        ka.layers.CosineDense,
        lambda h, c: ka.losses.HASeparatorLoss(scale=3.0, margin=0.9, head=h),
        None,
    ),
    "wsoftmax": (
        ka.layers.WeightsBiasedDense,
        lambda h, c: ka.losses.WSoftmaxLoss(alpha=1.5, easy_margin=True, head=h),
        None,
    ),
}
_CROSS_ENTROPY = lambda h, c: keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # noqa: E731
LOSSES.update(
    {
        "amc": (
            keras.layers.Dense,
            _CROSS_ENTROPY,
            lambda h, c: ka.losses.AMCLoss(margin=0.5, weight=0.1, head=h),
        ),
        "euclid": (
            keras.layers.Dense,
            _CROSS_ENTROPY,
            lambda h, c: ka.losses.EuclideanContrastiveLoss(margin=1.0, weight=0.1, head=h),
        ),
        "center": (
            keras.layers.Dense,
            _CROSS_ENTROPY,
            lambda h, c: ka.losses.CenterLoss(alpha=0.5, weight=0.003, head=h),
        ),
    }
)
# A loss with state in the model: the centre loss's class centres live in a ClassCenters
# layer on the embedding (an identity), which is the ``head`` that loss reads - so the
# centres are saved with the model and move on every Keras backend.
EMBEDDING_LAYERS = {"center": ka.layers.ClassCenters}


def my_backbone(input_shape, embedding_dim=64):
    """A user's own small CNN: any Keras model whose output is the embedding."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return inputs, keras.layers.Dense(embedding_dim, name="embedding")(x)


def build_model(name, input_shape, num_classes):
    """The backbone, the loss's head, and the compiled model."""
    make_head, head_loss, embedding_loss = LOSSES[name]
    inputs, embedding = my_backbone(input_shape)
    head = make_head(num_classes, name="head")
    logits = head(embedding)
    if embedding_loss is None:
        model = keras.Model(inputs, logits)
        loss = head_loss(head, num_classes)
    else:
        feature_head = head
        if name in EMBEDDING_LAYERS:
            feature_head = EMBEDDING_LAYERS[name](num_classes, name="centers")
            embedding = feature_head(embedding)
        model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
        loss = {
            "logits": head_loss(head, num_classes),
            "embedding": embedding_loss(feature_head, num_classes),
        }
    model.compile(keras.optimizers.Adam(2e-3), loss=loss)
    return model


def class_scores(model, x):
    outputs = model.predict(x, verbose=0)
    return outputs["logits"] if isinstance(outputs, dict) else outputs


def run(name, splits, epochs, batch_size, folder):
    """Train, save, reload, check, train on; returns (accuracy, accuracy after one more epoch)."""
    model = build_model(name, splits.input_shape, splits.num_classes)
    targets = (
        splits.y_train
        if len(model.outputs) == 1
        else {
            "logits": splits.y_train,
            "embedding": splits.y_train,
        }
    )
    model.fit(splits.x_train, targets, epochs=epochs, batch_size=batch_size, verbose=0)
    scores = class_scores(model, splits.x_test)
    accuracy = float(np.mean(np.argmax(scores, axis=-1) == splits.y_test))

    path = os.path.join(folder, f"{name}.keras")
    model.save(path)
    loaded = ka.saving.load_model(path)
    reloaded_scores = class_scores(loaded, splits.x_test)
    if not np.allclose(scores, reloaded_scores, atol=1e-5):
        raise AssertionError(f"{name}: the reloaded model predicts differently")
    loaded.fit(splits.x_train, targets, epochs=1, batch_size=batch_size, verbose=0)
    after = float(np.mean(np.argmax(class_scores(loaded, splits.x_test), -1) == splits.y_test))
    return accuracy, after


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--losses", nargs="+", choices=sorted(LOSSES), default=sorted(LOSSES))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        default=None,
        help="where the .keras files go (default: a temporary folder, removed at the end)",
    )
    parser.add_argument(
        "--tiny", action="store_true", help="512 training images, 2 epochs of batch 32"
    )
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    splits = load_dataset(args.dataset, seed=args.seed)
    epochs, batch_size = args.epochs, args.batch_size
    if args.tiny:
        splits = subsample(splits, 512, 256, seed=args.seed)
        epochs, batch_size = 2, 32
    print(f"{splits.name}: {len(splits.x_train)} training / {len(splits.x_test)} test images")

    def run_all(folder):
        for name in args.losses:
            accuracy, after = run(name, splits, epochs, batch_size, folder)
            print(f"{name:12s} test accuracy {accuracy:.4f}; reloaded, +1 epoch: {after:.4f}")

    if args.out:
        os.makedirs(args.out, exist_ok=True)
        run_all(args.out)
        print(f"models in {args.out}")
    else:
        with tempfile.TemporaryDirectory(prefix="custom_backbone_") as folder:
            run_all(folder)
        print("the models went to a temporary folder, now removed (--out DIR keeps them)")


if __name__ == "__main__":
    main()
