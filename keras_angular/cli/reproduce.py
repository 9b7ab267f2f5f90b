"""``keras-angular reproduce EXPERIMENT``: a paper experiment, claim by claim."""

import os

from keras_angular.cli.common import check_out, start_keras, user_error


def run_reproduce(args):
    """``keras-angular reproduce EXPERIMENT``: [`keras_angular.reproduce.run_experiment`][]."""
    from keras_angular.data import DatasetUnavailableError
    from keras_angular.run_config import RunSettingsError

    try:
        if args.seeds is not None and args.seeds < 1:
            raise ValueError(f"--seeds must be an integer >= 1, got {args.seeds}.")
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
