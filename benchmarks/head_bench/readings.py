"""What the backends' step modules read alike: the largest of a step's tensors, an
allocator's peak during a step, and the time of a block of steps."""

import time

#: ``--clock``: wall time (what a user waits) or the process's CPU time (all threads).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def largest_of(sized):
    """The first ``(bytes, description)`` pair of ``sized`` with the most bytes (more than
    0), or ``(0, "")`` where there is none."""
    return max((pair for pair in sized if pair[0] > 0), key=lambda pair: pair[0], default=(0, ""))


def wait_for(outputs, sync):
    """Block until the step's ``outputs`` are computed: read the loss, then ``sync``."""
    float(outputs[0])
    sync(outputs)


def peak_above_start(step, x, y, *, sync, reset, allocated, peak):
    """Bytes an allocator's peak rises, during one step, above what it held before.

    ``sync(outputs=None)`` waits for pending work, ``reset()`` resets the allocator's peak,
    ``allocated()`` and ``peak()`` read its current and peak bytes.
    """
    sync()
    reset()
    before = allocated()
    wait_for(step(x, y), sync)
    return max(peak() - before, 0)


def time_block(step, x, y, number, clock, sync):
    """Seconds per step, on ``clock``, of ``number`` back-to-back steps (until the last
    one's outputs are computed)."""
    start = clock()
    for _ in range(number):
        outputs = step(x, y)
    wait_for(outputs, sync)
    return (clock() - start) / number
