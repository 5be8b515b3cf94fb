"""The one conversion between stored pixels (uint8, 0..255) and network images (float, [-1, 1])."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def from_uint8(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1], same shape (a new tensor)."""
    if pixels.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pixels, got {pixels.dtype}")
    return pixels.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 [0, 255] of the same shape, as a saved PNG would hold them."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def photo_tensor(image: Image.Image, width: int, height: int) -> torch.Tensor:
    """A photo resized (bicubic) to width x height as a network image [1, 3, H, W] in [-1, 1]."""
    photo = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    return from_uint8(torch.from_numpy(np.array(photo)).permute(2, 0, 1)).unsqueeze(0)
