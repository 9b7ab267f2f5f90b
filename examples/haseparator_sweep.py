"""Sweep HASeparator's scale sigma and margin m (and ArcFace's, beside it): accuracy, D_KL, D_EM.

The HASeparator paper (Sec. IV-C, Fig. 5-8) judges each (sigma, m) by how far apart the angles
of positive and negative pairs of test features lie - D_KL and D_EM between their histograms,
larger is better - next to accuracy. This script trains one run per configuration with the
method registry, prints the table and draws the D_KL-D_EM scatter with
``keras_angular.plots.plot_kl_emd_scatter``::

    python examples/haseparator_sweep.py --tiny                 # seconds: digits, 2 x 1 runs
    python examples/haseparator_sweep.py --dataset fashion_mnist \\
        --scales 1 3 16 --margins 0.1 0.5 0.9 --epochs 4

``--dataset`` is anything ``keras_angular.data.load_dataset`` reads: a tensorflow-datasets
name, or offline an ``.npz`` of the same layout (``x_train, y_train, x_test, y_test``) or a
folder of class folders.

``keras-angular reproduce haseparator-sweep`` runs the paper's grids and puts its Tables II-III
beside the result.
"""

import argparse
import os
import tempfile

from keras_angular import plots
from keras_angular.data import load_dataset, subsample
from keras_angular.run_config import RunConfig
from keras_angular.training import run_method


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--methods", nargs="+", default=["haseparator", "arcface"])
    parser.add_argument("--scales", nargs="+", type=float, default=[1.0, 3.0, 16.0])
    parser.add_argument("--margins", nargs="+", type=float, default=[0.1, 0.5, 0.9])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=None, help="folder (default: a temporary one)")
    parser.add_argument("--tiny", action="store_true", help="1 epoch, one scale, one margin")
    args = parser.parse_args(argv)

    splits = load_dataset(args.dataset)
    if args.tiny:
        splits = subsample(splits, 400, 100)
    out = args.out or tempfile.mkdtemp(prefix="haseparator_sweep_")
    scales, margins = (
        (args.scales[:1], args.margins[:1]) if args.tiny else (args.scales, args.margins)
    )
    config = RunConfig(epochs=1 if args.tiny else args.epochs, figures=False, verbose=0)
    rows = []
    print("| method | sigma | m | test accuracy % | D_KL | D_EM ° |\n|---|---|---|---|---|---|")
    for method in args.methods:
        for scale in scales:
            for margin in margins:
                result = run_method(
                    method, splits, config, overrides={"scale": scale, "margin": margin}
                )
                rows.append(
                    {
                        "kl": result["kl"],
                        "emd": result["emd_deg"],
                        "group": method,
                        "label": f"s={scale:g}, m={margin:g}",
                    }
                )
                print(
                    f"| {method} | {scale:g} | {margin:g} | {100 * result['test_accuracy']:.2f} "
                    f"| {result['kl']:.3f} | {result['emd_deg']:.1f} |"
                )
    figure = plots.plot_kl_emd_scatter(rows, title=f"D_KL vs D_EM on {splits.name}")
    print(f"scatter: {plots.save_figure(figure, os.path.join(out, 'kl_emd.png'))}")


if __name__ == "__main__":
    main()
