"""Head + loss micro-benchmark: every method's train step against a plain softmax head.

``python benchmarks/heads_and_losses.py`` (or ``keras-angular bench``, which runs this
file from a checkout of the repository; it is not installed with the package) times,
in one process,
the forward + backward step of each classification head and its loss on a random
(B, N) embedding with C classes, and the papers' literal formulations against our
closed forms (DESIGN.md, "Closed forms"):

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
(as Keras' ``fit`` runs it; ``--jit`` refused; peak on CUDA only, the largest tensor is
the largest one a PyTorch op returns). JAX skips the Partial FC forms (a compiled JAX step
keeps no loss seed state, :class:`keras_angular.losses.PartialFCLoss`).

Example::

    python benchmarks/heads_and_losses.py --quick
    keras-angular --backend torch bench --quick
    python benchmarks/heads_and_losses.py --jit --json bench.json
    python benchmarks/heads_and_losses.py --shapes 128x512x1000 --repeats 15
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

from keras_angular.layers import ClassCenters
from keras_angular.losses.hyperplane import haseparator_loss
from keras_angular.losses.partial_fc import PartialFCLoss
from keras_angular.losses.weights_biased import weights_biased_logits_per_sample, wsoftmax_loss
from keras_angular.methods import METHODS as REGISTRY
from keras_angular.methods import build_head_and_losses
from keras_angular.ops import hyperplane_projections_einsum

#: (B, N, C): batch, embedding width, classes; C from 10 to 10,000.
DEFAULT_SHAPES = ((128, 128, 10), (128, 512, 100), (128, 512, 1000), (256, 512, 10000))
#: ``--quick``: the three shapes with C <= 1000.
QUICK_SHAPES = ((128, 128, 10), (128, 512, 100), (128, 512, 1000))
#: ``--many-classes``: face-identity class counts, 10^5 and 10^6.
MANY_CLASS_SHAPES = ((128, 512, 100_000), (128, 512, 1_000_000))

#: The heads and losses, in table order (the method registry's names); "softmax" is the
#: baseline.
METHODS = tuple(REGISTRY)
MARGIN_METHODS = ("normface", "cosface", "arcface", "sphereface", "arc")
#: Registry overrides that time the papers' own forms, which the literal forms compute.
PAPER_FORMS = {"wsoftmax": {"form": "paper"}}
#: Literal (paper) form -> the closed-form method it is compared with.
LITERAL_FORMS = {"haseparator_einsum": "haseparator", "wsoftmax_per_sample": "wsoftmax"}

POLICIES = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}

#: Partial FC share of the classes per step for the sampled forms.
SAMPLE_FRACTION = 0.1
#: Sampled (Partial FC) form -> the method whose loss it wraps.
SAMPLED_FORMS = {f"{name}_sampled": name for name in (*MARGIN_METHODS, "haseparator")}


# --------------------------------------------------------------------------- candidates


def literal_loss(name, head, settings, embeddings):
    """The per-sample loss of a literal form: the closed method's own loss function with
    the paper's intermediate passed in, computed from the raw ``embeddings``.

    ``settings`` are the closed method's (its loss's ``get_config()``), so the pair
    differs only in how the projections (HASeparator: Eq. 5-6's B x N x C einsum)
    or the biased logits (W-Softmax: Algorithm 1's per-sample weight matrices) are
    computed. Returns ``loss(y_true, head_outputs)``.
    """
    if name == "haseparator_einsum":

        def einsum_projections(labels, cosines, kernel):
            del cosines  # the literal form projects the embeddings themselves
            return hyperplane_projections_einsum(labels, embeddings, kernel)

        return lambda y_true, cosines: haseparator_loss(
            y_true,
            cosines,
            head.kernel,
            settings["scale"],
            settings["margin"],
            projections=einsum_projections,
        )

    def per_sample_logits(labels, outputs, kernel, alpha, easy_margin):
        del outputs  # the literal form multiplies the raw features itself
        if easy_margin:
            raise ValueError("Algorithm 1's per-sample logits have no easy margin.")
        return weights_biased_logits_per_sample(labels, embeddings, kernel, alpha)

    return lambda y_true, outputs: wsoftmax_loss(
        y_true,
        outputs,
        head.kernel,
        settings["alpha"],
        settings["easy_margin"],
        logits=per_sample_logits,
    )


def method_head_and_loss(name, num_classes):
    """The head layer and loss of one registered method, with its default hyper-parameters.

    Returns ``(head, loss)``: ``loss`` is the ``{"logits": ..., ["embedding": ...]}``
    dict of :func:`keras_angular.methods.build_head_and_losses`, the form
    ``model.compile(loss=...)`` takes for the two-output model.
    """
    if name not in METHODS:
        raise ValueError(f"bench: unknown method {name!r}; use one of {list(METHODS)}.")
    _, _, head, loss = build_head_and_losses(name, num_classes, **PAPER_FORMS.get(name, {}))
    return head, loss


def build_candidate(name, num_classes):
    """Return ``(head, forward)`` for one method or literal form.

    ``forward(embeddings, labels)`` returns the scalar loss of the method's head
    on the embeddings, as ``model.compile`` would compute it.
    """
    from keras import ops

    base = LITERAL_FORMS.get(name, SAMPLED_FORMS.get(name, name))
    head, loss = method_head_and_loss(base, num_classes)
    if name in SAMPLED_FORMS:
        sampled = PartialFCLoss(loss["logits"], SAMPLE_FRACTION, head=head, seed=0)
        return head, lambda x, y: sampled(y, x)
    if name in LITERAL_FORMS:
        settings = loss["logits"].get_config()

        def forward(x, y):
            return ops.mean(literal_loss(name, head, settings, x)(y, head(x)))

        return head, forward

    def forward(x, y):
        value = loss["logits"](y, head(x))
        if "embedding" not in loss:
            return value
        # the centre loss reads its centres from a ClassCenters layer on the embedding,
        # and updates them after a training-mode call of it, as in model.fit
        layer = getattr(loss["embedding"], "head", None)
        embedding = layer(x, training=True) if isinstance(layer, ClassCenters) else x
        return value + loss["embedding"](y, embedding)

    return head, forward


def _backend():
    import keras

    return keras.backend.backend()


def make_step(forward, head, jit_compile=False):
    """The timed step: loss and its gradients w.r.t. the embedding and head variables.

    On the backend Keras runs on, as its ``fit`` compiles a train step: a ``tf.function``
    (XLA with ``jit_compile``) on TensorFlow, ``jax.jit`` (always XLA) on JAX, eager
    autograd on PyTorch.
    """
    return {"tensorflow": _tensorflow_step, "jax": _jax_step, "torch": _torch_step}[_backend()](
        forward, head, jit_compile
    )


def _tensorflow_step(forward, head, jit_compile):
    import tensorflow as tf

    @tf.function(jit_compile=jit_compile, autograph=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = forward(x, y)
        gradients = tape.gradient(loss, [x, *head.trainable_variables])
        return loss, gradients

    return step


def _jax_step(forward, head, jit_compile):
    """``jax.jit`` of ``jax.value_and_grad``: the head's variables enter as values through
    a ``keras.StatelessScope`` (as Keras' JAX ``fit`` passes them); a training-mode
    ``ClassCenters`` call's centre update stays in the scope and is dropped."""
    del jit_compile  # JAX compiles every step with XLA
    import jax
    import keras

    variables = head.trainable_variables

    def loss_of(x, values, y):
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return forward(x, y)

    gradient = jax.value_and_grad(loss_of, argnums=(0, 1))

    def pure(x, y, values):
        loss, (grad_x, grad_values) = gradient(x, values, y)
        return loss, [grad_x, *grad_values]

    compiled = jax.jit(pure)

    def values():
        return [variable.value for variable in variables]

    def step(x, y):
        return compiled(x, y, values())

    step.jaxpr = lambda x, y: jax.make_jaxpr(pure)(x, y, values())
    step.compiled = lambda x, y: compiled.lower(x, y, values()).compile()
    return step


def _torch_step(forward, head, jit_compile):
    """Eager autograd, as Keras' PyTorch ``fit`` runs its step."""
    if jit_compile:
        raise ValueError(
            "bench: --jit compiles TensorFlow steps with XLA; a PyTorch step runs eagerly "
            "(as Keras' fit runs it there) and JAX's is always XLA-compiled."
        )
    import torch

    variables = head.trainable_variables

    def step(x, y):
        x = x.detach().requires_grad_(True)
        loss = forward(x, y)
        leaves = [x, *(variable.value for variable in variables)]
        gradients = torch.autograd.grad(loss, leaves, allow_unused=True)
        return loss.detach(), list(gradients)

    return step


def largest_tensor(step, x, y):
    """``(bytes, op name)`` of the largest tensor of the step, forward and backward.

    TensorFlow: the largest statically shaped tensor in the step's graph (the gradient
    ops live in the same graph); tracing allocates no tensor, so this also works where
    running would not fit. Functions nested in the graph (see :func:`nested_functions`)
    are not walked. JAX: the largest value of the step's jaxpr (traced, nothing
    allocated), nested jaxprs included. PyTorch: the largest tensor that a PyTorch
    function returns while the step runs once (eager: there is no graph to read; the
    backward pass runs in C++, its tensors have the forward's shapes).
    """
    backend = _backend()
    if backend == "jax":
        return _largest_jaxpr_value(step.jaxpr(x, y).jaxpr)
    if backend == "torch":
        return _largest_torch_output(step, x, y)
    graph = step.get_concrete_function(x, y).graph
    best, where = 0, ""

    def visit(graph):
        nonlocal best, where
        for op in graph.get_operations():
            for output in op.outputs:
                shape = output.shape
                if shape.rank is None or not shape.is_fully_defined():
                    continue
                try:
                    size = output.dtype.size
                except Exception:  # noqa: BLE001 - resource / variant tensors
                    continue
                nbytes = math.prod(shape.as_list()) * size
                if nbytes > best:
                    best, where = nbytes, f"{op.type} {shape.as_list()}"

    visit(graph)
    return best, where


def _largest_jaxpr_value(jaxpr):
    best, where = 0, ""
    for equation in jaxpr.eqns:
        for var in equation.outvars:
            aval = getattr(var, "aval", None)
            if not hasattr(aval, "shape") or not hasattr(aval, "dtype"):
                continue
            nbytes = math.prod(aval.shape) * aval.dtype.itemsize
            if nbytes > best:
                best, where = nbytes, f"{equation.primitive.name} {list(aval.shape)}"
        for param in equation.params.values():
            for inner in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(inner, "jaxpr", inner)  # a ClosedJaxpr holds a Jaxpr
                if hasattr(inner, "eqns"):
                    nested = _largest_jaxpr_value(inner)
                    if nested[0] > best:
                        best, where = nested
    return best, where


def _largest_torch_output(step, x, y):
    import torch
    from torch.overrides import TorchFunctionMode

    largest = [0, ""]

    class Largest(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for tensor in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(tensor, torch.Tensor):
                    nbytes = tensor.numel() * tensor.element_size()
                    if nbytes > largest[0]:
                        name = getattr(func, "__name__", str(func))
                        largest[:] = [nbytes, f"{name} {list(tensor.shape)}"]
            return out

    with Largest():
        step(x, y)
    return tuple(largest)


def nested_functions(step, x, y):
    """Names of the functions nested in the step's graph (from its public ``GraphDef``).

    :func:`largest_tensor` walks only the graph's own operations; for our steps
    the nested functions are the branches of the label checks' assertions.
    """
    graph_def = step.get_concrete_function(x, y).graph.as_graph_def()
    return sorted(function.signature.name for function in graph_def.library.function)


def _memory_device():
    import tensorflow as tf

    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def _sync(outputs=None):
    """Wait until the step's ``outputs`` (TensorFlow, PyTorch: all pending work) are
    computed."""
    backend = _backend()
    if backend == "jax":
        import jax

        jax.block_until_ready(outputs)
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    else:
        import tensorflow as tf

        try:
            tf.test.experimental.sync_devices()
        except Exception:  # noqa: BLE001 - CPU-only builds run synchronously anyway
            pass


def peak_step_memory(step, x, y):
    """Bytes the step's working memory takes above what is held before it, or None.

    TensorFlow: the allocator's peak during one step above its level before, on a GPU or
    on the CPU's BFC allocator (``TF_CPU_ALLOCATOR_USE_BFC=true``); None on the default
    CPU allocator, whose statistics are missing (it raises) or partial, depending on the
    machine (measured on one: a closed-form HASeparator step at 64 x 128 x 100 read 0).
    JAX: the temporary buffers XLA allocates for the compiled step (its memory analysis;
    outputs and arguments not counted). PyTorch: the CUDA allocator's peak above its level before
    one step; None on the CPU, whose allocator keeps no statistics.
    """
    backend = _backend()
    if backend == "jax":
        analysis = step.compiled(x, y).memory_analysis()
        return None if analysis is None else int(analysis.temp_size_in_bytes)
    if backend == "torch":
        return _torch_peak_step_memory(step, x, y)
    import tensorflow as tf

    device = _memory_device()
    if device == "CPU:0" and not cpu_allocator_keeps_statistics():
        return None
    try:
        _sync()
        tf.config.experimental.reset_memory_stats(device)
        before = tf.config.experimental.get_memory_info(device)["current"]
        outputs = step(x, y)
        float(outputs[0])
        _sync(outputs)
        peak = tf.config.experimental.get_memory_info(device)["peak"]
    except Exception:  # noqa: BLE001 - allocator without statistics
        return None
    return max(peak - before, 0)


def cpu_allocator_keeps_statistics():
    """Whether TensorFlow's CPU allocator is the BFC one (``TF_CPU_ALLOCATOR_USE_BFC``,
    read when TensorFlow starts), which counts every allocation."""
    return os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("true", "1")


def _torch_peak_step_memory(step, x, y):
    import torch

    if not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    outputs = step(x, y)
    _sync(outputs)
    return max(torch.cuda.max_memory_allocated() - before, 0)


#: ``--clock``: wall time (what a user waits) or the process's CPU time (all threads).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _time_block(step, x, y, number, clock=time.perf_counter):
    start = clock()
    for _ in range(number):
        outputs = step(x, y)
    float(outputs[0])
    _sync(outputs)
    return (clock() - start) / number


def literal_bytes(shape):
    """Size in bytes of a literal form's B x N x C float32 tensor at ``shape``."""
    batch, width, classes = shape
    return batch * width * classes * 4


# --------------------------------------------------------------------------- running


def candidate_names(methods=None, literal=True, sampled=False):
    """The candidates to time: softmax first, the methods, their literal forms, then
    (with ``sampled``) their Partial FC forms."""
    methods = list(METHODS) if methods is None else list(methods)
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise ValueError(f"bench: unknown method(s) {unknown}; use some of {list(METHODS)}.")
    names = [name for name in METHODS if name == "softmax" or name in methods]
    if literal:
        names += [form for form, closed in LITERAL_FORMS.items() if closed in names]
    if sampled:
        names += [form for form, base in SAMPLED_FORMS.items() if base in names]
    return names


def bench_shape(
    shape,
    *,
    repeats,
    min_sample_s,
    jit_compile,
    memory_cap_bytes,
    literal=True,
    methods=None,
    clock="wall",
    sampled=False,
):
    """Time the candidates at one (B, N, C); return a list of row dicts."""
    import keras
    import numpy as np

    batch, width, classes = shape
    rng = np.random.default_rng(0)
    compute_dtype = keras.config.dtype_policy().compute_dtype
    x = keras.ops.convert_to_tensor(rng.standard_normal((batch, width)), dtype=compute_dtype)
    y = keras.ops.convert_to_tensor(rng.integers(0, classes, size=batch), dtype="int32")

    names = candidate_names(methods, literal, sampled)
    rows, live = {}, []
    for name in names:
        if name in SAMPLED_FORMS and _backend() == "jax":
            rows[name] = _row(shape, name, skipped=JAX_SAMPLED_SKIP)
            continue
        keras.utils.set_random_seed(0)
        head, forward = build_candidate(name, classes)
        head.build((batch, width))
        step = make_step(forward, head, jit_compile)
        row = rows[name] = _row(shape, name)
        if name in LITERAL_FORMS and literal_bytes(shape) > memory_cap_bytes:
            row["skipped"] = (
                f"B*N*C tensor {literal_bytes(shape) / 2**20:.0f} MiB > "
                f"cap {memory_cap_bytes / 2**20:.0f} MiB"
            )
            if _backend() != "torch":  # traced: nothing allocated (PyTorch runs the step)
                row["largest_tensor_bytes"], row["largest_tensor"] = largest_tensor(step, x, y)
            continue
        row["largest_tensor_bytes"], row["largest_tensor"] = largest_tensor(step, x, y)
        # Warm up (trace / compile), check the step is finite, measure memory.
        loss, _ = step(x, y)
        if not np.isfinite(float(loss)):
            raise FloatingPointError(f"{name} at {shape}: non-finite loss {float(loss)}")
        row["peak_bytes"] = peak_step_memory(step, x, y)
        once = _time_block(step, x, y, 1, CLOCKS[clock])
        number = max(1, int(math.ceil(min_sample_s / max(once, 1e-6))))
        live.append((name, step, number, []))

    # The literal forms are timed after all the others: their B x N x C buffers (250 MiB
    # at 128 x 512 x 1000) leave work behind that a process CPU clock counts against the
    # next candidates (measured on JAX: softmax right after them read 8.6 ms, 4.0 alone).
    for group in (
        [entry for entry in live if entry[0] not in LITERAL_FORMS],
        [entry for entry in live if entry[0] in LITERAL_FORMS],
    ):
        for repeat in range(repeats if group else 0):
            shift = repeat % len(group)
            for _, step, number, samples in group[shift:] + group[:shift]:
                _sync(step(x, y))  # untimed: what the previous candidate left stays out
                samples.append(_time_block(step, x, y, number, CLOCKS[clock]))

    for name, _, number, samples in live:
        rows[name].update(
            ms=1e3 * statistics.median(samples),
            ms_min=1e3 * min(samples),
            samples=len(samples),
            number=number,
        )
    base = rows["softmax"]["ms"]
    for name, row in rows.items():
        if row["ms"] is None:
            continue
        if name in LITERAL_FORMS:
            closed = rows[LITERAL_FORMS[name]]["ms"]
            row["closed_form"] = LITERAL_FORMS[name]
            row["ratio"] = row["ms"] / closed  # speed-up of the closed form
        else:
            row["ratio"] = row["ms"] / base
    return list(rows.values())


#: Why the JAX run skips the Partial FC forms (PartialFCLoss refuses a compiled JAX step).
JAX_SAMPLED_SKIP = "a JAX step keeps no PartialFCLoss seed state (see PartialFCLoss)"


def _row(shape, name, skipped=None):
    """An empty result row of candidate ``name`` at ``shape``."""
    kind = "literal" if name in LITERAL_FORMS else "sampled" if name in SAMPLED_FORMS else "method"
    return {
        "shape": list(shape),
        "method": name,
        "kind": kind,
        "ms": None,
        "ms_min": None,
        "samples": 0,
        "ratio": None,
        "peak_bytes": None,
        "largest_tensor_bytes": None,
        "largest_tensor": None,
        "skipped": skipped,
    }


def environment(jit_compile, policy):
    """What the figures depend on: backend and versions, device, threads, load average."""
    import keras

    backend = _backend()
    env = {"backend": backend, **_backend_environment(backend)}
    return {
        **env,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "jit_compile": bool(jit_compile) or backend == "jax",
        "policy": policy,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _backend_environment(backend):
    """``backend_version``, ``device`` and ``intra_op_threads`` (None: the default)."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        name = "CPU" if device.platform == "cpu" else device.device_kind
        return {"backend_version": jax.__version__, "device": name, "intra_op_threads": None}
    if backend == "torch":
        import torch

        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
        return {
            "backend_version": torch.__version__,
            "device": name,
            "intra_op_threads": torch.get_num_threads(),
        }
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = "CPU"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = details.get("device_name", "GPU")
    return {
        "tensorflow": tf.__version__,
        "backend_version": tf.__version__,
        "device": device,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def run(
    shapes=DEFAULT_SHAPES,
    *,
    repeats=7,
    min_sample_s=0.05,
    jit_compile=False,
    mixed_precision=None,
    memory_cap_mb=1024,
    literal=True,
    methods=None,
    clock="wall",
    sampled=False,
):
    """Run the benchmark and return ``{"environment", "rows"}``.

    Args:
        shapes: (B, N, C) triples.
        repeats: interleaved rounds; each candidate's figure is the median of these.
        min_sample_s: each timed sample runs enough steps to last at least this long.
        jit_compile: compile every step with XLA.
        mixed_precision: None, "float16" or "bfloat16" (``mixed_*`` global policy for
            the run; the previous policy is restored afterwards).
        memory_cap_mb: literal forms whose B x N x C float32 tensor exceeds this are
            skipped at that shape.
        literal: also time the paper-literal forms (of the closed forms timed).
        methods: the methods to time (default: all of ``METHODS``); the softmax
            baseline is always timed.
        clock: "wall" (``time.perf_counter``) or "cpu" (``time.process_time``: CPU
            time of all the process's threads; with one thread, the steadiest
            measure of work on a busy machine, blind to time spent waiting).
        sampled: also time the Partial FC forms (:data:`SAMPLED_FORMS`, sample fraction
            :data:`SAMPLE_FRACTION`) of the timed margin methods and HASeparator.
    """
    import keras

    candidate_names(methods, literal)  # fail early on an unknown name
    if clock not in CLOCKS:
        raise ValueError(f"bench: `clock` must be one of {sorted(CLOCKS)}, got {clock!r}.")
    if repeats < 1:
        raise ValueError(f"bench: `repeats` must be >= 1, got {repeats}.")
    if mixed_precision not in (None, *POLICIES):
        raise ValueError(
            f"bench: `mixed_precision` must be one of {sorted(POLICIES)} or None, "
            f"got {mixed_precision!r}."
        )
    policy = POLICIES.get(mixed_precision, "float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        env = environment(jit_compile, policy)
        env["clock"] = clock
        rows = []
        for shape in shapes:
            rows.extend(
                bench_shape(
                    tuple(int(d) for d in shape),
                    repeats=repeats,
                    min_sample_s=min_sample_s,
                    jit_compile=jit_compile,
                    memory_cap_bytes=memory_cap_mb * 2**20,
                    literal=literal,
                    methods=methods,
                    clock=clock,
                    sampled=sampled,
                )
            )
        env["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    finally:
        keras.config.set_dtype_policy(previous)
    return {"environment": env, "rows": rows}


# --------------------------------------------------------------------------- reporting


def _mib(nbytes):
    return "-" if nbytes is None else f"{nbytes / 2**20:.1f}"


def format_markdown(results):
    """The results as markdown: one table of methods (ratio to softmax), one of literal
    forms (the closed form's speed-up)."""
    env = results["environment"]
    load = env.get("load_average") or []
    lines = [
        f"heads and losses - {env['backend']} {env['backend_version']}, Keras {env['keras']}, "
        f"{env['device']}, "
        f"{env['cpu_count']} CPUs ({env['intra_op_threads'] or 'default'} intra-op threads), "
        f"{env.get('clock', 'wall')} clock, policy {env['policy']}, "
        f"jit_compile={env['jit_compile']}, "
        f"load average {' '.join(f'{v:.2f}' for v in load)} (before) / "
        f"{' '.join(f'{v:.2f}' for v in env.get('load_average_after') or [])} (after)",
        "",
        "Step = head + loss + gradients (embedding and head variables); median of interleaved "
        "repeats. Peak = allocator peak above its level before the step (JAX: the compiled "
        "step's XLA temporaries); largest = largest tensor in the step's graph (PyTorch: "
        "returned by an op of the eager step).",
        "",
        "| B x N x C | method | ms | ratio to softmax | peak MiB | largest MiB | largest tensor |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    rows = results["rows"]
    for row in rows:
        if row["kind"] == "literal":
            continue
        lines.append(_row_line(row, row["ratio"]))
    literal = [row for row in rows if row["kind"] == "literal"]
    if literal:
        lines += [
            "",
            "Paper-literal forms vs closed forms (same loss, same gradients):",
            "",
            "| B x N x C | literal form | ms | closed-form speed-up | peak MiB | largest MiB "
            "| largest tensor |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for row in literal:
            lines.append(_row_line(row, row["ratio"], suffix="x"))
    return "\n".join(lines)


def _row_line(row, ratio, suffix=""):
    shape = "x".join(str(d) for d in row["shape"])
    largest = _mib(row["largest_tensor_bytes"])
    if row["skipped"]:
        return (
            f"| {shape} | {row['method']} | skipped: {row['skipped']} | - | - | {largest} "
            f"| {row['largest_tensor']} |"
        )
    ratio_text = "-" if ratio is None else f"{ratio:.2f}{suffix}"
    return (
        f"| {shape} | {row['method']} | {row['ms']:.3f} | {ratio_text} | "
        f"{_mib(row['peak_bytes'])} | {largest} | {row['largest_tensor']} |"
    )


# --------------------------------------------------------------------------- command line


def set_threads(threads):
    """Set the backend's thread pools before it runs its first op: TensorFlow's intra- and
    inter-op pools, PyTorch's intra-op pool, XLA's CPU threads on JAX (its ``XLA_FLAGS``,
    read when JAX starts its CPU client)."""
    if threads < 1:
        raise ValueError(f"bench: `threads` must be >= 1, got {threads}.")
    backend = _backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        return
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        extra = f"--xla_cpu_multi_thread_eigen={str(threads > 1).lower()}"
        os.environ["XLA_FLAGS"] = f"{flags} {extra} intra_op_parallelism_threads={threads}"
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:  # TensorFlow already initialised in this process
        print(f"bench: --threads ignored ({error})", file=sys.stderr)


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
    parser.add_argument("--jit", action="store_true", help="compile every step with XLA")
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


def report(results, markdown, json_path=None):
    """Print ``markdown``; with ``json_path``, also write ``results`` there as JSON."""
    print(markdown)
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(results, handle, indent=2)


def cli(argv=None, prog="python benchmarks/heads_and_losses.py"):
    """Parse ``argv`` (default: ``sys.argv[1:]``), run, print; return the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    main(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(cli())
