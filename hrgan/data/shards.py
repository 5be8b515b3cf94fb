"""Validate paired files and write them as WebDataset shards with a manifest (behind ``hrgan shards``).

Each sample becomes ``label.png`` (8 or 16 bit), ``inst.png`` (16 bit, when
present), ``img.<ext>`` (the original bytes unless re-encoded or resized) and ``json``
(size and source paths) in ``{out}/{split}-NNNNNN.tar``. ``{out}/manifest.json``
records, per split, the shards and their sample counts, label_nc, the ignore
value, per-class pixel frequencies, image sizes, instance presence and every
skipped file with its reason. Bad samples (unreadable, truncated, sizes that
differ, label values out of range) are skipped and listed; a split counts as
failed only when more than ``max_bad_fraction`` of them are bad.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import webdataset as wds
from PIL import Image
from tqdm import tqdm

from hrgan import __version__
from hrgan.conditioning import invalid_label_values
from hrgan.data.images import BadSampleError, decode_image, encode_png, map_to_array
from hrgan.data.layouts import SampleFiles, Unpaired, find_samples
from hrgan.data.names import safe_key
from hrgan.data.palette import Palette
from hrgan.io import write_bytes_atomic

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ShardOptions:
    label_nc: int
    ignore_index: int | None = None
    palette: Palette | None = None
    reencode: str | None = None  # None (keep bytes), "png" or "jpg"
    size: tuple[int, int] | None = None  # (W, H) every sample is resized to


def nearest_resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an id map [H, W] to (W, H): ids are never blended."""
    width, height = size
    rows = np.minimum((np.arange(height) + 0.5) * array.shape[0] / height, array.shape[0] - 1).astype(np.intp)
    cols = np.minimum((np.arange(width) + 0.5) * array.shape[1] / width, array.shape[1] - 1).astype(np.intp)
    return array[np.ix_(rows, cols)]


@dataclass
class PreparedSample:
    key: str
    record: dict  # what goes into the tar: extension -> bytes
    width: int
    height: int
    class_pixels: np.ndarray
    palette_outside: float | None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadSampleError(f"{path}: cannot read ({error.strerror or error})") from error


def _check_labels(label: np.ndarray, options: ShardOptions, source: Path) -> None:
    values = invalid_label_values(label, options.label_nc, ignore_index=options.ignore_index)
    if values:
        raise BadSampleError(
            f"{source}: label values outside [0, {options.label_nc}): {values[:20]}"
            + ("" if options.ignore_index is not None else " (set --ignore-index for an 'unlabeled' value)")
        )


def prepare_sample(files: SampleFiles, options: ShardOptions) -> PreparedSample:
    """Read, validate and encode one sample; raises ``BadSampleError`` naming the file and the problem."""
    label_image = decode_image(_read(files.label), files.label)
    palette_outside = None
    if options.palette is not None and label_image.mode in ("RGB", "RGBA"):
        label, palette_outside = options.palette.to_ids(np.asarray(label_image.convert("RGB")))
    else:
        label = map_to_array(label_image, files.label, "label")
    source_height, source_width = label.shape
    if options.size is not None:
        label = nearest_resize(label, options.size)
    height, width = label.shape
    _check_labels(label, options, files.label)
    label_dtype = np.uint8 if label.max(initial=0) < 256 else np.uint16
    key = safe_key(files.key.replace(".", "_"), str(files.label))  # webdataset splits keys from extensions at the first dot
    record = {"label.png": encode_png(label.astype(label_dtype))}
    if files.instance is not None:
        instance = map_to_array(decode_image(_read(files.instance), files.instance), files.instance, "instance")
        if instance.shape != (source_height, source_width):
            raise BadSampleError(
                f"{files.instance}: instance map is {instance.shape[1]}x{instance.shape[0]}, "
                f"label map {source_width}x{source_height}"
            )
        if options.size is not None:
            instance = nearest_resize(instance, options.size)
        if instance.min(initial=0) < 0 or instance.max(initial=0) > 65535:
            raise BadSampleError(f"{files.instance}: instance ids must fit in 16 bits (0..65535)")
        record["inst.png"] = encode_png(instance.astype(np.uint16))
    if files.image is not None:
        data = _read(files.image)
        photo = decode_image(data, files.image)
        if photo.size != (source_width, source_height):
            raise BadSampleError(
                f"{files.image}: image is {photo.size[0]}x{photo.size[1]}, label map {source_width}x{source_height}"
            )
        ext = files.image.suffix.lower().lstrip(".").replace("jpeg", "jpg")
        if options.reencode or options.size is not None:
            photo = photo.convert("RGB")
            if options.size is not None:
                photo = photo.resize((width, height), Image.LANCZOS)
            fmt = options.reencode or ("jpg" if ext == "jpg" else "png")
            buffer = io.BytesIO()
            photo.save(buffer, format="PNG" if fmt == "png" else "JPEG", quality=95)
            record[f"img.{fmt}"] = buffer.getvalue()
        else:
            record[f"img.{ext}"] = data
    meta = {
        "key": files.key,
        "width": width,
        "height": height,
        "source_size": [source_width, source_height],
        "source": {k: str(v) for k, v in (("label", files.label), ("inst", files.instance), ("img", files.image)) if v},
    }
    if palette_outside is not None:
        meta["palette_outside_fraction"] = palette_outside
    record["json"] = json.dumps(meta).encode()
    valid = label if options.ignore_index is None else label[label != options.ignore_index]
    class_pixels = np.bincount(valid.ravel(), minlength=options.label_nc)[: options.label_nc]
    return PreparedSample(key, record, width, height, class_pixels, palette_outside)


