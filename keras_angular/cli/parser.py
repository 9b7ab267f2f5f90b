"""The argument parser of ``keras-angular``. The training options' defaults and choices
are [`RunConfig`][keras_angular.run_config.RunConfig]'s (its fields and constants): the parser
adds the flags' names and help, never a second copy of a default.

Building it imports no Keras, TensorFlow or JAX (the run settings, the method registry,
[`keras_angular.registry_names`][] and the data package's names are light): ``--help``
and a bad option answer at once."""

import argparse
import dataclasses
import sys

from keras_angular import _startup
from keras_angular.cli.common import user_error
from keras_angular.optimizers import ADAMW_WEIGHT_DECAY, OPTIMIZERS, SGD_MOMENTUM
from keras_angular.registry_names import EXPERIMENT_NAMES, RECIPE_NAMES
from keras_angular.run_config import DEFAULT_EPOCHS, DTYPE_POLICIES, LR_SCHEDULES, RunConfig

_VERBOSE_HELP = "show TensorFlow's start-up lines and log messages (hidden by default)"

FLAGS = {
    "epochs": "--epochs",
    "seed": "--seed",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "lr_schedule": "--lr-schedule",
    "backbone": "--backbone",
    "backbone_kwargs": "--embedding-dim",
    "overrides": "--set",
    "augment": "--augment",
    "recipe": "--recipe",
    "precise_bn": "--no-precise-bn",
    "geometry_every": "--geometry-every",
    "figures": "--no-figures",
    "jit_compile": "--jit",
    "optimizer": "--optimizer",
    "momentum": "--momentum",
    "nesterov": "--nesterov",
    "weight_decay": "--weight-decay",
    "dtype_policy": "--dtype-policy",
    "weights": "--weights",
    "freeze_backbone_epochs": "--freeze-backbone-epochs",
    "steps_per_epoch": "--steps-per-epoch",
    "projector": "--projector",
}
"""The flag of each RunConfig field the training options set (messages name it)."""


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose refusal of the command line is a user error like
    every other ([`user_error`][keras_angular.cli.common.user_error]): one sentence on
    stderr, exit status 2 (argparse would print its usage lines first)."""

    def error(self, message):
        """Refuse the command line: one sentence naming the help to read; exit status 2."""
        sys.exit(user_error(f"{message} (see {self.prog} --help)."))


def run_defaults():
    """``{field: default}`` of [`RunConfig`][keras_angular.run_config.RunConfig], read when the
    parser is built; ``epochs`` (which a ``RunConfig`` requires) is
    [`DEFAULT_EPOCHS`][keras_angular.run_config.DEFAULT_EPOCHS]."""
    defaults = {"epochs": DEFAULT_EPOCHS}
    for field in dataclasses.fields(RunConfig):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
    return defaults


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
    """The options of a training run (``train``, ``compare``): RunConfig's fields."""
    from keras_angular.data import AUGMENTATIONS

    defaults = run_defaults()
    _add_data(parser)
    parser.add_argument(
        "--epochs", type=int, default=defaults["epochs"], help="epochs (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=defaults["batch_size"],
        help="global batch (default: %(default)s)",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=defaults["learning_rate"],
        help="the optimizer's peak learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--lr-schedule",
        default=defaults["lr_schedule"],
        choices=LR_SCHEDULES,
        help="cosine: decay --lr to 0 over the run; constant: keep it (default: %(default)s)",
    )
    _add_optimizer(parser, defaults)
    parser.add_argument(
        "--backbone",
        default=defaults["backbone"],
        help="backbone name: the package's (mlp, small_cnn, resnet20, ...) or a "
        "keras.applications network (mobilenetv3small, efficientnetv2b0, convnexttiny, ...; "
        "docs/backbones.md) (default: mlp for images up to 16x16 such as the 8x8 digits, "
        "small_cnn otherwise)",
    )
    parser.add_argument(
        "--weights",
        default=defaults["weights"],
        metavar="imagenet|PATH",
        help="start the backbone from Keras' ImageNet weights (keras.applications backbones; "
        "downloaded by Keras) or from a .weights.h5 file (default: random)",
    )
    parser.add_argument(
        "--freeze-backbone-epochs",
        type=int,
        default=defaults["freeze_backbone_epochs"],
        metavar="K",
        help="train only the embedding layer and the head for the first K epochs "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--dtype-policy",
        default=defaults["dtype_policy"],
        choices=DTYPE_POLICIES,
        help="keras.mixed_precision policy; mixed_bfloat16 on CPUs and TPUs and recent GPUs, "
        "mixed_float16 (with loss scaling) on older GPUs (default: %(default)s)",
    )
    parser.add_argument(
        "--steps-per-epoch",
        type=int,
        default=defaults["steps_per_epoch"],
        metavar="N",
        help="train at most N batches each epoch (default: all)",
    )
    parser.add_argument(
        "--embedding-dim",
        type=int,
        default=None,
        help="embedding size (default: the backbone's; 128 for small_cnn)",
    )
    parser.add_argument(
        "--augment",
        default=defaults["augment"],
        choices=[name for name in AUGMENTATIONS if name],
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
        default=defaults["recipe"],
        choices=list(RECIPE_NAMES),
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
        default=defaults["geometry_every"],
        metavar="N",
        help="log the test set's feature geometry (W-Inter, C-Inter, WC-Intra, KL, EMD, "
        "homogeneity...) every N epochs into history.json",
    )
    parser.add_argument(
        "--projector",
        action="store_true",
        help="also write the test embeddings for TensorBoard's Embedding Projector to "
        "OUT/projector (tensorboard --logdir OUT/projector)",
    )
    parser.add_argument("--out", default=None, help="output folder")
    add_verbose(parser)


