"""The method registry: every method builds, trains on real digits, and its parts fit together."""

import keras
import numpy as np
import pytest

from keras_angular import losses
from keras_angular.data import load_dataset
from keras_angular.layers import CosineDense, WeightsBiasedDense
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


def test_heads_and_losses_match_the_papers(digits):
    assert isinstance(_setup("haseparator", digits).head, CosineDense)
    assert isinstance(_setup("wsoftmax", digits).head, WeightsBiasedDense)
    amc = _setup("amc", digits)
    assert isinstance(amc.loss["embedding"], losses.AMCLoss)
    assert amc.loss["embedding"].classifier is amc.head  # predicted labels, as in the paper
    assert amc.loss["embedding"].margin == 0.5
    assert float(amc.loss["embedding"].weight) == pytest.approx(0.1)


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
