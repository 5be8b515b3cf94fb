"""PSNR: the one implementation behind val/psnr, the fidelity report and the evaluation metrics."""

from __future__ import annotations

import torch


def psnr(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image PSNR in dB of [-1, 1] images, on the [0, 1] scale, over the pixels ``mask`` keeps.

    Args:
        fake, real: [B, C, H, W] in [-1, 1].
        mask: [B, H, W] pixels to score (bool or 0/1); None scores every pixel.

    Returns:
        [B] dB; inf for an image equal to its photo on the scored pixels, NaN where no pixel is scored.
    """
    error = (fake.float() - real.float()).pow(2).mean(1)  # [B, H, W], mean over channels
    weight = torch.ones_like(error) if mask is None else mask.float()
    mse = (error / 4 * weight).flatten(1).sum(1) / weight.flatten(1).sum(1)  # [0, 1] scale; 0 / 0 = NaN
    return 10 * torch.log10(1.0 / mse)
