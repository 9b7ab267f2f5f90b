"""The ``keras-angular`` command line: ``train``, ``compare``, ``explain``, ``reproduce``,
``bench``.

Examples:

```bash
keras-angular train --method amc --dataset digits --epochs 30 --out runs/amc
keras-angular compare --methods softmax,amc,arc,haseparator,wsoftmax --seeds 2 --out runs/cmp
keras-angular reproduce arc-angles --scale small --dataset fashion_mnist.npz \
    --out runs/arc-angles
keras-angular bench --quick
keras-angular explain --models runs/softmax,runs/amc --dataset digits --n 16 --out runs/explain
```

``--dataset`` takes a tensorflow-datasets name (mnist, fashion_mnist, cifar10,
cifar100, svhn_cropped), ``digits`` (scikit-learn's bundled digits, the offline
default), a folder with one sub-folder of images per class, or an ``.npz``
file with ``x_train, y_train, x_test, y_test`` (or ``x, y``).

The command imports no TensorFlow, Keras or JAX while it reads and checks its options:
``--help`` and a bad option answer at once; Keras starts once the options are checked.
TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, CPU instructions) and its Python
warnings are hidden unless ``--verbose`` is given (before or after the subcommand; see
``keras_angular._startup``). A user error - a bad or unknown option, a bad ``--set``
value, unreadable or bad data (NaN or Inf images, one class), an unknown name, an
``--out`` that holds an interrupted run of other settings - stops before anything is
written, with one sentence on stderr and exit status 2; any other error keeps its
traceback.

``train`` / ``compare`` with ``--num-processes`` above 1 run as a child of the command
([`keras_angular.supervisor.run_supervised`][]), which says in one sentence why a process
stopped when another one of the run died (exit status 1).

One module per subcommand: ``parser`` (the options),
``train`` (``train``, ``compare``), ``explain``,
``reproduce``, ``bench``.
"""

import sys

from keras_angular import _startup
from keras_angular.cli.bench import BENCH_SCRIPT, run_bench
from keras_angular.cli.common import keras_backend, user_error
from keras_angular.cli.parser import build_parser


def main(argv=None):
    """Entry point of the ``keras-angular`` console script; returns the exit status."""
    parser = build_parser()
    args, bench_argv = parser.parse_known_args(argv)  # bench's options are the script's
    if args.command != "bench" and bench_argv:
        parser.error(f"unrecognized arguments: {' '.join(bench_argv)}")
    if not getattr(args, "verbose", False):
        _startup.quiet_environment()  # before TensorFlow is imported, which reads it once
    if args.backend is not None and "keras" in sys.modules and args.backend != keras_backend():
        return user_error(
            f"--backend {args.backend}: Keras was imported on {keras_backend()!r} before the "
            f"option was read (set KERAS_BACKEND={args.backend} instead)."
        )
    if args.command == "bench":
        return run_bench(bench_argv, args)
    if args.command == "reproduce":
        from keras_angular.cli.reproduce import run_reproduce

        return run_reproduce(args)
    if args.command == "explain":
        from keras_angular.cli.explain import run_explain

        return run_explain(args)
    from keras_angular.cli.train import run_training

    return run_training(args, sys.argv[1:] if argv is None else argv)


__all__ = ["BENCH_SCRIPT", "build_parser", "main"]
