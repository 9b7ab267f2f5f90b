"""``keras-angular train`` and ``compare``: the options to a
[`RunConfig`][keras_angular.run_config.RunConfig], then [`keras_angular.training.run_method`][]
or [`keras_angular.report.compare_methods`][].

The options that are RunConfig fields are checked by building the RunConfig (its refusal
reworded to name the flag, ``FLAGS``); this module checks
only the options that are not.
"""

import json
import os
import sys

from keras_angular.cli.common import (
    check_out,
    check_test_fraction,
    keras_backend,
    load_data,
    start_keras,
    user_error,
)
from keras_angular.cli.parser import FLAGS
from keras_angular.supervisor import is_supervised, run_supervised


def run_training(args, argv=()):
    """``keras-angular train`` / ``compare`` with the parsed ``args`` (of the command line
    ``argv``); the exit status. A run of several processes whose options are sound runs
    ``argv`` again as a child ([`keras_angular.supervisor.run_supervised`][]): a process
    cannot say why it stopped when another one dies, its parent can."""
    from keras_angular.run_config import RunSettingsError, check_distribution, check_run

    names = [args.method] if args.command == "train" else args.methods.split(",")
    # bad options, unknown names, bad overrides, missing or bad data: one clear sentence,
    # exit status 2, nothing written; what needs no Keras is checked before it starts
    try:
        try:
            config = _run_config(args)
            _check_options(args)
            methods = [m.strip() for m in names if m.strip()]
            if not methods:
                raise ValueError("--methods names no method.")
            for method in methods:
                check_run(method, config, values=False)
            if args.command == "compare" and args.baseline not in (None, *methods):
                raise ValueError(f"--baseline {args.baseline!r} is not among --methods {methods}.")
            start_keras(args)
            for method in methods:
                check_run(method, config)  # the --set values: the method's losses check them
            if _supervises(args):
                from keras_angular.distribution import check_cluster

                check_cluster(args.coordinator, args.num_processes, args.process_id)
                return run_supervised(
                    [sys.executable, "-m", "keras_angular.cli", *argv],
                    process_id=args.process_id,
                    num_processes=args.num_processes,
                    backup=os.path.join(output_folder(args), "backup"),
                )
            splits = load_data(args)
            strategy = _strategy(args.strategy)
            distribution = _distribution(args)  # last: it waits for the other processes
            if distribution is not None:
                _describe(args, check_distribution(config, distribution))
        except RunSettingsError as error:
            raise ValueError(error.message_for(FLAGS)) from None
    except (ValueError, FileNotFoundError) as error:
        return user_error(error)
    from keras_angular.models import BackboneWeightsError

    try:  # run_method refuses before it writes anything; real errors keep their traceback
        if args.command == "train":
            return _train(args, splits, config, strategy, distribution)
        return _compare(args, methods, splits, config, strategy, distribution)
    except (RunSettingsError, BackboneWeightsError) as error:
        return user_error(error)


def _supervises(args):
    """Whether this command is the parent of a process of a several-process run."""
    several = args.distribution == "data-parallel" and (args.num_processes or 0) > 1
    return several and not is_supervised()


def _parse_overrides(pairs):
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}.")
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
    if keras_backend() != "tensorflow":
        raise ValueError(
            f"--strategy {name} is a tf.distribute strategy, for the TensorFlow backend only "
            f"(this run is on {keras_backend()!r}); on JAX, --distribution data-parallel."
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
        return distribution.data_parallel(*cluster)
    except RuntimeError as error:
        raise ValueError(str(error)) from None


def _describe(args, record):
    """Say on stderr how ``--distribution`` splits the work (``record``: what
    [`keras_angular.run_config.check_distribution`][] returns)."""
    from keras_angular.distribution import process_index

    print(
        f"keras-angular: {args.distribution} distribution, {record['devices']} devices "
        f"({record['platform']}) over {record['processes']} process(es), "
        f"{record['per_device_batch']} rows per device; this is process "
        f"{process_index()}",
        file=sys.stderr,
    )


def _run_config(args):
    """The [`RunConfig`][keras_angular.run_config.RunConfig] the options ask for."""
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
        optimizer=args.optimizer,
        momentum=args.momentum,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        dtype_policy=args.dtype_policy,
        weights=args.weights,
        freeze_backbone_epochs=args.freeze_backbone_epochs,
        steps_per_epoch=args.steps_per_epoch,
        projector=args.projector,
    )


def _check_options(args):
    """Raise ``ValueError`` with one sentence for an option no run can use that is not a
    RunConfig field (those are checked by building the RunConfig)."""
    for flag, value, low in (
        ("--gradcam-every", getattr(args, "gradcam_every", None), 1),
        ("--embedding-dim", args.embedding_dim, 1),
        ("--seeds", getattr(args, "seeds", None), 1),
    ):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be an integer >= {low}, got {value}.")
    check_test_fraction(args)
    check_out(args.out)


def output_folder(args):
    """Where ``train`` / ``compare`` write: ``--out``, else ``runs/<method>_<dataset>``
    (``runs/compare_<dataset>``)."""
    if args.out:
        return args.out
    name = args.method if args.command == "train" else "compare"
    return os.path.join("runs", f"{name}_{os.path.basename(args.dataset)}")


def _train(args, splits, config, strategy, distribution=None):
    from keras_angular.distribution import process_index
    from keras_angular.training import run_method

    out = output_folder(args)
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

    out = output_folder(args)
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
