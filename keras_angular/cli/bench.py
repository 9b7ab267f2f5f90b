"""``keras-angular bench``: the benchmark script of the repository checkout."""

import os

from keras_angular.cli.common import start_keras, user_error

BENCH_SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "benchmarks",
    "heads_and_losses.py",
)
"""What ``keras-angular bench`` runs: the benchmark script of the repository checkout
this package sits in (an editable install); it is not installed with the package."""


def run_bench(argv, args):
    """``keras-angular bench ARGS``: ``python benchmarks/heads_and_losses.py ARGS``
    (``args``: the command's own options, ``--verbose``)."""
    if not os.path.isfile(BENCH_SCRIPT):
        return user_error(
            f"bench runs benchmarks/heads_and_losses.py of a repository checkout (it is not "
            f"installed with the package) and found none at {BENCH_SCRIPT}: in a checkout, "
            "run `pip install -e .` and `python benchmarks/heads_and_losses.py`."
        )
    import importlib.util

    start_keras(args)

    spec = importlib.util.spec_from_file_location("heads_and_losses", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli(argv, prog="keras-angular bench")