def _prepare_or_report(job: tuple[SampleFiles, ShardOptions]) -> PreparedSample | Unpaired:
    files, options = job
    try:
        return prepare_sample(files, options)
    except BadSampleError as error:
        return Unpaired(files.label, str(error))


class _ShardSink:
    """Writes samples into numbered tar files, each through a temporary name and a rename."""

    def __init__(self, out: Path, split: str, *, max_samples: int, max_bytes: int) -> None:
        self.out, self.split = out, split
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.shards: list[dict] = []
        self._file = self._writer = None

    def _open(self) -> None:
        name = f"{self.split}-{len(self.shards):06d}.tar"
        self._tmp = self.out / f".{name}.{os.getpid()}.tmp"  # two writers of one folder never share a temp file
        self._file = open(self._tmp, "wb")
        self._writer = wds.TarWriter(self._file, encoder=False, mtime=0)
        self.shards.append({"url": name, "samples": 0, "bytes": 0})

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._file.close()
        os.replace(self._tmp, self.out / self.shards[-1]["url"])
        self.shards[-1]["bytes"] = (self.out / self.shards[-1]["url"]).stat().st_size
        self._file = self._writer = None

    def write(self, sample: PreparedSample) -> None:
        current = self.shards[-1] if self._writer else None
        if current is None or current["samples"] >= self.max_samples or current["bytes"] >= self.max_bytes:
            self._close()
            self._open()
        size = self._writer.write({"__key__": sample.key, **sample.record})
        self.shards[-1]["samples"] += 1
        self.shards[-1]["bytes"] += size

    def finish(self) -> list[dict]:
        self._close()
        return self.shards

    def abort(self) -> None:
        if self._writer is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)


def write_shards(
    samples: list[SampleFiles],
    out: Path,
    split: str,
    options: ShardOptions,
    *,
    max_samples: int = 1000,
    max_megabytes: float = 512,
    workers: int = 1,
    progress: bool = True,
) -> tuple[list[dict], list[Unpaired], dict]:
    """Validate and write ``samples`` in order; returns (shards, bad samples, statistics)."""
    out.mkdir(parents=True, exist_ok=True)
    sink = _ShardSink(out, split, max_samples=max_samples, max_bytes=int(max_megabytes * 2**20))
    bad: list[Unpaired] = []
    class_pixels = np.zeros(options.label_nc, dtype=np.int64)
    sizes: Counter[str] = Counter()
    outside: list[float] = []
    jobs = [(s, options) for s in samples]
    bar = tqdm(total=len(jobs), desc=f"shards {split}", unit="sample", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        results = pool.map(_prepare_or_report, jobs, chunksize=2) if pool else map(_prepare_or_report, jobs)
        for result in results:
            bar.update()
            if isinstance(result, Unpaired):
                bad.append(result)
                continue
            sink.write(result)
            class_pixels += result.class_pixels
            sizes[f"{result.width}x{result.height}"] += 1
            if result.palette_outside is not None:
                outside.append(result.palette_outside)
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()
        if pool:
            pool.shutdown()
    shards = sink.finish()
    total = int(class_pixels.sum())
    stats = {
        "class_pixel_counts": class_pixels.tolist(),
        "class_pixel_frequency": (class_pixels / max(total, 1)).round(6).tolist(),
        "image_sizes": dict(sizes),
    }
    if outside:
        stats["palette_outside_fraction"] = {"mean": float(np.mean(outside)), "max": float(np.max(outside))}
    return shards, bad, stats


def read_manifest(path: Path) -> dict:
    """A shard folder's ``manifest.json``; ``ValueError`` naming the file when it is not a manifest.

    A corrupt manifest is never replaced silently: it holds the other splits' records.
    """
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: corrupt shard manifest ({error}); repair it, or move it away and "
                         "rewrite every split with 'hrgan shards'") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("splits", {}), dict):
        raise ValueError(f"{path}: corrupt shard manifest (expected an object with 'splits'); repair it, or move it "
                         "away and rewrite every split with 'hrgan shards'")
    return manifest


