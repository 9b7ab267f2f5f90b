"""One process of a multi-process run, watched by a parent that says why it stopped.

When a process of a ``--distribution data-parallel`` run dies, the others cannot go on (every
step is a collective of all processes), and they are ended from below Python: on CPUs the
collectives (gloo) may abort the process as soon as the dead one's connections close, and
JAX's distributed service ends it once the dead process has missed its heartbeats for
[`keras_angular.distribution.HEARTBEAT_SECONDS`][]. Neither leaves Python a chance to say
what happened, so [`run_supervised`][keras_angular.supervisor.run_supervised] runs the
training as a child process and, when the child dies or fails, says so in one sentence and
returns a non-zero exit status. It imports neither TensorFlow nor JAX.

Examples:
    >>> import sys
    >>> run_supervised([sys.executable, "-c", "pass"], process_id=0, num_processes=2)
    0
"""

import os
import signal
import subprocess
import sys

SUPERVISED = "KERAS_ANGULAR_SUPERVISED"
"""The environment variable set in the watched child (so that it does not watch itself)."""

__all__ = ["SUPERVISED", "is_supervised", "run_supervised"]


def is_supervised():
    """Whether this process is the child of
    [`run_supervised`][keras_angular.supervisor.run_supervised].

    Examples:
        >>> is_supervised() in (True, False)
        True
    """
    return os.environ.get(SUPERVISED) == "1"


def run_supervised(command, *, process_id, num_processes, backup=None):
    """Run ``command`` (a list, e.g. this process's own command line) as a child process
    and return its exit status; when it dies from a signal or fails with a status other
    than 0 or 2 (2: an input error, which said why itself), print one sentence on stderr
    and return 1. SIGINT and SIGTERM sent to this process go to the child.

    Args:
        command: the child's command, as for ``subprocess.Popen``.
        process_id: this process's index in the run, for the sentence.
        num_processes: the run's process count, for the sentence.
        backup: the checkpoint folder of the run (process 0's ``--out``/backup), or None.

    Returns:
        The exit status to leave with.

    Examples:
        >>> import sys
        >>> run_supervised([sys.executable, "-c", "raise SystemExit(2)"], process_id=1,
        ...                num_processes=2)   # an input error: the child said why itself
        2
    """
    child = subprocess.Popen(command, env={**os.environ, SUPERVISED: "1"})
    forwarded = {
        sig: signal.signal(sig, lambda number, frame: child.send_signal(number))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        status = child.wait()
    finally:
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)
    if status in (0, 2):
        return status
    how = f"signal {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
    kept = (
        f"the epochs checkpointed in {backup} are kept"
        if backup
        else "nothing was checkpointed (no --out)"
    )
    print(
        f"keras-angular: process {process_id} of {num_processes} stopped ({how}): a process "
        f"of the run died, became unreachable or failed; {kept}: start the same command "
        "again in every process to resume.",
        file=sys.stderr,
    )
    return 1
