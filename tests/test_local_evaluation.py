"""The validation pass and precise batch norm that a run under a ``keras.distribution``
does on a copy of its model (``keras_angular.local_evaluation.LocalValidation``): the
epoch's ``val_`` logs are what the trained model itself reports on the validation data,
and its batch norms hold the moments of their inputs over the training images."""

import keras
import numpy as np
import tensorflow as tf

from keras_angular.callbacks import PreciseBatchNorm
from keras_angular.data import load_dataset, subsample
from keras_angular.local_evaluation import LocalValidation
from keras_angular.methods import build_method, targets
from keras_angular.models import build_backbone


def test_local_validation_reports_the_trained_models_metrics_with_precise_statistics():
    keras.utils.set_random_seed(0)
    digits = subsample(load_dataset("digits"), 64, 32, seed=0)
    net = build_backbone("small_cnn", digits.input_shape, widths=[4], convs=[1])
    setup = build_method("softmax", net, digits.num_classes, 1)
    setup.compile(keras.optimizers.Adam(1e-2))
    train = tf.data.Dataset.from_tensor_slices((digits.x_train, targets(digits.y_train)))
    test = tf.data.Dataset.from_tensor_slices((digits.x_test, targets(digits.y_test))).batch(16)
    validation = LocalValidation(setup, test, PreciseBatchNorm(digits.x_train))
    history = setup.model.fit(train.batch(16), epochs=2, callbacks=[validation], verbose=0)
    bn = setup.model.get_layer("conv1_1_bn")
    inputs = keras.Model(setup.model.inputs, bn.input).predict(digits.x_train, verbose=0)
    inputs = np.asarray(inputs, np.float64).reshape(-1, inputs.shape[-1])
    np.testing.assert_allclose(bn.moving_mean.numpy(), inputs.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), inputs.var(0), rtol=1e-4, atol=1e-5)
    reported = setup.model.evaluate(test, verbose=0, return_dict=True)
    assert len(history.history["val_loss"]) == 2
    for key, value in reported.items():
        np.testing.assert_allclose(history.history[f"val_{key}"][-1], value, rtol=1e-5)
