"""``keras-angular bench``: the benchmark script of the repository checkout.

The benchmarks stay a tool of the source tree: they time the package against the papers'
literal forms and across backends, next to the tests that prove those forms equal, and a
user who wants the figures needs that tree anyway (its README holds the tables). An
installed wheel has no ``benchmarks/``, so there the command says in one sentence where
to get them (exit status 2).
"""

import os

from keras_angular.cli.common import start_keras, user_error

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The folder above the package: the repository checkout for an editable install."""

BENCH_SCRIPT = os.path.join(CHECKOUT, "benchmarks", "heads_and_losses.py")
"""What ``keras-angular bench`` runs: the benchmark script of the repository checkout
this package sits in (an editable install); it is not installed with the package."""


def _in_checkout():
    """Whether the package sits in a checkout of this repository with its benchmark: the
    script and the checkout's ``setup.cfg`` beside it (an installed package's folder holds
    other distributions, one of which might ship a ``benchmarks/`` of its own)."""
    return os.path.isfile(BENCH_SCRIPT) and os.path.isfile(
        os.path.join(os.path.dirname(os.path.dirname(BENCH_SCRIPT)), "setup.cfg")
    )


def run_bench(argv, args):
    """``keras-angular bench ARGS``: ``python benchmarks/heads_and_losses.py ARGS``
    (``args``: the command's own options, ``--verbose``)."""
    if not _in_checkout():
        return user_error(
            "bench is a tool of the source checkout and is not installed with the package "
            f"(no {BENCH_SCRIPT}): in a copy of the source (a git clone, or the package's "
            "sdist, which holds benchmarks/) run `pip install -e .`, then `keras-angular "
            "bench` or `python benchmarks/heads_and_losses.py`."
        )
    import importlib.util

    start_keras(args)

    spec = importlib.util.spec_from_file_location("heads_and_losses", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli(argv, prog="keras-angular bench")
