"""GPU check: what the package costs on a GPU, in one Markdown table (sized for under 8
minutes on one GPU; ``--quick`` runs every row at tiny sizes on a CPU).

Rows, each with softmax's figure and every method's (and its ratio to softmax):

* **head + loss step** on TensorFlow (``tf.function``), TensorFlow with XLA and JAX, at
  C = 1,000 / 10,000 / 100,000 (B = 128, N = 512), in float32 and a mixed policy
  (``--mixed-precision``, default float16): ``head_bench.runner.run`` of the head + loss
  benchmark (``benchmarks/heads_and_losses.py``, its README section), closed forms only,
  ms per step. JAX runs in a child process (Keras picks its backend once per process)
  before this process starts TensorFlow, so the two never share the GPU's memory;
* **epoch**: one CIFAR-10 training epoch (50,000 images at batch 128) of ``small_cnn`` and
  ``resnet20`` with each method's head and losses, ``model.fit`` with Adam, float32,
  ``--steps`` steps timed on the images of ``--data`` (a CIFAR-10 ``.npz``) and scaled to
  the epoch, seconds (``benchmarks/whole_model_timing.py``);
* **Grad-CAM**: ``keras_angular.explain.gradcam`` of 10,000 images on the same networks
  with one head of each kind (``Dense``: softmax, ``CosineDense``: arcface,
  ``WeightsBiasedDense``: wsoftmax), seconds.

Usage::

    python benchmarks/gpu_check.py --data cifar10.npz --out gpu_check.md   # a GPU machine
    python benchmarks/gpu_check.py --quick            # any CPU: every row, tiny sizes
"""

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # head_bench and the other benchmark modules sit beside this file
    sys.path.insert(0, _HERE)

#: (B, N, C) of the head + loss rows; ``--quick``: tiny ones.
HEAD_SHAPES = ((128, 512, 1_000), (128, 512, 10_000), (128, 512, 100_000))
QUICK_HEAD_SHAPES = ((8, 16, 100),)
NETWORKS = ("small_cnn", "resnet20")
#: One method per head kind for Grad-CAM: Dense, CosineDense, WeightsBiasedDense.
GRADCAM_METHODS = ("softmax", "arcface", "wsoftmax")
#: ``--quick``'s methods: the baseline and a margin head.
QUICK_METHODS = ("softmax", "arcface")
#: ``--quick``'s sizes, and the full run's.
SIZES = {
    True: {"repeats": 1, "min_sample_ms": 1.0, "batch": 8, "steps": 3, "gradcam_images": 16},
    False: {
        "repeats": 5,
        "min_sample_ms": 20.0,
        "batch": 128,
        "steps": 50,
        "gradcam_images": 10_000,
    },
}
ENGINES = {"tf": "TensorFlow", "xla": "TensorFlow + XLA", "jax": "JAX"}
HEAD_PART = "head + loss step"


def build_parser():
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/gpu_check.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", help="a CIFAR-10 .npz (x, y or x_train, y_train, ...)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: seconds on a CPU")
    parser.add_argument(
        "--methods",
        nargs="+",
        help=f"methods (default: all; --quick: {' '.join(QUICK_METHODS)}); softmax always",
    )
    parser.add_argument(
        "--mixed-precision",
        default="float16",
        help="the mixed policy of the head + loss rows: float16 (default) or bfloat16",
    )
    parser.add_argument("--steps", type=int, help="timed training steps per epoch row")
    parser.add_argument("--batch", type=int, help="batch of the epoch and Grad-CAM rows")
    parser.add_argument("--repeats", type=int, help="interleaved rounds of the head rows")
    parser.add_argument("--min-sample-ms", type=float, help="head rows: each timed sample")
    parser.add_argument("--gradcam-images", type=int, help="images of the Grad-CAM rows")
    parser.add_argument("--jit", action="store_true", help="epoch rows: compile with XLA")
    parser.add_argument("--no-jax", action="store_true", help="leave out the JAX rows")
    parser.add_argument("--out", help="also write the table (Markdown) here")
    # the JAX child process: its head rows, as JSON, to this path
    parser.add_argument("--jax-rows", help=argparse.SUPPRESS)
    return parser


