"""The one conversion between stored pixels (uint8, 0..255) and network images (float, [-1, 1])."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
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


def resize_ids(ids: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize of integer maps [B, H, W] to (W, H), any dtype, ids never blended."""
    height, width = ids.shape[-2:]
    if (width, height) == tuple(size):
        return ids
    new_width, new_height = size
    rows = ((torch.arange(new_height, device=ids.device) + 0.5) * height / new_height).long().clamp_(max=height - 1)
    cols = ((torch.arange(new_width, device=ids.device) + 0.5) * width / new_width).long().clamp_(max=width - 1)
    return ids[..., rows[:, None], cols[None, :]]


def resize_photos(photos: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Photos [B, 3, H, W] in [-1, 1] to (W, H): bicubic, antialiased when shrinking, clamped."""
    if tuple(photos.shape[-2:]) == (size[1], size[0]):
        return photos
    resized = F.interpolate(photos.float(), size=(size[1], size[0]), mode="bicubic", align_corners=False, antialias=True)
    return resized.clamp_(-1, 1)
