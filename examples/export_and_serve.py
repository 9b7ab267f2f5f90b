"""Train a registry method, export it as a SavedModel, serve it, and check the served predictions.

The heads are label-free, so the trained model is the serving model: ``model.export`` writes a
TensorFlow SavedModel whose ``serve`` signature takes images only and returns the class scores
(``logits``) and the ``embedding``. This script serves it with ``tf.saved_model.load``, the way a
TensorFlow Serving container or any TensorFlow runtime would, and checks that the served outputs
equal the Keras model's::

    python examples/export_and_serve.py --tiny               # seconds: digits, 1 epoch
    python examples/export_and_serve.py --method arcface --dataset fashion_mnist --epochs 10
"""

import argparse
import os
import tempfile

import numpy as np
import tensorflow as tf

from keras_angular.data import load_dataset
from keras_angular.run_config import RunConfig
from keras_angular.training import run_method


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="arc")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=None, help="run folder (default: a temporary one)")
    parser.add_argument("--tiny", action="store_true", help="one epoch")
    args = parser.parse_args(argv)

    splits = load_dataset(args.dataset)
    out = args.out or tempfile.mkdtemp(prefix="export_and_serve_")
    config = RunConfig(epochs=1 if args.tiny else args.epochs, figures=False, verbose=0)
    result = run_method(args.method, splits, config, out_dir=out)  # writes out/saved_model
    print(f"{args.method}: test accuracy {result['test_accuracy']:.4f}")

    import keras_angular as ka

    model = ka.saving.load_model(os.path.join(out, "model.keras"))
    served = tf.saved_model.load(os.path.join(out, "saved_model"))
    images = splits.x_test[:64]
    expected = model.predict(images, verbose=0)
    outputs = served.serve(tf.constant(images))
    for key in ("logits", "embedding"):
        difference = float(np.max(np.abs(outputs[key].numpy() - expected[key])))
        print(f"served {key} {tuple(outputs[key].shape)}: max |served - model| = {difference:.2e}")
        if difference > 1e-4:
            raise AssertionError(f"the served {key} differ from the model's by {difference}")
    predictions = np.argmax(outputs["logits"].numpy(), axis=-1)
    accuracy = float(np.mean(predictions == splits.y_test[:64]))
    print(f"served predictions agree with the model; accuracy on 64 test images {accuracy:.4f}")


if __name__ == "__main__":
    main()
