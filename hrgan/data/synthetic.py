"""Synthetic street scenes: label map, instance map and photo, deterministic from a seed, at any size.

The scene is laid out in normalised coordinates (so one seed gives the same
scene at every resolution) and rasterised with a painter's algorithm. The
photo is rendered from the label and instance maps alone, plus one random
colour per car and per person's shirt (the per-instance appearance the
instance-feature encoder can learn). Textures are anchored to each region's
bounding box and include detail a few pixels wide (window grids, paving
joints, lane dashes, leaf patterns) that only a full-resolution model reproduces.
``hrgan synth`` writes them (``hrgan.commands.synth``).
"""

from __future__ import annotations

import io
import json
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from hrgan.data.images import encode_png
from hrgan.io import write_bytes_atomic

# (name, colour for visualisation (Cityscapes'), has instances)
CLASSES = (
    ("sky", (70, 130, 180), False),
    ("road", (128, 64, 128), False),
    ("sidewalk", (244, 35, 232), False),
    ("building", (70, 70, 70), True),
    ("vegetation", (107, 142, 35), False),
    ("car", (0, 0, 142), True),
    ("person", (220, 20, 60), True),
    ("pole", (153, 153, 153), True),
)
SKY, ROAD, SIDEWALK, BUILDING, VEGETATION, CAR, PERSON, POLE = range(len(CLASSES))
LABEL_NC = len(CLASSES)
INSTANCE_OFFSET = 1000  # Cityscapes convention: a thing's instance id is class * 1000 + k

CAR_COLOURS = ((200, 30, 30), (235, 235, 235), (25, 25, 28), (160, 165, 170), (30, 60, 160), (40, 110, 60), (230, 180, 40))


@dataclass
class Shape:
    """A filled shape in normalised coordinates: a rectangle or an ellipse inside its box."""

    cls: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in [0, 1]
    kind: str = "rect"
    instance: int | None = None  # k of class * 1000 + k for things


@dataclass
class Scene:
    shapes: list[Shape] = field(default_factory=list)
    horizon: float = 0.45
    road_centre: float = 0.5
    road_drift: float = 0.0
    appearance: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # instance id -> RGB


def _road_half_width(t: float) -> float:
    return 0.03 + 0.55 * t


def _sidewalk_width(t: float) -> float:
    return 0.01 + 0.3 * t


