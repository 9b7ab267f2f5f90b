"""Data parallelism past one machine: Keras 3's ``keras.distribution`` on the JAX backend.

Keras 3's ``fit`` cannot train under TensorFlow's ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585), so training on several hosts goes through Keras' own
``keras.distribution`` on the JAX backend:

* [`data_parallel`][keras_angular.distribution.data_parallel] starts the processes' JAX runtime
  together (``keras.distribution.initialize``, which calls ``jax.distributed.initialize`` with the
  coordinator's address, the process count and this process's index) and returns a
  ``keras.distribution.DataParallel`` over every device of every process: each device
  holds a replica of the weights and one contiguous block of ``B / D`` rows of each
  global batch of ``B`` rows over ``D`` devices; XLA (GSPMD) averages the gradients.
* [`check_batch_size`][keras_angular.distribution.check_batch_size] refuses a global batch that does
  not split evenly over the devices.
* [`pair_blocks`][keras_angular.distribution.pair_blocks] is what the in-batch pair losses read
  ([`keras_angular.ops.half_pairs`][]): under an active ``DataParallel`` a loss sees
  the *global* batch, and pairs rows within each device's block, as each replica does
  with its own share under ``tf.distribute.MirroredStrategy``.
* [`require_jax`][keras_angular.distribution.require_jax] is the one message for running it on
  another backend;
* [`process_index`][keras_angular.distribution.process_index] says which process this is (process 0
  writes the outputs); [`describe`][keras_angular.distribution.describe] is what ``run.json`` and
  ``metrics.json`` record;
  [`from_process_zero`][keras_angular.distribution.from_process_zero] gives every process what
  process 0 holds (what it read from its disk: a checkpoint, whether one exists).

A process that dies stops the others: JAX's distributed service misses its heartbeats for
[`HEARTBEAT_SECONDS`][keras_angular.distribution.HEARTBEAT_SECONDS] and ends every other
process (a collective across hosts would otherwise wait for it until its own timeout); on
CPUs the collectives (gloo) may end them sooner, as the dead process's connections close.

Input: ``fit`` on a ``tf.data`` dataset of *global* batches. In a run of several
processes Keras shards it itself (``Distribution.distribute_dataset``): every process
runs the same pipeline, re-batches each global batch into ``P`` pieces of ``B / P`` rows
and keeps piece ``p``; the pieces become one global array with process 0's rows first
(``jax.make_array_from_process_local_data``), so the step sees the same global batch as
one process would. Every batch must hold the same ``B`` rows (drop the last, partial
one): [`keras_angular.training.run_method`][] does.

Examples:

>>> import keras
>>> from keras_angular import distribution
>>> distribution.pair_blocks()   # no distribution active: the batch pairs as a whole
1
"""

import contextlib
import functools
import re
import warnings

import keras

from keras_angular import backend

KINDS = ("data-parallel",)
"""The ``--distribution`` values of ``keras-angular`` (one for now)."""

HEARTBEAT_SECONDS = 30
"""How long JAX's distributed service waits for a process's heartbeat before it declares
the process dead and stops the others (``jax.distributed.initialize``'s
``heartbeat_timeout_seconds``; JAX's default is 100)."""

_ADDRESS = re.compile(r"^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")


def require_jax(feature):
    """Raise a ``RuntimeError`` that says ``feature`` needs the JAX backend, unless Keras
    runs on JAX (the message of [`keras_angular.backend.require_tensorflow`][], for
    ``keras.distribution``).

    Examples:
        >>> if backend.name() == "jax":
        ...     print("data parallelism needs the JAX backend")   # and runs on it
        ... else:
        ...     try:
        ...         require_jax("data parallelism")
        ...     except RuntimeError as error:
        ...         print(str(error).split(" (")[0])
        data parallelism needs the JAX backend
    """
    if backend.name() != "jax":
        raise RuntimeError(
            f"{feature} needs the JAX backend (this process runs Keras on "
            f"{backend.name()!r}); set KERAS_BACKEND=jax, or pass --backend jax to "
            "keras-angular. On TensorFlow, tf.distribute.MirroredStrategy trains on the "
            "GPUs of one machine (--strategy mirrored)."
        )


