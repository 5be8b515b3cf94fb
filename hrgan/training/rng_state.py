"""Every random generator a run draws from, captured into a checkpoint and restored from it (exact resume)."""

from __future__ import annotations

import random

import numpy as np
import torch


def capture() -> dict:
    """torch's, CUDA's, numpy's and Python's states, as tensors and plain values (``weights_only`` loading)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def restore(states: dict | None) -> None:
    """Put back what ``capture`` took (nothing for checkpoints without it; CUDA's only on as many devices)."""
    if not states:
        return
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
