"""The ``keras-angular`` command line: ``train``, ``compare`` and ``bench``.

Examples::

    keras-angular train --method amc --dataset digits --epochs 30 --out runs/amc
    keras-angular compare --methods softmax,amc,arc,haseparator,wsoftmax --seeds 2 --out runs/cmp
    keras-angular bench --quick

``--dataset`` takes a tensorflow-datasets name (mnist, fashion_mnist, cifar10,
cifar100, svhn_cropped), ``digits`` (scikit-learn's bundled digits, the offline
default), a folder with one sub-folder of images per class, or an ``.npz``
file with ``x_train, y_train, x_test, y_test`` (or ``x, y``).
"""

import argparse
import json
import os
import sys


def _add_common(parser):
    parser.add_argument(
        "--dataset", default="digits", help="dataset name or path (default: digits)"
    )
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="test share when the data has no test split (default: 0.2)",
    )
    parser.add_argument(
        "--coarse-labels", action="store_true", help="cifar100: the 20 superclasses (AMC paper)"
    )
    parser.add_argument("--epochs", type=int, default=30, help="epochs (default: 30)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch (default: 128)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    parser.add_argument(
        "--backbone",
        default=None,
        help="backbone name (default: mlp for 8x8 digits, the AMC CNNs otherwise)",
    )
    parser.add_argument("--embedding-dim", type=int, default=None, help="embedding size")
    parser.add_argument(
        "--augment",
        default=None,
        choices=["cifar", "translate"],
        help="training augmentation (CIFAR10+ crop/flip, or +-2 px translation)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a method hyper-parameter, e.g. --set margin=0.3",
    )
    parser.add_argument(
        "--strategy",
        default="none",
        choices=["none", "mirrored", "multiworker"],
        help="tf.distribute strategy (multiworker: blocked upstream, keras-team/keras#20585)",
    )
    parser.add_argument(
        "--recipe",
        default=None,
        choices=["paper", "official"],
        help="the AMC paper's whole schedule (ramped lr, beta_1 and loss weight; 'official' "
        "adds the authors' code's EMA weights and 10x weight) instead of --lr",
    )
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--no-figures", action="store_true", help="skip the geometry figures")
    parser.add_argument(
        "--geometry-every",
        type=int,
        default=None,
        metavar="N",
        help="log the test set's feature geometry (W-Inter, C-Inter, WC-Intra, KL, EMD, "
        "homogeneity...) every N epochs into history.json",
    )
    parser.add_argument("--out", default=None, help="output folder")


def build_parser():
    """The argument parser of ``keras-angular``."""
    from keras_angular.methods import METHODS

    methods_help = "; ".join(f"{m.name}: {m.summary}" for m in METHODS.values())
    parser = argparse.ArgumentParser(
        prog="keras-angular",
        description="Angular and margin-based discriminative feature learning for Keras.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train one method and write model, history, metrics",
        description=f"Train one method. Methods: {methods_help}.",
    )
    train.add_argument("--method", required=True, help="a method name (see above)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _add_common(train)

    compare = sub.add_parser(
        "compare",
        help="train several methods over seeds; write a report",
        description=f"Compare methods. Methods: {methods_help}.",
    )
    compare.add_argument(
        "--methods",
        default="softmax,amc,arc,haseparator,wsoftmax",
        help="comma-separated method names (default: %(default)s)",
    )
    compare.add_argument("--seeds", type=int, default=2, help="runs per method (default: 2)")
    compare.add_argument(
        "--baseline", default=None, help="method the p-values compare against (default: the first)"
    )
    _add_common(compare)

    bench = sub.add_parser("bench", help="time heads and losses against softmax")
    from keras_angular import bench as bench_module

    bench_module.add_arguments(bench)
    return parser


def _parse_overrides(pairs):
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"keras-angular: --set expects KEY=VALUE, got {pair!r}.")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def _strategy(name):
    if name == "none":
        return None
    import tensorflow as tf

    if name == "multiworker":
        raise ValueError(
            "--strategy multiworker: Keras 3's fit does not train under "
            "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585: it reduces "
            "distributed batches and logs with strategy.reduce, which the collective "
            "all-reduce rejects); use --strategy mirrored on one machine."
        )
    strategy = tf.distribute.MirroredStrategy()
    print(
        f"keras-angular: {name} strategy, {strategy.num_replicas_in_sync} replicas", file=sys.stderr
    )
    return strategy


def _run_kwargs(args):
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "backbone": args.backbone,
        "backbone_kwargs": (
            {"embedding_dim": args.embedding_dim} if args.embedding_dim is not None else None
        ),
        "overrides": _parse_overrides(args.set),
        "augment": args.augment or False,
        "figures": not args.no_figures,
        "jit_compile": True if args.jit else "auto",
        "strategy": _strategy(args.strategy),
        "recipe": args.recipe,
        "geometry_every": args.geometry_every,
    }


def _load(args):
    from keras_angular.data import load_dataset

    return load_dataset(
        args.dataset,
        args.data_dir,
        test_fraction=args.test_fraction,
        seed=getattr(args, "seed", 0),
        coarse_labels=args.coarse_labels,
    )


def _check_methods(names, overrides):
    from keras_angular.methods import get_method, method_params

    for name in names:
        method_params(get_method(name), overrides)
    return names


def main(argv=None):
    """Entry point of the ``keras-angular`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        from keras_angular import bench

        bench.main(args)
        return 0
    names = [args.method] if args.command == "train" else args.methods.split(",")
    try:  # unknown names, bad overrides, missing data: one clear sentence, no traceback
        methods = _check_methods(
            [m.strip() for m in names if m.strip()], _parse_overrides(args.set)
        )
        splits = _load(args)
        kwargs = _run_kwargs(args)
    except ValueError as error:
        print(f"keras-angular: {error}", file=sys.stderr)
        return 2
    if args.command == "train":
        return _train(args, splits, kwargs)
    return _compare(args, methods, splits, kwargs)


def _train(args, splits, kwargs):
    from keras_angular.training import run_method

    out = args.out or os.path.join("runs", f"{args.method}_{os.path.basename(args.dataset)}")
    result = run_method(args.method, splits, seed=args.seed, out_dir=out, **kwargs)
    print(
        f"{args.method} on {splits.name}: test accuracy {result['test_accuracy']:.4f}; "
        f"files in {out}"
    )
    return 0


def _compare(args, methods, splits, kwargs):
    from keras_angular.report import compare_methods, markdown_table

    out = args.out or os.path.join("runs", f"compare_{os.path.basename(args.dataset)}")
    kwargs["verbose"] = 2
    report = compare_methods(
        methods, splits, args.seeds, out_dir=out, baseline=args.baseline, **kwargs
    )
    print(markdown_table(report))
    print(f"report: {os.path.join(out, 'report.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
