"""The ``keras-angular`` command line: ``train``, ``compare``, ``explain``, ``reproduce``,
``bench``.

Examples::

    keras-angular train --method amc --dataset digits --epochs 30 --out runs/amc
    keras-angular compare --methods softmax,amc,arc,haseparator,wsoftmax --seeds 2 --out runs/cmp
    keras-angular reproduce arc-angles --scale small --dataset ../shared/data/fashion_mnist.npz \
        --out runs/arc-angles
    keras-angular bench --quick
    keras-angular explain --models runs/softmax,runs/amc --dataset digits --n 16 --out runs/explain

``--dataset`` takes a tensorflow-datasets name (mnist, fashion_mnist, cifar10,
cifar100, svhn_cropped), ``digits`` (scikit-learn's bundled digits, the offline
default), a folder with one sub-folder of images per class, or an ``.npz``
file with ``x_train, y_train, x_test, y_test`` (or ``x, y``).

TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, CPU instructions) and its Python
warnings are hidden unless ``--verbose`` is given (before or after the subcommand; see
``keras_angular/_startup.py``). A user error - a bad option, unreadable or bad data (NaN
or Inf images, one class), an unknown name, an ``--out`` that holds an interrupted run of
other settings - stops before anything is written, with one sentence on stderr and exit
status 2; any other error keeps its traceback.
"""

import argparse
import json
import math
import os
import sys

from keras_angular import _startup

_VERBOSE_HELP = "show TensorFlow's start-up lines and log messages (hidden by default)"


def _add_data(parser):
    """The options that say which data to load (``train``, ``compare``, ``explain``)."""
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


def _add_common(parser):
    _add_data(parser)
    parser.add_argument("--epochs", type=int, default=30, help="epochs (default: 30)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch (default: 128)")
    parser.add_argument(
        "--lr", type=float, default=2e-3, help="Adam's peak learning rate (default: 2e-3)"
    )
    parser.add_argument(
        "--lr-schedule",
        default="cosine",
        choices=["cosine", "constant"],
        help="cosine: decay --lr to 0 over the run (default); constant: keep it",
    )
    parser.add_argument(
        "--backbone",
        default=None,
        help="backbone name (default: mlp for images up to 16x16 such as the 8x8 digits, "
        "small_cnn otherwise)",
    )
    parser.add_argument(
        "--embedding-dim",
        type=int,
        default=None,
        help="embedding size (default: the backbone's; 128 for small_cnn)",
    )
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
        help="tf.distribute strategy (multiworker: blocked upstream, keras-team/keras#20585; "
        "use --distribution data-parallel on JAX)",
    )
    _add_distribution(parser)
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
        "--no-precise-bn",
        action="store_true",
        help="serve inference from Keras' moving batch-norm averages instead of recomputing "
        "the population statistics before every evaluation (PreciseBatchNorm)",
    )
    parser.add_argument(
        "--geometry-every",
        type=int,
        default=None,
        metavar="N",
        help="log the test set's feature geometry (W-Inter, C-Inter, WC-Intra, KL, EMD, "
        "homogeneity...) every N epochs into history.json",
    )
    parser.add_argument("--out", default=None, help="output folder")
    _add_verbose(parser)


def _add_distribution(parser):
    """``--distribution data-parallel`` (keras.distribution on JAX) and the options that
    join several processes (``train``, ``compare``)."""
    parser.add_argument(
        "--distribution",
        default="none",
        choices=["none", "data-parallel"],
        help="data-parallel: keras.distribution.DataParallel over every device of every "
        "process (JAX backend); --batch-size is the global batch, a multiple of the device "
        "count. Several processes (one per host): add --coordinator, --num-processes and "
        "--process-id in each; process 0 writes the outputs",
    )
    parser.add_argument(
        "--coordinator",
        default=None,
        metavar="HOST:PORT",
        help="where process 0 listens (the same in every process)",
    )
    parser.add_argument(
        "--num-processes", type=int, default=None, metavar="N", help="number of processes"
    )
    parser.add_argument(
        "--process-id", type=int, default=None, metavar="I", help="this process's index, 0..N-1"
    )


