"""The method registry: every method builds, trains on real digits, and its parts fit together."""

import keras
import numpy as np
import pytest

from keras_angular import losses
from keras_angular.data import load_dataset
from keras_angular.layers import CosineDense
from keras_angular.methods import METHODS, build_method, get_method, targets
from keras_angular.models import build_backbone


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _setup(name, digits, epochs=4, **overrides):
    keras.utils.set_random_seed(0)
    backbone = build_backbone("mlp", digits.input_shape, embedding_dim=16)
    return build_method(name, backbone, digits.num_classes, epochs, **overrides)


def test_registry_names_are_the_issue_names():
    assert set(METHODS) == {
        "softmax",
        "normface",
        "cosface",
        "arcface",
        "sphereface",
        "center",
        "euclid",
        "amc",
        "arc",
        "haseparator",
        "wsoftmax",
    }


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_trains_on_digits(name, digits):
    setup = _setup(name, digits)
    setup.compile(keras.optimizers.Adam(3e-3))
    x, y = digits.x_train[:512], digits.y_train[:512]
    history = setup.model.fit(
        x, targets(y), epochs=4, batch_size=64, callbacks=setup.callbacks, verbose=0
    ).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    # the logits' argmax is the prediction; after a few epochs it beats chance (10%) by far
    assert history["logits_accuracy"][-1] > 0.5


#: The registry as the papers and DESIGN.md define it, written out here (NOT read back
#: from METHODS): name -> (head class, logits loss class, embedding loss class or None,
#: the built losses' attributes). "ce" is Keras' sparse cross-entropy on logits.
#: Sources: Angular paper (Wu & Wang) "Arc" s = 4 over s (pi - theta); CosFace margin 0.2
#: and ArcFace 0.3, SphereFace m = 2, NormFace s = 16 (the registry's table of overrides,
#: methods.py); Wen et al. centre rate alpha = 0.5 with lambda = 0.003; AMC paper Sec. 4:
#: lambda = 0.1, m_g = 0.5, m_e = 1.0, S_ij from the classifier's argmax; HASeparator's
#: best CIFAR-10 setting sigma = 3, m = 0.9 (DESIGN.md); W-Softmax alpha = 1.5 in its
#: angular form on unit features (DESIGN.md: the paper's Eq. 13 on raw features escapes).
CE = keras.losses.SparseCategoricalCrossentropy
EXPECTED = {
    "softmax": (keras.layers.Dense, CE, None, {}),
    "normface": (CosineDense, losses.NormFaceLoss, None, {"scale": 16.0}),
    "cosface": (CosineDense, losses.CosFaceLoss, None, {"scale": 16.0, "margin": 0.2}),
    "arcface": (
        CosineDense,
        losses.ArcFaceLoss,
        None,
        {"scale": 16.0, "margin": 0.3, "easy_margin": False},
    ),
    "sphereface": (CosineDense, losses.SphereFaceLoss, None, {"scale": 16.0, "margin": 2}),
    "center": (
        keras.layers.Dense,
        CE,
        losses.CenterLoss,
        {"num_classes": 10, "alpha": 0.5, "weight": 0.003},
    ),
    "euclid": (
        keras.layers.Dense,
        CE,
        losses.EuclideanContrastiveLoss,
        {"margin": 1.0, "weight": 0.1, "head": "head"},
    ),
    "amc": (
        keras.layers.Dense,
        CE,
        losses.AMCLoss,
        {"margin": 0.5, "weight": 0.1, "head": "head"},
    ),
    "arc": (CosineDense, losses.AngularLoss, None, {"scale": 4.0}),
    "haseparator": (
        CosineDense,
        losses.HASeparatorLoss,
        None,
        {"scale": 3.0, "margin": 0.9, "head": "head"},
    ),
    "wsoftmax": (
        CosineDense,
        losses.WSoftmaxLoss,
        None,
        {"alpha": 1.5, "form": "angular", "scale": None, "easy_margin": False, "head": "head"},
    ),
}
#: The registry methods whose embedding loss is ramped up (AMC paper Sec. 3.2).
RAMPED = {"euclid", "amc"}


def _attribute(loss, key):
    if key == "head":
        return loss.head  # the head layer a HASeparator / W-Softmax / AMC loss reads
    value = getattr(loss, key)
    return float(value) if key == "weight" else value  # weight: a rampable keras.Variable


def _assert_loss(loss, cls, attributes, head):
    assert type(loss) is cls, f"{type(loss).__name__} is not {cls.__name__}"
    if cls is CE:
        assert loss.get_config()["from_logits"] is True  # the heads return logits
    for key, expected in attributes.items():
        got = _attribute(loss, key)
        if expected == "head":
            # the very head layer object of the built model, not a copy or a name
            assert got is head, key
        elif isinstance(expected, bool) or expected is None:
            assert got is expected, key
        elif isinstance(expected, str):
            assert got == expected, key
        else:
            assert got == pytest.approx(expected, rel=1e-6), key


