"""Same seed, same weights: ``keras.utils.set_random_seed`` + op determinism on CPU.

``tf.config.experimental.enable_op_determinism`` is global to a process, so the runs
happen in a fresh Python process (this file, run as a script): for several methods,
two short ``model.fit`` runs from the same seed (shuffled batches, dropout) give
bit-identical weights, and a third run from another seed does not.
"""

import json
import os
import subprocess
import sys

import numpy as np

METHODS = ["arcface", "haseparator", "wsoftmax", "amc", "center"]


def test_same_seed_gives_the_same_weights():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    env["CUDA_VISIBLE_DEVICES"] = ""
    proc = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted(METHODS)
    for method, r in results.items():
        assert r["same_seed_identical"], method
        assert not r["other_seed_identical"], method
        assert r["finite"], method


def _worker():  # pragma: no cover - runs in a subprocess
    import keras
    import tensorflow as tf
    from sklearn.datasets import load_digits

    from keras_angular import layers
    from keras_angular import losses as L

    tf.config.experimental.enable_op_determinism()
    digits = load_digits()
    x = (digits.data[:256] / 16.0).astype(np.float32)
    y = digits.target[:256].astype(np.int32)

    def run(method, seed):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((64,))
        hidden = keras.layers.Dropout(0.2)(keras.layers.Dense(32, activation="relu")(inputs))
        embedding = keras.layers.Dense(16, name="embedding")(hidden)
        head_cls = layers.WeightsBiasedDense if method == "wsoftmax" else layers.CosineDense
        head = head_cls(10, name="head")
        logits = head(embedding)
        single = {
            "arcface": lambda: L.ArcFaceLoss(scale=16.0),
            "haseparator": lambda: L.HASeparatorLoss(head=head),
            "wsoftmax": lambda: L.WSoftmaxLoss(head=head),
        }
        pair = {"amc": lambda: L.AMCLoss(head=head), "center": lambda: L.CenterLoss(10)}
        if method in single:
            model = keras.Model(inputs, logits)
            loss, targets = single[method](), y
        else:
            model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
            loss = {"logits": L.NormFaceLoss(), "embedding": pair[method]()}
            targets = {"logits": y, "embedding": y}
        model.compile(keras.optimizers.Adam(3e-3), loss=loss)
        model.fit(x, targets, batch_size=32, epochs=2, shuffle=True, verbose=0)
        return model.get_weights()

    results = {}
    for method in METHODS:
        first, second, other = run(method, 11), run(method, 11), run(method, 12)
        results[method] = {
            "same_seed_identical": all(
                np.array_equal(a, b) for a, b in zip(first, second, strict=True)
            ),
            "other_seed_identical": all(
                np.array_equal(a, b) for a, b in zip(first, other, strict=True)
            ),
            "finite": all(np.all(np.isfinite(w)) for w in first),
        }
    print(json.dumps(results))


if __name__ == "__main__":  # pragma: no cover
    _worker()
