"""Exponential moving average of generator weights."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model, for every parameter; buffers are copied."""
    ema_params = [p for p in ema.parameters()]
    params = [p.detach() for p in model.parameters()]
    if len(ema_params) != len(params):
        raise ValueError("EMA and model have different parameter lists")
    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers(), strict=True):
        ema_buffer.copy_(buffer)


def ema_decay_at(step: int, decay: float, power: float = 1.0) -> float:
    """The decay for update ``step`` (0-based): EDM2's power-function profile (Karras et al. 2024),
    (1 - 1 / (step + 1)) ** (power + 1), until it reaches ``decay``.

    Under that profile the average weighs update t by about t ** power, so it spans roughly the last
    1 / (power + 1) of the updates so far: half of them at power 1. The former warm-up,
    (1 + step) / (10 + step), averaged only the last ~step / 9, which at the demo's length kept the
    last ~100 of 950 noisy GAN updates.
    """
    return min(decay, (1.0 - 1.0 / (step + 1)) ** (power + 1))