def sample_scene(seed: int, index: int = 0) -> Scene:
    """Lay out one street scene; the same (seed, index) always gives the same scene."""
    rng = np.random.default_rng([seed, index])
    scene = Scene(horizon=float(rng.uniform(0.38, 0.5)), road_drift=float(rng.uniform(-0.1, 0.1)))
    h = scene.horizon
    counters = {cls: 0 for cls, (_, _, thing) in enumerate(CLASSES) if thing}

    def thing(cls: int) -> int:
        counters[cls] += 1
        return counters[cls] - 1

    def road_x(y: float) -> tuple[float, float, float]:
        t = (y - h) / (1 - h)
        return scene.road_centre + scene.road_drift * t, _road_half_width(t), _sidewalk_width(t)

    scene.shapes.append(Shape(SKY, (0, 0, 1, 1)))
    x = float(rng.uniform(-0.05, 0.0))
    while x < 1.0:  # a terrace of buildings, touching, each its own instance
        width = float(rng.uniform(0.06, 0.2))
        if rng.random() < 0.85:
            top = float(rng.uniform(0.04, h - 0.1))
            scene.shapes.append(Shape(BUILDING, (x, top, x + width, h + 0.01), instance=thing(BUILDING)))
        x += width
    for _ in range(int(rng.integers(2, 6))):  # trees: crown and trunk
        cx, cy, rx = float(rng.uniform(0, 1)), float(rng.uniform(h - 0.2, h - 0.06)), float(rng.uniform(0.025, 0.07))
        ry = rx * float(rng.uniform(1.4, 2.2))
        scene.shapes.append(Shape(VEGETATION, (cx - 0.004, cy, cx + 0.004, h + 0.02)))
        scene.shapes.append(Shape(VEGETATION, (cx - rx, cy - ry, cx + rx, cy + ry), kind="ellipse"))
    # Ground: sidewalk everywhere below the horizon, then the road as thin horizontal strips (a trapezoid).
    scene.shapes.append(Shape(SIDEWALK, (0, h, 1, 1)))
    strips = 64
    for i in range(strips):
        y0 = h + (1 - h) * i / strips
        y1 = h + (1 - h) * (i + 1) / strips
        centre, half, _ = road_x((y0 + y1) / 2)
        scene.shapes.append(Shape(ROAD, (centre - half, y0, centre + half, y1)))

    objects: list[tuple[float, list[Shape]]] = []  # (bottom y, shapes), drawn far to near
    for _ in range(int(rng.integers(2, 5))):  # poles at the kerb
        yb = float(rng.uniform(h + 0.08, 0.97))
        t = (yb - h) / (1 - h)
        centre, half, side = road_x(yb)
        px = centre + (1 if rng.random() < 0.5 else -1) * (half + side * 0.25)
        height, width = 0.45 * t + 0.08, 0.004 * t + 0.002
        objects.append((yb, [Shape(POLE, (px - width, yb - height, px + width, yb), instance=thing(POLE))]))

    def car(x0: float, yb: float, width: float) -> list[Shape]:
        k = thing(CAR)
        height = width * 0.55
        colour = np.array(CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))]) + rng.integers(-15, 16, 3)
        scene.appearance[CAR * INSTANCE_OFFSET + k] = tuple(int(c) for c in np.clip(colour, 0, 255))
        return [
            Shape(CAR, (x0, yb - 0.55 * height, x0 + width, yb), instance=k),
            Shape(CAR, (x0 + 0.18 * width, yb - height, x0 + 0.82 * width, yb - 0.5 * height), instance=k),
        ]

    # A parked row: 2-3 touching cars that only the instance map tells apart.
    yb = float(rng.uniform(h + 0.25 * (1 - h), 0.95))
    centre, half, _ = road_x(yb)
    width = half * float(rng.uniform(0.25, 0.3))
    x0 = centre + half * 0.05
    row = []
    for _ in range(int(rng.integers(2, 4))):
        row += car(x0, yb, width)
        x0 += width
    objects.append((yb, row))
    for _ in range(int(rng.integers(1, 4))):  # cars driving in the left lane
        yb = float(rng.uniform(h + 0.1, 0.99))
        centre, half, _ = road_x(yb)
        width = half * float(rng.uniform(0.35, 0.5))
        objects.append((yb, car(centre - half * 0.9, yb, width)))
    for _ in range(int(rng.integers(2, 4))):  # groups of 1-3 touching people on the left sidewalk
        yb = float(rng.uniform(h + 0.1, 0.98))
        t = (yb - h) / (1 - h)
        centre, half, side = road_x(yb)
        height = 0.35 * t + 0.04
        width = height * 0.3 * 0.5  # normalised for a 2:1 frame
        x0 = centre - half - side * float(rng.uniform(0.2, 0.7))
        group = []
        for _ in range(int(rng.integers(1, 4))):
            k = thing(PERSON)
            shirt = rng.integers(0, 256, 3)
            scene.appearance[PERSON * INSTANCE_OFFSET + k] = tuple(int(c) for c in shirt)
            group.append(Shape(PERSON, (x0, yb - height * 0.82, x0 + width, yb), instance=k))
            head = width * 0.3
            group.append(Shape(PERSON, (x0 + head, yb - height, x0 + width - head, yb - height * 0.8), kind="ellipse", instance=k))
            x0 -= width
        objects.append((yb, group))
    for _, shapes in sorted(objects, key=lambda item: item[0]):
        scene.shapes.extend(shapes)
    return scene


