"""Reading and writing label maps, instance maps and photos as arrays, with errors that name the file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class BadSampleError(ValueError):
    """A sample that cannot be used; the message names the file and the problem."""


DEFAULT_MAX_PIXELS = 2**26  # 67M pixels, e.g. 8192x8192: 32x a 2048x1024 Cityscapes frame
MAX_PIXELS_VARIABLE = "HRGAN_MAX_PIXELS"


def max_pixels() -> int:
    """The largest image (width x height) any hrgan command decodes: ``$HRGAN_MAX_PIXELS``, else 2**26.

    Larger images are refused from their header, before any pixel is allocated (a
    140 KB PNG can claim 12000x12000 pixels, over 1 GB once decoded into a label array).
    """
    text = os.environ.get(MAX_PIXELS_VARIABLE)
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{MAX_PIXELS_VARIABLE}={text!r}: expected a whole number of pixels, e.g. {DEFAULT_MAX_PIXELS}") from None
    if value < 1:
        raise ValueError(f"{MAX_PIXELS_VARIABLE}={text!r}: must be at least 1")
    return value


def encode_png(array: np.ndarray) -> bytes:
    """uint8 [H, W] (L), uint16 [H, W] (16-bit grey) or uint8 [H, W, 3] (RGB) -> PNG bytes."""
    if array.dtype not in (np.uint8, np.uint16):  # uint16 becomes PIL mode I;16
        raise TypeError(f"encode_png takes uint8 or uint16 arrays, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_image(data: bytes, source: str | Path) -> Image.Image:
    """Fully decode image bytes (so truncation shows here), naming ``source`` on failure.

    Raises:
        BadSampleError: unreadable, truncated, or larger than ``max_pixels()`` (checked from the header,
            before decoding; PIL's own ``DecompressionBombError``, a plain ``Exception``, is caught too).
    """
    limit = max_pixels()
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height <= limit:
            image.load()
    except Image.DecompressionBombError as error:
        raise BadSampleError(f"{source}: refused by PIL as a decompression bomb ({error})") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BadSampleError(f"{source}: unreadable or truncated image ({error})") from error
    if width * height > limit:
        raise BadSampleError(
            f"{source}: {width}x{height} is {width * height} pixels, more than the limit of {limit} "
            f"(set {MAX_PIXELS_VARIABLE} to allow larger images)"
        )
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
            + (", or (hrgan shards) --input image to train on it as an image" if what == "label" else "")
        )
    raise BadSampleError(f"{source}: unsupported {what} image mode {image.mode!r}")


def photo_to_array(image: Image.Image) -> np.ndarray:
    """A photo as uint8 [H, W, 3]."""
    return np.array(image.convert("RGB"))
