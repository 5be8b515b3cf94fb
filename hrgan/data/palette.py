"""Colour-coded label images (e.g. CMP facades) to class ids through a palette file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Palette:
    """Class colours: ``colors[i]`` is the RGB of class ``ids[i]``."""

    colors: np.ndarray  # [K, 3] float
    ids: np.ndarray  # [K] int
    tolerance: float = 30.0

    @classmethod
    def load(cls, path: str | Path, *, tolerance: float = 30.0) -> Palette:
        """Read a palette JSON file.

        Accepted forms: ``{"classes": [{"index": 0, "rgb": [r, g, b]}, ...]}``
        (``../shared/data/facades/palette.json``), ``{"colors": [[r, g, b], ...]}`` (index =
        position; our ``classes.json``) or ``{"r,g,b": id, ...}``.
        """
        path = Path(path)
        try:
            spec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read palette file {path}: {error}") from error
        if isinstance(spec, dict) and isinstance(spec.get("classes"), list):
            pairs = [(entry["index"], entry["rgb"]) for entry in spec["classes"]]
        elif isinstance(spec, dict) and isinstance(spec.get("colors"), list):
            pairs = list(enumerate(spec["colors"]))
        elif isinstance(spec, dict) and spec and all("," in k for k in spec):
            pairs = [(v, [int(c) for c in k.split(",")]) for k, v in spec.items()]
        else:
            raise ValueError(f"{path}: unrecognised palette format; expected 'classes', 'colors' or 'r,g,b' keys")
        ids = np.array([int(i) for i, _ in pairs])
        colors = np.array([[float(c) for c in rgb] for _, rgb in pairs])
        if colors.ndim != 2 or colors.shape[1] != 3:
            raise ValueError(f"{path}: every palette colour needs 3 components")
        return cls(colors=colors, ids=ids, tolerance=tolerance)

    def to_ids(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """[H, W, 3] uint8 -> (class ids [H, W], fraction of pixels farther than ``tolerance`` from every colour).

        Every pixel gets its nearest colour's class; the fraction says how much
        of the image did not really match (JPEG-blended borders, a wrong palette).
        """
        packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        unique, inverse = np.unique(packed.ravel(), return_inverse=True)
        colours = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1).astype(float)
        distance = np.linalg.norm(colours[:, None, :] - self.colors[None, :, :], axis=2)  # [U, K]
        nearest = distance.argmin(1)
        far = distance[np.arange(len(unique)), nearest] > self.tolerance
        ids = self.ids[nearest][inverse].reshape(rgb.shape[:2])
        outside = float(far[inverse].mean())
        return ids, outside
