"""Images per second of the input pipeline alone against the train step's.

Writes a folder of real images (``--npz``: an archive of uint8 images ``x`` / ``x_train`` and
labels ``y`` / ``y_train``, e.g. CIFAR-10's test set; without it, noise) as class sub-folders,
PNG and JPEG alternately, every fourth image resized to an odd size, then times:

- the folder's reader (``keras_angular.data.folders.load_image_folder``, what ``load_dataset``
  calls for a folder: parallel decode + resize into arrays), and Keras' own folder reader
  (``keras.utils.image_dataset_from_directory`` batches concatenated into arrays, what
  ``load_dataset`` called before) for comparison;
- one epoch of ``train_dataset`` (the training pipeline: shuffle, gather, augmentation),
  without augmentation and with each kind, with the epoch variable a run uses;
- the train step alone (a fixed batch, already in memory) and the step fed by ``train_dataset``
  with ``cifar`` augmentation: ``small_cnn`` at 28 px and a ``keras.applications`` backbone
  (``mobilenetv3small``) at 224 px, each with a softmax head.

Folder reads and steps are timed interleaved (``--rounds`` rounds, each visiting every
candidate once; the median), so that noise from other processes hits both alike.

The pipeline is not the bottleneck where the fed step is as fast as the step alone.

Run from a checkout, after ``pip install -e .``::

    python benchmarks/input_pipeline.py --npz cifar10_test.npz          # 2,000 images
    python benchmarks/input_pipeline.py --images 500 --sizes 28 --steps 10  # a quick check
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import tempfile
import time

import numpy as np


def write_folder(root, images, labels, class_names):
    """Class sub-folders of PNG / JPEG files; every fourth image resized to an odd size."""
    from PIL import Image

    odd_sizes = [(37, 29), (45, 51), (23, 40)]
    for name in class_names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        image = Image.fromarray(pixels)
        if i % 4 == 3:
            image = image.resize(odd_sizes[i // 4 % len(odd_sizes)], Image.BILINEAR)
        ext = "png" if i % 2 else "jpg"
        image.save(os.path.join(root, class_names[label], f"{i:05d}.{ext}"))


def source_images(npz, count, seed):
    """``count`` uint8 RGB images, their labels and class names: drawn from ``npz`` or noise."""
    rng = np.random.default_rng(seed)
    if npz is None:
        x = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
        return x, np.arange(count) % 10, [f"class_{c}" for c in range(10)]
    with np.load(npz) as data:
        key = "x" if "x" in data else "x_train"
        x, y = data[key], data["y" if key == "x" else "y_train"].reshape(-1)
        names = [str(c) for c in data["classes"]] if "classes" in data else None
    pick = rng.choice(len(x), size=min(count, len(x)), replace=False)
    x, y = x[pick], y[pick].astype(int)
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=-1)
    names = names or [f"class_{c}" for c in range(int(y.max()) + 1)]
    return x, y, names


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def keras_folder_reader(folder, size, seed):
    """Keras' folder reader into arrays (how ``load_dataset`` read folders before)."""
    import contextlib
    import io

    import keras

    with contextlib.redirect_stdout(io.StringIO()):  # its "Using N files for ..." lines
        train, test = keras.utils.image_dataset_from_directory(
            folder,
            label_mode="int",
            color_mode="rgb",
            batch_size=256,
            image_size=(size, size),
            shuffle=True,
            seed=seed,
            validation_split=0.2,
            subset="both",
            verbose=False,
        )
    return [np.concatenate([x for x, _ in ds.as_numpy_iterator()]) / 255.0 for ds in (train, test)]


def folder_read_rates(folder, size, seed, rounds):
    """Folder reads per second: the package's reader and Keras' (interleaved)."""
    from keras_angular.data.folders import load_image_folder

    read = dict(image_size=(size, size), color_mode="rgb", verbose=False)
    seconds = interleaved(
        {
            "folder read (`load_image_folder`)": lambda: load_image_folder(
                folder, 0.2, seed, **read
            ),
            "folder read (Keras' reader into arrays, before)": lambda: keras_folder_reader(
                folder, size, seed
            ),
        },
        rounds,
    )
    return {what: 1 / s for what, s in seconds.items()}


