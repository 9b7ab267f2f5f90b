"""`train` checkpoints: an interrupted run, started again, ends with the weights of an
uninterrupted one (op determinism on, so this runs in a subprocess)."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    from keras_angular.data import load_dataset
    from keras_angular.training import run_method

    out = sys.argv[1]
    splits = load_dataset("digits", seed=0)
    kwargs = dict(epochs=4, batch_size=128, seed=3, augment="translate", figures=False,
                  verbose=0)


    class Interrupted(Exception):
        pass


    class StopAfterTwoEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Interrupted()


    whole = run_method("amc", splits, out_dir=out + "/whole", **kwargs)
    try:
        run_method("amc", splits, out_dir=out + "/resumed",
                   extra_callbacks=[StopAfterTwoEpochs()], **kwargs)
        raise SystemExit("the interruption did not happen")
    except Interrupted:
        pass
    resumed = run_method("amc", splits, out_dir=out + "/resumed", **kwargs)
    assert len(resumed["history"]["loss"]) == 3, resumed["history"]  # epochs 1..3 re-run
    a = keras.saving.load_model(out + "/whole/model.keras", compile=False)
    b = keras.saving.load_model(out + "/resumed/model.keras", compile=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert whole["test_accuracy"] == resumed["test_accuracy"]
    print("RESUMED-EQUAL")
    """
)


def test_interrupted_train_resumes_to_the_same_weights(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "RESUMED-EQUAL" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]
