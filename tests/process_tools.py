"""What the multi-process tests need to start their worker processes: a free loopback
port for the coordinator and the environment of a JAX process on CPU devices."""

import os
import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jax_cpu_environment(devices):
    """This process's environment for a worker on JAX with ``devices`` CPU devices, no GPU
    and TensorFlow's start-up lines hidden."""
    return dict(
        os.environ,
        KERAS_BACKEND="jax",
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
    )