def _add_verbose(parser, default=argparse.SUPPRESS):
    """``--verbose`` and ``--backend``, which every subcommand takes before or after its
    name. SUPPRESS: without its own options a subcommand keeps the global ones' values."""
    parser.add_argument("--verbose", action="store_true", default=default, help=_VERBOSE_HELP)
    parser.add_argument(
        "--backend",
        choices=_startup.BACKENDS,
        default=default if default is argparse.SUPPRESS else None,
        help="the Keras backend to run on (default: KERAS_BACKEND, else tensorflow); "
        "recorded in metrics.json and run.json",
    )


def build_parser():
    """The argument parser of ``keras-angular``."""
    from keras_angular.methods import METHODS, overrides_table

    methods_help = "; ".join(f"{m.name}: {m.summary}" for m in METHODS.values())
    parser = argparse.ArgumentParser(
        prog="keras-angular",
        description="Angular and margin-based discriminative feature learning for Keras.",
    )
    _add_verbose(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train one method and write model, history, metrics",
        description=f"Train one method. Methods: {methods_help}.",
        epilog="Registry defaults that differ from the papers' (the loss classes' defaults); "
        "--set NAME=VALUE restores one:\n\n" + overrides_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--method", required=True, help="a method name (see above)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument(
        "--gradcam-every",
        type=int,
        default=None,
        metavar="K",
        help="every K epochs write the Grad-CAM grid of 8 fixed test images to "
        "OUT/gradcam/epoch-XXX.png",
    )
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
    compare.add_argument(
        "--open-set",
        type=int,
        default=None,
        metavar="K",
        help="hold K classes (chosen with seed 0, named in the report) out of training and "
        "score retrieval (precision@1, R-precision, MAP@R) and verification (ROC AUC, "
        "TAR@FAR) on their test images only",
    )
    _add_common(compare)

    _add_explain_parser(sub)

    from keras_angular.reproduce import EXPERIMENTS

    reproduce = sub.add_parser(
        "reproduce",
        help="run a paper experiment; report each claim beside the paper's figures",
        description="Run a paper experiment (keras_angular.reproduce) and write report.md / "
        "report.json: the paper's figures beside ours, each claim held / did not hold / "
        "inconclusive against the seed-to-seed spread. Experiments: "
        + ", ".join(sorted(EXPERIMENTS))
        + ".",
    )
    reproduce.add_argument("experiment", help="experiment name (see above)")
    reproduce.add_argument(
        "--scale",
        default="small",
        choices=["tiny", "small", "full"],
        help="tiny: seconds (digits, CI); small: < 30 min on 2 CPU cores on real images "
        "(default); full: the paper's dataset, network and epochs (a GPU; prints an estimate "
        "first)",
    )
    reproduce.add_argument(
        "--dataset",
        default=None,
        help="an .npz, a folder of class sub-folders or a tensorflow-datasets name in place "
        "of the scale's datasets",
    )
    reproduce.add_argument(
        "--seeds", type=int, default=None, help="seeds per run (default: the scale's)"
    )
    reproduce.add_argument(
        "--runs",
        default=None,
        help="comma-separated run labels to train (default: all of the scale's); claims "
        "on the others are reported as not checked",
    )
    reproduce.add_argument(
        "--out",
        required=True,
        help="output folder; runs finished there before with the same settings are reused",
    )
    _add_verbose(reproduce)

    # Thin entry: the benchmark is a script of the repository checkout, not of the package;
    # its options (and --help) are its own, passed through by main().
    bench = sub.add_parser(
        "bench",
        add_help=False,
        help="time heads and losses against softmax: runs benchmarks/heads_and_losses.py of "
        "a repository checkout (keras-angular bench --help lists its options)",
    )
    _add_verbose(bench)
    return parser


def _add_explain_parser(sub):
    explain = sub.add_parser(
        "explain",
        help="Grad-CAM of trained models on the same test images: grid and faithfulness scores",
        description="Load models written by train (or compare's run folders), compute "
        "Grad-CAM maps of test images and write OUT/grid.png (one row per image: the "
        "image, then each model's map and overlay) and OUT/explain.json (per model: "
        "deletion / insertion AUC mean and SD, the same for random maps, the mean "
        "hyperplane margin for unit-weight heads).",
    )
    explain.add_argument(
        "--models", required=True, help="comma-separated run folders (holding model.keras)"
    )
    _add_data(explain)
    explain.add_argument(
        "--seed", type=int, default=0, help="split seed (as train's) and image draw (default: 0)"
    )
    explain.add_argument("--n", type=int, default=16, help="rows of the grid (default: 16)")
    explain.add_argument(
        "--n-score",
        type=int,
        default=500,
        help="test images the AUCs average over (default: 500)",
    )
    explain.add_argument(
        "--method", default="gradcam", choices=["gradcam", "gradcam++"], help="Grad-CAM variant"
    )
    explain.add_argument(
        "--steps", type=int, default=28, help="pixel fractions of the AUC curves (default: 28)"
    )
    explain.add_argument(
        "--batch-size", type=int, default=64, help="images per Grad-CAM call (default: 64)"
    )
    explain.add_argument("--out", required=True, help="output folder")
    _add_verbose(explain)


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
    if name == "multiworker":
        raise ValueError(
            "--strategy multiworker: Keras 3's fit does not train under "
            "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585: it reduces "
            "distributed batches and logs with strategy.reduce, which the collective "
            "all-reduce rejects). Past one machine, train on JAX with keras.distribution: "
            "KERAS_BACKEND=jax keras-angular train --distribution data-parallel "
            "--coordinator HOST:PORT --num-processes N --process-id I (docs/distributed.md); "
            "on one machine, --strategy mirrored."
        )
    if _keras_backend() != "tensorflow":
        raise ValueError(
            f"--strategy {name} is a tf.distribute strategy, for the TensorFlow backend only "
            f"(this run is on {_keras_backend()!r}); on JAX, --distribution data-parallel."
        )
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy()
    print(
        f"keras-angular: {name} strategy, {strategy.num_replicas_in_sync} replicas", file=sys.stderr
    )
    return strategy


def _distribution(args):
    """The ``keras.distribution.DataParallel`` that ``--distribution`` asks for, or None.
    For several processes this joins them (``jax.distributed.initialize``): call it after
    every other check, before anything runs on JAX."""
    cluster = [args.coordinator, args.num_processes, args.process_id]
    if args.distribution == "none":
        if any(value is not None for value in cluster):
            raise ValueError(
                "--coordinator, --num-processes and --process-id join the processes of "
                "--distribution data-parallel; add it."
            )
        return None
    if args.strategy != "none":
        raise ValueError(
            f"--strategy {args.strategy} (tf.distribute, TensorFlow) and --distribution "
            f"{args.distribution} (keras.distribution, JAX) exclude each other."
        )
    if getattr(args, "gradcam_every", None) is not None:
        raise ValueError(
            "--gradcam-every reads the model during training, which runs under "
            "--distribution; run keras-angular explain on the trained model instead."
        )
    from keras_angular import distribution

    try:
        dist = distribution.data_parallel(*cluster)
        distribution.check_batch_size(args.batch_size, dist)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    record = distribution.describe(dist, args.batch_size)
    print(
        f"keras-angular: {args.distribution} distribution, {record['devices']} devices "
        f"({record['platform']}) over {record['processes']} process(es), "
        f"{record['per_device_batch']} rows per device; this is process "
        f"{distribution.process_index()}",
        file=sys.stderr,
    )
    return dist


def _run_config(args):
    """The :class:`~keras_angular.run_config.RunConfig` the options ask for."""
    from keras_angular.run_config import RunConfig

    return RunConfig(
        epochs=args.epochs,
        seed=getattr(args, "seed", 0),
        batch_size=args.batch_size,
        learning_rate=args.lr,
        lr_schedule=args.lr_schedule,
        backbone=args.backbone,
        backbone_kwargs=(
            {"embedding_dim": args.embedding_dim} if args.embedding_dim is not None else None
        ),
        overrides=_parse_overrides(args.set),
        augment=args.augment,
        recipe=args.recipe,
        precise_bn=not args.no_precise_bn,
        geometry_every=args.geometry_every,
        figures=not args.no_figures,
        jit_compile=True if args.jit else "auto",
        verbose=2 if args.command == "compare" else 1,
    )


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

    if not names:
        raise ValueError("--methods names no method.")
    for name in names:
        method_params(get_method(name), overrides)
    return names


def _check_options(args):
    """Raise ``ValueError`` with one sentence for an option no run can use."""

    def integer(flag, value, low):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be an integer >= {low}, got {value}.")

    integer("--epochs", args.epochs, 1)
    integer("--batch-size", args.batch_size, 1)
    integer("--geometry-every", args.geometry_every, 1)
    integer("--gradcam-every", getattr(args, "gradcam_every", None), 1)
    integer("--embedding-dim", args.embedding_dim, 1)
    integer("--seed", getattr(args, "seed", None), 0)
    integer("--seeds", getattr(args, "seeds", None), 1)
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a finite number > 0, got {args.lr}.")
    if not 0.0 < args.test_fraction < 1.0:
        raise ValueError(
            f"--test-fraction must lie strictly between 0 and 1, got {args.test_fraction}."
        )
    if args.backbone is not None:
        from keras_angular.models import BACKBONES

        if args.backbone.lower() not in BACKBONES:
            raise ValueError(
                f"Unknown --backbone {args.backbone!r}; valid names: {', '.join(BACKBONES)}."
            )
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} is a file; give a folder.")


