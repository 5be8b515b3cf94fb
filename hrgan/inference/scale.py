"""The scale a model runs at: the one it trained at, by default, whatever size the input maps have.

A generator learns textures at one scale: applied to maps twice as large it
paints each window at half its size, as checkerboard (a face model trained at
128x128 scored 27.3 dB at the trained scale and 15.3 dB on 256x256 maps).
``run_size`` gives an input map the training resolution's pixel count at its
own aspect ratio; ``resize_ids`` / ``resize_photos`` take maps there and photos back.
"""

from __future__ import annotations

import math

from hrgan.inference.options import NATIVE, TRAINED
from hrgan.pixels import resize_ids, resize_photos

__all__ = ["WARN_RATIO", "describe_scale", "resize_ids", "resize_photos", "run_size", "scale_ratio", "scale_warning"]

WARN_RATIO = 2.0  # scale changes beyond this (either way) are reported


def run_size(native: tuple[int, int], trained: tuple[int, int] | None, scale: str | tuple[int, int]) -> tuple[int, int]:
    """(W, H) to run the model at for a map of ``native`` (W, H).

    ``trained``: the training resolution itself for maps of its aspect ratio, else its pixel count at the
    map's aspect ratio (the native size when the model records no resolution); ``native``: the map's size;
    (W, H): that size.
    """
    if scale == NATIVE or (scale == TRAINED and trained is None):
        return native
    if scale != TRAINED:
        return tuple(scale)
    (width, height), (train_width, train_height) = native, trained
    if width * train_height == height * train_width:
        return tuple(trained)
    factor = math.sqrt(train_width * train_height / (width * height))
    return max(1, round(width * factor)), max(1, round(height * factor))


def describe_scale(scale: str | tuple[int, int], trained: tuple[int, int] | None) -> str:
    """One line saying at which scale the maps will run."""
    if scale == TRAINED and trained is None:
        return "scale: the model records no training resolution; maps run at their own size"
    if scale == TRAINED:
        return f"scale: maps run at the training scale ({trained[0]}x{trained[1]}), photos come back at each map's size"
    if scale == NATIVE:
        return "scale: maps run at their own size (--size native)"
    return f"scale: maps resized to {scale[0]}x{scale[1]}"


def scale_ratio(native: tuple[int, int], trained: tuple[int, int]) -> float:
    """How many times larger (>1) or smaller (<1) a map is than the training resolution, per side."""
    return math.sqrt(native[0] * native[1] / (trained[0] * trained[1]))


def scale_warning(native: tuple[int, int], trained: tuple[int, int] | None, scale: str | tuple[int, int]) -> str | None:
    """A warning when a map of ``native`` (W, H) is more than 2x off the training scale, else None."""
    if trained is None:
        return None
    size = native if scale == TRAINED else run_size(native, trained, scale)
    ratio = scale_ratio(size, trained)
    if max(ratio, 1 / ratio) <= WARN_RATIO:
        return None
    if scale == TRAINED:
        done = run_size(native, trained, TRAINED)
        return (f"{native[0]}x{native[1]} maps are {ratio:.1f}x the training scale ({trained[0]}x{trained[1]}) per side: "
                f"generated at {done[0]}x{done[1]} and resized back, so fine detail is "
                + ("lost" if ratio > 1 else "interpolated"))
    return (f"{size[0]}x{size[1]} runs at {ratio:.1f}x the scale the model trained at ({trained[0]}x{trained[1]}): "
            "expect texture of the wrong size; --size trained (the default) resizes to it")
