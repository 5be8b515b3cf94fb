"""Real-data quality on CMP facades (issue 15, point 6): PSNR, SSIM and FCN-score of each generator family
after the same wall-clock training budget, beside the real photos and the per-class mean colour.

    python benchmarks/quality.py                                    # the pix2pixHD row: 30 minutes of hrgan fit
    python benchmarks/quality.py --minutes 2 --segmenter-minutes 2 --out runs/quality_smoke \\
        --model 'tiny=configs/facades_256.yaml,--model.generator.init_args.ngf=16'        # a smoke test
    python benchmarks/quality.py --model pix2pixhd_global=configs/facades_256.yaml --model 'unet=configs/x.yaml'
    python benchmarks/quality.py --table                            # reprint the table of what --out holds

Steps, each skipped when its output exists under ``--out`` (default ``runs/quality/``):
  1. ``hrgan shards`` of the facades train and test splits (``label_approx`` index maps, 12 classes), and for
     image-input models (a config with ``model.label_nc: 0``: pix2pix, pix2pixHD's label_nc 0) ``image_shards/``
     of the colour-coded ``label_rgb`` images as input images (``--input image``);
  2. the FCN-score network, ``benchmarks/fcn_segmenter.py`` (``segmenter.pt`` + ``.json``);
  3. the reference rows (``reference.json``): the segmenter on the 106 real test photos (the ceiling)
     and the class-mean baseline (each class's mean colour over the 400 training photos, painted onto
     the test maps), scored with ``hrgan.evaluation.metrics.EvaluationMetrics``;
  4. per ``--model NAME=CONFIG[,--override=value...]``: ``hrgan fit`` for ``--minutes`` of training
     (Lightning's ``max_time``; no logger, no validation loop) into ``models/NAME/``, then
     ``hrgan evaluate`` of its ``export.pt`` on the test shards with PSNR, SSIM and the segmenter
     (``models/NAME/eval/report.json``), summed up in ``models/NAME/result.json``; an image-input model is
     evaluated with PSNR and SSIM by ``hrgan evaluate`` on the image shards, and its FCN-score computed here
     (the same ``EvaluationMetrics``) from its outputs for the test colour labels against the index maps;
  5. grids of 8 fixed test maps: ``models/NAME/grid.png`` (label | generated | real) and
     ``grid.png`` (label | class mean | every model | real).
Prints a Markdown table and writes ``results.json``. "train minutes" is the fit process's wall time
(the budget plus start-up and the final checkpoint); "iterations" the export's. FCN pixel accuracy is
pooled over the test pixels for the reference rows and the mean over images in ``hrgan evaluate``'s
report, the same number here (every test map is 256x256, no ignore label). A model row is reused only with the same
budget and the same segmenter (a new segmenter re-evaluates, it does not retrain). Every fit gets
``--model.vgg_if_available=true``: without VGG19's weights in the torch hub cache the row trains
without the VGG loss, and the table says so. Threads: set ``OMP_NUM_THREADS`` (every step inherits it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fcn_segmenter import DATA, LABEL_NC, load_split  # noqa: E402
from hrgan.evaluation.fidelity import class_mean_colours  # noqa: E402
from hrgan.evaluation.metrics import EvaluationMetrics, load_segmenter  # noqa: E402
from hrgan.io import write_bytes_atomic  # noqa: E402
from hrgan.pixels import from_uint8  # noqa: E402
from hrgan.pretrained import find_cached_vgg19  # noqa: E402
from hrgan.visualize import colorize_labels, image_to_uint8, save_png, side_by_side  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GRID_KEYS = ("1", "14", "27", "40", "53", "66", "79", "92")
DEFAULT_MODEL = "pix2pixhd_global=configs/facades_256.yaml"
COLUMNS = ("psnr", "ssim", "fcn_miou", "fcn_pixel_accuracy", "train_minutes", "iterations")


@dataclass(frozen=True)
class ModelSpec:
    """One model row: a name (its folder), a config and hrgan fit overrides."""

    name: str
    config: str
    overrides: tuple[str, ...] = ()


def parse_model(text: str) -> ModelSpec:
    """'NAME=CONFIG[,--key=value,...]' -> ModelSpec; commas inside a value (lists) are kept."""
    name, sep, rest = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not rest:
        raise argparse.ArgumentTypeError(f"--model {text!r}: expected NAME=CONFIG[,--key=value...], NAME of letters, digits, _.-")
    config, *overrides = re.split(r",(?=--)", rest)
    return ModelSpec(name, config, tuple(overrides))


def run_logged(command: list[str], log: Path) -> float:
    """Run ``command`` in the repository with its output in ``log``; its wall seconds; RuntimeError on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "offline"})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... exited {done.returncode}; see {log}")
    return time.perf_counter() - start