def check_cluster(coordinator, num_processes, process_id):
    """Whether these options ask for a run of several processes (all three given) or not
    (none given); a ``ValueError`` with one sentence when only some are given, the
    coordinator is no ``HOST:PORT`` or ``process_id`` lies outside ``[0, num_processes)``.
    Joins nothing ([`data_parallel`][keras_angular.distribution.data_parallel] does).

    Examples:
        >>> check_cluster(None, None, None), check_cluster("10.0.0.1:1234", 2, 1)
        (False, True)
        >>> check_cluster("10.0.0.1:1234", 2, 2)
        Traceback (most recent call last):
        ...
        ValueError: data_parallel: `process_id` must lie in [0, num_processes) = [0, 2), got 2.
    """
    given = {
        "coordinator": coordinator is not None,
        "num_processes": num_processes is not None,
        "process_id": process_id is not None,
    }
    if not any(given.values()):
        return False
    if not all(given.values()):
        missing = ", ".join(f"`{name}`" for name, ok in given.items() if not ok)
        raise ValueError(
            "data_parallel: a run of several processes needs `coordinator` (HOST:PORT of "
            "process 0), `num_processes` and `process_id` together (on the command line "
            f"--coordinator, --num-processes, --process-id); missing {missing}."
        )
    if not isinstance(coordinator, str) or not _ADDRESS.match(coordinator):
        raise ValueError(
            f"data_parallel: `coordinator` must be HOST:PORT (e.g. 10.0.0.1:1234), got "
            f"{coordinator!r}."
        )
    for name, value, low in [("num_processes", num_processes, 1), ("process_id", process_id, 0)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"data_parallel: `{name}` must be an int >= {low}, got {value!r}.")
    if process_id >= num_processes:
        raise ValueError(
            f"data_parallel: `process_id` must lie in [0, num_processes) = [0, "
            f"{num_processes}), got {process_id}."
        )
    return True


def data_parallel(coordinator=None, num_processes=None, process_id=None):
    """A ``keras.distribution.DataParallel`` over every device of every process.

    On one machine, call it without arguments: the mesh holds this process's devices
    (all its GPUs). For several processes (one per host), give all three arguments in
    every process, before anything runs on JAX (before a model is built): they go to
    ``keras.distribution.initialize``, i.e. ``jax.distributed.initialize(coordinator,
    num_processes, process_id)``, which connects the processes; the mesh then holds
    every device of every process, process 0's first. TensorFlow, which runs the
    ``tf.data`` input on the CPU, is kept off the GPUs so that it reserves none of the
    memory JAX trains in.

    Args:
        coordinator: ``"HOST:PORT"`` where process 0 listens (any free port on its host;
            every process passes the same address).
        num_processes: the number of processes ``P``.
        process_id: this process's index in ``[0, P)``; 0 is the coordinator.

    Returns:
        A ``keras.distribution.DataParallel``. Build, compile and ``fit`` inside its
        ``scope()`` (or pass it to [`keras_angular.training.run_method`][] as
        ``distribution=``). Its global batch must be a multiple of the device count
        ([`check_batch_size`][keras_angular.distribution.check_batch_size]).

    Raises:
        RuntimeError: Keras does not run on JAX; or JAX has already computed something in
            this process, so it can no longer join the other processes.
        ValueError: only some of the three cluster arguments are given, or one is bad.

    Examples:
        >>> try:   # the cluster arguments come together
        ...     data_parallel(coordinator="10.0.0.1:1234", num_processes=2)
        ... except ValueError as error:
        ...     print(str(error).split("; ")[-1])
        missing `process_id`.

        On each of two hosts (``process_id`` 0 on 10.0.0.1, 1 on the other):

        ```python
        dist = data_parallel("10.0.0.1:1234", num_processes=2, process_id=0)
        check_batch_size(256, dist)   # 256 rows over all devices of both hosts
        with dist.scope():
            model = build_my_model()
            model.compile("adam", loss=ka.losses.ArcFaceLoss(scale=16.0, margin=0.3))
            model.fit(train_dataset.batch(256, drop_remainder=True), epochs=30)
        ```
    """
    several = check_cluster(coordinator, num_processes, process_id)
    require_jax("keras.distribution data parallelism")
    _keep_tensorflow_off_the_gpus()
    if several:
        import jax

        initialize = jax.distributed.initialize
        # keras.distribution.initialize (which also agrees on one random seed over the
        # processes) calls jax.distributed.initialize without a heartbeat timeout: add ours
        jax.distributed.initialize = functools.partial(
            initialize, heartbeat_timeout_seconds=HEARTBEAT_SECONDS
        )
        try:
            keras.distribution.initialize(coordinator, num_processes, process_id)
        except RuntimeError as error:
            raise RuntimeError(
                f"data_parallel: jax.distributed.initialize failed ({error}). It must run "
                "once per process, before JAX computes anything (before a model or tensor "
                "is built): call data_parallel first."
            ) from error
        finally:
            jax.distributed.initialize = initialize
    return keras.distribution.DataParallel(devices=keras.distribution.list_devices())


