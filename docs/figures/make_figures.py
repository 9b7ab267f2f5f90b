"""Draw the figures of the method pages (docs/methods/*.md) with the package's own code.

Each method is trained briefly with :func:`keras_angular.training.run_method` on a small
real image set - Fashion-MNIST, 3,000 training and 1,000 test images drawn with
``numpy.random.default_rng(0)`` from an ``.npz`` of all 70,000 images (``x_train``,
``y_train``, ``x_test``, ``y_test``; the pages' figures came from one sorted by class) - for
4 epochs with the run defaults (Adam 2e-3 on a cosine decay, batch 128, precise batch norm,
seed 0) on the default ``small_cnn`` backbone with a 3-d embedding, so the test features can be
drawn on the unit sphere, and half its widths (16, 32, 64 filters) to save CPU time. The
figures come from :mod:`keras_angular.plots`:

* ``<method>_sphere.png`` - the unit test features on the sphere with the class weight
  directions (:func:`~keras_angular.plots.plot_embedding`, AMC-Loss Fig. 4);
* ``<method>_class_angles.png`` - each class's mean angle to its class weight
  (:func:`~keras_angular.plots.plot_class_mean_angles`, W-Softmax Eq. 14 / Fig. 5);
* ``<method>_pair_angles.png`` - positive / negative pair angle histograms with D_KL and
  D_EM (:func:`~keras_angular.plots.plot_pair_angle_histograms`, HASeparator Fig. 4).

Plus ``amc_ramp.png``: the AMC loss weight the registry's ramp assigns per epoch
(:func:`keras_angular.schedules.gaussian_ramp_up`) for a 4-epoch and a 300-epoch run.

Run from the repository root (about 6 minutes of CPU time for all six methods; it took 23
minutes of wall time on 2 CPU cores shared with other jobs)::

    python docs/figures/make_figures.py --data fashion_mnist.npz                     # all
    python docs/figures/make_figures.py --data fashion_mnist.npz --methods wsoftmax  # one

It prints each run's test accuracy and geometry (the numbers the pages quote).
"""

import argparse
import json
import math
import os
import sys
import tempfile

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("softmax", "amc", "arc", "haseparator", "wsoftmax", "arcface")
DPI = 80
#: small_cnn with a 3-d embedding (drawn on the sphere) and half its widths (CPU time).
BACKBONE_KWARGS = {"embedding_dim": 3, "widths": (16, 32, 64)}


class KeepModel(keras.callbacks.Callback):
    """Keeps a reference to the model it trained (run_method writes no files here)."""

    def on_train_end(self, logs=None):
        self.trained = self.model


def subset_splits(path, n_train, n_test, seed=0):
    """A seeded subset of the Fashion-MNIST file, loaded by keras_angular.data."""
    from keras_angular.data import load_dataset

    with np.load(path) as data:
        rng = np.random.default_rng(seed)
        train = rng.choice(len(data["y_train"]), n_train, replace=False)
        test = rng.choice(len(data["y_test"]), n_test, replace=False)
        arrays = {
            "x_train": data["x_train"][train],
            "y_train": data["y_train"][train],
            "x_test": data["x_test"][test],
            "y_test": data["y_test"][test],
        }
    with tempfile.TemporaryDirectory() as folder:
        subset = os.path.join(folder, "fashion_mnist_subset.npz")
        np.savez(subset, **arrays)
        return load_dataset(subset, seed=seed)


def draw(method, splits, epochs, out, seed=0):
    """Train ``method`` and write its three figures; returns the run's numbers."""
    from keras_angular import plots
    from keras_angular.data import test_dataset
    from keras_angular.run_config import RunConfig
    from keras_angular.training import embed, run_method

    keep = KeepModel()
    config = RunConfig(
        epochs=epochs,
        seed=seed,
        backbone="small_cnn",
        backbone_kwargs=BACKBONE_KWARGS,
        figures=False,
        verbose=0,
    )
    result = run_method(method, splits, config, extra_callbacks=[keep])
    model = keep.trained
    _, embeddings = embed(model, test_dataset(splits, 256))
    kernel = np.asarray(model.get_layer("head").kernel)
    labels = splits.y_test
    title = f"{method}: {100 * result['test_accuracy']:.1f} % test accuracy"
    paths = [
        plots.save_figure(
            plots.plot_embedding(embeddings, labels, kernel=kernel, title=title),
            os.path.join(out, f"{method}_sphere.png"),
            dpi=DPI,
        ),
        plots.save_figure(
            plots.plot_class_mean_angles(embeddings, labels, kernel, title=method),
            os.path.join(out, f"{method}_class_angles.png"),
            dpi=DPI,
        ),
        plots.save_figure(
            plots.plot_pair_angle_histograms(embeddings, labels, title=method),
            os.path.join(out, f"{method}_pair_angles.png"),
            dpi=DPI,
        ),
    ]
    keys = ("test_accuracy", "w_inter_deg", "c_inter_deg", "wc_intra_deg", "kl", "emd_deg")
    numbers = {k: result[k] for k in keys if k in result}
    numbers["class_mean_angles_deg"] = result.get("class_mean_angles_deg")
    numbers["train_seconds"] = result["train_seconds"]
    numbers["params"] = {k: v for k, v in result["params"].items()}
    history = result["history"]
    numbers["history"] = {
        k: history[k] for k in history if k.endswith("loss") or k.endswith("weight")
    }
    return numbers, paths


def draw_ramp(out):
    """The AMC loss weight per epoch (0-based) of the registry's ramp, for two run lengths."""
    from matplotlib.figure import Figure

    from keras_angular.methods import RAMP_UP_FRACTION
    from keras_angular.plots import save_figure
    from keras_angular.schedules import gaussian_ramp_up

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    for epochs, style in [(300, "-"), (4, "o--")]:
        ramp_up = max(1, math.ceil(RAMP_UP_FRACTION * epochs))
        t = np.arange(epochs)
        weight = 0.1 * np.array([gaussian_ramp_up(e, ramp_up) for e in t])
        ax.plot(100 * t / epochs, weight, style, label=f"{epochs} epochs (ramp-up {ramp_up})")
    ax.set_xlabel("epoch, % of the run")
    ax.set_ylabel(r"AMC weight $\lambda\, w(t)$")
    ax.set_title(r"$w(t) = \exp[-5(1 - t/L)^2]$ for $t < L$, $L = \lceil 80/300 \cdot T \rceil$")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    return save_figure(fig, os.path.join(out, "amc_ramp.png"), dpi=DPI)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument(
        "--data", required=True, help="Fashion-MNIST as an .npz: x_train, y_train, x_test, y_test"
    )
    parser.add_argument("--out", default=HERE)
    args = parser.parse_args(argv)

    print(draw_ramp(args.out))
    splits = subset_splits(args.data, args.train_images, args.test_images)
    for method in args.methods.split(","):
        numbers, paths = draw(method, splits, args.epochs, args.out)
        print(json.dumps({"method": method, **numbers}, default=float))
        print("\n".join(paths), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
