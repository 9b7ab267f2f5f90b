"""One registry: method name -> head, losses, callbacks and the papers' defaults.

Every method builds the same model shape on top of a backbone (images ->
embedding): a head layer named ``"head"`` and two outputs,
``{"logits": head(embedding), "embedding": embedding}``. The logits carry the
classification loss, the embedding an optional feature loss (AMC, Euclidean,
center). A method whose embedding loss keeps state in the model (center: the class
centres, a [`ClassCenters`][keras_angular.layers.ClassCenters] layer named ``"centers"``)
passes the embedding output through that layer. Labels are given to both:
``{"logits": y, "embedding": y}`` ([`targets`][keras_angular.methods.targets]).

Adding a method is adding one [`Method`][keras_angular.methods.Method] entry to
[`METHODS`][keras_angular.methods.METHODS]:

```python
METHODS["myloss"] = Method(
    "myloss", "my loss on cosine logits", head="cosine",
    logits_loss=lambda head, num_classes, p: MyLoss(scale=p["scale"]),
    defaults={"scale": 10.0},
)
```
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from keras_angular.checks import check_int

if TYPE_CHECKING:
    import keras

# The registry itself (names, summaries, defaults) imports no Keras: the command line reads
# it before it imports Keras. The layers and losses are imported when a method is built.


def _keras():
    import keras

    return keras


def _layers():
    from keras_angular import layers

    return layers


def _losses():
    from keras_angular import losses

    return losses


HEADS = {
    "dense": lambda units: _keras().layers.Dense(units, name="head"),
    "cosine": lambda units: _layers().CosineDense(units, name="head"),
    "weights_biased": lambda units: _layers().WeightsBiasedDense(units, name="head"),
}
"""The head layers a method can ask for, by the name it uses."""

RAMP_UP_FRACTION = 80 / 300
"""AMC paper Sec. 3.2: the feature-loss weight ramps up over the first 80 of 300 epochs."""


def _cross_entropy(head, num_classes, params):
    return _keras().losses.SparseCategoricalCrossentropy(from_logits=True, name="cross_entropy")


def _whole(value):
    """An integral float (``--set margin=2.0``) as an int; any other value as it is, for
    the loss to check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _wsoftmax(head, params, alpha):
    return _losses().WSoftmaxLoss(
        alpha, bool(params["easy_margin"]), params["form"], params["scale"], head=head
    )


@dataclasses.dataclass(frozen=True)
class Method:
    """How to build one method.

    Attributes:
        name: registry key, used on the command line.
        summary: one line for ``--help`` and reports.
        head: a key of [`HEADS`][keras_angular.methods.HEADS], or ``params -> key`` for a method
            whose forms read different heads.
        logits_loss: ``(head, num_classes, params) -> Loss`` on the head's output.
        embedding_loss: ``(head, num_classes, params) -> Loss`` on the
            embedding, or None. With an ``embedding_layer`` it receives that layer
            in place of the head.
        embedding_layer: ``(num_classes, params) -> Layer``, an identity on the
            embedding that holds state the embedding loss updates (the center
            loss's [`ClassCenters`][keras_angular.layers.ClassCenters]), or None.
        defaults: hyper-parameters and the registry's defaults - the papers'
            except the rows of [`REGISTRY_OVERRIDES`][keras_angular.methods.REGISTRY_OVERRIDES];
            ``params`` is ``defaults`` updated with the user's overrides.
        ramp_embedding_loss: ramp the embedding loss's ``weight`` up with the
            AMC paper's Gaussian curve over the first 80/300 of the epochs.
        pretrain_loss: for a two-phase method, the loss of the first
            ``params["pretrain_epochs"]`` epochs, or None.

    Examples:
        >>> amc = METHODS["amc"]
        >>> amc.head, dict(amc.defaults), amc.ramp_embedding_loss
        ('dense', {'margin': 0.5, 'weight': 0.1}, True)
    """

    name: str
    summary: str
    head: str
    logits_loss: Callable = _cross_entropy
    embedding_loss: Callable | None = None
    defaults: Mapping = dataclasses.field(default_factory=dict)
    ramp_embedding_loss: bool = False
    pretrain_loss: Callable | None = None
    embedding_layer: Callable | None = None