def pipeline_rate(splits, batch_size, augment, seed, epochs=2):
    """Images per second of ``train_dataset``'s epochs after the first (which builds)."""
    import tensorflow as tf

    from keras_angular.data import train_dataset

    epoch = tf.Variable(0, dtype=tf.int64)
    ds = train_dataset(splits, batch_size, augment=augment, seed=seed, epoch=epoch)
    rates = []
    for e in range(epochs + 1):
        epoch.assign(e)
        start, count = time.perf_counter(), 0
        for _, labels in ds:
            count += int(labels.shape[0])
        if e:
            rates.append(count / (time.perf_counter() - start))
    return float(np.median(rates))


def backbone(name, input_shape):
    from keras_angular.models import build_backbone

    try:
        return build_backbone(name, input_shape)
    except ValueError:  # keras.applications not in the package's registry yet
        import keras

        net = keras.applications.MobileNetV3Small(
            input_shape=input_shape, include_top=False, weights=None, pooling="avg"
        )
        return keras.Model(net.input, net.output, name=name)


def step_rates(splits, name, batch_size, steps, seed, rounds):
    """Images per second of the train step alone and fed by ``train_dataset("cifar")``."""
    import keras
    import tensorflow as tf

    from keras_angular.data import train_dataset

    net = backbone(name, splits.input_shape)
    model = keras.Sequential([net, keras.layers.Dense(splits.num_classes)])
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    batch = (splits.x_train[:batch_size], splits.y_train[:batch_size])
    fixed = tf.data.Dataset.from_tensors(batch).cache().repeat()
    fed = train_dataset(splits, batch_size, augment="cifar", seed=seed).repeat()
    fit = dict(steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    for ds in (fixed, fed):
        model.fit(ds, **{**fit, "steps_per_epoch": 2})  # compile, warm up
    seconds = interleaved(
        {"step alone": lambda: model.fit(fixed, **fit), "step fed": lambda: model.fit(fed, **fit)},
        rounds,
    )
    return {what: steps * batch_size / s for what, s in seconds.items()}


def interleaved(candidates, rounds):
    """Median seconds of each candidate over ``rounds`` rounds, each round visiting every
    candidate once, so that noise from other processes hits them alike."""
    seconds = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            seconds[name].append(timed(run)[1])
    return {name: float(np.median(s)) for name, s in seconds.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npz", help="uint8 images x / x_train, labels y / y_train")
    parser.add_argument("--images", type=int, default=2000, help="images in the folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 224], help="image sizes")
    parser.add_argument("--steps", type=int, default=20, help="timed train steps (28 px)")
    parser.add_argument("--steps-large", type=int, default=5, help="timed train steps (224 px)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from keras_angular.data import load_dataset

    print(
        f"# input pipeline, {datetime.date.today()}, {platform.machine()} "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
        f"Keras {keras.__version__} ({keras.backend.backend()})"
    )
    x, y, names = source_images(args.npz, args.images, args.seed)
    root = tempfile.mkdtemp(prefix="input_pipeline_")
    folder = os.path.join(root, "images")
    try:
        _, seconds = timed(write_folder, folder, x, y, names)
        print(f"wrote {len(x)} images ({len(names)} classes) in {seconds:.1f} s\n")
        print("| size | what | images/s |")
        print("|---|---|---|")
        for size in args.sizes:
            row = lambda what, rate, s=size: print(f"| {s} px | {what} | {rate:,.0f} |")  # noqa: E731
            for what, rate in folder_read_rates(folder, size, args.seed, args.rounds).items():
                row(what, rate * len(x))
            splits = load_dataset(
                folder, seed=args.seed, image_size=(size, size), color_mode="rgb", verbose=False
            )
            large = size >= 100
            batch_size = 32 if large else 128
            for augment in (None, "translate", "cifar"):
                rate = pipeline_rate(splits, batch_size, augment, args.seed)
                row(f"`train_dataset` batch {batch_size}, augment={augment}", rate)
            name = "mobilenetv3small" if large else "small_cnn"
            steps = args.steps_large if large else args.steps
            for what, rate in step_rates(
                splits, name, batch_size, steps, args.seed, args.rounds
            ).items():
                row(f"{name} {what}" + (" (augment=cifar)" if what == "step fed" else ""), rate)
            print(f"| | load average now | {os.getloadavg()[0]:.2f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