def test_expected_table_covers_the_registry():
    assert set(EXPECTED) == set(METHODS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_heads_and_losses_match_the_papers(name, digits):
    head_cls, logits_cls, embedding_cls, attributes = EXPECTED[name]
    setup = _setup(name, digits)
    head = setup.model.get_layer("head")
    assert setup.head is head
    assert type(head) is head_cls, f"{type(head).__name__} is not {head_cls.__name__}"
    assert head.units == digits.num_classes
    assert set(setup.loss) == ({"logits", "embedding"} if embedding_cls else {"logits"})
    if embedding_cls is None:
        _assert_loss(setup.loss["logits"], logits_cls, attributes, head)
    else:
        _assert_loss(setup.loss["logits"], logits_cls, {}, head)
        _assert_loss(setup.loss["embedding"], embedding_cls, attributes, head)
    ramps = [type(c).__name__ for c in setup.callbacks]
    assert ramps == (["LossWeightRamp"] if name in RAMPED else []), ramps
    assert setup.pretrain_loss is None  # W-Softmax pretrains only when asked


#: ``--set`` pairs for each method and the attributes they must set on the built loss.
OVERRIDES = {
    "normface": (["scale=8"], {"scale": 8.0}),
    "cosface": (["margin=0.3"], {"margin": 0.3, "scale": 16.0}),
    "arcface": (["scale=10", "margin=0.4"], {"scale": 10.0, "margin": 0.4}),
    "sphereface": (["margin=3"], {"margin": 3}),
    "center": (["alpha=0.25", "weight=0.01"], {"alpha": 0.25, "weight": 0.01}),
    "euclid": (["margin=2.0", "weight=0.2"], {"margin": 2.0, "weight": 0.2}),
    "amc": (["margin=0.7", "weight=0.3"], {"margin": 0.7, "weight": 0.3}),
    "arc": (["scale=2.5"], {"scale": 2.5}),
    "haseparator": (["scale=5", "margin=0.5"], {"scale": 5.0, "margin": 0.5}),
    "wsoftmax": (["alpha=2.0", "scale=8"], {"alpha": 2.0, "scale": 8.0, "form": "angular"}),
}


class _Built(Exception):
    """Raised by the spy once the method is built: the CLI test needs no training."""


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_command_line_overrides_reach_the_loss_object(name, tmp_path, monkeypatch):
    """``keras-angular train --set KEY=VALUE``: the value lands on the built loss."""
    from keras_angular import cli, training

    built = []

    def spy(*args, **kwargs):
        built.append(build_method(*args, **kwargs))
        raise _Built

    monkeypatch.setattr(training, "build_method", spy)
    pairs, attributes = OVERRIDES[name]
    argv = ["train", "--method", name, "--epochs", "1", "--out", str(tmp_path / name)]
    for pair in pairs:
        argv += ["--set", pair]
    with pytest.raises(_Built):
        cli.main(argv)
    (setup,) = built
    head_cls, logits_cls, embedding_cls, _ = EXPECTED[name]
    loss = setup.loss["embedding"] if embedding_cls else setup.loss["logits"]
    _assert_loss(loss, embedding_cls or logits_cls, attributes, setup.head)


def test_amc_weight_ramps_up_over_the_first_80_of_300_epochs(digits):
    setup = _setup("amc", digits, epochs=300)
    (ramp,) = setup.callbacks
    setup.compile(keras.optimizers.Adam(1e-3))
    ramp.set_model(setup.model)
    ramp.on_epoch_begin(0)
    assert float(setup.loss["embedding"].weight) == pytest.approx(0.1 * np.exp(-5.0), rel=1e-5)
    ramp.on_epoch_begin(80)
    assert float(setup.loss["embedding"].weight) == pytest.approx(0.1, rel=1e-6)


def test_overrides_and_unknown_names(digits):
    assert _setup("cosface", digits, margin=0.1).loss["logits"].margin == 0.1
    with pytest.raises(ValueError, match="no parameter alpha"):
        _setup("cosface", digits, alpha=1.0)
    with pytest.raises(ValueError, match="Unknown method 'nope'.*softmax"):
        get_method("nope")


def test_wsoftmax_pretraining_phase_is_plain_softmax(digits):
    setup = _setup("wsoftmax", digits, pretrain_epochs=2)
    assert setup.pretrain_loss["logits"].alpha == 0.0
    assert setup.loss["logits"].alpha == 1.5


def _class_default(loss_cls, parameter):
    import inspect

    return inspect.signature(loss_cls).parameters[parameter].default


#: the loss class behind each registry method with a row in REGISTRY_OVERRIDES
_OVERRIDDEN_LOSS = {
    "cosface": losses.CosFaceLoss,
    "arcface": losses.ArcFaceLoss,
    "sphereface": losses.SphereFaceLoss,
    "wsoftmax": losses.WSoftmaxLoss,
}


def test_registry_overrides_table_is_what_the_code_does():
    """Each row's paper value is the loss class's default and its registry value the
    method's; every registry default that differs from its class default has a row."""
    from keras_angular.methods import REGISTRY_OVERRIDES, overrides_table

    rows = {(r.method, r.parameter): r for r in REGISTRY_OVERRIDES}
    for (method, parameter), row in rows.items():
        assert _class_default(_OVERRIDDEN_LOSS[method], parameter) == row.paper
        assert METHODS[method].defaults[parameter] == row.registry
        assert row.why
    single = {
        "normface": losses.NormFaceLoss,
        "arc": losses.AngularLoss,
        "haseparator": losses.HASeparatorLoss,
        "center": losses.CenterLoss,
        "euclid": losses.EuclideanContrastiveLoss,
        "amc": losses.AMCLoss,
        **_OVERRIDDEN_LOSS,
    }
    for method, loss_cls in single.items():
        for parameter, value in METHODS[method].defaults.items():
            if parameter == "pretrain_epochs":
                continue
            if value != _class_default(loss_cls, parameter):
                assert (method, parameter) in rows, (method, parameter)
    assert overrides_table(["arc"]) == ""
    assert overrides_table(["wsoftmax"]).splitlines()[-1].startswith("| wsoftmax | form |")


def test_train_help_and_recipes_print_the_overrides_table(capsys):
    import pathlib

    from keras_angular.cli import build_parser
    from keras_angular.methods import overrides_table

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    assert overrides_table() in capsys.readouterr().out
    recipes = pathlib.Path(__file__).parents[1] / "docs" / "recipes.md"
    assert overrides_table() in recipes.read_text()
