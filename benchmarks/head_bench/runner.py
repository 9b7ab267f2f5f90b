"""The timed runs: every candidate of a shape interleaved with the others, the figures
gathered into rows, and the run's environment."""

import math
import os
import platform
import statistics
import time

from head_bench.candidates import (
    LITERAL_FORMS,
    SAMPLED_FORMS,
    build_candidate,
    candidate_names,
    literal_bytes,
)
from head_bench.readings import CLOCKS, time_block
from head_bench.steps import (
    backend_environment,
    backend_name,
    largest_tensor,
    make_step,
    peak_step_memory,
    sync,
)

#: (B, N, C): batch, embedding width, classes; C from 10 to 10,000.
DEFAULT_SHAPES = ((128, 128, 10), (128, 512, 100), (128, 512, 1000), (256, 512, 10000))

POLICIES = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}

#: Why the JAX run skips the Partial FC forms (PartialFCLoss refuses a compiled JAX step).
JAX_SAMPLED_SKIP = "a JAX step keeps no PartialFCLoss seed state (see PartialFCLoss)"


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
        if name in SAMPLED_FORMS and backend_name() == "jax":
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
            if backend_name() != "torch":  # traced: nothing allocated (PyTorch runs the step)
                row["largest_tensor_bytes"], row["largest_tensor"] = largest_tensor(step, x, y)
            continue
        row["largest_tensor_bytes"], row["largest_tensor"] = largest_tensor(step, x, y)
        # Warm up (trace / compile), check the step is finite, measure memory.
        loss, _ = step(x, y)
        if not np.isfinite(float(loss)):
            raise FloatingPointError(f"{name} at {shape}: non-finite loss {float(loss)}")
        row["peak_bytes"] = peak_step_memory(step, x, y)
        once = time_block(step, x, y, 1, CLOCKS[clock], sync)
        number = max(1, int(math.ceil(min_sample_s / max(once, 1e-6))))
        live.append((name, step, number, []))

    # The literal forms are timed after all the others: their B x N x C buffers leave work
    # behind that a process CPU clock counts against the next candidates.
    for group in (
        [entry for entry in live if entry[0] not in LITERAL_FORMS],
        [entry for entry in live if entry[0] in LITERAL_FORMS],
    ):
        for repeat in range(repeats if group else 0):
            shift = repeat % len(group)
            for _, step, number, samples in group[shift:] + group[:shift]:
                sync(step(x, y))  # untimed: what the previous candidate left stays out
                samples.append(time_block(step, x, y, number, CLOCKS[clock], sync))

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

    backend = backend_name()
    env = {"backend": backend, **backend_environment()}
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