def update_manifest(out: Path, split: str, entry: dict) -> Path:
    """Write ``entry`` as ``splits[split]`` of ``{out}/manifest.json``, keeping other splits.

    Raises ``ValueError`` (naming the file) when an existing manifest is corrupt.
    """
    path = out / MANIFEST
    manifest = read_manifest(path) if path.exists() else {"format": "hrgan-shards/1", "splits": {}}
    manifest.setdefault("splits", {})[split] = entry
    return write_bytes_atomic(path, json.dumps(manifest, indent=1).encode())


@dataclass
class SplitResult:
    """What ``write_split`` did: the manifest entry it recorded and the files it skipped."""

    entry: dict
    manifest: Path
    bad: list[Unpaired]
    unpaired: list[Unpaired]
    max_bad_fraction: float

    @property
    def considered(self) -> int:
        return self.entry["num_samples"] + len(self.bad)

    @property
    def too_many_bad(self) -> bool:
        """More than ``max_bad_fraction`` of the samples were bad: the split is not fit to train on."""
        return bool(self.considered) and len(self.bad) / self.considered > self.max_bad_fraction


def label_nc_from_root(root: Path) -> int:
    """``label_nc`` of ``{root}/classes.json``; ``ValueError`` when there is none."""
    classes = root / "classes.json"
    if not classes.is_file():
        raise ValueError(f"no {classes} to read label_nc from")
    return int(json.loads(classes.read_text())["label_nc"])


def write_split(
    layout: str,
    root: Path,
    split: str,
    out: Path,
    *,
    label_nc: int | None = None,
    ignore_index: int | None = None,
    palette: Palette | None = None,
    labels: str | None = None,
    instances: str | None = None,
    images: str | None = None,
    require_images: bool = True,
    reencode: str | None = None,
    size: tuple[int, int] | None = None,
    max_shard_samples: int = 1000,
    max_shard_mb: float = 512,
    workers: int | None = None,
    overwrite: bool = False,
    max_bad_fraction: float = 0.05,
    progress: bool = True,
) -> SplitResult:
    """Find the samples of one split of a dataset layout, write them as ``{out}/{split}-NNNNNN.tar`` and record
    the split in ``{out}/manifest.json``.

    ``label_nc`` defaults to ``{root}/classes.json``'s, ``workers`` (processes) to the cores, at most 8. Raises ``FileExistsError`` when ``out`` already holds
    shards of the split (unless ``overwrite``), ``FileNotFoundError`` / ``ValueError`` for a layout that finds
    nothing, a bad palette or a corrupt manifest; bad samples are skipped and listed in the result (``too_many_bad`` when more
    than ``max_bad_fraction`` of them were), not raised.
    """
    root, out = Path(root), Path(out)
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    label_nc = label_nc_from_root(root) if label_nc is None else label_nc
    existing = sorted(out.glob(f"{split}-*.tar"))
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds {len(existing)} {split} shards; pass --overwrite to replace them")
    if (out / MANIFEST).exists():
        read_manifest(out / MANIFEST)  # a corrupt one fails before any shard is written
    samples, unpaired = find_samples(layout, root, split, labels=labels, instances=instances, images=images,
                                     require_images=require_images)
    options = ShardOptions(label_nc=label_nc, ignore_index=ignore_index, palette=palette, reencode=reencode, size=size)
    shards, bad, stats = write_shards(samples, out, split, options, max_samples=max_shard_samples,
                                      max_megabytes=max_shard_mb, workers=workers, progress=progress)
    written = {s["url"] for s in shards}
    for stale in existing:
        if stale.name not in written:
            stale.unlink()
    entry = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hrgan_version": __version__,
        "layout": layout,
        "root": str(root),
        "label_nc": label_nc,
        "ignore_index": ignore_index,
        "has_instances": any(s.instance is not None for s in samples),
        "has_images": any(s.image is not None for s in samples),
        "num_samples": sum(s["samples"] for s in shards),
        "shards": shards,
        **stats,
        "bad_samples": [{"path": str(b.path), "reason": b.reason} for b in bad],
        "unpaired_files": [{"path": str(u.path), "reason": u.reason} for u in unpaired],
    }
    return SplitResult(entry, update_manifest(out, split, entry), bad, unpaired, max_bad_fraction)
