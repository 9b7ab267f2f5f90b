"""The settings of one training run, their checks, and the record that makes resuming safe.

[`RunConfig`][keras_angular.run_config.RunConfig] is what [`keras_angular.training.run_method`][]
trains with and what ``keras-angular train`` / ``compare`` fill from their options: one frozen
dataclass whose field defaults are the package's defaults (there is no second copy of them). A bad
value raises [`RunSettingsError`][keras_angular.run_config.RunSettingsError] when the config is
built; [`check_run`][keras_angular.run_config.check_run] adds the check that needs the method (its
hyper-parameter overrides).

[`run_record`][keras_angular.run_config.run_record] is what ``run_method`` writes to
``out_dir/run.json`` before training, and [`check_resume`][keras_angular.run_config.check_resume]
compares it with an interrupted run's, so that ``keras.callbacks.BackupAndRestore`` never resumes a
run of other data or settings.

Examples:

>>> from keras_angular.run_config import RunConfig
>>> config = RunConfig(epochs=3, overrides={"margin": 0.3})
>>> config.batch_size, config.learning_rate, config.overrides
(128, 0.002, {'margin': 0.3})
>>> RunConfig(epochs=0)
Traceback (most recent call last):
...
keras_angular.run_config.RunSettingsError: RunConfig: `epochs` must be an int >= 1, got 0.
"""

import dataclasses
import hashlib
import json
import numbers
import os

import numpy as np

from keras_angular.checks import check_positive
from keras_angular.optimizers import OPTIMIZERS, check_optimizer
from keras_angular.registry_names import BACKBONE_NAMES, RECIPE_NAMES

LR_SCHEDULES = ("cosine", "constant")
"""The ``lr_schedule`` values [`RunConfig`][keras_angular.run_config.RunConfig] accepts."""

DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
"""The ``dtype_policy`` values [`RunConfig`][keras_angular.run_config.RunConfig] accepts
(``keras.mixed_precision`` policies)."""

WEIGHTS_FILE_SUFFIX = ".weights.h5"
"""How the name of a weights file for ``RunConfig.weights`` ends (``model.save_weights``')."""

DEFAULT_EPOCHS = 30
"""The epochs of ``keras-angular train`` / ``compare`` without ``--epochs`` (a
[`RunConfig`][keras_angular.run_config.RunConfig] itself requires them)."""

RUN_RECORD = "run.json"
"""The file in ``out_dir`` that says which run the folder holds
([`run_record`][keras_angular.run_config.run_record])."""

_RECORD_FORMAT = 1
# fields that decide the weights, added after the record's format was set: a record holds
# them only where they differ from their defaults, so an older run's record still matches
_LATER_FIELDS = (
    "optimizer",
    "momentum",
    "nesterov",
    "weight_decay",
    "dtype_policy",
    "weights",
    "freeze_backbone_epochs",
    "steps_per_epoch",
)
_SAMPLED_IMAGES = 64  # images per split that the data fingerprint hashes