def _add_optimizer(parser, defaults):
    """``--optimizer`` and its settings (RunConfig's ``optimizer``, ``momentum``,
    ``nesterov``, ``weight_decay``)."""
    parser.add_argument(
        "--optimizer",
        default=defaults["optimizer"],
        choices=OPTIMIZERS,
        help="adam, adamw (decoupled weight decay) or sgd (default: %(default)s)",
    )
    parser.add_argument(
        "--momentum",
        type=float,
        default=defaults["momentum"],
        help=f"SGD's momentum (default: {SGD_MOMENTUM})",
    )
    parser.add_argument("--nesterov", action="store_true", help="SGD with Nesterov momentum")
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=defaults["weight_decay"],
        help=f"decoupled weight decay of adamw (default: {ADAMW_WEIGHT_DECAY}) or sgd "
        "(default: none); the coupled L2 penalty is a backbone argument",
    )


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


def add_verbose(parser, default=argparse.SUPPRESS):
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
    parser = CommandParser(
        prog="keras-angular",
        description="Angular and margin-based discriminative feature learning for Keras.",
    )
    add_verbose(parser, default=False)
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
    train.add_argument(
        "--seed",
        type=int,
        default=run_defaults()["seed"],
        help="random seed (default: %(default)s)",
    )
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

    reproduce = sub.add_parser(
        "reproduce",
        help="run a paper experiment; report each claim beside the paper's figures",
        description="Run a paper experiment (keras_angular.reproduce) and write report.md / "
        "report.json: the paper's figures beside ours, each claim held / did not hold / "
        "inconclusive against the seed-to-seed spread. Experiments: "
        + ", ".join(EXPERIMENT_NAMES)
        + ".",
    )
    reproduce.add_argument(
        "experiment", choices=EXPERIMENT_NAMES, metavar="EXPERIMENT", help="(see above)"
    )
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
        "--max-steps",
        type=int,
        default=None,
        metavar="N",
        help="a smoke run: build every run of the scale as it would train, train N steps of "
        "each and write a table of what was built (no report)",
    )
    reproduce.add_argument(
        "--out",
        required=True,
        help="output folder; runs finished there before with the same settings are reused",
    )
    add_verbose(reproduce)

    # Thin entry: the benchmark is a script of the repository checkout, not of the package;
    # its options (and --help) are its own, passed through by main().
    bench = sub.add_parser(
        "bench",
        add_help=False,
        help="time heads and losses against softmax: runs benchmarks/heads_and_losses.py of "
        "a repository checkout (keras-angular bench --help lists its options)",
    )
    add_verbose(bench)
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
    explain.add_argument(
        "--projector",
        action="store_true",
        help="also write each model's test embeddings for TensorBoard's Embedding Projector "
        "to OUT/projector",
    )
    explain.add_argument("--out", required=True, help="output folder")
    add_verbose(explain)
