"""A quiet start for ``import keras_angular`` and the ``keras-angular`` command. Imports
nothing heavy: it runs before TensorFlow is imported.

TensorFlow writes lines from C++ to stderr while it is imported, and when it first looks
for devices, before anything of ours runs (``tests/test_cli_start.py`` checks that the
package and the command hide them):

```text
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...
E0000 00:00:... cuda_platform.cc:52] failed call to cuInit: ...
```

``TF_CPP_MIN_LOG_LEVEL`` (read once, when TensorFlow loads) silences only the last two:
the others are logged through absl before ``absl::InitializeLog()``, which ignores every
threshold, twice (two shared libraries each log them). ``TF_ENABLE_ONEDNN_OPTS=0`` would
silence the oneDNN line only by turning oneDNN off, which we do not do. So while the
package imports TensorFlow (``quiet_import``) it:

* sets ``TF_CPP_MIN_LOG_LEVEL=3`` (``quiet_environment``);
* sends file descriptor 2 to a temporary file, then writes back every line that is not
  an absl INFO / WARNING line or its preamble (errors, Python warnings and tracebacks come
  through; ``filtered_stderr``);

unless the user asked to see them: the command's ``--verbose``; for ``import
keras_angular``, a ``TF_CPP_MIN_LOG_LEVEL`` of the user's own (``0`` shows everything).
The command also sets TensorFlow's and absl's Python loggers to ERROR
(``quiet_python_logging``) unless ``--verbose``.

It also reads the command's ``--backend NAME`` (``select_backend``): Keras picks its
backend from ``KERAS_BACKEND`` once, when it is imported, so the option must act before
the package imports Keras.

``import keras_angular`` imports Keras and TensorFlow (it registers the serializable
classes); for the command (``is_command``, from ``sys.argv``) it imports neither:
the command imports them once its options are checked.
"""

import contextlib
import os
import re
import sys
import tempfile

_COMMAND = "keras-angular"
_MODULES = ("keras_angular", "keras_angular.cli")

_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] "
    r"|To enable the following instructions: .* rebuild TensorFlow"
)


def _argv():
    return list(getattr(sys, "argv", None) or [""])


def is_command():
    """Whether this process is the ``keras-angular`` console script (or
    ``python -m keras_angular.cli``)."""
    name = os.path.basename(_argv()[0]).lower()
    if name.removesuffix(".exe").removesuffix("-script.py") == _COMMAND:
        return True
    orig = list(getattr(sys, "orig_argv", []))
    return any(a == "-m" and b in _MODULES for a, b in zip(orig, orig[1:], strict=False))


def verbose_requested(argv):
    """Whether ``--verbose`` is among the options (before a lone ``--``)."""
    for token in argv:
        if token == "--":
            return False
        if token == "--verbose":
            return True
    return False


BACKENDS = ("tensorflow", "jax", "torch")


def backend_requested(argv):
    """The value of ``--backend NAME`` / ``--backend=NAME`` among the options (before a
    lone ``--``), or None."""
    for i, token in enumerate(argv):
        if token == "--":
            return None
        if token == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith("--backend="):
            return token.split("=", 1)[1]
    return None


def select_backend():
    """For the command: ``--backend NAME`` sets ``KERAS_BACKEND`` before Keras is imported
    (Keras reads it once, at import). A name that is not a backend is left to the parser,
    which refuses it."""
    if not is_command():
        return
    backend = backend_requested(_argv()[1:])
    if backend in BACKENDS:
        os.environ["KERAS_BACKEND"] = backend


def quiet_environment():
    """Ask TensorFlow's C++ logging for errors only (fatal errors only at level 3),
    unless the user chose a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def quiet_python_logging():
    """TensorFlow's and absl's Python loggers: errors only."""
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def filtered_stderr():
    """Send file descriptor 2 to a temporary file inside the block; afterwards write back
    to stderr every line but TensorFlow's start-up notices (``_NOISE``)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not _NOISE.match(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def quiet_import():
    """The context the package imports TensorFlow in: ``filtered_stderr`` after
    ``quiet_environment``, except for the command with ``--verbose`` and for a library
    process whose user set ``TF_CPP_MIN_LOG_LEVEL``."""
    if is_command():
        if verbose_requested(_argv()[1:]):
            return contextlib.nullcontext()
    elif "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return contextlib.nullcontext()
    quiet_environment()
    return filtered_stderr()