class RunSettingsError(ValueError):
    """A run's settings, or its ``out_dir``, were refused before anything was built or
    written; the message says what to change.

    Attributes:
        field: the [`RunConfig`][keras_angular.run_config.RunConfig] field that was refused, or
            None.

    A front end that names the setting otherwise (the command line's ``--batch-size``)
    words the same refusal with
    [`message_for`][keras_angular.run_config.RunSettingsError.message_for].

    Examples:
        >>> try:
        ...     RunConfig(epochs=2, batch_size=0)
        ... except ValueError as error:
        ...     print(type(error).__name__, error.field)
        ...     print(error.message_for({"batch_size": "--batch-size"}))
        RunSettingsError batch_size
        --batch-size must be an integer >= 1, got 0.
    """

    def __init__(self, message, *, field=None, named=None):
        super().__init__(message)
        self.field = field
        self._named = named

    def message_for(self, names):
        """The message with the field called by its name in ``names`` (``{field: name}``,
        e.g. a command-line flag), without the ``RunConfig:`` / ``run_method:`` prefix
        where the refusal has such a wording; else the message itself."""
        if self._named is None:
            return str(self)
        message = self._named.replace("{name}", names.get(self.field, f"`{self.field}`"))
        for field, name in names.items():  # other fields the sentence names
            message = message.replace(f"`{field}`", name)
        return message


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How [`keras_angular.training.run_method`][] trains one method.

    Attributes:
        epochs: number of epochs (required).
        seed: seeds Keras, NumPy, TensorFlow and the data order.
        batch_size: global batch size.
        learning_rate: the optimizer's (peak) learning rate.
        lr_schedule: ``"cosine"`` (default): decay it to 0 over the run's steps,
            ``0.5 * (1 + cos(pi * step / total_steps))`` (Loshchilov & Hutter, SGDR, 2017,
            without restarts); ``"constant"``: keep it (docs/performance.md compares
            them). Two-phase methods (``pretrain_epochs``) keep one optimizer, so the schedule
            runs on across the phases.
        backbone: a name for [`keras_angular.models.build_backbone`][]; None picks
            [`keras_angular.models.default_backbone`][] for the data
            ([`backbone_for`][keras_angular.run_config.RunConfig.backbone_for]).
        backbone_kwargs: extra arguments for the backbone builder (``{"embedding_dim": 3}``).
        overrides: the method's hyper-parameters to change (``{"margin": 0.3}``).
        augment: None, or a name in [`keras_angular.data.AUGMENTATIONS`][]
            (``False`` and ``"none"`` mean None).
        recipe: None, or ``"paper"`` / ``"official"``: train with the AMC paper's whole
            temporal-ensembling recipe ([`keras_angular.callbacks.TemporalEnsemblingSchedule`][]:
            ramped learning rate, Adam beta_1 and feature-loss weight, EMA weights for the
            official code's variant) in place of ``learning_rate`` and the method's own ramp.
        precise_bn: before every evaluation and at the end of training, set the batch
            norms' statistics to the population statistics of the current weights over
            (up to 4,096 of) the training images
            ([`keras_angular.callbacks.PreciseBatchNorm`][]); without it, inference
            reads Keras' moving averages, which lag far behind the weights in short runs.
            No effect on a backbone without batch norm.
        geometry_every: also log the test set's feature geometry every this many epochs
            ([`keras_angular.callbacks.GeometryMetrics`][], keys ``val_w_inter_deg``
            ...) into the history; None does not.
        figures: draw the geometry figures when the run writes to a folder.
        jit_compile: passed to ``model.compile``.
        verbose: Keras' progress-bar verbosity.
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"sgd"``
            ([`keras_angular.optimizers`][]); a ``recipe`` trains with its own Adam.
        momentum: SGD's momentum; None is 0.9. Only with ``optimizer="sgd"``.
        nesterov: SGD with Nesterov momentum. Only with ``optimizer="sgd"``.
        weight_decay: decoupled weight decay for ``"adamw"`` (None: Keras' 0.004) and
            ``"sgd"`` (None: none); the coupled L2 penalty is the backbone's
            ``backbone_kwargs={"weight_decay": ...}``.
        dtype_policy: ``"float32"`` (default), ``"mixed_float16"`` or ``"mixed_bfloat16"``:
            the ``keras.mixed_precision`` policy the model is built under (the heads and
            losses keep their angles in float32; ``mixed_float16`` adds Keras' loss scaling).
        weights: None (initialise at random), ``"imagenet"`` (Keras' pretrained weights of a
            ``keras.applications`` backbone, downloaded by Keras) or the path of a
            ``.weights.h5`` file of the backbone (``backbone.save_weights``) or of an
            ``.h5`` file of a ``keras.applications`` network's own weights
            ([`keras_angular.models.build_backbone`][]).
        freeze_backbone_epochs: train only the embedding layer and the head for this many
            first epochs, the backbone's body (of ``weights``, which it needs) frozen
            ([`keras_angular.models.feature_extractor_layers`][]), then everything.
        steps_per_epoch: None, or train at most this many batches each epoch (the first
            ones of that epoch's seeded order); the learning-rate schedule's steps follow.
            A smoke run (one step of a long run, to see it start) or a shorter epoch.
        projector: when the run writes to a folder, also write the test embeddings for
            TensorBoard's Embedding Projector to ``projector/``
            ([`keras_angular.projector.write_projector`][]).

    ``geometry_every``, ``figures``, ``jit_compile``, ``verbose`` and ``projector`` change
    what is logged, drawn or how fast it runs; every other field decides the trained weights
    and goes into [`run_record`][keras_angular.run_config.run_record].

    Raises:
        RunSettingsError: (a ``ValueError``) a field has a bad type or value.

    Examples:
        >>> config = RunConfig(epochs=2, backbone="mlp")
        >>> config.seed, config.lr_schedule, config.replace(seed=3).seed
        (0, 'cosine', 3)
    """

    epochs: int
    seed: int = 0
    batch_size: int = 128
    learning_rate: float = 2e-3
    lr_schedule: str = "cosine"
    backbone: str | None = None
    backbone_kwargs: dict | None = None
    overrides: dict | None = None
    augment: str | None = None
    recipe: str | None = None
    precise_bn: bool = True
    geometry_every: int | None = None
    figures: bool = True
    jit_compile: bool | str = "auto"
    verbose: int = 1
    optimizer: str = "adam"
    momentum: float | None = None
    nesterov: bool = False
    weight_decay: float | None = None
    dtype_policy: str = "float32"
    weights: str | None = None
    freeze_backbone_epochs: int = 0
    steps_per_epoch: int | None = None
    projector: bool = False

    def __post_init__(self):
        from keras_angular.data import AUGMENTATIONS

        def fail(field, message, named=None):
            raise RunSettingsError(f"RunConfig: {message}", field=field, named=named)

        def integer(field, low, optional=False):
            value = getattr(self, field)
            if (optional and value is None) or (_is_int(value) and value >= low):
                return
            either = "None or " if optional else ""
            named = f"{{name}} must be an integer >= {low}, got {value}."
            fail(field, f"`{field}` must be {either}an int >= {low}, got {value!r}.", named)

        integer("epochs", 1)
        integer("batch_size", 1)
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            bound = ">= 0" if not _is_int(self.seed) or self.seed < 0 else "< 2**32"
            named = f"{{name}} must be an integer {bound}, got {self.seed}."
            fail("seed", f"`seed` must be an int in [0, 2**32), got {self.seed!r}.", named)
        integer("geometry_every", 1, optional=True)
        integer("steps_per_epoch", 1, optional=True)
        integer("freeze_backbone_epochs", 0)
        if self.freeze_backbone_epochs > self.epochs:
            fail(
                "freeze_backbone_epochs",
                f"`freeze_backbone_epochs` ({self.freeze_backbone_epochs}) exceeds `epochs` "
                f"({self.epochs}).",
                f"{{name}} ({self.freeze_backbone_epochs}) exceeds the {self.epochs} epochs.",
            )
        if self.freeze_backbone_epochs and self.weights is None:
            fail(
                "freeze_backbone_epochs",
                "`freeze_backbone_epochs` freezes a body of starting `weights`; without them "
                "the frozen body is random, its batch norms run on their initial statistics "
                "and the head trains on collapsed features: give `weights`.",
                "{name} freezes a body of starting --weights; without them the frozen body is "
                "random, its batch norms run on their initial statistics and the head trains "
                "on collapsed features: give --weights.",
            )
        refusal = check_optimizer(self.optimizer, self.momentum, self.nesterov, self.weight_decay)
        if refusal is not None:
            fail(refusal.split("`")[1], refusal, refusal)
        if self.recipe is not None and self.optimizer != "adam":
            fail(
                "optimizer",
                f"the recipe {self.recipe!r} trains with its own Adam (ramped beta_1); "
                f"`optimizer` must be adam, got {self.optimizer!r}.",
                f"the recipe {self.recipe!r} trains with its own Adam (ramped beta_1); "
                f"{{name}} must be adam, got {self.optimizer!r}.",
            )
        if self.dtype_policy not in DTYPE_POLICIES:
            fail(
                "dtype_policy",
                f"`dtype_policy` must be one of {DTYPE_POLICIES}, got {self.dtype_policy!r}.",
                f"{{name}} must be one of {', '.join(DTYPE_POLICIES)}, got {self.dtype_policy!r}.",
            )
        if self.weights is not None and str(self.weights).lower() != "imagenet":
            path = str(self.weights)
            if not path.endswith(".h5") or not os.path.isfile(path):
                problem = "is no file" if not os.path.isfile(path) else "is no .h5 file"
                fail(
                    "weights",
                    f"`weights` must be None, 'imagenet' or the path of a "
                    f"{WEIGHTS_FILE_SUFFIX} file; {path!r} {problem}.",
                    f"{{name}} must be imagenet or the path of a {WEIGHTS_FILE_SUFFIX} file; "
                    f"{path!r} {problem}.",
                )
        try:
            check_positive("RunConfig", "learning_rate", self.learning_rate)
        except ValueError as error:
            named = f"{{name}} must be a finite number > 0, got {self.learning_rate}."
            fail("learning_rate", str(error).removeprefix("RunConfig: "), named)
        if self.lr_schedule not in LR_SCHEDULES:
            fail(
                "lr_schedule",
                f"`lr_schedule` must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}.",
            )
        if self.recipe is not None and self.recipe not in RECIPE_NAMES:
            fail(
                "recipe",
                f"`recipe` must be None or one of {sorted(RECIPE_NAMES)}, got {self.recipe!r}.",
            )
        if self.augment not in (None, False, "none", *AUGMENTATIONS):
            fail("augment", f"`augment` must be one of {AUGMENTATIONS}, got {self.augment!r}.")
        if self.backbone is not None and str(self.backbone).lower() not in BACKBONE_NAMES:
            valid = ", ".join(BACKBONE_NAMES)
            fail(
                "backbone",
                f"unknown backbone {self.backbone!r}; valid names: {valid}.",
                f"Unknown {{name}} {self.backbone!r}; valid names: {valid}.",
            )
        for name in ("backbone_kwargs", "overrides"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                fail(name, f"`{name}` must be None or a dict, got {value!r}.")
            # a copy, so that changing the caller's dict later cannot change this run
            object.__setattr__(self, name, None if value is None else dict(value))
        if self.augment in (False, "none"):
            object.__setattr__(self, "augment", None)

    def backbone_for(self, input_shape):
        """The backbone this run builds for images of ``input_shape``: ``backbone``, or
        [`keras_angular.models.default_backbone`][] when it is None.

        Examples:
            >>> config = RunConfig(epochs=1)
            >>> config.backbone_for((8, 8, 1)), config.backbone_for((28, 28, 1))
            ('mlp', 'small_cnn')
        """
        from keras_angular.models import default_backbone

        return self.backbone or default_backbone(input_shape)

    def replace(self, **changes):
        """A copy with ``changes`` (``config.replace(seed=1)``), checked like a new one."""
        return dataclasses.replace(self, **changes)


def check_run(method, config, *, values=True):
    """Raise [`RunSettingsError`][keras_angular.run_config.RunSettingsError] with one sentence if
    ``method`` cannot train with ``config``: an unknown method, overrides that name no parameter of
    it, or (``values``) overrides with a bad value: the method's head and losses are built with them
    ([`keras_angular.methods.check_params`][]), which imports Keras. The config's own
    fields were checked when it was built. ``values=False`` checks the names only, without
    Keras (the command line, before it imports Keras).

    Examples:
        >>> check_run("arcface", RunConfig(epochs=1, overrides={"margin": 0.3}))
        >>> for overrides in ({"m": 0.3}, {"scale": "big"}):
        ...     try:
        ...         check_run("arcface", RunConfig(epochs=1, overrides=overrides))
        ...     except RunSettingsError as error:
        ...         print(error)
        run_method: Method 'arcface' has no parameter m; its parameters are: margin, scale.
        run_method: ArcFaceLoss: `scale` must be a finite number > 0, got 'big'.
    """
    from keras_angular.methods import check_params, get_method, method_params

    try:
        spec = get_method(method)
        params = method_params(spec, dict(config.overrides or {}))
        if values:
            check_params(spec, params)
    except (ValueError, TypeError) as error:
        raise RunSettingsError(f"run_method: {error}", named=str(error)) from None


def data_fingerprint(splits):
    """A cheap fingerprint of a [`DatasetSplits`][keras_angular.data.DatasetSplits]: its name,
    shapes, classes, preprocessing and a SHA-256 of every label plus up to 64 evenly
    strided images per split (kilobytes hashed, never a copy of the whole set).

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> fingerprint = data_fingerprint(load_dataset("digits"))
        >>> fingerprint["x_train"], fingerprint["num_classes"], len(fingerprint["hash"])
        ([1437, 8, 8, 1], 10, 20)
    """
    digest = hashlib.sha256()
    for x, y in [(splits.x_train, splits.y_train), (splits.x_test, splits.y_test)]:
        step = max(1, len(x) // _SAMPLED_IMAGES)
        digest.update(repr(x.shape).encode())
        digest.update(np.ascontiguousarray(x[::step][:_SAMPLED_IMAGES]).tobytes())
        digest.update(np.ascontiguousarray(y, dtype=np.int32).tobytes())
    return {
        "name": splits.name,
        "x_train": list(splits.x_train.shape),
        "x_test": list(splits.x_test.shape),
        "num_classes": splits.num_classes,
        "standardize": splits.standardize,
        "hash": digest.hexdigest()[:20],
    }


def run_record(method, splits, config, distribution=None):
    """What ``run_method`` writes to ``out_dir/run.json``: the method, the fields of
    ``config`` that decide the trained weights (``seed`` to ``precise_bn``, with the
    backbone that None resolves to; ``optimizer`` to ``steps_per_epoch`` only where they are
    not their defaults, so that a record written before they existed still matches) and
    [`data_fingerprint`][keras_angular.run_config.data_fingerprint], as plain JSON values; and, for
    a run under a ``keras.distribution``, ``distribution``: the dict of
    [`keras_angular.distribution.describe`][] (its device count decides the pair losses' blocks,
    hence the weights).

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> record = run_record("softmax", load_dataset("digits"), RunConfig(epochs=2))
        >>> record["method"], record["backbone"], record["epochs"], record["data"]["name"]
        ('softmax', 'mlp', 2, 'digits')
    """
    import keras

    record = {
        "format": _RECORD_FORMAT,
        "method": method,
        "keras_backend": keras.backend.backend(),
        "seed": config.seed,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "lr_schedule": config.lr_schedule,
        "backbone": config.backbone_for(splits.input_shape),
        "backbone_kwargs": dict(config.backbone_kwargs or {}),
        "overrides": dict(config.overrides or {}),
        "augment": config.augment,
        "recipe": config.recipe,
        "precise_bn": bool(config.precise_bn),
        "data": data_fingerprint(splits),
    }
    defaults = {field.name: field.default for field in dataclasses.fields(RunConfig)}
    for field in _LATER_FIELDS:
        if getattr(config, field) != defaults[field]:
            record[field] = getattr(config, field)
    if distribution is not None:
        record["distribution"] = dict(distribution)
    return json_values(record)


def json_values(value):
    """``value`` as plain JSON values, the one cleaner of what the package writes as JSON:
    dicts (keys as strings), lists (from lists and tuples), NumPy scalars and arrays as
    Python numbers and lists, NaN / Inf kept as floats, any other object as its repr.

    Examples:
        >>> json_values({"n": np.int64(3), "shape": (2, 3), 1: np.array([0.5]), "f": len})
        {'n': 3, 'shape': [2, 3], '1': [0.5], 'f': '<built-in function len>'}
    """
    if isinstance(value, dict):
        return {str(k): json_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_values(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def check_distribution(config, distribution, *, strategy=None, train_images=None):
    """[`keras_angular.distribution.describe`][] of ``distribution`` (None without one),
    after refusing what cannot train under it: ``strategy`` too, a global batch that does
    not split evenly over its devices or (given ``train_images``) exceeds the training
    set, ``geometry_every``. Raises [`RunSettingsError`][keras_angular.run_config.RunSettingsError]
    before anything is built or written; a ``RuntimeError`` on a backend other than JAX.

    Examples:
        >>> check_distribution(RunConfig(epochs=1), None) is None   # no distribution
        True
    """
    if distribution is None:
        return None
    import keras

    from keras_angular import distribution as distribution_lib

    if strategy is not None:
        raise RunSettingsError(
            "run_method: give `strategy` (tf.distribute, TensorFlow) or `distribution` "
            "(keras.distribution, JAX), not both."
        )
    distribution_lib.require_jax("run_method(distribution=...)")
    if keras.distribution.distribution() is not None:
        raise RunSettingsError(
            "run_method: a keras.distribution is already active (set_distribution, or a "
            "scope() around this call); pass it only as `distribution=`: run_method enters "
            "its scope where the model is built and trained, and evaluates a local copy "
            "outside it."
        )
    try:
        distribution_lib.check_batch_size(config.batch_size, distribution)
    except (TypeError, ValueError) as error:
        raise RunSettingsError(
            f"run_method: {error}", field="batch_size", named=str(error)
        ) from None
    if train_images is not None and config.batch_size > train_images:
        raise RunSettingsError(
            f"run_method: the global batch of {config.batch_size} rows exceeds the "
            f"{train_images} training images; under a distribution every batch is "
            "a full global batch.",
            field="batch_size",
        )
    if config.geometry_every:
        raise RunSettingsError(
            "run_method: `geometry_every` evaluates the model during training, which does "
            "not run under a distribution; the geometry of the trained model is in "
            "metrics.json.",
            field="geometry_every",
        )
    return distribution_lib.describe(distribution, config.batch_size)


def read_record(out_dir):
    """The record in ``out_dir/run.json`` (a dict), or None where there is no readable one.

    Examples:
        >>> import tempfile
        >>> out_dir = tempfile.mkdtemp()
        >>> read_record(out_dir) is None
        True
        >>> write_record(out_dir, {"method": "softmax"})
        >>> read_record(out_dir)
        {'method': 'softmax'}
    """
    try:
        with open(os.path.join(out_dir, RUN_RECORD)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_differences(old, new, prefix=""):
    """How two [`run_record`][keras_angular.run_config.run_record] dicts differ, the one rule that
    says whether a folder holds this run: ``(old_parts, new_parts)``, ``"key=value"`` for each key
    whose value differs (``data.`` keys for the data fingerprint's); two empty lists when they
    agree.

    Examples:
        >>> record_differences({"seed": 0, "epochs": 2}, {"seed": 0, "epochs": 3})
        (['epochs=2'], ['epochs=3'])
    """
    old_parts, new_parts = [], []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key, "unset"), new.get(key, "unset")
        if a == b:
            continue
        if key == "data" and isinstance(a, dict) and isinstance(b, dict):
            more_old, more_new = record_differences(a, b, prefix="data.")
            old_parts += more_old
            new_parts += more_new
        else:
            old_parts.append(f"{prefix}{key}={a!r}")
            new_parts.append(f"{prefix}{key}={b!r}")
    return old_parts, new_parts


def check_resume(out_dir, record):
    """Refuse to resume someone else's run: when ``out_dir/backup/`` holds an interrupted
    run, raise [`RunSettingsError`][keras_angular.run_config.RunSettingsError] unless
    ``out_dir/run.json`` says it had the data and settings of ``record``
    ([`run_record`][keras_angular.run_config.run_record]); the message names each setting that
    differs. Without ``backup/`` (a new folder, or a finished run that will be overwritten) there is
    nothing to resume and nothing to refuse. Reads only.

    Examples:
        >>> import tempfile
        >>> from keras_angular.data import load_dataset
        >>> digits, out_dir = load_dataset("digits"), tempfile.mkdtemp()
        >>> write_record(out_dir, run_record("softmax", digits, RunConfig(epochs=2)))
        >>> os.makedirs(os.path.join(out_dir, "backup"))   # an interrupted run
        >>> try:
        ...     check_resume(out_dir, run_record("softmax", digits, RunConfig(epochs=3)))
        ... except RunSettingsError as error:
        ...     print(str(error).split(" with ")[1].split(":")[0])
        epochs=2; this run asks for epochs=3
    """
    backup = os.path.join(out_dir, "backup")
    if not os.path.isdir(backup):
        return
    old = read_record(out_dir)
    if old is None:
        raise RunSettingsError(
            f"{out_dir} holds an interrupted run (backup/) without a readable {RUN_RECORD} "
            f"to say what it was: use another --out (out_dir) or delete {backup}."
        )
    old_parts, new_parts = record_differences(old, record)
    if old_parts:
        raise RunSettingsError(
            f"{out_dir} holds an interrupted run with {', '.join(old_parts)}; this run asks "
            f"for {', '.join(new_parts)}: use another --out (out_dir) or delete {backup}."
        )


def write_record(out_dir, record):
    """Write ``record`` to ``out_dir/run.json`` atomically (a temporary file, renamed).

    Examples:
        >>> import tempfile
        >>> out_dir = tempfile.mkdtemp()
        >>> write_record(out_dir, {"method": "softmax"})
        >>> os.listdir(out_dir)
        ['run.json']
    """
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, RUN_RECORD)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1)
    os.replace(path + ".tmp", path)


__all__ = [
    "DEFAULT_EPOCHS",
    "DTYPE_POLICIES",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "RUN_RECORD",
    "RunConfig",
    "RunSettingsError",
    "WEIGHTS_FILE_SUFFIX",
    "check_distribution",
    "check_resume",
    "check_run",
    "data_fingerprint",
    "json_values",
    "read_record",
    "record_differences",
    "run_record",
    "write_record",
]
