"""``keras-angular reproduce EXPERIMENT``: a paper experiment, claim by claim; with
``--max-steps N`` a smoke run of its runs (``keras_angular.reproduce.smoke``)."""

import os

from keras_angular.cli.common import check_out, start_keras, user_error


def run_reproduce(args):
    """``keras-angular reproduce EXPERIMENT``: [`keras_angular.reproduce.run_experiment`][]."""
    from keras_angular.data import DatasetUnavailableError
    from keras_angular.run_config import RunSettingsError

    max_steps = getattr(args, "max_steps", None)
    try:
        if args.seeds is not None and args.seeds < 1:
            raise ValueError(f"--seeds must be an integer >= 1, got {args.seeds}.")
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"--max-steps must be an integer >= 1, got {max_steps}.")
        check_out(args.out)
        start_keras(args)
        from keras_angular.reproduce import get_experiment, run_experiment
        from keras_angular.reproduce.scales import check_plan, resolve_scale

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
        return user_error(error)
    if max_steps is not None:
        return _run_smoke(args, experiment, runs, max_steps)
    try:  # data that cannot be loaded: one sentence; other errors keep their traceback
        report = run_experiment(
            args.experiment, args.scale, args.dataset, args.seeds, out_dir=args.out, runs=runs
        )
    except (RunSettingsError, DatasetUnavailableError, FileNotFoundError) as error:
        return user_error(error)
    for section in report["datasets"]:
        print(f"{section['dataset']}:")
        for claim in section["claims"]:
            print(f"  {claim['verdict']:>14}: {claim['text']}")
    print(f"report: {os.path.join(args.out, 'report.md')}")
    return 0


def _run_smoke(args, experiment, runs, max_steps):
    """``--max-steps N``: [`keras_angular.reproduce.smoke.run_smoke`][]; prints its table. Exit
    status 0 when every run stepped with finite losses, 1 otherwise."""
    from keras_angular.data import DatasetUnavailableError
    from keras_angular.reproduce.smoke import SMOKE_FILE, run_smoke, smoke_table
    from keras_angular.run_config import RunSettingsError

    try:
        rows = run_smoke(
            experiment, args.scale, args.dataset, runs, steps=max_steps, out_dir=args.out
        )
    except (RunSettingsError, DatasetUnavailableError, FileNotFoundError) as error:
        return user_error(f"{experiment.name} --scale {args.scale}: {error}")
    print(smoke_table(rows))
    failed = [row.label for row in rows if not row.ok]
    if failed:
        print(f"smoke failed for {len(failed)} of {len(rows)} runs: {', '.join(failed)}")
    print(f"table: {os.path.join(args.out, SMOKE_FILE)} (a smoke run, not a result)")
    return 1 if failed else 0
