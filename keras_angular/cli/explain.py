"""``keras-angular explain``: Grad-CAM of trained models on the same test images (and, with
``--projector``, their test embeddings for TensorBoard's Embedding Projector)."""

import json
import os

from keras_angular.cli.common import (
    check_out,
    check_test_fraction,
    keras_backend,
    load_data,
    start_keras,
    user_error,
)


def _model_names(folders):
    """Short distinct names for run folders: the last path part, or more where they clash."""
    parts = [os.path.normpath(f).split(os.sep) for f in folders]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    raise ValueError(f"--models names the same folder twice: {folders}.")


def _has_embedding_output(model):
    """Whether ``model`` outputs a dict with an ``"embedding"`` entry (train's layout)."""
    try:
        output = model.output
    except AttributeError:  # a model that was never called
        return False
    return isinstance(output, dict) and "embedding" in output


def _write_projector(models, splits, args):
    """Every model's test embeddings in one TensorBoard projector folder, ``OUT/projector``:
    [`keras_angular.projector.write_projector`][] with the test images and class names."""
    from keras_angular.data import test_dataset
    from keras_angular.projector import write_projector
    from keras_angular.training import embed

    dataset = test_dataset(splits, args.batch_size)
    embeddings = {name: embed(model, dataset)[1] for name, model in models.items()}
    return write_projector(
        os.path.join(args.out, "projector"),
        embeddings,
        splits.y_test,
        images=splits.x_test,
        class_names=splits.class_names,
        seed=args.seed,
    )


def run_explain(args):
    """``keras-angular explain``: [`keras_angular.explain.explain_report`][] on run folders."""
    import numpy as np

    try:
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
        check_test_fraction(args)
        check_out(args.out)
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
        start_keras(args)
        if keras_backend() != "tensorflow":
            raise ValueError(
                "explain uses tf-keras-vis, for the TensorFlow backend only (this run is on "
                f"{keras_backend()!r}); models trained on any backend load there."
            )
        splits = load_data(args)
    except (ValueError, FileNotFoundError) as error:
        return user_error(error)
    from keras_angular import explain
    from keras_angular.saving import load_model

    models = {}
    for name, path in zip(names, paths, strict=True):
        model = load_model(path)
        expected = tuple(model.inputs[0].shape[1:])
        if expected != tuple(splits.input_shape):
            return user_error(
                f"{path} takes images of shape {expected}, but {args.dataset} has "
                f"{tuple(splits.input_shape)}."
            )
        models[name] = model
    for path, model in zip(paths, models.values(), strict=True):
        if args.projector and not _has_embedding_output(model):
            return user_error(
                f"--projector needs models with an 'embedding' output (as train writes "
                f"them); {path} has none."
            )
        try:  # e.g. an mlp (train's backbone for the 8x8 digits) has no feature map
            explain.feature_map_layer(model)
        except ValueError as error:
            return user_error(f"{path}: {str(error).removeprefix('gradcam: ')}")
    projector = _write_projector(models, splits, args) if args.projector else None
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
    if projector is not None:
        report["projector"] = projector
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
    if projector is not None:
        print(f"embeddings: tensorboard --logdir {projector}")
    return 0