def rasterize(scene: Scene, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Scene -> (label uint8 [H, W], instance int32 [H, W]); stuff pixels carry their class id as instance id."""
    label = np.zeros((height, width), np.uint8)
    instance = np.zeros((height, width), np.int32)
    for shape in scene.shapes:
        x0, y0, x1, y1 = shape.box
        c0, c1 = max(0, math.floor(x0 * width + 0.5)), min(width, math.floor(x1 * width + 0.5))
        r0, r1 = max(0, math.floor(y0 * height + 0.5)), min(height, math.floor(y1 * height + 0.5))
        if c1 <= c0 or r1 <= r0:
            continue
        if shape.kind == "ellipse":
            xs = (np.arange(c0, c1) + 0.5) / width
            ys = (np.arange(r0, r1) + 0.5) / height
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
            mask = ((xs[None, :] - cx) / rx) ** 2 + ((ys[:, None] - cy) / ry) ** 2 <= 1
        else:
            mask = np.ones((r1 - r0, c1 - c0), bool)
        ident = shape.cls if shape.instance is None else shape.cls * INSTANCE_OFFSET + shape.instance
        label[r0:r1, c0:c1][mask] = shape.cls
        instance[r0:r1, c0:c1][mask] = ident
    return label, instance


def _region_boxes(instance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pixel (x0, y0, width, height) of the bounding box of the pixel's instance region."""
    h, w = instance.shape
    ids, inverse = torch.unique(instance.flatten(), return_inverse=True)
    ys = torch.arange(h).repeat_interleave(w)
    xs = torch.arange(w).repeat(h)
    n = ids.numel()
    big = torch.full((n,), 1 << 30, dtype=torch.long)
    x0 = big.scatter_reduce(0, inverse, xs, "amin")
    y0 = big.scatter_reduce(0, inverse, ys, "amin")
    x1 = torch.zeros(n, dtype=torch.long).scatter_reduce(0, inverse, xs, "amax")
    y1 = torch.zeros(n, dtype=torch.long).scatter_reduce(0, inverse, ys, "amax")
    per_pixel = [v[inverse].view(h, w) for v in (x0, y0, x1 - x0 + 1, y1 - y0 + 1)]
    return per_pixel[0], per_pixel[1], per_pixel[2], per_pixel[3]


def render_photo(label: np.ndarray, instance: np.ndarray, appearance: dict[int, tuple[int, int, int]]) -> np.ndarray:
    """Render the photo [H, W, 3] uint8 from the maps and the per-instance colours."""
    lab = torch.from_numpy(label.astype(np.int64))
    inst = torch.from_numpy(instance.astype(np.int64))
    h, w = lab.shape
    py = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w)
    px = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w)
    bx, by, bw, bh = (v.float() for v in _region_boxes(inst))
    lx, ly = px - bx, py - by  # coordinates inside the region's box
    ty = ly / bh.clamp_min(1)  # 0 at the top of the region, 1 at its bottom
    tx = lx / bw.clamp_min(1)
    rgb = torch.zeros(h, w, 3)

    def paint(mask: torch.Tensor, colour) -> None:
        colour = torch.as_tensor(colour, dtype=torch.float32)
        rgb[mask] = colour.expand(h, w, 3)[mask] if colour.dim() == 3 else colour

    def lerp(a, b, t):
        return torch.tensor(a, dtype=torch.float32) + (torch.tensor(b, dtype=torch.float32) - torch.tensor(a, dtype=torch.float32)) * t.unsqueeze(-1)

    paint(lab == SKY, lerp((70, 120, 200), (185, 210, 235), py / h))

    road = lab == ROAD
    paint(road, lerp((75, 75, 80), (110, 108, 112), py / h))
    # Lane dashes on the road's centre line, thinning and shortening towards the horizon.
    carriageway = road | (lab == CAR)  # cars stand inside the road, so together they give its extent
    row_span = torch.where(carriageway, px, torch.full_like(px, float(w))).amin(1, keepdim=True)
    row_end = torch.where(carriageway, px, torch.full_like(px, -1.0)).amax(1, keepdim=True)
    row_centre, row_width = (row_span + row_end) / 2, (row_end - row_span).clamp_min(0)
    top = by.masked_fill(~road, float(h)).amin()
    depth = (py - top).clamp_min(1)
    dashes = road & ((px - row_centre).abs() < (row_width * 0.004).clamp_min(0.6)) & (torch.frac(torch.log(depth) * 4.0) < 0.5)
    paint(dashes, (235, 235, 225))

    sidewalk = lab == SIDEWALK
    paving = (torch.remainder(px, 6) < 1) | (torch.remainder(py, 4) < 1)  # joints, anchored to the image (the sidewalk spans it)
    paint(sidewalk, (175, 170, 165))
    paint(sidewalk & paving, (140, 136, 132))

    building = lab == BUILDING
    facade = lerp((205, 185, 150), (150, 80, 60), (bh / h).clamp(0, 1))
    paint(building, facade * (1.0 - 0.25 * ty).unsqueeze(-1))
    windows = building & (lx >= 3) & (lx < bw - 3) & (ly >= 4) & (torch.remainder(lx, 4) < 2) & (torch.remainder(ly, 6) < 3)
    paint(windows, (45, 55, 75))

    vegetation = lab == VEGETATION
    leaves = 0.5 + 0.25 * torch.sin(lx * 1.9 + 2.0 * torch.sin(ly * 0.7)) + 0.25 * torch.cos(ly * 1.3 - lx * 0.4)
    paint(vegetation, lerp((30, 70, 20), (95, 150, 55), leaves))

    pole = lab == POLE
    paint(pole, lerp((150, 150, 150), (80, 80, 85), ty))

    car = lab == CAR
    person = lab == PERSON
    own = torch.zeros(h, w, 3)
    for ident, colour in appearance.items():
        own[inst == ident] = torch.tensor(colour, dtype=torch.float32)
    body = car & (ty >= 0.45)
    paint(body, own * (1.1 - 0.45 * (ty - 0.45)).unsqueeze(-1))
    cabin = car & (ty < 0.45)
    glass = cabin & (lx >= 2) & (lx < bw - 2) & (ly >= 2)
    paint(cabin, own)
    paint(glass, lerp((55, 70, 85), (25, 30, 40), ty / 0.45))
    wheels = car & (ty > 0.85) & (((tx > 0.08) & (tx < 0.28)) | ((tx > 0.72) & (tx < 0.92)))
    paint(wheels, (18, 18, 20))
    paint(person & (ty < 0.2), (225, 185, 155))
    paint(person & (ty >= 0.2) & (ty < 0.58), own)
    paint(person & (ty >= 0.58), (40, 42, 70))

    shade = 1.0 - 0.12 * (py / h)  # a soft global light fall-off
    return (rgb * shade.unsqueeze(-1)).round().clamp(0, 255).to(torch.uint8).numpy()


