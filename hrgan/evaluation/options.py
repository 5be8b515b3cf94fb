"""What ``hrgan evaluate`` is asked to measure, as typed values that parse without torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

METRICS = ("fid", "psnr", "ssim", "miou")


def parse_metrics(text: str) -> tuple[str, ...]:
    """'fid,psnr' -> ('fid', 'psnr'); unknown names raise ValueError listing the known ones."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ValueError(f"unknown metric(s) {unknown or text!r}; choose from {','.join(METRICS)}")
    return names


@dataclass(frozen=True)
class EvaluateOptions:
    """One evaluation run (see ``hrgan.evaluation.run.evaluate``).

    Args:
        checkpoint: an export or a Lightning checkpoint.
        data: shard URLs (paths, globs, brace patterns, pipe:) or a dataset folder.
        out: the report JSON; a dataset folder is sharded once into ``<out stem>_shards/`` beside it.
        metrics: names from ``METRICS``.
        layout, split: how to read a dataset folder, and which split.
        direction: the ``aligned`` layout's order of halves (``AtoB``: the left half is the input).
        inception_weights: FID's Inception file (default: the torch hub cache).
        segmenter: TorchScript segmentation network, for ``miou``.
        batch_size, workers: per process.
        load_size: resize every sample (photo included) to (W, H) first.
        scale: the size the model runs at, each generated photo resized back to its sample's size for scoring:
            ``trained`` (the training resolution's scale), ``native`` (the samples' own) or (W, H).
        precision: generator precision (``hrgan.inference.options.PRECISION_NAMES``).
        keep: worst and best samples in the grid.
    """

    checkpoint: Path
    data: str
    out: Path
    metrics: tuple[str, ...] = ("fid", "psnr", "ssim")
    layout: str = "pix2pixhd"
    direction: str = "AtoB"
    split: str = "test"
    inception_weights: str | None = None
    segmenter: Path | None = None
    batch_size: int = 4
    workers: int = 2
    load_size: tuple[int, int] | None = None
    scale: str | tuple[int, int] = "trained"
    precision: str = "32"
    keep: int = 4