def _keep_tensorflow_off_the_gpus():
    """TensorFlow runs the ``tf.data`` input pipeline on the CPU; once it has started on a
    GPU it reserves most of its memory, which JAX then lacks. Hide the GPUs from it."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow has run something already
        warnings.warn(
            "data_parallel: TensorFlow started on the GPUs before it could be kept off them "
            "and may hold GPU memory that JAX needs; set TF_FORCE_GPU_ALLOW_GROWTH=true.",
            stacklevel=3,
        )


def device_count(distribution):
    """The number of devices ``D`` the global batch is split over: the size of a
    ``DataParallel``'s mesh (all devices of all processes).

    Examples:
        >>> import numpy as np
        >>> mesh = keras.distribution.DeviceMesh((4,), ["batch"], np.array(["cpu:0"] * 4))
        >>> device_count(keras.distribution.DataParallel(device_mesh=mesh))
        4
    """
    if not isinstance(distribution, keras.distribution.DataParallel):
        raise TypeError(
            "keras_angular trains under a keras.distribution.DataParallel (from "
            f"keras_angular.distribution.data_parallel), got {type(distribution).__name__}."
        )
    return int(distribution.device_mesh.devices.size)


def check_batch_size(batch_size, distribution):
    """The per-device batch ``B / D``; a ``ValueError`` unless the global batch ``B``
    splits evenly over the ``D`` devices of ``distribution``.

    Examples:
        >>> import numpy as np
        >>> mesh = keras.distribution.DeviceMesh((4,), ["batch"], np.array(["cpu:0"] * 4))
        >>> dist = keras.distribution.DataParallel(device_mesh=mesh)
        >>> check_batch_size(128, dist)
        32
        >>> try:
        ...     check_batch_size(130, dist)
        ... except ValueError as error:
        ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
        The global batch of 130 rows does not split evenly over 4 devices:
        give a multiple of 4 (e.g. 128 or 132).
    """
    devices = device_count(distribution)
    if batch_size % devices:
        below = max(devices, batch_size // devices * devices)
        raise ValueError(
            f"The global batch of {batch_size} rows does not split evenly over {devices} "
            f"devices: give a multiple of {devices} (e.g. {below} or {below + devices})."
        )
    return batch_size // devices


def pair_blocks():
    """How many contiguous blocks the in-batch pair losses pair within: the device count
    of the active ``keras.distribution.DataParallel`` (set by its ``scope()`` or
    ``keras.distribution.set_distribution``), else 1 (the batch as a whole).

    Under GSPMD a loss sees the global batch; device ``d`` holds rows
    ``[d B/D, (d + 1) B/D)``. Pairing within those blocks is what each replica does with
    its own batch under ``tf.distribute.MirroredStrategy`` (see
    [`keras_angular.ops.half_pairs`][]).

    Examples:
        >>> import numpy as np
        >>> mesh = keras.distribution.DeviceMesh((4,), ["batch"], np.array(["cpu:0"] * 4))
        >>> with keras.distribution.DataParallel(device_mesh=mesh).scope():
        ...     print(pair_blocks())
        4
        >>> pair_blocks()
        1
    """
    active = keras.distribution.distribution()
    if isinstance(active, keras.distribution.DataParallel):
        return device_count(active)
    return 1


def process_index():
    """This process's index in a multi-process JAX run (0 is the coordinator, which
    writes the outputs); 0 on one process and on the other backends.

    Examples:
        >>> process_index()
        0
    """
    if backend.name() != "jax":
        return 0
    import jax

    return int(jax.process_index())


@contextlib.contextmanager
def no_distribution():
    """A scope with no ``keras.distribution`` active, the one that was restored after: what a
    single process does inside a ``fit`` under a distribution (reading, saving or
    evaluating the weights on its own) must not lay its arrays over the devices of every
    process, which every process would have to do at the same time.

    Examples:
        >>> import numpy as np
        >>> mesh = keras.distribution.DeviceMesh((2,), ["batch"], np.array(["cpu:0"] * 2))
        >>> with keras.distribution.DataParallel(device_mesh=mesh).scope():
        ...     with no_distribution():
        ...         print(pair_blocks())
        ...     print(pair_blocks())
        1
        2
    """
    active = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(active)


def from_process_zero(tree):
    """``tree`` (a pytree of NumPy arrays and numbers) as process 0 holds it, in every
    process of a multi-process JAX run (``jax.experimental.multihost_utils``'
    ``broadcast_one_to_all``: every process must call it, with leaves of the same shapes and
    dtypes); unchanged on one process and on the other backends. What one process reads
    from its own disk (a checkpoint, whether one exists) reaches the others this way, so
    that no process needs the files of another.

    Examples:
        >>> import numpy as np
        >>> int(from_process_zero({"epoch": np.int64(3)})["epoch"])
        3
    """
    if backend.name() != "jax":
        return tree
    import jax

    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.broadcast_one_to_all(tree)


def describe(distribution, batch_size=None):
    """What a run records of its distribution (``run.json``, ``metrics.json``): the kind,
    the device count (it decides the pair losses' blocks, hence the weights), the process
    count, the device platform and, given the global batch, the per-device batch.

    Examples:
        >>> import numpy as np
        >>> mesh = keras.distribution.DeviceMesh((4,), ["batch"], np.array(["cpu:0"] * 4))
        >>> record = describe(keras.distribution.DataParallel(device_mesh=mesh), batch_size=64)
        >>> record["devices"], record["processes"], record["platform"], record["per_device_batch"]
        (4, 1, 'cpu', 16)
    """
    devices = device_count(distribution)
    record = {
        "kind": "data-parallel",
        "devices": devices,
        "processes": int(distribution.num_processes),
        "platform": str(distribution.device_mesh.devices.flat[0]).split(":")[0].lower(),
    }
    if batch_size is not None:
        record["per_device_batch"] = batch_size // devices
    return record


__all__ = [
    "HEARTBEAT_SECONDS",
    "KINDS",
    "check_batch_size",
    "check_cluster",
    "data_parallel",
    "describe",
    "device_count",
    "from_process_zero",
    "no_distribution",
    "pair_blocks",
    "process_index",
    "require_jax",
]