def generate(seed: int, index: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label uint8 [H, W], instance int32 [H, W], photo uint8 [H, W, 3]) for sample ``index`` of ``seed``."""
    scene = sample_scene(seed, index)
    label, instance = rasterize(scene, width, height)
    present = {int(i) for i in np.unique(instance)}
    return label, instance, render_photo(label, instance, {k: v for k, v in scene.appearance.items() if k in present})


def classes_json() -> dict:
    """The ``classes.json`` written next to a synthetic set."""
    return {
        "label_nc": LABEL_NC,
        "ignore_index": None,
        "names": [name for name, _, _ in CLASSES],
        "colors": [list(colour) for _, colour, _ in CLASSES],
        "instance_classes": [i for i, (_, _, thing) in enumerate(CLASSES) if thing],
        "random_appearance_classes": [CAR, PERSON],  # colours drawn per instance: no model can predict them
        "instance_encoding": f"class * {INSTANCE_OFFSET} + k for instance classes, class id elsewhere",
    }


def _write_one(args: tuple[Path, str, int, int, int, int, str]) -> str:
    out, split, seed, index, width, height, image_format = args
    label, instance, photo = generate(seed, index, width, height)
    name = f"synth_s{seed}_{index:06d}"
    write_bytes_atomic(out / f"{split}_label" / f"{name}.png", encode_png(label))
    write_bytes_atomic(out / f"{split}_inst" / f"{name}.png", encode_png(instance.astype(np.uint16)))
    write_bytes_atomic(out / f"{split}_img" / f"{name}.{image_format}", encode_png(photo) if image_format == "png" else _jpeg(photo))
    return name


def _jpeg(photo: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def write_dataset(
    out: Path, *, num: int, width: int, height: int, seed: int = 0, split: str = "train",
    image_format: str = "png", workers: int = 1, progress: bool = True,
) -> list[str]:
    """Write ``num`` scenes in pix2pixHD's folder layout plus ``classes.json``; returns the sample names."""
    out = Path(out)
    jobs = [(out, split, seed, i, width, height, image_format) for i in range(num)]
    bar = tqdm(total=num, desc=f"synth {split}", unit="scene", disable=not progress)
    names = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for name in pool.map(_write_one, jobs, chunksize=4):
                names.append(name)
                bar.update()
    else:
        for job in jobs:
            names.append(_write_one(job))
            bar.update()
    bar.close()
    write_bytes_atomic(out / "classes.json", json.dumps(classes_json(), indent=2).encode())
    return names
