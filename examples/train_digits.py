"""Train a small model on scikit-learn's bundled digits with an angular loss.

Runs offline in well under a minute on a laptop CPU::

    python examples/train_digits.py --loss arc

The heads are label-free, so the trained model is the inference model: its
argmax over the head's cosines is the prediction.
"""

import argparse

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_angular as ka

LOSSES = {
    "normface": lambda head: ka.losses.NormFaceLoss(scale=16.0),
    "cosface": lambda head: ka.losses.CosFaceLoss(scale=16.0, margin=0.2),
    "arcface": lambda head: ka.losses.ArcFaceLoss(scale=16.0, margin=0.3),
    "arc": lambda head: ka.losses.AngularLoss(scale=4.0),
    "haseparator": lambda head: ka.losses.HASeparatorLoss(scale=3.0, margin=0.9, head=head),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=sorted(LOSSES), default="arc")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, stratify=digits.target, random_state=args.seed
    )

    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(128, activation="relu")(inputs)
    embedding = keras.layers.Dense(32, name="embedding")(hidden)
    head = ka.layers.CosineDense(10, name="head")
    model = keras.Model(inputs, head(embedding))
    model.compile(keras.optimizers.Adam(1e-3), loss=LOSSES[args.loss](head))
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=2)

    accuracy = np.mean(np.argmax(model.predict(x_test, verbose=0), axis=-1) == y_test)
    print(f"{args.loss}: test accuracy {accuracy:.4f} on {len(y_test)} held-out digits")


if __name__ == "__main__":
    main()
