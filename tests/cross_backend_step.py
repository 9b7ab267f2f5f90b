"""One SGD step of every registry method on fixed weights and a fixed batch, on the Keras
backend of this process; writes each method's loss and gradients to an ``.npz``.

Run by ``tests/test_cross_backend.py`` once per backend (``KERAS_BACKEND`` set by the
caller): ``python tests/cross_backend_step.py OUT.npz``. Weights and batch come from
NumPy's seeded generator, the same on every backend. The gradients are
read from ``model.train_on_batch`` with plain SGD at learning rate 1 (``g = w - w'``), so
each backend's own training step - its autodiff, its compiled step - is what is compared.
"""

import sys

import keras
import numpy as np

from keras_angular.methods import METHODS, build_method, targets

NUM_CLASSES = 4
BATCH = 16
FEATURES = 12


def backbone():
    """A dense backbone (no dropout, no batch norm: nothing random, nothing per-batch)."""
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(16, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(8)(hidden), name="dense")


def one_step(name, x, y):
    """``(loss, gradients)`` of ``name``'s first SGD step on ``(x, y)`` from seeded weights."""
    setup = build_method(name, backbone(), NUM_CLASSES, epochs=1)
    for i, weight in enumerate(setup.model.trainable_weights):
        rng = np.random.default_rng(100 + i)
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype("float32"))
    before = [keras.ops.convert_to_numpy(w) for w in setup.model.trainable_weights]
    setup.compile(keras.optimizers.SGD(learning_rate=1.0))
    logs = setup.model.train_on_batch(x, targets(y), return_dict=True)
    after = [keras.ops.convert_to_numpy(w) for w in setup.model.trainable_weights]
    return float(logs["loss"]), [b - a for b, a in zip(before, after, strict=True)]


def main(out_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, FEATURES)).astype("float32")
    y = np.repeat(np.arange(NUM_CLASSES), BATCH // NUM_CLASSES)[rng.permutation(BATCH)]
    keras.utils.set_random_seed(0)
    results = {}
    for name in sorted(METHODS):
        loss, gradients = one_step(name, x, y)
        results[f"{name}/loss"] = np.float64(loss)
        for i, gradient in enumerate(gradients):
            results[f"{name}/grad{i}"] = gradient
    results["backend"] = np.array(keras.backend.backend())
    np.savez(out_path, **results)


if __name__ == "__main__":
    main(sys.argv[1])
