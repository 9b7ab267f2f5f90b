"""W-Softmax's two knobs: the bias alpha (mean class angle, Eq. 14 / Fig. 5) and the width M of
the layer before the head around the minimum C - 1 (Sec. 3.1, Fig. 4).

For each alpha the script trains the registry's ``wsoftmax`` and prints the test accuracy and
the mean angle between each class's weight and its samples (``class_mean_angles_deg``, W-Softmax
Eq. 14; smaller is more compact), beside plain softmax; then, at the default alpha, it trains
with embeddings of M = C - 2, C - 1, C and 2C units (``keras_angular.metrics.minimum_units``:
C - 1 is the fewest in which C classes can be equiangular, Eq. 3)::

    python examples/wsoftmax_alpha_units.py --tiny            # seconds: digits, 1 epoch
    python examples/wsoftmax_alpha_units.py --dataset fashion_mnist --epochs 4

(``--dataset`` a tensorflow-datasets name; offline, an ``.npz`` of the same layout -
``x_train, y_train, x_test, y_test`` - works too.)

``keras-angular reproduce wsoftmax-alpha`` runs the paper's protocol (softmax pretraining, then
W-Softmax) with the paper's form, ``easy_margin`` and the registry's form side by side.
"""

import argparse

import numpy as np

from keras_angular.data import load_dataset, subsample
from keras_angular.metrics import minimum_units
from keras_angular.run_config import RunConfig
from keras_angular.training import run_method


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--alphas", nargs="+", type=float, default=[0.5, 1.0, 1.5])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--tiny", action="store_true", help="400 images, 1 epoch, 1 alpha, 1 width")
    args = parser.parse_args(argv)

    splits = load_dataset(args.dataset)
    if args.tiny:
        splits = subsample(splits, 400, 100)
    config = RunConfig(epochs=1 if args.tiny else args.epochs, figures=False, verbose=0)
    alphas = args.alphas[:1] if args.tiny else args.alphas

    def report(label, result):
        angle = float(np.mean(result["class_mean_angles_deg"]))
        print(f"| {label} | {100 * result['test_accuracy']:.2f} | {angle:.1f} |")

    if args.tiny:
        print(
            f"--tiny: 1 epoch on {len(splits.x_train)} training images only shows that the "
            "script runs; its accuracies and angles say nothing about W-Softmax or the width "
            f"(chance is {100 / splits.num_classes:.0f} %, and some runs land below it). "
            "Run without --tiny to compare.\n"
        )
    print("| run | test accuracy % | mean class angle ° |\n|---|---|---|")
    report("softmax", run_method("softmax", splits, config))
    for alpha in alphas:
        report(
            f"wsoftmax alpha={alpha:g}",
            run_method("wsoftmax", splits, config, overrides={"alpha": alpha}),
        )

    low = minimum_units(splits.num_classes)
    widths = [low] if args.tiny else [low - 1, low, low + 1, 2 * splits.num_classes]
    print(f"\nC = {splits.num_classes} classes, minimum width C - 1 = {low}")
    print("| M (embedding units) | test accuracy % | mean class angle ° |\n|---|---|---|")
    for width in widths:
        result = run_method(
            "wsoftmax", splits, config.replace(backbone_kwargs={"embedding_dim": width})
        )
        report(str(width), result)


if __name__ == "__main__":
    main()
