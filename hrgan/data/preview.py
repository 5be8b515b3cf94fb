"""See a shard set before training on it: a grid of samples with a class legend, and the classes' pixel shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from hrgan.conditioning import instance_edges
from hrgan.data.classes import ClassInfo, load_classes
from hrgan.data.shards import MANIFEST, read_manifest
from hrgan.data.stream import ShardStream, manifest_entries
from hrgan.visualize import colorize_labels, image_to_uint8

ROW_HEIGHT = 192  # pixels per sample row in the grid
SWATCH = 14


@dataclass
class ShardSet:
    """A split of a shard folder: its URLs and manifest entry."""

    urls: str
    entry: dict

    @classmethod
    def find(cls, data: str, split: str | None = None) -> ShardSet:
        """``data``: a shard folder (with manifest.json) or shard URLs/globs beside one; ``split`` picks one of
        the folder's splits (default: train, else the only one). ``FileNotFoundError``/``ValueError`` name the problem."""
        folder = Path(data)
        if folder.is_dir():
            manifest = folder / MANIFEST
            if not manifest.is_file():
                raise FileNotFoundError(f"{folder} has no {MANIFEST}: write shards with 'hrgan shards' first")
            splits = read_manifest(manifest).get("splits", {})
            if split is None:
                split = "train" if "train" in splits else next(iter(splits), None) if len(splits) == 1 else None
            if split not in splits:
                raise ValueError(f"{manifest}: pass --split, one of {', '.join(sorted(splits)) or 'none (no splits recorded)'}")
            return cls(str(folder / f"{split}-*.tar"), splits[split])
        entries = manifest_entries(data)
        if not entries:
            raise FileNotFoundError(f"{data}: no shards with a manifest.json beside them")
        return cls(data, next(iter(entries.values())))

    def classes(self, on_warning: Callable[[str], None] | None = None) -> ClassInfo:
        """The class table the shards were written with, else numbered classes (saying why to ``on_warning``)."""
        spec, label_nc = self.entry.get("classes"), self.entry["label_nc"]
        try:
            return load_classes(spec, label_nc) if spec else load_classes(None, label_nc)
        except (FileNotFoundError, ValueError) as error:
            if on_warning is not None:
                on_warning(f"numbered classes: the shards' class table cannot be read ({error})")
            return load_classes(None, label_nc)


def _fit_height(array: np.ndarray, height: int, nearest: bool) -> np.ndarray:
    width = max(1, round(array.shape[1] * height / array.shape[0]))
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(array).resize((width, height), method))


def sample_rows(shards: ShardSet, num: int, palette: np.ndarray) -> tuple[list[np.ndarray], list[str], set[int]]:
    """Up to ``num`` rows (labels | instance edges | photo, each ROW_HEIGHT high), their column names, the classes seen."""
    stream = ShardStream(shards.urls, batch_size=1, train=False, require_image=False)
    rows, columns, seen = [], ["labels"], set()
    for batch in stream:
        if len(rows) >= num:
            break
        if "label" in batch:
            label = batch["label"][0]
            ignore = shards.entry.get("ignore_index")
            seen |= {int(v) for v in torch.unique(label).tolist() if v != ignore}
            panels = [_fit_height(colorize_labels(label, palette), ROW_HEIGHT, True)]
        else:  # image-input shards
            panels = [_fit_height(image_to_uint8(batch["input"][0]), ROW_HEIGHT, False)]
        if "inst" in batch:
            edges = (instance_edges(batch["inst"])[0, 0].numpy() * 255).astype(np.uint8)
            panels.append(_fit_height(np.repeat(edges[..., None], 3, axis=2), ROW_HEIGHT, True))
        if "image" in batch:
            panels.append(_fit_height(image_to_uint8(batch["image"][0]), ROW_HEIGHT, False))
        columns = ["labels" if "label" in batch else "input", *(["instance edges"] if "inst" in batch else []), *(["photo"] if "image" in batch else [])]
        rows.append(np.concatenate(panels, axis=1))
    return rows, columns, seen


def legend(classes: ClassInfo, shown: list[int], width: int) -> np.ndarray:
    """Colour swatches with ``id name`` for the ``shown`` classes, in columns that fill ``width``."""
    cell = 180
    per_row = max(1, width // cell)
    lines = -(-len(shown) // per_row)
    image = Image.new("RGB", (max(width, cell), 8 + lines * (SWATCH + 6)), "white")
    draw = ImageDraw.Draw(image)
    for n, index in enumerate(shown):
        x, y = 6 + (n % per_row) * cell, 6 + (n // per_row) * (SWATCH + 6)
        draw.rectangle([x, y, x + SWATCH, y + SWATCH], fill=tuple(classes.colors[index]), outline="black")
        draw.text((x + SWATCH + 4, y + 1), f"{index} {classes.names[index]}"[:24], fill="black")
    return np.asarray(image)


def preview_grid(shards: ShardSet, classes: ClassInfo, num: int = 8) -> tuple[np.ndarray, list[str]]:
    """The preview picture (rows of samples, a caption strip, the legend of the classes they show) and its columns."""
    palette = np.array(classes.colors, dtype=np.uint8)
    rows, columns, seen = sample_rows(shards, num, palette)
    if not rows:
        raise ValueError(f"{shards.urls}: no readable samples")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    caption = Image.new("RGB", (width, 18), "white")
    ImageDraw.Draw(caption).text((6, 3), " | ".join(columns), fill="black")
    parts = [np.asarray(caption), *rows, legend(classes, sorted(seen), width)]
    widest = max(p.shape[1] for p in parts)
    parts = [np.pad(p, ((0, 0), (0, widest - p.shape[1]), (0, 0)), constant_values=255) for p in parts]
    return np.concatenate(parts, axis=0), columns


def class_share_table(shards: ShardSet, classes: ClassInfo) -> str:
    """Markdown: each class's share of the labelled pixels and its pixel count, commonest first."""
    counts = shards.entry.get("class_pixel_counts") or [0] * classes.label_nc
    total = max(1, sum(counts))
    lines = ["| class | name | pixel share | pixels |", "| ---: | --- | ---: | ---: |"]
    for index in sorted(range(len(counts)), key=lambda i: -counts[i]):
        lines.append(f"| {index} | {classes.names[index]} | {counts[index] / total:.2%} | {counts[index]} |")
    return "\n".join(lines)
