"""What every ``keras-angular`` subcommand shares: the one-sentence user error, the start
of Keras once the options are checked, the data options' loading, the Keras backend's name.
"""

import sys

from keras_angular import _startup


def user_error(error):
    """Print ``keras-angular: ERROR`` on stderr; returns the exit status 2."""
    print(f"keras-angular: {error}", file=sys.stderr)
    return 2


def start_keras(args):
    """Import TensorFlow, Keras and the package's registered modules, TensorFlow's start-up
    lines and Python warnings hidden unless ``--verbose``: what a subcommand does once the
    options it can check without Keras are checked (so that ``--help`` and those errors
    answer at once)."""
    import keras_angular

    keras_angular._import_registered()
    if not getattr(args, "verbose", False):
        _startup.quiet_python_logging()


def keras_backend():
    """The name of the Keras backend this process runs on."""
    import keras

    return keras.backend.backend()


def load_data(args):
    """[`keras_angular.data.load_dataset`][] of the data options (``--dataset`` ...)."""
    from keras_angular.data import load_dataset

    return load_dataset(
        args.dataset,
        args.data_dir,
        test_fraction=args.test_fraction,
        seed=getattr(args, "seed", 0),
        coarse_labels=args.coarse_labels,
    )


def check_test_fraction(args):
    """Refuse a ``--test-fraction`` outside (0, 1) with a ``ValueError``."""
    if not 0.0 < args.test_fraction < 1.0:
        raise ValueError(
            f"--test-fraction must lie strictly between 0 and 1, got {args.test_fraction}."
        )


def check_out(out):
    """Refuse an ``--out`` that is a file with a ``ValueError``."""
    import os

    if out is not None and os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file; give a folder.")