@dataclasses.dataclass
class MethodSetup:
    """A built method: the model and what to compile and fit it with.

    Examples:
        >>> import keras
        >>> from keras_angular.models import mlp
        >>> setup = build_method("amc", mlp((8, 8, 1)), num_classes=10, epochs=3)
        >>> setup.compile(keras.optimizers.Adam(1e-3))
        >>> type(setup).__name__, sorted(setup.loss), setup.model.name
        ('MethodSetup', ['embedding', 'logits'], 'mlp_amc')
    """

    method: Method
    params: dict
    model: keras.Model
    head: keras.layers.Layer
    loss: dict
    callbacks: list
    pretrain_loss: dict | None = None

    def compile(self, optimizer, loss=None, **kwargs):
        """Compile [`model`][keras_angular.methods.MethodSetup.model] with ``loss`` (default
        [`loss`][keras_angular.methods.MethodSetup.loss]) and accuracy on the logits."""
        keras = _keras()
        self.model.compile(
            optimizer=optimizer,
            loss=loss or self.loss,
            metrics={"logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
            **kwargs,
        )


@dataclasses.dataclass(frozen=True)
class Override:
    """One row of [`REGISTRY_OVERRIDES`][keras_angular.methods.REGISTRY_OVERRIDES]: a registry
    default that is not the paper's.

    Examples:
        >>> row = REGISTRY_OVERRIDES[0]
        >>> row.method, row.parameter, row.paper, row.registry
        ('cosface', 'scale', 64.0, 16.0)
    """

    method: str
    parameter: str
    paper: object
    registry: object
    why: str


_SMALL_SCALE = "the paper's s = 64 is set for thousands of identities; 16 for 10-100 classes"
"""Where a method's registry default differs from its loss class's default (the paper's
value, see each loss's docstring), and why. The registry trains small class counts
(10 classes) with short runs; the face-recognition papers tuned s and m for
thousands of identities. ``--set NAME=VALUE`` restores a paper value.
``keras-angular train --help``, docs/recipes.md and the compare report print it."""
_SMALL_MARGIN = "a smaller margin to go with the smaller scale (not tuned here)"

REGISTRY_OVERRIDES = (
    Override("cosface", "scale", 64.0, 16.0, _SMALL_SCALE),
    Override("cosface", "margin", 0.35, 0.2, _SMALL_MARGIN),
    Override("arcface", "scale", 64.0, 16.0, _SMALL_SCALE),
    Override("arcface", "margin", 0.5, 0.3, _SMALL_MARGIN),
    Override(
        "sphereface",
        "margin",
        4,
        2,
        "a milder margin for short runs without SphereFace's softmax annealing (not tuned here)",
    ),
    Override(
        "wsoftmax",
        "form",
        "paper",
        "angular",
        "the paper's Eq. 13 (and its easy_margin) pushes features to the far side of their "
        "class weight; the angular form keeps its margin without that (WSoftmaxLoss docstring)",
    ),
)


def overrides_table(methods=None):
    """[`REGISTRY_OVERRIDES`][keras_angular.methods.REGISTRY_OVERRIDES] as Markdown table rows, for
    ``methods`` (all when None).

    Examples:
        >>> print(overrides_table(["arcface"]).splitlines()[2])
        | arcface | scale | 64.0 | 16.0 | the paper's s = 64 is set for thousands of ...
        >>> overrides_table(["softmax"])   # no row: the empty string
        ''
    """
    rows = [
        "| method | parameter | paper | registry | why |",
        "|---|---|---|---|---|",
    ]
    for row in REGISTRY_OVERRIDES:
        if methods is None or row.method in methods:
            rows.append(
                f"| {row.method} | {row.parameter} | {row.paper} | {row.registry} | {row.why} |"
            )
    return "\n".join(rows) if len(rows) > 2 else ""


METHODS = {
    method.name: method
    for method in [
        Method("softmax", "cross-entropy on a plain dense head (baseline)", head="dense"),
        Method(
            "normface",
            "NormFace: CE over s cos(theta)",
            head="cosine",
            logits_loss=lambda head, c, p: _losses().NormFaceLoss(scale=p["scale"]),
            defaults={"scale": 16.0},
        ),
        Method(
            "cosface",
            "CosFace: CE over s (cos(theta) - m) on the target",
            head="cosine",
            logits_loss=lambda head, c, p: _losses().CosFaceLoss(p["scale"], p["margin"]),
            defaults={"scale": 16.0, "margin": 0.2},
        ),
        Method(
            "arcface",
            "ArcFace: target logit s cos(theta + m)",
            head="cosine",
            logits_loss=lambda head, c, p: _losses().ArcFaceLoss(p["scale"], p["margin"]),
            defaults={"scale": 16.0, "margin": 0.3},
        ),
        Method(
            "sphereface",
            "SphereFace (A-Softmax) on unit features: target s psi(theta), integer m",
            head="cosine",
            logits_loss=lambda head, c, p: _losses().SphereFaceLoss(
                p["scale"], _whole(p["margin"])
            ),
            defaults={"scale": 16.0, "margin": 2},
        ),
        Method(
            "center",
            "CE + center loss on the embedding (Wen et al.)",
            head="dense",
            embedding_loss=lambda centers, c, p: _losses().CenterLoss(
                c, p["alpha"], p["weight"], head=centers
            ),
            embedding_layer=lambda c, p: _layers().ClassCenters(c, name="centers"),
            defaults={"alpha": 0.5, "weight": 0.003},
        ),
        Method(
            "euclid",
            "CE + Euclidean contrastive loss on in-batch pairs (AMC paper Eq. 1)",
            head="dense",
            embedding_loss=lambda head, c, p: _losses().EuclideanContrastiveLoss(
                p["margin"], p["weight"], head=head
            ),
            defaults={"margin": 1.0, "weight": 0.1},
            ramp_embedding_loss=True,
        ),
        Method(
            "amc",
            "CE + AMC-Loss: geodesic contrastive on in-batch pairs, Gaussian ramp-up",
            head="dense",
            embedding_loss=lambda head, c, p: _losses().AMCLoss(
                p["margin"], p["weight"], head=head
            ),
            defaults={"margin": 0.5, "weight": 0.1},
            ramp_embedding_loss=True,
        ),
        Method(
            "arc",
            "Angular 'Arc' loss: CE over s (pi - theta)",
            head="cosine",
            logits_loss=lambda head, c, p: _losses().AngularLoss(scale=p["scale"]),
            defaults={"scale": 4.0},
        ),
        Method(
            "haseparator",
            "HASeparator: CE over s cos + hinge on hyperplane projections",
            head="cosine",
            logits_loss=lambda head, c, p: _losses().HASeparatorLoss(
                p["scale"], p["margin"], head=head
            ),
            defaults={"scale": 3.0, "margin": 0.9},
        ),
        Method(
            "wsoftmax",
            "W-Softmax: the bias normalize(alpha w_y + w_j) as an angular margin on the "
            "negatives (form=paper: Eq. 13 on raw features); optional softmax pretraining",
            head=lambda p: "weights_biased" if p["form"] == "paper" else "cosine",
            logits_loss=lambda head, c, p: _wsoftmax(head, p, p["alpha"]),
            pretrain_loss=lambda head, c, p: _wsoftmax(head, p, 0.0),
            defaults={
                "alpha": 1.5,
                "form": "angular",
                "scale": None,
                "easy_margin": False,
                "pretrain_epochs": 0,
            },
        ),
    ]
}


def get_method(name):
    """The [`Method`][keras_angular.methods.Method] registered as ``name``; a ``ValueError`` lists
    the valid names.

    Examples:
        >>> method = get_method("arcface")
        >>> method.name, method.head, dict(method.defaults)
        ('arcface', 'cosine', {'scale': 16.0, 'margin': 0.3})
    """
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(
            f"Unknown method {name!r}; choose one of: {', '.join(sorted(METHODS))}."
        ) from None


def method_params(method, overrides):
    """``method.defaults`` updated by ``overrides``; a ``ValueError`` names an unknown key.

    Examples:
        >>> method_params(get_method("arcface"), {"margin": 0.5})
        {'scale': 16.0, 'margin': 0.5}
    """
    unknown = set(overrides) - set(method.defaults)
    if unknown:
        known = ", ".join(sorted(method.defaults)) or "none"
        raise ValueError(
            f"Method {method.name!r} has no parameter {', '.join(sorted(unknown))}; "
            f"its parameters are: {known}."
        )
    return {**method.defaults, **overrides}


def build_head_and_losses(name, num_classes, **overrides):
    """The head layer and losses of ``name`` with its defaults updated by ``overrides``.

    Returns:
        ``(method, params, head, loss)``: ``loss`` is ``{"logits": Loss}``, plus
        ``"embedding"`` for the methods with a feature loss (for ``center``, its
        ``head`` is the [`ClassCenters`][keras_angular.layers.ClassCenters] layer that
        [`build_method`][keras_angular.methods.build_method] places on the embedding).

    Examples:
        >>> method, params, head, loss = build_head_and_losses("cosface", 10, margin=0.35)
        >>> type(head).__name__, type(loss["logits"]).__name__, params
        ('CosineDense', 'CosFaceLoss', {'scale': 16.0, 'margin': 0.35})
    """
    method, params, head, _, loss = _head_layers_and_losses(name, num_classes, overrides)
    return method, params, head, loss


def _head_layers_and_losses(name, num_classes, overrides):
    """[`build_head_and_losses`][keras_angular.methods.build_head_and_losses] plus the method's
    embedding layer (or None)."""
    method = get_method(name)
    params = method_params(method, overrides)
    head, layer, loss = _parts(method, params, num_classes)
    return method, params, head, layer, loss


def _parts(method, params, num_classes):
    """``(head, embedding layer or None, {output: Loss})`` of ``method`` with ``params``."""
    head = HEADS[method.head(params) if callable(method.head) else method.head](num_classes)
    loss = {"logits": method.logits_loss(head, num_classes, params)}
    layer = None
    if method.embedding_layer is not None:
        layer = method.embedding_layer(num_classes, params)
    if method.embedding_loss is not None:
        reads = head if layer is None else layer
        loss["embedding"] = method.embedding_loss(reads, num_classes, params)
    return head, layer, loss


def check_params(method, params):
    """Raise the ``ValueError`` (or ``TypeError``) that building ``method`` with ``params``
    ([`method_params`][keras_angular.methods.method_params]) would raise, without building a model:
    build its head, losses and embedding layer for two classes - the loss classes check their
    settings - and ``pretrain_epochs``, then drop them. Imports Keras.

    Examples:
        >>> check_params(get_method("arc"), {"scale": 8.0})
        >>> check_params(get_method("arc"), {"scale": "big"})
        Traceback (most recent call last):
        ...
        ValueError: AngularLoss: `scale` must be a finite number > 0, got 'big'.
    """
    head, _, _ = _parts(method, params, 2)
    if method.pretrain_loss is not None:
        check_int(f"Method {method.name!r}", "pretrain_epochs", params["pretrain_epochs"], 0)
        method.pretrain_loss(head, 2, params)


def build_method(name, backbone, num_classes, epochs, **overrides):
    """Attach ``name``'s head to ``backbone`` and build its losses and callbacks.

    Args:
        name: a key of [`METHODS`][keras_angular.methods.METHODS].
        backbone: a ``keras.Model`` from inputs to the embedding.
        num_classes: C.
        epochs: the total number of epochs (ramps are scaled to it).
        **overrides: hyper-parameters that replace the method's defaults.

    Returns:
        A [`MethodSetup`][keras_angular.methods.MethodSetup]; call ``setup.compile(optimizer)`` and
        fit ``setup.model`` on ``targets(y)``. Built under a mixed-precision policy
        (``keras.config.set_dtype_policy("mixed_bfloat16")``), the head and the ``embedding``
        output are float32 (the backbone computes in the policy's dtype).

    Examples:
        >>> from keras_angular.models import mlp
        >>> setup = build_method("amc", mlp((8, 8, 1), embedding_dim=32), 10, epochs=30)
        >>> setup.head.units, [ramp.ramp_up for ramp in setup.callbacks]   # ceil(80 / 300 * 30)
        (10, [8])
        >>> center = build_method("center", mlp((8, 8, 1), embedding_dim=32), 10, epochs=1)
        >>> center.loss["embedding"].head is center.model.get_layer("centers")   # the centres
        True
    """
    from keras_angular.callbacks import LossWeightRamp

    keras = _keras()
    method, params, head, layer, loss = _head_layers_and_losses(name, num_classes, overrides)
    embedding = backbone.output
    if keras.config.dtype_policy().compute_dtype != "float32":
        # mixed precision: the model's last layers compute in float32 (Keras' advice), so
        # the logits, the angles and what the losses read are float32; the backbone is not
        for part in (head, layer):
            if part is not None:
                part.dtype_policy = "float32"
        embedding = keras.layers.Activation("linear", dtype="float32", name="embedding_float32")(
            embedding
        )
    model = keras.Model(
        backbone.input,
        {"logits": head(embedding), "embedding": embedding if layer is None else layer(embedding)},
        name=f"{backbone.name}_{name}",
    )
    callbacks = []
    if method.ramp_embedding_loss:
        ramp_up = max(1, math.ceil(RAMP_UP_FRACTION * epochs))
        callbacks.append(LossWeightRamp(loss["embedding"], ramp_up=ramp_up))
    pretrain = None
    if method.pretrain_loss is not None and params.get("pretrain_epochs", 0) > 0:
        pretrain = {**loss, "logits": method.pretrain_loss(head, num_classes, params)}
    return MethodSetup(method, params, model, head, loss, callbacks, pretrain)


def targets(labels):
    """The ``y`` for a model built here: the labels for both outputs.

    Examples:
        >>> targets([0, 2, 1])
        {'logits': [0, 2, 1], 'embedding': [0, 2, 1]}
    """
    return {"logits": labels, "embedding": labels}


__all__ = [
    "HEADS",
    "METHODS",
    "REGISTRY_OVERRIDES",
    "Method",
    "MethodSetup",
    "Override",
    "build_head_and_losses",
    "build_method",
    "check_params",
    "get_method",
    "method_params",
    "overrides_table",
    "targets",
]
