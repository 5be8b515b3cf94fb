"""Writing an evaluation: the JSON report, the per-class table and the worst/best grid, each atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hrgan.io import write_bytes_atomic
from hrgan.visualize import save_png

SUMMARY_KEYS = ("num_samples", "fid", "psnr", "ssim", "miou", "pixel_accuracy")


def class_rows(result: dict, names: list[str]) -> list[dict]:
    """One row per class the labels contain: pixels, PSNR of the generated photo over the class's pixels,
    and the segmenter's IoU on generated and on real photos (the columns that were measured)."""
    segmentation = result.get("segmentation")
    pixels = result.get("pixels_per_class") or (segmentation["fake"]["pixels_per_class"] if segmentation else [])
    rows = []
    for index, count in enumerate(pixels):
        if count == 0:
            continue
        row = {"class": index, "name": names[index] if index < len(names) else str(index), "pixels": count}
        if "per_class_psnr" in result:
            row["psnr"] = result["per_class_psnr"][index]
        if segmentation:
            row["iou_generated"] = segmentation["fake"]["per_class_iou"][index]
            row["iou_real"] = segmentation["real"]["per_class_iou"][index]
        rows.append(row)
    return rows


COLUMNS = {"psnr": ("PSNR dB", "{:.2f}"), "iou_generated": ("IoU generated", "{:.4f}"), "iou_real": ("IoU real", "{:.4f}")}


def class_table(rows: list[dict]) -> str:
    """The per-class rows as a Markdown table."""
    measured = [key for key in COLUMNS if rows and key in rows[0]]
    lines = ["| class | name | pixels | " + " | ".join(COLUMNS[k][0] for k in measured) + " |",
             "|---|---|---|" + "---|" * len(measured)]
    for row in rows:
        cells = [COLUMNS[k][1].format(row[k]) for k in measured]
        lines.append(f"| {row['class']} | {row['name']} | {row['pixels']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summary_line(result: dict) -> str:
    """'samples 12, FID 153.2, PSNR 21.40 dB, ...' for the terminal and the logs."""
    parts = [f"samples {result['num_samples']}"]
    formats = {"fid": "FID {:.2f}", "psnr": "PSNR {:.2f} dB", "ssim": "SSIM {:.4f}",
               "miou": "mIoU {:.4f}", "pixel_accuracy": "pixel accuracy {:.4f}"}
    for key, fmt in formats.items():
        if key in result:
            parts.append(fmt.format(result[key]))
    if "segmentation" in result:
        parts.append(f"(real photos: mIoU {result['segmentation']['real']['miou']:.4f}, "
                     f"pixel accuracy {result['segmentation']['real']['pixel_accuracy']:.4f})")
    return ", ".join(parts)


def grid(worst: list, best: list, ranked_by: str | None) -> np.ndarray | None:
    """Worst samples above, best below; each row label colours | generated | real, with its key and score."""
    sections = [("worst", worst), ("best", best)]
    panels = []
    for title, items in sections:
        for score, key, pictures in items:
            row = np.concatenate(pictures, axis=1)
            caption = Image.new("RGB", (row.shape[1], 14), "white")
            ImageDraw.Draw(caption).text((2, 1), f"{title}: {key}  {ranked_by} {score:.4g}", fill="black")
            panels += [np.asarray(caption), row]
    if not panels:
        return None
    width = max(p.shape[1] for p in panels)
    padded = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=255) for p in panels]
    return np.concatenate(padded, axis=0)


def _json_number(value):
    return value if not isinstance(value, float) or math.isfinite(value) else str(value)  # "inf", "nan"


def write_report(out: str | Path, result: dict, *, names: list[str], meta: dict) -> dict[str, Path]:
    """``out`` (JSON) plus ``<stem>_classes.md`` and ``<stem>_grid.png`` beside it; returns what was written."""
    out = Path(out)
    rows = class_rows(result, names)
    report = {
        **meta,
        **{k: _json_number(result[k]) for k in SUMMARY_KEYS if k in result},
        "segmentation_real": {k: _json_number(result["segmentation"]["real"][k]) for k in ("miou", "pixel_accuracy")}
        if "segmentation" in result else None,
        "per_class": [{k: _json_number(v) for k, v in row.items()} for row in rows],
        "ranked_by": result.get("ranked_by"),
        "worst": [{"key": key, "score": _json_number(score)} for score, key, _ in result["worst"]],
        "best": [{"key": key, "score": _json_number(score)} for score, key, _ in result["best"]],
        "samples": [{k: _json_number(v) for k, v in row.items()} for row in result["samples"]],
    }
    written = {"report": write_bytes_atomic(out, (json.dumps(report, indent=2) + "\n").encode())}
    if rows:
        written["classes"] = write_bytes_atomic(out.with_name(out.stem + "_classes.md"), class_table(rows).encode())
    picture = grid(result["worst"], result["best"], result.get("ranked_by"))
    if picture is not None:
        written["grid"] = save_png(out.with_name(out.stem + "_grid.png"), picture)
    return written
