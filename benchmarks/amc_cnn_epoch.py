"""Whole-model view: the AMC CIFAR CNN trained with each method, against cross-entropy.

One "epoch" is ``--steps`` optimizer steps of ``model.fit`` at batch 128 on random
CIFAR-shaped data (32x32x3 images, integer labels in [0, classes)); the default,
391 steps, is one CIFAR-10 epoch (50,000 / 128, rounded up). The backbone is
``keras_angular.models.amc_cnn`` (AMC-Loss Table 2, top; ``--variant paper`` or
``official``); each method is built by the registry
(``keras_angular.methods.build_method``): its head on the 128-d embedding, and
AMC / Euclidean / center loss on the embedding next to cross-entropy.
Adam (lr 1e-3); under ``--mixed-precision float16`` Keras wraps it in a
``LossScaleOptimizer``.

Timing is interleaved: every method gets a compiled model once (and a warm-up fit
of 2 steps that traces / compiles it), then each of ``--repeats`` rounds fits every
method for one epoch, in an order rotated from round to round. An epoch's time
runs from the end of its first step to the end of the epoch, scaled to ``--steps``
(``steps / (steps - 1)``), so ``fit``'s set-up and the iterator start are excluded.
The figure is the median over rounds; the ratio divides by cross-entropy's median.

Usage::

    python benchmarks/amc_cnn_epoch.py                       # GPU: a full epoch, 3 rounds
    python benchmarks/amc_cnn_epoch.py --steps 5 --repeats 2 --variant official   # CPU
    python benchmarks/amc_cnn_epoch.py --jit --mixed-precision float16 --json epoch.json
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from head_bench.readings import CLOCKS  # noqa: E402

#: One CIFAR-10 / CIFAR-100 training epoch at batch 128.
CIFAR_EPOCH_STEPS = -(-50000 // 128)


#: ``--backbone``: the AMC CIFAR CNN (AMC-Loss Table 2) or the package's default small CNN.
BACKBONES = ("amc_cnn", "small_cnn")


def build_backbone(backbone, input_shape, variant):
    """The backbone to the 128-d embedding: ``amc_cnn`` (``variant``) or ``small_cnn``."""
    from keras_angular.models import amc_cnn, small_cnn

    if backbone == "small_cnn":
        return small_cnn(input_shape, 128)
    return amc_cnn(input_shape, 128, variant=variant)


def build_model(method, classes, variant, jit_compile, backbone="amc_cnn", input_shape=(32, 32, 3)):
    """The compiled backbone with ``method``'s head and losses (the method registry's)."""
    from keras_angular.methods import build_method

    model = build_backbone(backbone, input_shape, variant)
    setup = build_method(method, model, classes, epochs=1)
    setup.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    return setup.model


def random_images(batch, classes, seed=0):
    """``8 * batch`` random CIFAR-shaped images in [0, 1] and labels in [0, classes)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 1.0, size=(8 * batch, 32, 32, 3)).astype("float32")
    return images, rng.integers(0, classes, size=8 * batch).astype("int32")


def npz_images(path, count):
    """The first ``count`` training images of an ``.npz`` holding ``x_train`` / ``y_train``
    as ``keras.datasets`` returns them (Fashion-MNIST: uint8 28x28), scaled to [0, 1] with
    a channel axis."""
    import numpy as np

    with np.load(path) as arrays:
        images = arrays["x_train"][:count].astype("float32") / 255.0
        labels = arrays["y_train"][:count].astype("int32")
    if images.ndim == 3:
        images = images[..., None]
    return images, labels


def random_dataset(batch, classes, seed=0, arrays=None):
    """An endless tf.data pipeline of ``arrays`` (images, labels; default
    :func:`random_images`), cached in memory."""
    import tensorflow as tf

    images, labels = arrays if arrays is not None else random_images(batch, classes, seed)
    targets = {"logits": labels, "embedding": labels}
    data = tf.data.Dataset.from_tensor_slices((images, targets)).cache()
    return data.repeat().batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


class EpochTimer(keras.callbacks.Callback):
    """The time (on ``clock``) from the end of an epoch's first step to the end of the epoch."""

    def __init__(self, clock=time.perf_counter):
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None):
        self.first = None

    def on_train_batch_end(self, batch, logs=None):
        if self.first is None:
            if logs and "loss" in logs:
                float(logs["loss"])  # wait for the first step to finish
            self.first = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        self.loss = float(logs["loss"])
        self.last = self.clock()


