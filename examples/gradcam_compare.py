"""Grad-CAM of two trained models on the same images: one comparison grid and a faithfulness score.

The AMC-Loss paper's claim is that its maps sit on the object; this script trains two methods
(``softmax`` and ``amc`` by default) on the same images with the package's default CNN, draws
the paper's Fig. 6 layout (one row per image: the image, then each model's map and overlay,
titled with its predicted class and that class's softmax probability ``p``) and prints, per
model, the deletion and insertion AUCs of its maps beside those of random maps (Petsiuk et
al., RISE: lower deletion and higher insertion are better)::

    python examples/gradcam_compare.py --tiny                   # seconds: digits, 1 epoch
    python examples/gradcam_compare.py --dataset fashion_mnist --epochs 6

(``--dataset`` a tensorflow-datasets name; offline, an ``.npz`` of the same layout -
``x_train, y_train, x_test, y_test`` - works too.)

The same, from the command line, for models that ``keras-angular train`` wrote:
``keras-angular explain --models runs/softmax,runs/amc --dataset D --out DIR``.
"""

import argparse
import os
import tempfile

from keras_angular import explain
from keras_angular.data import load_dataset, subsample
from keras_angular.run_config import RunConfig
from keras_angular.saving import load_model
from keras_angular.training import run_method


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--methods", nargs=2, default=["softmax", "amc"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--n", type=int, default=8, help="rows of the grid")
    parser.add_argument("--n-score", type=int, default=200, help="images the AUCs average")
    parser.add_argument("--out", default=None, help="folder (default: a temporary one)")
    parser.add_argument("--tiny", action="store_true", help="400 images, 1 epoch, 32 scored")
    args = parser.parse_args(argv)

    splits = load_dataset(args.dataset)
    if args.tiny:
        splits = subsample(splits, 400, 100)
    out = args.out or tempfile.mkdtemp(prefix="gradcam_compare_")
    epochs, n_score = (1, 32) if args.tiny else (args.epochs, args.n_score)
    if args.tiny:
        print(
            f"--tiny: 1 epoch on {len(splits.x_train)} training images only shows that the "
            "script runs; its maps and AUCs say nothing about the methods (a ramped loss such "
            "as AMC's starts near weight 0, so after one epoch the models are nearly the same)."
        )
    # small_cnn even for the 8x8 digits: Grad-CAM needs convolutional feature maps
    config = RunConfig(epochs=epochs, backbone="small_cnn", figures=False, verbose=0)
    models = {}
    for method in args.methods:
        result = run_method(method, splits, config, out_dir=os.path.join(out, method))
        print(f"{method}: test accuracy {result['test_accuracy']:.4f}")
        models[method] = load_model(os.path.join(out, method, "model.keras"))

    images, labels = splits.x_test[:n_score], splits.y_test[:n_score]
    random_maps = explain.random_heatmaps(len(images), *images.shape[1:3], seed=0)
    heatmaps, predictions = {}, {}
    for method, model in models.items():
        heatmaps[method] = explain.gradcam(model, images, progress=False)
        probabilities = explain.class_probabilities(model, images)
        predictions[method] = (probabilities.argmax(axis=-1), probabilities.max(axis=-1))
        deletion = explain.deletion_auc(model, images, heatmaps[method], seed=0)
        insertion = explain.insertion_auc(model, images, heatmaps[method], canvas="blur", seed=0)
        random_deletion = explain.deletion_auc(model, images, random_maps, seed=0)
        random_insertion = explain.insertion_auc(model, images, random_maps, canvas="blur", seed=0)
        print(
            f"{method}: deletion AUC {deletion.mean():.3f} "
            f"(random maps {random_deletion.mean():.3f}), insertion AUC {insertion.mean():.3f} "
            f"(random maps {random_insertion.mean():.3f}) "
            f"over {len(images)} test images"
        )
    grid = os.path.join(out, "gradcam_grid.png")
    explain.save_grid(
        grid,
        images[: args.n],
        {m: h[: args.n] for m, h in heatmaps.items()},
        predictions_by_model={m: (c[: args.n], s[: args.n]) for m, (c, s) in predictions.items()},
        class_names=splits.class_names,
        labels=labels[: args.n],
    )
    print(f"grid: {grid}")


if __name__ == "__main__":
    main()