def _keras_backend():
    import keras

    return keras.backend.backend()


def main(argv=None):
    """Entry point of the ``keras-angular`` console script; returns the exit status."""
    parser = build_parser()
    args, bench_argv = parser.parse_known_args(argv)  # bench's options are the script's
    if args.command != "bench" and bench_argv:
        parser.error(f"unrecognized arguments: {' '.join(bench_argv)}")
    if not getattr(args, "verbose", False):
        _startup.quiet_environment()  # for what reads it later (TensorFlow read it already)
        _startup.quiet_python_logging()
    if args.backend is not None and args.backend != _keras_backend():
        print(
            f"keras-angular: error: --backend {args.backend}: Keras was imported on "
            f"{_keras_backend()!r} before the option was read (set KERAS_BACKEND="
            f"{args.backend} instead).",
            file=sys.stderr,
        )
        return 2
    if args.command == "bench":
        return _bench(bench_argv)
    if args.command == "reproduce":
        return _reproduce(args)
    if args.command == "explain":
        return _explain(args)
    names = [args.method] if args.command == "train" else args.methods.split(",")
    # bad options, unknown names, bad overrides, missing or bad data: one clear sentence,
    # exit status 2, nothing written
    try:
        _check_options(args)
        methods = _check_methods(
            [m.strip() for m in names if m.strip()], _parse_overrides(args.set)
        )
        if args.command == "compare" and args.baseline not in (None, *methods):
            raise ValueError(f"--baseline {args.baseline!r} is not among --methods {methods}.")
        config = _run_config(args)
        splits = _load(args)
        strategy = _strategy(args.strategy)
        distribution = _distribution(args)  # last: it waits for the other processes
    except (ValueError, FileNotFoundError) as error:
        return _user_error(error)
    from keras_angular.run_config import RunSettingsError

    try:  # run_method refuses before it writes anything; real errors keep their traceback
        if args.command == "train":
            return _train(args, splits, config, strategy, distribution)
        return _compare(args, methods, splits, config, strategy, distribution)
    except RunSettingsError as error:
        return _user_error(error)