def parse_args(argv=None):
    """The command line's options, the sizes of ``--quick`` or the full run filled in. No
    Keras is imported here (the JAX rows come from a child process that runs first)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, value in SIZES[args.quick].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.data is None and not args.quick:
        parser.error("--data: a CIFAR-10 .npz is needed for the epoch and Grad-CAM rows")
    return args


def check_names(args):
    """Refuse unknown methods and policies (an argparse error; the names need Keras); put
    the methods in table order, softmax first."""
    from head_bench.candidates import METHODS
    from head_bench.runner import POLICIES

    if args.mixed_precision not in POLICIES:
        build_parser().error(f"--mixed-precision: one of {' '.join(sorted(POLICIES))}")
    chosen = args.methods or (QUICK_METHODS if args.quick else METHODS)
    unknown = sorted(set(chosen) - set(METHODS))
    if unknown:
        build_parser().error(f"unknown methods {unknown}; choose from {' '.join(METHODS)}")
    args.methods = [name for name in METHODS if name in {"softmax", *chosen}]


def head_rows(engine, args):
    """The head + loss rows of this process's backend (``engine``: "tf", "xla" or "jax"),
    float32 then the mixed policy: ``head_bench.runner.run`` at each shape."""
    from head_bench.runner import POLICIES, run

    shapes = QUICK_HEAD_SHAPES if args.quick else HEAD_SHAPES
    rows = []
    for mixed in (None, args.mixed_precision):
        results = run(
            shapes,
            repeats=args.repeats,
            min_sample_s=args.min_sample_ms / 1e3,
            jit_compile=engine == "xla",
            mixed_precision=mixed,
            literal=False,
            methods=[m for m in args.methods if m != "softmax"],
        )
        for shape in shapes:
            values = {
                row["method"]: row["ms"] for row in results["rows"] if tuple(row["shape"]) == shape
            }
            size = "B {} N {} C {:,}".format(*shape)
            policy = POLICIES.get(mixed, "float32")
            rows.append(_row(HEAD_PART, ENGINES[engine], size, "ms", values, policy))
    return rows, results["environment"]


def epoch_rows(args, splits):
    """The epoch rows: each network with each method, on TensorFlow (XLA with ``--jit``)."""
    from whole_model_timing import epoch_seconds

    engine = ENGINES["xla" if args.jit else "tf"]
    size = f"CIFAR-10 epoch, 50,000 images, batch {args.batch} ({args.steps} steps timed)"
    rows = []
    for network in NETWORKS:
        values = {
            method: epoch_seconds(
                network, method, splits, batch=args.batch, steps=args.steps, jit_compile=args.jit
            )
            for method in args.methods
        }
        rows.append(_row(f"epoch {network}", engine, size, "s", values))
    return rows


def gradcam_rows(args, splits):
    """The Grad-CAM rows: each network with one head of each kind, on ``--gradcam-images``
    of the images (repeated where there are fewer)."""
    import numpy as np
    from whole_model_timing import gradcam_seconds

    images = np.concatenate([splits.x_train, splits.x_test])
    images = np.resize(images, (args.gradcam_images, *images.shape[1:]))
    size = f"{args.gradcam_images:,} images, batch {args.batch}"
    rows = []
    for network in NETWORKS:
        values = {
            method: gradcam_seconds(
                network, method, images, batch=args.batch, classes=splits.num_classes
            )
            for method in GRADCAM_METHODS
            if method in args.methods
        }
        rows.append(_row(f"Grad-CAM {network}", ENGINES["tf"], size, "s", values))
    return rows


def _row(part, engine, size, unit, values, policy="float32"):
    """One row of the table: ``values`` maps each method measured to its figure."""
    return {
        "part": part,
        "engine": engine,
        "policy": policy,
        "size": size,
        "unit": unit,
        "values": values,
    }


def format_table(rows, methods, heading):
    """One Markdown table: a row per part, engine, policy and size; softmax's figure, then
    each method's with its ratio to softmax ("-": not measured in that row)."""
    lines = [
        heading,
        "",
        "| part | engine | policy | size | unit | " + " | ".join(methods) + " |",
        "|---|---|---|---|---|" + "---:|" * len(methods),
    ]
    for row in rows:
        base = row["values"]["softmax"]
        cells = []
        for method in methods:
            value = row["values"].get(method)
            if value is None:
                cells.append("-")
            elif method == "softmax":
                cells.append(f"{value:.4g}")
            else:
                cells.append(f"{value:.4g} ({value / base:.2f}x)")
        line = f"| {row['part']} | {row['engine']} | {row['policy']} | {row['size']} | "
        lines.append(line + f"{row['unit']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def heading(environments, spent, quick):
    """The line above the table: where and how it was measured, and the seconds each part
    took (``spent``: part -> seconds)."""
    tf_env, jax_env = environments
    load = " ".join(f"{v:.2f}" for v in tf_env.get("load_average") or [])
    parts = [
        f"GPU check{' (--quick: tiny sizes)' if quick else ''} - {tf_env['device']}",
        f"TensorFlow {tf_env['backend_version']}",
        f"Keras {tf_env['keras']}",
    ]
    if jax_env is not None:
        parts.append(f"JAX {jax_env['backend_version']} on {jax_env['device']}")
    each = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in spent.items())
    parts += [f"{tf_env['cpu_count']} CPUs", f"load average {load}"]
    return ", ".join(parts) + f"; {sum(spent.values()):.0f} s in all ({each})"


