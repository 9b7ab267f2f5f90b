"""Head + loss micro-benchmark: every method's train step against a plain softmax head.

``python benchmarks/heads_and_losses.py`` (or ``keras-angular bench``, which runs this
file from a checkout of the repository; it is not installed with the package) times,
in one process,
the forward + backward step of each classification head and its loss on a random
(B, N) embedding with C classes, and the papers' literal formulations against our
closed forms:

* a **step** is one ``tf.function`` (``jit_compile`` with ``--jit``) that computes
  the head output, the loss (through the ``keras.losses.Loss`` object, as
  ``model.compile`` would call it) and the gradients with respect to the embedding
  and the head's variables - the part of a training step that the method changes.
  No optimizer update (it is the same for every method);
* **interleaved**: each repeat visits every candidate of a shape once, in an order
  rotated from repeat to repeat, and times ``number`` back-to-back steps after one
  untimed step (which absorbs what the previous candidate left behind); the literal
  forms are interleaved among themselves after all the others (their large buffers
  leave work behind that would count against the next candidate); the
  figure is the median over repeats of the mean step time. Machine noise (other
  processes, frequency changes) hits all candidates alike and the ratios cancel it;
* **ratio**: median step time over the softmax baseline's (``Dense`` with bias +
  sparse cross-entropy, float32 like our heads) in the same run; for the literal
  forms, literal time over closed time (the speed-up). A literal form runs the
  package's own loss function with the paper's projections (HASeparator) or logits
  (W-Softmax) passed in, and the closed method's settings, so the pair differs only
  in that computation;
* **peak memory**: the TensorFlow allocator's peak during one step minus what it
  held before (``tf.config.experimental.get_memory_info``, on the GPU if there is
  one, else on the CPU's BFC allocator with ``TF_CPU_ALLOCATOR_USE_BFC=true``; the
  default CPU allocator's statistics are missing or partial, so no figure; oneDNN
  scratch space on CPU is not counted), and,
  independent of the device, the **largest tensor** in the step's graph (forward
  and backward, before any XLA fusion) from its static shapes - this is what
  shows that the closed forms never build the B x N x C tensor. The graph's own
  operations are walked; the only functions nested in it are the branches of the
  label checks' assertions (a test holds this), which hold no large tensor.

``--sampled`` adds the **Partial FC** forms (``arcface_sampled`` ...,
:class:`keras_angular.losses.PartialFCLoss` at ``sample_fraction`` 0.1: the batch's
classes plus a random share of the others, ``ceil(0.1 C)`` columns per step) of the
margin methods and HASeparator; their step reads the embedding and never builds the
(B, C) logits. ``--many-classes`` times C = 10^5 and 10^6 (B = 128, N = 512) with the
sampled forms: the closed forms' largest tensors stay O(B C) (the (N, C) kernel and its
gradient aside), the sampled ones O(B C / 10) (``--methods arcface`` keeps the 10^6 row
within a few GiB: each live candidate holds its own 2 GiB kernel).

A literal form whose B x N x C float32 tensor would exceed ``--memory-cap-mb`` is
not run at that shape (the table says so); its largest tensor is still reported
from the traced graph, which allocates nothing.

``--mixed-precision float16|bfloat16`` runs under the ``mixed_*`` global policy:
the embedding is in the compute dtype, the heads (ours and the baseline) compute
in float32. ``--clock cpu --threads 1`` measures the work done rather than the
time waited, the steadiest figures on a machine shared with other jobs.

The bench runs on the backend Keras runs on (``keras-angular --backend jax bench`` or
``KERAS_BACKEND=jax python benchmarks/heads_and_losses.py``): the step is ``jax.jit`` of
``jax.value_and_grad`` on JAX (always XLA; its peak is the compiled step's XLA
temporaries, its largest tensor read from the step's jaxpr) and eager autograd on PyTorch
(as Keras' ``fit`` runs it; with ``--jit`` the loss's forward through ``torch.compile``,
what Keras' ``jit_compile=True`` does there; peak on CUDA only, the largest tensor is
the largest one a PyTorch op returns). JAX skips the Partial FC forms (a compiled JAX step
keeps no loss seed state, :class:`keras_angular.losses.PartialFCLoss`).

Example::

    python benchmarks/heads_and_losses.py --quick
    keras-angular --backend torch bench --quick
    python benchmarks/heads_and_losses.py --jit --json bench.json
    python benchmarks/heads_and_losses.py --shapes 128x512x1000 --repeats 15
"""

import argparse
import os
import sys

# Loaded by file path (``keras-angular bench``), this file's folder is not on sys.path: put
# it there so that its modules, the head_bench package beside it, can be imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from head_bench.candidates import (  # noqa: E402
    LITERAL_FORMS,
    METHODS,
    SAMPLE_FRACTION,
    SAMPLED_FORMS,
    build_candidate,
    candidate_names,
    literal_bytes,
    method_head_and_loss,
)
from head_bench.readings import CLOCKS  # noqa: E402
from head_bench.report import format_markdown, report  # noqa: E402
from head_bench.runner import DEFAULT_SHAPES, JAX_SAMPLED_SKIP, POLICIES, run  # noqa: E402
from head_bench.steps import make_step, peak_step_memory, set_threads  # noqa: E402
from head_bench.tensorflow_steps import (  # noqa: E402
    cpu_allocator_keeps_statistics,
    memory_device,
    nested_functions,
)

