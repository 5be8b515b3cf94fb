"""Training on the CPU: keep freed host memory in the process instead of faulting it in again every step.

glibc's malloc serves every block above its mmap threshold (at most 32 MiB on 64-bit) with its own
mmap and unmaps it on free. A 512x256 activation of 64 channels is 32 MiB, so each step hands most of
its activations back to the kernel and page-faults them in again in the next one, inside the
convolution kernels (measured: 10.1 s against 8.1 s per step, BENCHMARKS.md "Side by side with the
official code"). Serving them from the heap and never trimming it keeps the pages mapped: resident
memory stays at the step's peak, which training needs anyway, until the process exits.
"""

from __future__ import annotations

import ctypes
import sys

from pytorch_lightning.callbacks import Callback

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int: trim only when 2 GiB lie free at the heap's top


def keep_freed_host_memory() -> bool:
    """Tell glibc's malloc to keep freed memory (no per-block mmap, no trimming); False where there is no
    glibc (other platforms, musl), and nothing changes then."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, _NEVER_TRIM))


class HostMemory(Callback):
    """Applies ``keep_freed_host_memory`` when the run trains on the CPU (``hrgan fit`` adds it); on a GPU
    the activations live in CUDA's caching allocator and nothing is changed."""

    def __init__(self) -> None:
        self.applied = False

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage == "fit" and trainer.strategy.root_device.type == "cpu" and not self.applied:
            self.applied = keep_freed_host_memory()