def jax_head_rows(argv, args):
    """``(rows, environment)`` of JAX's head + loss rows, from a child process on the JAX
    backend run with the same options; ``([], None)`` with ``--no-jax`` or without JAX."""
    if args.no_jax or importlib.util.find_spec("jax") is None:
        return [], None
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "jax.json")
        env = {**os.environ, "KERAS_BACKEND": "jax"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        child = [sys.executable, os.path.abspath(__file__), *argv, "--jax-rows", path]
        subprocess.run(child, env=env, check=True)
        with open(path) as handle:
            found = json.load(handle)
    return found["rows"], found["environment"]


def use_tensorflow():
    """Make Keras start on TensorFlow in this process (Grad-CAM needs it); refuse where it
    has already started on another backend."""
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                f"gpu_check: Keras runs on {keras.backend.backend()!r} in this process; "
                "the TensorFlow rows need a process of their own (KERAS_BACKEND=tensorflow)."
            )
    os.environ["KERAS_BACKEND"] = "tensorflow"


def main(argv=None):
    """Run the check, print the table (and write it to ``--out``); return the exit status.

    Keras picks its backend once per process: JAX's head rows come from a child process,
    which ends before this one starts TensorFlow, so the two never hold the GPU's memory
    at once.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.jax_rows:  # the JAX child
        check_names(args)
        rows, env = head_rows("jax", args)
        with open(args.jax_rows, "w") as handle:
            json.dump({"rows": rows, "environment": env}, handle)
        return 0
    spent = {}

    def timed(part, function, *arguments):
        start = time.perf_counter()
        result = function(*arguments)
        spent[part] = time.perf_counter() - start
        return result

    try:
        jax_rows, jax_env = timed("JAX heads", jax_head_rows, argv, args)
    except subprocess.CalledProcessError as error:
        return error.returncode
    use_tensorflow()
    check_names(args)
    rows, tf_env = timed("TensorFlow heads", head_rows, "tf", args)
    rows += timed("XLA heads", head_rows, "xla", args)[0] + jax_rows
    from whole_model_timing import cifar_images

    splits = cifar_images(args.data, count=max(4 * args.batch, args.gradcam_images))
    rows += timed("epochs", epoch_rows, args, splits)
    rows += timed("Grad-CAM", gradcam_rows, args, splits)
    for row in rows:
        bad = {m: v for m, v in row["values"].items() if v is None or not math.isfinite(v)}
        if bad:
            raise FloatingPointError(f"gpu_check: {row['part']} {row['size']}: {bad}")
    table = format_table(rows, args.methods, heading((tf_env, jax_env), spent, args.quick))
    print(table)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(table + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