#: What the tests and other scripts use from this file, besides its command line.
__all__ = [
    "JAX_SAMPLED_SKIP",
    "LITERAL_FORMS",
    "METHODS",
    "SAMPLED_FORMS",
    "add_arguments",
    "build_candidate",
    "candidate_names",
    "cli",
    "cpu_allocator_keeps_statistics",
    "format_markdown",
    "literal_bytes",
    "main",
    "make_step",
    "memory_device",
    "method_head_and_loss",
    "nested_functions",
    "parse_shape",
    "peak_step_memory",
    "run",
]

#: ``--quick``: the three shapes with C <= 1000.
QUICK_SHAPES = ((128, 128, 10), (128, 512, 100), (128, 512, 1000))
#: ``--many-classes``: face-identity class counts, 10^5 and 10^6.
MANY_CLASS_SHAPES = ((128, 512, 100_000), (128, 512, 1_000_000))


def parse_shape(text):
    """``"128x512x1000"`` -> (128, 512, 1000)."""
    parts = text.lower().replace(",", "x").split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"a shape is BxNxC with three positive integers (e.g. 128x512x1000), got {text!r}"
        )
    return tuple(int(p) for p in parts)


def add_arguments(parser):
    """Add the benchmark's options to an ``argparse`` parser."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"three shapes ({', '.join('x'.join(map(str, s)) for s in QUICK_SHAPES)}), "
        "5 repeats, short samples: under a minute on a laptop CPU",
    )
    parser.add_argument(
        "--shapes",
        type=parse_shape,
        nargs="+",
        metavar="BxNxC",
        help="shapes to time (default: "
        + " ".join("x".join(map(str, s)) for s in DEFAULT_SHAPES)
        + ")",
    )
    parser.add_argument("--repeats", type=int, help="interleaved rounds (default 7, quick 5)")
    parser.add_argument(
        "--min-sample-ms",
        type=float,
        help="each timed sample lasts at least this long (default 50, quick 10)",
    )
    parser.add_argument(
        "--jit",
        action="store_true",
        help="compile every step (TensorFlow: XLA; PyTorch: torch.compile; JAX always compiles)",
    )
    parser.add_argument(
        "--mixed-precision",
        choices=sorted(POLICIES),
        help="run under the mixed_float16 / mixed_bfloat16 global policy",
    )
    parser.add_argument(
        "--memory-cap-mb",
        type=float,
        default=1024,
        help="skip literal forms whose B x N x C float32 tensor exceeds this (default 1024)",
    )
    parser.add_argument("--no-literal", action="store_true", help="skip the paper-literal forms")
    parser.add_argument(
        "--sampled",
        action="store_true",
        help=f"also time the Partial FC forms (sample fraction {SAMPLE_FRACTION}) of the "
        "margin methods and HASeparator",
    )
    parser.add_argument(
        "--many-classes",
        action="store_true",
        help="C = 10^5 and 10^6 (B = 128, N = 512) with the sampled forms, no literal forms; "
        "add --methods arcface to bound memory (each candidate holds a 2 GiB kernel at 10^6)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        metavar="METHOD",
        help=f"time only these (softmax is always timed): {' '.join(METHODS)}",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default) or process CPU time (steadier on a busy machine with "
        "--threads 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="the backend's intra-op threads (TensorFlow: and inter-op; default: the "
        "backend's choice); 1 gives the steadiest figures on a busy machine",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    return parser


def main(args):
    """Run the bench from parsed ``args``; print the markdown table; return the results."""
    if getattr(args, "threads", None):
        set_threads(args.threads)
    many = getattr(args, "many_classes", False)
    shapes = args.shapes or (
        MANY_CLASS_SHAPES if many else QUICK_SHAPES if args.quick else DEFAULT_SHAPES
    )
    repeats = args.repeats or (5 if args.quick else 7)
    min_sample_ms = args.min_sample_ms or (10.0 if args.quick else 50.0)
    results = run(
        shapes,
        repeats=repeats,
        min_sample_s=min_sample_ms / 1e3,
        jit_compile=args.jit,
        mixed_precision=args.mixed_precision,
        memory_cap_mb=args.memory_cap_mb,
        literal=not (args.no_literal or many),
        methods=args.methods,
        clock=args.clock,
        sampled=getattr(args, "sampled", False) or many,
    )
    report(results, format_markdown(results), args.json)
    return results


def cli(argv=None, prog="python benchmarks/heads_and_losses.py"):
    """Parse ``argv`` (default: ``sys.argv[1:]``), run, print; return the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    main(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(cli())
