"""Validate paired files and write them as WebDataset shards with a manifest (behind ``hrgan shards``).

Each sample becomes ``label.png`` (8 or 16 bit; with image inputs, label_nc 0,
``input.<ext>`` instead), ``inst.png`` (16 bit, when present), ``img.<ext>`` (the original bytes unless re-encoded or resized) and ``json``
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
from hrgan.conditioning import format_values
from hrgan.data.images import BadSampleError, decode_image, encode_png, map_to_array
from hrgan.data.classes import builtin_tables, read_table, table_info
from hrgan.data.labels import LabelConvention, label_advice, label_mismatch, value_counts
from hrgan.data.layouts import SampleFiles, Unpaired, find_samples
from hrgan.data.names import safe_key
from hrgan.data.palette import Palette
from hrgan.io import write_bytes_atomic

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ShardOptions:
    convention: LabelConvention
    palette: Palette | None = None
    reencode: str | None = None  # None (keep bytes), "png" or "jpg"
    size: tuple[int, int] | None = None  # (W, H) every modality is resized to before sizes are compared

    @property
    def image_input(self) -> bool:
        """label_nc 0 (pix2pixHD's convention): the input side is an image, not a label map."""
        return self.convention.label_nc == 0


def nearest_resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an id map [H, W] to (W, H): ids are never blended."""
    width, height = size
    rows = np.minimum((np.arange(height) + 0.5) * array.shape[0] / height, array.shape[0] - 1).astype(np.intp)
    cols = np.minimum((np.arange(width) + 0.5) * array.shape[1] / width, array.shape[1] - 1).astype(np.intp)
    return array[np.ix_(rows, cols)]


ASPECT_TOLERANCE = 0.02  # relative: 1024x1024 photos with 512x512 masks pair, 1024x768 with 512x512 do not


@dataclass
class PreparedSample:
    key: str
    record: dict  # what goes into the tar: extension -> bytes
    width: int
    height: int
    class_pixels: np.ndarray
    palette_outside: float | None
    label_values: Counter  # file values (before the offset) -> pixels


@dataclass
class RejectedSample:
    problem: Unpaired
    label_values: Counter | None = None  # when the label map itself could be read


class LabelValuesError(BadSampleError):
    """A bad sample whose label map was read: keeps its values for the report (the values themselves may be
    the problem, or another modality)."""

    def __init__(self, message: str, counts: Counter) -> None:
        super().__init__(message)
        self.counts = counts


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadSampleError(f"{path}: cannot read ({error.strerror or error})") from error


def _check_pair(path: Path, what: str, size: tuple[int, int], label_size: tuple[int, int], resizing: bool,
                input_kind: str = "label map") -> None:
    """Another modality's size against the label map's: equal, or with ``resizing`` of the same aspect ratio."""
    (width, height), (label_width, label_height) = size, label_size
    if size == label_size:
        return
    shown = f"{path}: {what} is {width}x{height}, {input_kind} {label_width}x{label_height}"
    if not resizing:
        raise BadSampleError(f"{shown} (pass --size WxH to resize each to one size)")
    if abs(width * label_height / (height * label_width) - 1) > ASPECT_TOLERANCE:
        raise BadSampleError(f"{shown}: their aspect ratios differ, so they do not show the same picture")


def _side(files: SampleFiles, which: str) -> tuple[Image.Image, bytes | None]:
    """The ``label`` (input) or ``image`` side of a sample, decoded, with its file's bytes; for pix2pix's
    aligned A|B files the half it is in, and no bytes (a half is re-encoded)."""
    path = files.label if which == "label" else files.image
    data = _read(path)
    image = decode_image(data, path)
    if files.aligned is None:
        return image, data
    width, height = image.size
    if width % 2:
        raise BadSampleError(f"{path}: an aligned A|B image needs an even width, got {width}x{height}")
    first_half = (which == "label") == (files.aligned == "AtoB")
    return image.crop((0, 0, width // 2, height) if first_half else (width // 2, 0, width, height)), None


def _encode_photo(photo: Image.Image, data: bytes | None, path: Path, name: str, options: ShardOptions,
                  size: tuple[int, int]) -> tuple[str, bytes]:
    """A photo's tar member ``{name}.{ext}`` and bytes: the file's own, unless re-encoded, resized or a half."""
    ext = path.suffix.lower().lstrip(".").replace("jpeg", "jpg")
    if data is not None and not options.reencode and options.size is None:
        return f"{name}.{ext}", data
    photo = photo.convert("L" if photo.mode in ("L", "I;16", "I", "1") and name == "input" else "RGB")
    if photo.size != size:
        photo = photo.resize(size, Image.LANCZOS)
    fmt = options.reencode or ("jpg" if ext == "jpg" else "png")
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG" if fmt == "png" else "JPEG", quality=95)
    return f"{name}.{fmt}", buffer.getvalue()


def prepare_sample(files: SampleFiles, options: ShardOptions) -> PreparedSample:
    """Read, validate and encode one sample; raises ``BadSampleError`` naming the file and the problem.

    With ``options.size`` each modality is resized to it (labels and instances nearest, photos Lanczos)
    before anything is compared, so masks at half the photo's size pair with their photos. With image
    inputs (``options.image_input``) the label side is a photo, stored as ``input.<ext>``.
    """
    label_image, label_bytes = _side(files, "label")
    if options.image_input:
        return _encode_sample(files, options, label_image, label_bytes, Counter(), None)
    palette_outside = None
    if options.palette is not None and label_image.mode in ("RGB", "RGBA"):
        raw, palette_outside = options.palette.to_ids(np.asarray(label_image.convert("RGB")))
    else:
        raw = map_to_array(label_image, files.label, "label")
    convention = options.convention
    counts = value_counts(raw)
    outside = convention.out_of_range(sorted(counts))
    if outside:
        hint = "" if convention.ignore_index is not None else " (set --ignore-index for an 'unlabeled' value)"
        raise LabelValuesError(f"{files.label}: label values {format_values(outside)} are neither a class "
                               f"({convention.offset}..{convention.offset + convention.label_nc - 1}) nor the "
                               f"ignore value{hint}", counts)
    try:
        return _encode_sample(files, options, raw, None, counts, palette_outside)
    except LabelValuesError:
        raise
    except BadSampleError as error:
        raise LabelValuesError(str(error), counts) from error


def _encode_sample(files: SampleFiles, options: ShardOptions, source: np.ndarray | Image.Image, source_bytes: bytes | None,
                   counts: Counter, palette_outside: float | None) -> PreparedSample:
    """The rest of ``prepare_sample`` once the input side is read: a label map's valid ids [H, W], or an input photo."""
    convention = options.convention
    key = safe_key(files.key.replace(".", "_"), str(files.label))  # webdataset splits keys from extensions at the first dot
    input_kind = "input image" if isinstance(source, Image.Image) else "label map"
    if isinstance(source, Image.Image):
        source_width, source_height = source.size
        width, height = options.size or source.size
        name, data = _encode_photo(source, source_bytes, files.label, "input", options, (width, height))
        record = {name: data}
        class_pixels = np.zeros(0, dtype=np.int64)
    else:
        source_height, source_width = source.shape
        label = convention.apply(source)
        if options.size is not None:
            label = nearest_resize(label, options.size)
        height, width = label.shape
        label_dtype = np.uint8 if label.max(initial=0) < 256 else np.uint16
        record = {"label.png": encode_png(label.astype(label_dtype))}
        ignore = convention.stored_ignore
        valid = label if ignore is None else label[label != ignore]
        class_pixels = np.bincount(valid.ravel(), minlength=convention.label_nc)[: convention.label_nc]
    resizing = options.size is not None
    if files.instance is not None:
        instance = map_to_array(decode_image(_read(files.instance), files.instance), files.instance, "instance")
        _check_pair(files.instance, "instance map", (instance.shape[1], instance.shape[0]), (source_width, source_height),
                    resizing, input_kind)
        if resizing:
            instance = nearest_resize(instance, options.size)
        if instance.min(initial=0) < 0 or instance.max(initial=0) > 65535:
            raise BadSampleError(f"{files.instance}: instance ids must fit in 16 bits (0..65535)")
        record["inst.png"] = encode_png(instance.astype(np.uint16))
    if files.image is not None:
        photo, data = _side(files, "image")
        _check_pair(files.image, "image", photo.size, (source_width, source_height), resizing, input_kind)
        name, encoded = _encode_photo(photo, data, files.image, "img", options, (width, height))
        record[name] = encoded
    meta = {
        "key": files.key,
        "width": width,
        "height": height,
        "source_size": [source_width, source_height],
        "source": {k: str(v) for k, v in (("label", files.label), ("inst", files.instance), ("img", files.image)) if v},
    }
    if files.aligned:
        meta["aligned"] = files.aligned
    if palette_outside is not None:
        meta["palette_outside_fraction"] = palette_outside
    record["json"] = json.dumps(meta).encode()
    return PreparedSample(key, record, width, height, class_pixels, palette_outside, counts)


def _prepare_or_report(job: tuple[SampleFiles, ShardOptions]) -> PreparedSample | RejectedSample:
    files, options = job
    try:
        return prepare_sample(files, options)
    except LabelValuesError as error:
        return RejectedSample(Unpaired(files.label, str(error)), error.counts)
    except BadSampleError as error:
        return RejectedSample(Unpaired(files.label, str(error)))


class _ShardSink:
    """Writes samples into numbered tar files under temporary names; ``commit`` renames them all at the end,
    so a split that fails leaves the folder's shards as they were."""

    def __init__(self, out: Path, split: str, *, max_samples: int, max_bytes: int) -> None:
        self.out, self.split = out, split
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.shards: list[dict] = []
        self._temporaries: list[Path] = []
        self._file = self._writer = None

    def _open(self) -> None:
        name = f"{self.split}-{len(self.shards):06d}.tar"
        temporary = self.out / f".{name}.{os.getpid()}.tmp"  # two writers of one folder never share a temp file
        self._temporaries.append(temporary)
        self._file = open(temporary, "wb")
        self._writer = wds.TarWriter(self._file, encoder=False, mtime=0)
        self.shards.append({"url": name, "samples": 0, "bytes": 0})

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._file.close()
        self.shards[-1]["bytes"] = self._temporaries[-1].stat().st_size
        self._file = self._writer = None

    def write(self, sample: PreparedSample) -> None:
        current = self.shards[-1] if self._writer else None
        if current is None or current["samples"] >= self.max_samples or current["bytes"] >= self.max_bytes:
            self._close()
            self._open()
        size = self._writer.write({"__key__": sample.key, **sample.record})
        self.shards[-1]["samples"] += 1
        self.shards[-1]["bytes"] += size

    def close(self) -> None:
        self._close()

    def commit(self) -> list[dict]:
        """Give every shard its final name; returns the shard records."""
        self._close()
        for temporary, shard in zip(self._temporaries, self.shards, strict=True):
            os.replace(temporary, self.out / shard["url"])
        return self.shards

    def abort(self) -> None:
        if self._writer is not None:
            self._file.close()
            self._writer = None
        for temporary in self._temporaries:
            temporary.unlink(missing_ok=True)


@dataclass
class WrittenShards:
    """What ``write_shards`` did: the shards (committed, or none when too many samples were bad) and statistics."""

    shards: list[dict]
    good: int
    bad: list[Unpaired]
    stats: dict
    label_values: Counter

    def too_many_bad(self, max_bad_fraction: float) -> bool:
        considered = self.good + len(self.bad)
        return bool(considered) and len(self.bad) / considered > max_bad_fraction

    def refusal(self, max_bad_fraction: float, convention: LabelConvention, strict_labels: bool) -> str | None:
        """Why the split must not be used (nothing is then written), or None."""
        considered = self.good + len(self.bad)
        if self.too_many_bad(max_bad_fraction):
            return f"{len(self.bad)} of {considered} samples are bad (> {max_bad_fraction:.0%})"
        if strict_labels and label_mismatch(self.label_values, convention):
            return ("the label values disagree with the options in a way that would store wrong class ids (see the "
                    "check: lines); fix the options, or pass --accept-labels to write them as they are")
        return None


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
    max_bad_fraction: float = 1.0,
    strict_labels: bool = False,
) -> WrittenShards:
    """Validate and write ``samples`` in order. The shards get their final names only when ``refusal`` finds
    nothing (at most ``max_bad_fraction`` bad; with ``strict_labels`` no ``label_mismatch``); otherwise none is
    left and ``shards`` is empty."""
    out.mkdir(parents=True, exist_ok=True)
    sink = _ShardSink(out, split, max_samples=max_samples, max_bytes=int(max_megabytes * 2**20))
    bad: list[Unpaired] = []
    good = 0
    label_nc = options.convention.label_nc
    class_pixels = np.zeros(label_nc, dtype=np.int64)
    label_values: Counter = Counter()
    sizes: Counter[str] = Counter()
    outside: list[float] = []
    jobs = [(s, options) for s in samples]
    bar = tqdm(total=len(jobs), desc=f"shards {split}", unit="sample", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        results = pool.map(_prepare_or_report, jobs, chunksize=2) if pool else map(_prepare_or_report, jobs)
        for result in results:
            bar.update()
            if isinstance(result, RejectedSample):
                bad.append(result.problem)
                label_values.update(result.label_values or {})
                continue
            sink.write(result)
            good += 1
            label_values.update(result.label_values)
            class_pixels += result.class_pixels
            sizes[f"{result.width}x{result.height}"] += 1
            if result.palette_outside is not None:
                outside.append(result.palette_outside)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()
        if pool:
            pool.shutdown()
    total = int(class_pixels.sum())
    stats = {
        "class_pixel_counts": class_pixels.tolist(),
        "class_pixel_frequency": (class_pixels / max(total, 1)).round(6).tolist(),
        "image_sizes": dict(sizes),
        "label_values": {str(v): label_values[v] for v in sorted(label_values)},
    }
    if outside:
        stats["palette_outside_fraction"] = {"mean": float(np.mean(outside)), "max": float(np.max(outside))}
    written = WrittenShards([], good, bad, stats, label_values)
    if written.refusal(max_bad_fraction, options.convention, strict_labels):
        sink.abort()
    else:
        written.shards = sink.commit()
    return written


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
    """What ``write_split`` did: the manifest entry (recorded only when the split succeeded), the files it
    skipped, and the label values it found with advice on the options."""

    entry: dict
    manifest: Path | None  # None: refused (too many bad samples, wrong label options); nothing recorded or replaced
    bad: list[Unpaired]
    unpaired: list[Unpaired]
    considered: int
    convention: LabelConvention
    label_values: Counter
    advice: list[str]
    refusal: str | None = None  # why nothing was written

    @property
    def too_many_bad(self) -> bool:
        """The split was refused (too many bad samples, or label options that would store wrong ids)."""
        return self.manifest is None


def label_convention(
    root: Path, *, label_nc: int | None = None, ignore_index: int | None = None, label_offset: int | None = None,
    classes: str | None = None,
) -> tuple[LabelConvention, str | None]:
    """The label convention of a data set and the class table it came from (or None).

    Options given win; the others come from the ``classes`` table (a built-in name or a path), else (without
    ``label_nc``) from ``{root}/classes.json`` when there is one. ``ValueError`` when ``label_nc`` is known from nowhere.
    """
    root_table = Path(root) / "classes.json"
    spec = classes if classes is not None else str(root_table) if label_nc is None and root_table.is_file() else None
    info = table_info(*read_table(spec)) if spec is not None else None
    if label_nc is None and info is None:
        raise ValueError(f"pass --label-nc, or --classes with a table ({', '.join(builtin_tables())} or a "
                         f"classes.json), or put a classes.json in {root}")
    if info is not None and label_nc is not None and label_nc != info.label_nc:
        raise ValueError(f"--label-nc {label_nc} disagrees with {spec}, which lists {info.label_nc} classes")
    convention = LabelConvention(
        label_nc=label_nc if label_nc is not None else info.label_nc,
        ignore_index=ignore_index if ignore_index is not None else (info.ignore_index if info else None),
        offset=label_offset if label_offset is not None else (info.label_offset if info else 0),
    )
    if spec is not None and spec not in builtin_tables():
        spec = str(Path(spec).resolve())  # later commands read it from anywhere
    return convention, spec


def write_split(
    layout: str,
    root: Path,
    split: str,
    out: Path,
    *,
    convention: LabelConvention | None = None,
    classes: str | None = None,
    palette: Palette | None = None,
    labels: str | None = None,
    instances: str | None = None,
    images: str | None = None,
    require_images: bool = True,
    direction: str = "AtoB",
    reencode: str | None = None,
    size: tuple[int, int] | None = None,
    max_shard_samples: int = 1000,
    max_shard_mb: float = 512,
    workers: int | None = None,
    overwrite: bool = False,
    max_bad_fraction: float = 0.05,
    strict_labels: bool = True,
    progress: bool = True,
) -> SplitResult:
    """Find the samples of one split of a dataset layout, write them as ``{out}/{split}-NNNNNN.tar`` and record
    the split in ``{out}/manifest.json``.

    ``convention`` says how the files number their classes (default: ``label_convention(root, classes=classes)``);
    ``classes`` names the class table, recorded for later commands; a convention of label_nc 0 reads the input
    side as images (pix2pixHD's ``label_nc 0``). ``direction`` orders the halves of the ``aligned`` layout. ``workers`` (processes) defaults to the cores, at most 8. Raises
    ``FileExistsError`` when ``out`` already holds shards of the split (unless ``overwrite``),
    ``FileNotFoundError`` / ``ValueError`` for a layout that finds nothing, a bad palette or a corrupt manifest.
    Bad samples are skipped and listed in the result; when more than ``max_bad_fraction`` of them are bad, or
    (``strict_labels``) the values found show the convention to be wrong (``hrgan.data.labels.label_mismatch``),
    nothing is written or recorded and the split's existing shards stay (``refusal`` says why).
    """
    root, out = Path(root), Path(out)
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    if convention is None:
        convention, classes = label_convention(root, classes=classes)
    existing = sorted(out.glob(f"{split}-*.tar"))
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds {len(existing)} {split} shards; pass --overwrite to replace them")
    if (out / MANIFEST).exists():
        read_manifest(out / MANIFEST)  # a corrupt one fails before any shard is written
    samples, unpaired = find_samples(layout, root, split, labels=labels, instances=instances, images=images,
                                     require_images=require_images, direction=direction)
    created = not out.exists()
    options = ShardOptions(convention=convention, palette=palette, reencode=reencode, size=size)
    written = write_shards(samples, out, split, options, max_samples=max_shard_samples, max_megabytes=max_shard_mb,
                           workers=workers, progress=progress, max_bad_fraction=max_bad_fraction,
                           strict_labels=strict_labels)
    entry = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hrgan_version": __version__,
        "layout": layout,
        **({"direction": direction} if layout == "aligned" else {}),
        "root": str(root),
        "input": "image" if options.image_input else "labels",
        "label_nc": convention.label_nc,
        "ignore_index": convention.stored_ignore,
        "label_offset": convention.offset,
        "file_ignore_index": convention.ignore_index,
        "classes": classes,
        "has_instances": any(s.instance is not None for s in samples),
        "has_images": any(s.image is not None for s in samples),
        "num_samples": sum(s["samples"] for s in written.shards),
        "shards": written.shards,
        **written.stats,
        "bad_samples": [{"path": str(b.path), "reason": b.reason} for b in written.bad],
        "unpaired_files": [{"path": str(u.path), "reason": u.reason} for u in unpaired],
    }
    manifest = None
    refusal = written.refusal(max_bad_fraction, convention, strict_labels)
    if refusal is None:
        names = {s["url"] for s in written.shards}
        for stale in existing:
            if stale.name not in names:
                stale.unlink()
        manifest = update_manifest(out, split, entry)
    elif created and out.is_dir() and not any(out.iterdir()):
        out.rmdir()  # a refused split leaves nothing behind, not even the folder
    return SplitResult(entry, manifest, written.bad, unpaired, written.good + len(written.bad), convention,
                       written.label_values, label_advice(written.label_values, convention), refusal)