def hrgan(*args: str) -> list[str]:
    return [sys.executable, "-m", "hrgan.cli", *args]


def digest(path: Path) -> str:
    """First 16 hex digits of the file's SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def write_json(path: Path, value: dict) -> None:
    write_bytes_atomic(path, (json.dumps(value, indent=1) + "\n").encode())


def make_shards(run: Path, data: Path) -> Path:
    """``RUN/shards/{train,test}-*.tar`` of the facades index maps."""
    shards = run / "shards"
    for split in ("train", "test"):
        if not list(shards.glob(f"{split}-*.tar")):
            run_logged(hrgan("shards", "--layout", "folders", "--root", str(data), "--labels", "{split}_label_approx",
                             "--images", "{split}_img", "--label-nc", str(LABEL_NC), "--split", split, "--out", str(shards),
                             "--overwrite"), run / "logs" / f"shards_{split}.log")
    return shards


def make_image_shards(run: Path, data: Path) -> Path:
    """``RUN/image_shards/{train,test}-*.tar``: the colour-coded label images as image inputs (label_nc 0)."""
    shards = run / "image_shards"
    for split in ("train", "test"):
        if not list(shards.glob(f"{split}-*.tar")):
            run_logged(hrgan("shards", "--layout", "folders", "--root", str(data), "--labels", "{split}_label_rgb",
                             "--images", "{split}_img", "--input", "image", "--split", split, "--out", str(shards),
                             "--overwrite"), run / "logs" / f"image_shards_{split}.log")
    return shards


def takes_images(spec: ModelSpec) -> bool:
    """Whether the model row's config (or an override) sets ``model.label_nc: 0``."""
    label_nc = (yaml.safe_load((REPO / spec.config).read_text()).get("model") or {}).get("label_nc")
    for override in spec.overrides:
        if override.startswith("--model.label_nc="):
            label_nc = int(override.split("=", 1)[1])
    return label_nc == 0


def colour_labels(data: Path, split: str, keys: list[str]) -> torch.Tensor:
    """The colour-coded label images of ``keys``, uint8 [N, 3, H, W] (an image-input model's inputs)."""
    pictures = [np.asarray(Image.open(data / f"{split}_label_rgb" / f"{k}.jpg").convert("RGB")) for k in keys]
    return torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).contiguous()


def make_segmenter(run: Path, data: Path, minutes: float, seed: int) -> tuple[Path, dict]:
    """The FCN-score network and its record (``benchmarks/fcn_segmenter.py``), trained once."""
    path = run / "segmenter.pt"
    if not path.is_file() or not path.with_suffix(".json").is_file():
        run_logged([sys.executable, str(REPO / "benchmarks" / "fcn_segmenter.py"), "--data", str(data), "--out", str(path),
                    "--minutes", str(minutes), "--seed", str(seed)], run / "logs" / "segmenter.log")
    record = read_json(path.with_suffix(".json"))
    if record.get("minutes") not in (None, minutes):
        raise RuntimeError(f"{path} was trained for {record['minutes']} minutes, not {minutes}: use another --out, or delete it")
    return path, record


def batches(photos: torch.Tensor, labels: torch.Tensor, size: int = 50):
    """{"image" [-1, 1], "label"} batches of a split held in memory."""
    for start in range(0, len(photos), size):
        yield {"image": from_uint8(photos[start : start + size]), "label": labels[start : start + size]}


