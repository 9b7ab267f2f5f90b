"""The benchmark's step on PyTorch: eager autograd (as Keras' PyTorch ``fit`` runs its
step; ``torch.compile`` with ``--jit``), its largest tensor from the ops it runs, its peak
from the CUDA allocator."""

from head_bench.readings import largest_of, peak_above_start


def make_step(forward, head, jit_compile):
    """Autograd of the loss w.r.t. the embedding and the head's variables: eager, or with
    ``jit_compile`` the loss's forward through ``torch.compile`` (what Keras'
    ``jit_compile=True`` does to a PyTorch train step; the backward comes compiled with it).
    Compiling takes minutes per candidate on a CPU."""
    import torch

    if jit_compile:
        forward = torch.compile(forward)

    variables = head.trainable_variables

    def step(x, y):
        x = x.detach().requires_grad_(True)
        loss = forward(x, y)
        leaves = [x, *(variable.value for variable in variables)]
        gradients = torch.autograd.grad(loss, leaves, allow_unused=True)
        return loss.detach(), list(gradients)

    return step


def largest_tensor(step, x, y):
    """``(bytes, description)`` of the largest tensor a PyTorch function returns while the
    step runs once (eager: there is no graph to read; the backward pass runs in C++, its
    tensors have the forward's shapes)."""
    import torch
    from torch.overrides import TorchFunctionMode

    sized = []

    class Outputs(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for tensor in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(tensor, torch.Tensor):
                    name = getattr(func, "__name__", str(func))
                    nbytes = tensor.numel() * tensor.element_size()
                    sized.append((nbytes, f"{name} {list(tensor.shape)}"))
            return out

    with Outputs():
        step(x, y)
    return largest_of(sized)


def peak_step_memory(step, x, y):
    """The CUDA allocator's peak during one step above its level before; None on the CPU,
    whose allocator keeps no statistics."""
    import torch

    if not torch.cuda.is_available():
        return None
    return peak_above_start(
        step,
        x,
        y,
        sync=sync,
        reset=torch.cuda.reset_peak_memory_stats,
        allocated=torch.cuda.memory_allocated,
        peak=torch.cuda.max_memory_allocated,
    )


def sync(outputs=None):
    """Wait until all pending CUDA work is done (the CPU runs synchronously)."""
    del outputs  # PyTorch waits for the whole device
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def environment():
    """``backend_version``, ``device`` and ``intra_op_threads``."""
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return {
        "backend_version": torch.__version__,
        "device": name,
        "intra_op_threads": torch.get_num_threads(),
    }


def set_threads(threads):
    """Set PyTorch's intra-op pool."""
    import torch

    torch.set_num_threads(threads)
