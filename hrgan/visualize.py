"""Turning tensors into pictures people can look at: colourised label maps, images, grids."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hrgan.io import write_bytes_atomic
from hrgan.pixels import to_uint8


def default_palette(n: int, *, seed: int = 0) -> np.ndarray:
    """A fixed, well-spread colour per class: [n, 3] uint8 (golden-ratio hues)."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    sat = 0.55 + 0.4 * rng.random(n)
    val = 0.6 + 0.4 * rng.random(n)
    hsv = np.stack([hues, sat, val], axis=1)
    rgb = np.array([_hsv_to_rgb(*c) for c in hsv])
    return (rgb * 255).round().astype(np.uint8)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def colorize_labels(label: torch.Tensor | np.ndarray, palette: np.ndarray) -> np.ndarray:
    """[H, W] class ids -> [H, W, 3] uint8; ids outside the palette are drawn black."""
    label = label.cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    label = label.astype(np.int64)
    out = np.zeros((*label.shape, 3), dtype=np.uint8)
    valid = (label >= 0) & (label < len(palette))
    out[valid] = palette[label[valid]]
    return out


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """[3, H, W] (or [1, H, W], shown grey) in [-1, 1] -> [H, W, 3] uint8."""
    return to_uint8(image.expand(3, -1, -1)).permute(1, 2, 0).cpu().numpy()


def save_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write an [H, W] or [H, W, 3] uint8 array as PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return write_bytes_atomic(path, buffer.getvalue())


def side_by_side(*arrays: np.ndarray) -> np.ndarray:
    """Concatenate [H, W, 3] uint8 panels horizontally."""
    return np.concatenate(arrays, axis=1)