def class_mean_images(means: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The baseline: every pixel painted with its class's mean colour, [B, 3, H, W] in [-1, 1]."""
    return means[labels].permute(0, 3, 1, 2)


def reference_rows(run: Path, data: Path, segmenter: Path) -> dict:
    """The real-photo and class-mean rows (cached in ``reference.json`` for this segmenter), and the class means."""
    cached = read_json(run / "reference.json")
    if cached and cached["segmenter_digest"] == digest(segmenter):
        return cached
    _, photos, labels = load_split(data, "train")
    means = class_mean_colours(batches(photos, labels), LABEL_NC)
    keys, test_photos, test_labels = load_split(data, "test")
    metrics = EvaluationMetrics(metrics=("psnr", "ssim", "miou"), label_nc=LABEL_NC,
                                segmenter=load_segmenter(segmenter, torch.device("cpu")), keep=0)
    for start, batch in zip(range(0, len(keys), 50), batches(test_photos, test_labels), strict=True):
        metrics.update(class_mean_images(means, batch["label"]), batch["image"], batch["label"], keys[start : start + 50])
    result = metrics.compute()
    fake, real = result["segmentation"]["fake"], result["segmentation"]["real"]
    rows = {
        "real": {"row": "real photos (upper bound)", "psnr": "inf", "ssim": 1.0, "fcn_miou": real["miou"],
                 "fcn_pixel_accuracy": real["pixel_accuracy"], "fcn_per_class_iou": real["per_class_iou"]},
        "class_mean": {"row": "class-mean baseline", "psnr": result["psnr"], "ssim": result["ssim"], "fcn_miou": fake["miou"],
                       "fcn_pixel_accuracy": fake["pixel_accuracy"], "fcn_per_class_iou": fake["per_class_iou"]},
    }
    value = {"segmenter_digest": digest(segmenter), "num_samples": result["num_samples"],
             "class_means": means.tolist(), "rows": rows}
    write_json(run / "reference.json", value)
    return value


def max_time(minutes: float) -> str:
    """Lightning's ``DD:HH:MM:SS``."""
    seconds = round(minutes * 60)
    return f"{seconds // 86400:02d}:{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def vgg_used(config_file: Path) -> bool:
    """Whether the resolved config trained with the VGG loss (as ``Pix2PixHDModule`` decides it)."""
    model = yaml.safe_load(config_file.read_text())["model"]
    wanted = model.get("use_vgg_loss", True) and model.get("lambda_vgg", 10.0) > 0
    if wanted and model.get("vgg_if_available") and model.get("vgg_weights", "auto") == "auto":
        return find_cached_vgg19() is not None
    return bool(wanted)


def fit(folder: Path, spec: ModelSpec, shards: Path, minutes: float) -> dict:
    """``hrgan fit`` of ``spec`` for ``minutes`` of training into ``folder``; its record (``fit.json``), made once."""
    record = read_json(folder / "fit.json")
    if record is not None:
        if record["minutes"] != minutes:
            raise RuntimeError(f"{folder} was trained for {record['minutes']} minutes, not {minutes}: "
                               "use another --out, or delete the folder")
        return record
    command = hrgan("fit", "--config", spec.config, "--trainer.default_root_dir", str(folder),
                    "--trainer.logger=false", "--trainer.enable_progress_bar=false", "--trainer.limit_val_batches=0",
                    f"--trainer.max_time={max_time(minutes)}", f"--data.train_urls={shards / 'train-*.tar'}",
                    f"--data.val_urls={shards / 'test-*.tar'}", "--model.vgg_if_available=true", *spec.overrides)
    wall = run_logged(command, folder / "fit.log")
    if not (folder / "export.pt").is_file():
        raise RuntimeError(f"hrgan fit wrote no {folder / 'export.pt'}; see {folder / 'fit.log'}")
    log = (folder / "fit.log").read_text()
    record = {"config": spec.config, "overrides": list(spec.overrides), "minutes": minutes, "wall_s": round(wall, 1),
              "time_limit_reached": "Time limit reached" in log, "vgg_loss": vgg_used(folder / "config.yaml"),
              "threads": os.environ.get("OMP_NUM_THREADS"), "command": command[1:]}
    write_json(folder / "fit.json", record)
    return record


def per_class_iou(report: dict) -> list[float | None]:
    """The generated photos' IoU of every class from a report (None for classes absent from the labels)."""
    iou = [None] * LABEL_NC
    for entry in report["per_class"]:
        iou[entry["class"]] = entry.get("iou_generated")
    return iou


@torch.inference_mode()
def image_model_fcn_score(export: Path, data: Path, segmenter: Path) -> dict:
    """The FCN-score of an image-input model: its outputs for the test colour labels, segmented, against the
    index maps (what ``hrgan evaluate --metrics miou`` does for a label model), with PSNR and SSIM beside."""
    from hrgan.inference.synthesizer import Synthesizer

    synthesizer = Synthesizer.load(export)
    keys, photos, labels = load_split(data, "test")
    inputs = colour_labels(data, "test", keys)
    metrics = EvaluationMetrics(metrics=("psnr", "ssim", "miou"), label_nc=LABEL_NC,
                                segmenter=load_segmenter(segmenter, torch.device("cpu")), keep=0)
    for start in range(0, len(keys), 16):
        part = slice(start, start + 16)
        fake = synthesizer(from_uint8(inputs[part]))
        metrics.update(fake, from_uint8(photos[part]), labels[part], keys[part])
    result = metrics.compute()
    scores = result["segmentation"]["fake"]
    return {"psnr": result["psnr"], "ssim": result["ssim"], "miou": scores["miou"],
            "pixel_accuracy": scores["pixel_accuracy"], "per_class_iou": scores["per_class_iou"]}


def model_row(run: Path, spec: ModelSpec, shards: Path, segmenter: Path, minutes: float, data: Path) -> dict:
    """Fit (once), evaluate with the current segmenter (once), and the table row of one model."""
    folder = run / "models" / spec.name
    images = takes_images(spec)
    shards = make_image_shards(run, data) if images else shards
    record = fit(folder, spec, shards, minutes)
    cached = read_json(folder / "result.json")
    if cached and cached["segmenter_digest"] == digest(segmenter):
        return cached
    report_file = folder / "eval" / "report.json"
    metrics = ["--metrics", "psnr,ssim"] if images else ["--metrics", "psnr,ssim,miou", "--segmenter", str(segmenter)]
    run_logged(hrgan("evaluate", "--checkpoint", str(folder / "export.pt"), "--data", str(shards), "--split", "test",
                     *metrics, "--out", str(report_file), "--overwrite"), folder / "eval.log")
    report = read_json(report_file)
    if images:
        fcn = image_model_fcn_score(folder / "export.pt", data, segmenter)
        report.update(miou=fcn["miou"], pixel_accuracy=fcn["pixel_accuracy"], segmentation_real=None,
                      per_class=[{"class": c, "iou_generated": v} for c, v in enumerate(fcn["per_class_iou"])])
    note = "" if record["vgg_loss"] else " (no VGG loss)"
    row = {
        "row": f"{spec.name}: {spec.config}{note}", "psnr": report["psnr"], "ssim": report["ssim"],
        # report.json's pixel accuracy is the mean over images; all test maps are 256x256 without an
        # ignore label, so it equals the pooled figure of the reference rows (and of image models' scores here).
        "fcn_miou": report["miou"], "fcn_pixel_accuracy": report["pixel_accuracy"],
        "fcn_per_class_iou": per_class_iou(report), "inputs": "images" if images else "labels",
        "train_minutes": round(record["wall_s"] / 60, 1), "iterations": report["iteration"],
        "budget_minutes": minutes, "time_limit_reached": record["time_limit_reached"], "vgg_loss": record["vgg_loss"],
        "fcn_real_photos_by_evaluate": report["segmentation_real"], "num_samples": report["num_samples"],
        "segmenter_digest": digest(segmenter), "fit": record,
    }
    write_json(folder / "result.json", row)
    return row


def caption(width: int, names: list[str], panel: int) -> np.ndarray:
    """A white strip naming each column of ``panel`` pixels."""
    strip = Image.new("RGB", (width, 14), "white")
    draw = ImageDraw.Draw(strip)
    for i, name in enumerate(names):
        draw.text((i * panel + 2, 1), name, fill="black")
    return np.asarray(strip)


@torch.inference_mode()
def grids(run: Path, data: Path, names: list[str], means: torch.Tensor) -> Path:
    """``models/NAME/grid.png`` (label | generated | real) per model and ``grid.png`` with every column."""
    from hrgan.inference.synthesizer import Synthesizer

    keys, photos, labels = load_split(data, "test")
    index = [keys.index(k) for k in GRID_KEYS]
    photos, labels = from_uint8(photos[index]), labels[index]
    palette = np.asarray([c["rgb"] for c in json.loads((data / "palette.json").read_text())["classes"]], dtype=np.uint8)
    label_panels = [colorize_labels(label, palette) for label in labels]
    real_panels = [image_to_uint8(photo) for photo in photos]
    columns = {"class mean": [image_to_uint8(x) for x in class_mean_images(means, labels)]}
    colours = from_uint8(colour_labels(data, "test", list(GRID_KEYS)))
    for name in names:
        synthesizer = Synthesizer.load(run / "models" / name / "export.pt")
        columns[name] = [image_to_uint8(x) for x in synthesizer(colours if synthesizer.label_nc == 0 else labels)]
        rows = [side_by_side(*panels) for panels in zip(label_panels, columns[name], real_panels, strict=True)]
        save_png(run / "models" / name / "grid.png", np.concatenate(rows))
    rows = [side_by_side(label_panels[i], *(c[i] for c in columns.values()), real_panels[i]) for i in range(len(index))]
    picture = np.concatenate([caption(rows[0].shape[1], ["label", *columns, "real"], labels.shape[-1]), *rows])
    return save_png(run / "grid.png", picture)


def cell(value, column: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str) or (isinstance(value, float) and math.isinf(value)):
        return str(value)
    return {"psnr": "{:.2f}", "ssim": "{:.4f}", "train_minutes": "{:.1f}", "iterations": "{:d}"}.get(column, "{:.4f}").format(value)


def table(rows: list[dict]) -> str:
    """The Markdown table of the rows."""
    lines = ["| row | PSNR (dB) | SSIM | FCN mIoU | FCN pixel acc | train minutes | iterations |", "|---" * 7 + "|"]
    for row in rows:
        lines.append(f"| {row['row']} | " + " | ".join(cell(row.get(c), c) for c in COLUMNS) + " |")
    return "\n".join(lines)


def collect(run: Path) -> list[dict]:
    """The rows that ``run`` holds results for, references first."""
    reference = read_json(run / "reference.json")
    rows = list(reference["rows"].values()) if reference else []
    return rows + [read_json(p) for p in sorted((run / "models").glob("*/result.json"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="facades folder (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "quality", help="run folder (default: %(default)s)")
    parser.add_argument("--model", type=parse_model, action="append",
                        help=f"NAME=CONFIG[,--key=value...], repeatable (default: {DEFAULT_MODEL})")
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="training budget of every model row (default: %(default)s)")
    parser.add_argument("--segmenter-minutes", type=float, default=8.0,
                        help="training budget of the FCN-score network (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="segmenter seed (the fits use their config's seed_everything)")
    parser.add_argument("--table", action="store_true", help="only print the table of the results in --out")
    args = parser.parse_args()
    run = args.out.resolve()
    if args.table:
        print(table(collect(run)))
        return
    specs = args.model or [parse_model(DEFAULT_MODEL)]
    if len({s.name for s in specs}) != len(specs):
        parser.error("--model names must differ")
    shards = make_shards(run, args.data)
    segmenter, seg_record = make_segmenter(run, args.data, args.segmenter_minutes, args.seed)
    reference = reference_rows(run, args.data, segmenter)
    rows = list(reference["rows"].values())
    for spec in specs:
        rows.append(model_row(run, spec, shards, segmenter, args.minutes, args.data))
        print(json.dumps({k: rows[-1][k] for k in ("row", *COLUMNS)}), flush=True)
    grid = grids(run, args.data, [s.name for s in specs], torch.tensor(reference["class_means"]))
    write_json(run / "results.json", {"rows": rows, "segmenter": seg_record, "grid": str(grid)})
    print(table(rows))
    print(f"\nFCN-score network: {seg_record['parameters']:,} parameters, {seg_record['epochs']} epochs in "
          f"{seg_record['train_s'] / 60:.1f} min (threads: {seg_record['threads']}); results {run / 'results.json'}, grid {grid}")


if __name__ == "__main__":
    main()