def run(
    methods,
    *,
    steps,
    repeats,
    classes,
    variant,
    jit_compile,
    mixed_precision,
    batch=128,
    backbone="amc_cnn",
    arrays=None,
    clock="wall",
):
    """Fit every method ``repeats`` times, interleaved; return the results dict.

    ``arrays``: (images, labels) to fit on (default: random CIFAR-shaped ones); ``clock``:
    ``"wall"`` or ``"cpu"`` (the process's CPU time, all threads)."""
    import numpy as np
    from head_bench.runner import POLICIES, environment

    if steps < 2:
        raise ValueError(f"amc_cnn_epoch: `steps` must be >= 2, got {steps}.")
    policy = POLICIES.get(mixed_precision, "float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        env = environment(jit_compile, policy)
        models = {}
        for method in methods:
            keras.utils.set_random_seed(0)
            shape = (32, 32, 3) if arrays is None else tuple(arrays[0].shape[1:])
            model = build_model(method, classes, variant, jit_compile, backbone, shape)
            data = random_dataset(batch, classes, arrays=arrays)
            # trace / compile
            model.fit(data, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
            models[method] = (model, data, [])
        timer = EpochTimer(CLOCKS[clock])
        order = list(methods)
        for repeat in range(repeats):
            shift = repeat % len(order)
            for method in order[shift:] + order[:shift]:
                model, data, samples = models[method]
                model.fit(
                    data,
                    epochs=1,
                    steps_per_epoch=steps,
                    verbose=0,
                    callbacks=[timer],
                    shuffle=False,
                )
                if not np.isfinite(timer.loss):
                    raise FloatingPointError(f"{method}: non-finite loss {timer.loss}")
                samples.append((timer.last - timer.first) * steps / (steps - 1))
        env["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    finally:
        keras.config.set_dtype_policy(previous)
    rows = []
    base_name = "softmax" if "softmax" in models else None
    base = statistics.median(models[base_name][2]) if base_name else None
    for method in methods:
        samples = models[method][2]
        seconds = statistics.median(samples)
        rows.append(
            {
                "method": method,
                "epoch_s": seconds,
                "step_ms": 1e3 * seconds / steps,
                "epoch_s_min": min(samples),
                "ratio": seconds / base if base else None,
            }
        )
    described = f"amc_cnn (variant {variant})" if backbone == "amc_cnn" else backbone
    env.update(
        backbone=f"keras_angular.models.{described}",
        data="random CIFAR-shaped images" if arrays is None else f"{len(arrays[1])} images",
        clock=clock,
        batch=batch,
        steps=steps,
        repeats=repeats,
        classes=classes,
    )
    return {"environment": env, "rows": rows}


def format_markdown(results):
    env = results["environment"]
    load = " ".join(f"{v:.2f}" for v in env.get("load_average") or [])
    lines = [
        f"Epoch - {env['backbone']}, {env['data']}, batch {env['batch']}, {env['steps']} steps, "
        f"{env['classes']} classes, {env['clock']} clock, "
        f"{env['backend']} {env['backend_version']}, {env['device']}, "
        f"{env['cpu_count']} CPUs, policy {env['policy']}, jit_compile={env['jit_compile']}, "
        f"load average {load}",
        "",
        "| method | epoch s | ms / step | ratio to cross-entropy |",
        "|---|---:|---:|---:|",
    ]
    for row in results["rows"]:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        lines.append(f"| {row['method']} | {row['epoch_s']:.2f} | {row['step_ms']:.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv=None):
    from head_bench.candidates import METHODS
    from head_bench.report import report
    from head_bench.runner import POLICIES
    from head_bench.steps import set_threads

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHODS),
        choices=METHODS,
        help="methods to fit ('softmax' is plain cross-entropy, the baseline)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=CIFAR_EPOCH_STEPS,
        help=f"steps per epoch (default {CIFAR_EPOCH_STEPS}: one CIFAR epoch)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--classes", type=int, default=10, help="10 (CIFAR-10) or 100")
    parser.add_argument("--variant", choices=("paper", "official"), default="paper")
    parser.add_argument("--backbone", choices=BACKBONES, default="amc_cnn")
    parser.add_argument(
        "--data",
        metavar="NPZ",
        help="fit on the first --images training images of this .npz (x_train, y_train as "
        "keras.datasets returns them, e.g. Fashion-MNIST) instead of random CIFAR-shaped ones",
    )
    parser.add_argument("--images", type=int, default=6000, help="images of --data (6000)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--threads", type=int, help="the backend's intra-op threads")
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--mixed-precision", choices=sorted(POLICIES))
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        set_threads(args.threads)
    arrays = npz_images(args.data, args.images) if args.data else None
    methods = list(dict.fromkeys(["softmax", *args.methods]))
    results = run(
        methods,
        steps=args.steps,
        repeats=args.repeats,
        classes=args.classes,
        variant=args.variant,
        jit_compile=args.jit,
        mixed_precision=args.mixed_precision,
        backbone=args.backbone,
        arrays=arrays,
        clock=args.clock,
    )
    report(results, format_markdown(results), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
