"""What ``hrgan infer`` is asked to do, as typed values that parse without torch (so --help answers at once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRECISION_NAMES = ("32", "bf16", "16")  # float32, bfloat16 and float16 autocast
TRAINED, NATIVE = "trained", "native"  # the scale a model runs at (hrgan.inference.scale)


def parse_scale(text: str) -> str | tuple[int, int]:
    """``trained``, ``native`` or ``WxH``; ``ValueError`` otherwise."""
    if text in (TRAINED, NATIVE):
        return text
    width, sep, height = text.lower().partition("x")
    if sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
        return int(width), int(height)
    raise ValueError(f"expected trained, native or WIDTHxHEIGHT, got {text!r}")


@dataclass(frozen=True)
class Style:
    """How instance features are chosen: random clusters, one cluster index, or a reference photo's."""

    mode: str  # "random" | "cluster" | "image"
    cluster: int | None = None
    image: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Style:
        """``random``, ``cluster:K`` or ``from-image:PATH``; ``ValueError`` otherwise."""
        if text == "random":
            return cls("random")
        kind, _, value = text.partition(":")
        if kind == "cluster" and value.isdigit():
            return cls("cluster", cluster=int(value))
        if kind == "from-image" and value:
            return cls("image", image=Path(value))
        raise ValueError(f"style must be random, cluster:K or from-image PATH, got {text!r}")


@dataclass(frozen=True)
class InferOptions:
    """Where and how ``run_inference`` writes photos.

    Args:
        out: output folder (STEM.png, and STEM_side.png with ``side_by_side``).
        instances: instance maps (file, folder or glob) paired with the labels by stem.
        instance_edges: read instance maps at all; False runs a model trained with them on an all-zero edge channel.
        scale: ``trained`` (run at the training resolution's scale, photos resized back to each map's size),
            ``native`` (run on the maps as they are) or (W, H) (resize the maps to it, nearest; photos at that size).
        palette: palette JSON for colour-coded label images.
        label_offset, ignore_index: how label files number the classes (``hrgan shards``' options of the same
            names: file value of class 0, and of unlabeled pixels); None: the export's class table's.
        batch_size: maps per forward pass (same-size neighbours are batched).
        style: instance features of models with an encoder (default: random clusters), or a VAE model's z
            (default: random).
        seed: seed of random styles; each map is reproducible alone.
        side_by_side: also write colourised label | photo.
        overwrite: replace existing outputs.
        workers: processes reading inputs.
    """

    out: Path
    instances: str | None = None
    instance_edges: bool = True
    scale: str | tuple[int, int] = "trained"
    palette: Path | None = None
    label_offset: int | None = None
    ignore_index: int | None = None
    batch_size: int = 4
    style: Style | None = None
    seed: int = 0
    side_by_side: bool = False
    overwrite: bool = False
    workers: int = 2