#: What ``keras-angular bench`` runs: the benchmark script of the repository checkout
#: this package sits in (an editable install); it is not installed with the package.
BENCH_SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "heads_and_losses.py"
)


def _bench(argv):
    """``keras-angular bench ARGS``: ``python benchmarks/heads_and_losses.py ARGS``."""
    if not os.path.isfile(BENCH_SCRIPT):
        return _user_error(
            f"bench runs benchmarks/heads_and_losses.py of a repository checkout (it is not "
            f"installed with the package) and found none at {BENCH_SCRIPT}: in a checkout, "
            "run `pip install -e .` and `python benchmarks/heads_and_losses.py`."
        )
    import importlib.util

    spec = importlib.util.spec_from_file_location("heads_and_losses", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli(argv, prog="keras-angular bench")


def _user_error(error):
    print(f"keras-angular: {error}", file=sys.stderr)
    return 2


def _train(args, splits, config, strategy, distribution=None):
    from keras_angular.distribution import process_index
    from keras_angular.training import run_method

    out = args.out or os.path.join("runs", f"{args.method}_{os.path.basename(args.dataset)}")
    extra = []
    if args.gradcam_every is not None:
        import numpy as np

        from keras_angular.callbacks import GradCAMExport

        pick = np.random.default_rng(args.seed).permutation(len(splits.x_test))[:8]
        pick = pick[np.argsort(splits.y_test[pick], kind="stable")]
        extra.append(
            GradCAMExport(
                splits.x_test[pick],
                out,
                every=args.gradcam_every,
                labels=splits.y_test[pick],
                class_names=splits.class_names,
                name=args.method,
            )
        )
    if process_index() > 0:
        config = config.replace(verbose=0)  # process 0 shows the progress and writes
    result = run_method(
        args.method,
        splits,
        config,
        out_dir=out,
        strategy=strategy,
        distribution=distribution,
        extra_callbacks=extra,
    )
    if process_index() == 0:
        print(
            f"{args.method} on {splits.name}: test accuracy {result['test_accuracy']:.4f}; "
            f"files in {out}"
        )
    return 0


def _compare(args, methods, splits, config, strategy, distribution=None):
    from keras_angular.distribution import process_index
    from keras_angular.report import compare_methods, markdown_table

    out = args.out or os.path.join("runs", f"compare_{os.path.basename(args.dataset)}")
    if process_index() > 0:
        config = config.replace(verbose=0)  # process 0 shows the progress and writes
    report = compare_methods(
        methods,
        splits,
        args.seeds,
        config,
        out_dir=out,
        baseline=args.baseline,
        strategy=strategy,
        distribution=distribution,
        open_set=args.open_set,
        log=print if process_index() == 0 else (lambda line: None),
    )
    if process_index() > 0:
        return 0
    print(markdown_table(report))
    print(f"report: {os.path.join(out, 'report.md')}")
    return 0


def _model_names(folders):
    """Short distinct names for run folders: the last path part, or more where they clash."""
    parts = [os.path.normpath(f).split(os.sep) for f in folders]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    raise ValueError(f"--models names the same folder twice: {folders}.")


def _explain(args):
    """``keras-angular explain``: :func:`keras_angular.explain.explain_report` on run folders."""
    import numpy as np

    try:
        if _keras_backend() != "tensorflow":
            raise ValueError(
                "explain uses tf-keras-vis, for the TensorFlow backend only (this run is on "
                f"{_keras_backend()!r}); models trained on any backend load there."
            )
        for flag, value in (
            ("--n", args.n),
            ("--n-score", args.n_score),
            ("--steps", args.steps),
            ("--batch-size", args.batch_size),
        ):
            if value < 1:
                raise ValueError(f"{flag} must be an integer >= 1, got {value}.")
        if args.seed < 0:
            raise ValueError(f"--seed must be an integer >= 0, got {args.seed}.")
        if not 0.0 < args.test_fraction < 1.0:
            raise ValueError(
                f"--test-fraction must lie strictly between 0 and 1, got {args.test_fraction}."
            )
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out} is a file; give a folder.")
        folders = [f.strip() for f in args.models.split(",") if f.strip()]
        if not folders:
            raise ValueError("--models names no run folder.")
        paths = []
        for folder in folders:
            path = folder if folder.endswith(".keras") else os.path.join(folder, "model.keras")
            if not os.path.isfile(path):
                raise FileNotFoundError(f"no model.keras in {folder} (a folder written by train).")
            paths.append(path)
        names = _model_names(folders)
        splits = _load(args)
    except (ValueError, FileNotFoundError) as error:
        return _user_error(error)
    from keras_angular import explain
    from keras_angular.saving import load_model

    models = {}
    for name, path in zip(names, paths, strict=True):
        model = load_model(path)
        expected = tuple(model.inputs[0].shape[1:])
        if expected != tuple(splits.input_shape):
            return _user_error(
                f"{path} takes images of shape {expected}, but {args.dataset} has "
                f"{tuple(splits.input_shape)}."
            )
        models[name] = model
    count = min(max(args.n, args.n_score), len(splits.x_test))
    pick = np.random.default_rng(args.seed).permutation(len(splits.x_test))[:count]
    report = explain.explain_report(
        models,
        splits.x_test[pick],
        labels=splits.y_test[pick],
        class_names=splits.class_names,
        out_dir=args.out,
        n_grid=min(args.n, count),
        method=args.method,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    report.update(dataset=splits.name, models_paths=dict(zip(names, paths, strict=True)))
    with open(os.path.join(args.out, "explain.json"), "w") as f:
        json.dump(report, f, indent=2)
    for name, entry in report["models"].items():
        d, i = entry["deletion_auc"], entry["insertion_auc"]
        rd, ri = entry["random_deletion_auc"], entry["random_insertion_auc"]
        print(
            f"{name}: deletion AUC {d['mean']:.3f} +- {d['sd']:.3f} (random {rd['mean']:.3f}), "
            f"insertion AUC {i['mean']:.3f} +- {i['sd']:.3f} (random {ri['mean']:.3f})"
        )
    print(f"grid: {os.path.join(args.out, 'grid.png')}; scores: explain.json")
    return 0


def _reproduce(args):
    """``keras-angular reproduce EXPERIMENT``: :func:`keras_angular.reproduce.run_experiment`."""
    from keras_angular.data import DatasetUnavailableError
    from keras_angular.reproduce import get_experiment, run_experiment
    from keras_angular.reproduce.runner import check_plan, resolve_scale
    from keras_angular.run_config import RunSettingsError

    try:
        if args.seeds is not None and args.seeds < 1:
            raise ValueError(f"--seeds must be an integer >= 1, got {args.seeds}.")
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out} is a file; give a folder.")
        experiment = get_experiment(args.experiment)
        runs = None if args.runs is None else [r.strip() for r in args.runs.split(",") if r.strip()]
        scale = resolve_scale(experiment, args.scale, args.dataset, args.seeds, runs)
        check_plan(scale)
        for data in scale.data:
            local = data.source.lower().endswith(".npz") or os.sep in data.source
            if local and not os.path.exists(data.source):
                default = f" (scale {args.scale}'s default: pass --dataset, an .npz or folder)"
                hint = "" if args.dataset else default
                raise FileNotFoundError(f"no dataset at {data.source}{hint}.")
    except (ValueError, FileNotFoundError) as error:
        return _user_error(error)
    try:  # data that cannot be loaded: one sentence; other errors keep their traceback
        report = run_experiment(
            args.experiment, args.scale, args.dataset, args.seeds, out_dir=args.out, runs=runs
        )
    except (RunSettingsError, DatasetUnavailableError, FileNotFoundError) as error:
        return _user_error(error)
    for section in report["datasets"]:
        print(f"{section['dataset']}:")
        for claim in section["claims"]:
            print(f"  {claim['verdict']:>14}: {claim['text']}")
    print(f"report: {os.path.join(args.out, 'report.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
