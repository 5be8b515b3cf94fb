"""Reading and writing label maps, instance maps and photos as arrays, with errors that name the file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class BadSampleError(ValueError):
    """A sample that cannot be used; the message names the file and the problem."""


def encode_png(array: np.ndarray) -> bytes:
    """uint8 [H, W] (L), uint16 [H, W] (16-bit grey) or uint8 [H, W, 3] (RGB) -> PNG bytes."""
    if array.dtype not in (np.uint8, np.uint16):  # uint16 becomes PIL mode I;16
        raise TypeError(f"encode_png takes uint8 or uint16 arrays, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_image(data: bytes, source: str | Path) -> Image.Image:
    """Fully decode image bytes (so truncation shows here), naming ``source`` on failure."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BadSampleError(f"{source}: unreadable or truncated image ({error})") from error
    return image


def map_to_array(image: Image.Image, source: str | Path, what: str) -> np.ndarray:
    """A label or instance map as an integer [H, W] array (8, 16 or 32 bit greyscale).

    RGB images whose three channels are equal count as greyscale; true colour
    raises with a pointer to the palette option.
    """
    if image.mode in ("L", "P", "I;16", "I;16B", "I;16L", "I", "1"):
        return np.asarray(image).astype(np.int64)  # for "P" the palette index is the class id
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
            return rgb[..., 0].astype(np.int64)
        raise BadSampleError(
            f"{source}: the {what} map is an RGB colour image, not class ids; "
            "pass a palette file (--palette colours.json) to map its colours to ids"
        )
    raise BadSampleError(f"{source}: unsupported {what} image mode {image.mode!r}")


def photo_to_array(image: Image.Image) -> np.ndarray:
    """A photo as uint8 [H, W, 3]."""
    return np.array(image.convert("RGB"))
