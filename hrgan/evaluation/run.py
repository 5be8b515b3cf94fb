"""Score a trained model on held-out labelled data (behind ``hrgan evaluate``): generate, measure, combine ranks.

With several processes (Lightning Fabric) each takes its share of the data,
each sample once, and the numbers are combined before they are returned.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan.data.shards import MANIFEST, read_manifest, write_split
from hrgan.data.stream import ShardStream, expand_urls
from hrgan.evaluation.metrics import EvaluationMetrics, load_segmenter
from hrgan.evaluation.options import EvaluateOptions
from hrgan.evaluation.scoring import score
from hrgan.inference.inputs import is_shard_input
from hrgan.inference.scale import resize_ids, resize_photos, run_size, scale_warning
from hrgan.inference.synthesizer import Synthesizer
from hrgan.io import write_bytes_atomic
from hrgan.models.family import StyleChoice
from hrgan.pretrained import load_fid_inception

SOURCE = "source.json"  # in the shard cache: what it was made from


EVALUATION_STYLE = StyleChoice("photo")  # each sample's own photo's style (a VAE without its encoder: z seeded by key)


def source_fingerprint(folder: Path, options: EvaluateOptions, synthesizer: Synthesizer, skip: Path) -> dict:
    """What a shard cache of ``folder`` depends on: the folder, the sharding options, and every file's
    path, size and modification time (a digest of them), ``skip`` (the cache itself) and the report's own
    files left out."""
    digest = hashlib.sha256()
    convention = synthesizer.file_convention()  # how the folder's label files are read
    skip = skip.resolve()
    report = Path(options.out).resolve()  # the report and what goes beside it, when --out is inside the folder
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if (Path(parent) / f).resolve() != skip)
        for name in sorted(files):
            path = Path(parent) / name
            if path.resolve().parent == report.parent and name.startswith(report.stem):
                continue
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return {"folder": str(folder.resolve()), "layout": options.layout, "direction": options.direction, "split": options.split,
            "label_nc": synthesizer.label_nc, "ignore_index": synthesizer.ignore_index,
            "label_offset": convention.offset, "file_ignore_index": convention.ignore_index, "files": digest.hexdigest()}


def _cached_source(target: Path) -> dict | None:
    try:
        return json.loads((target / SOURCE).read_text())
    except (OSError, ValueError):
        return None


def shard_urls(options: EvaluateOptions, synthesizer: Synthesizer, fabric) -> tuple[str, int]:
    """``--data`` as shard URLs, and the samples the sharding skipped as bad (each printed on stderr).

    A dataset folder is sharded (by rank zero) into ``<out stem>_shards/`` beside the report, and those
    shards are reused only while the folder, its files and the options are unchanged. A folder of shards
    gives its ``{split}-*.tar``; with none of that split, ``ValueError`` names the splits there.
    """
    data = options.data
    if is_shard_input(data):
        return data, 0
    folder = Path(data)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data {data}: neither shards nor a folder")
    if list(folder.glob(f"{options.split}-*.tar")):
        return str(folder / f"{options.split}-*.tar"), 0
    splits = sorted({p.name[: -len(".tar")].rsplit("-", 1)[0] for p in folder.glob("*.tar")})
    if splits:
        raise ValueError(f"--data {data} holds no {options.split}-*.tar shards, only shards of split(s) "
                         f"{', '.join(splits)}: pass --split {splits[0]} (or another of them)")
    target = options.out.with_name(options.out.stem + "_shards")
    bad = 0
    if fabric.global_rank == 0:
        source = source_fingerprint(folder, options, synthesizer, target)
        if _cached_source(target) != source or not list(target.glob(f"{options.split}-*.tar")):
            (target / SOURCE).unlink(missing_ok=True)
            convention = synthesizer.file_convention()  # the class table's, as infer reads label files
            result = write_split(options.layout, folder, options.split, target, convention=convention,
                                 direction=options.direction, overwrite=True)
            for item in result.unpaired:
                print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
            if result.too_many_bad:
                reasons = "; ".join(b.reason for b in result.bad[:3])
                raise RuntimeError(f"sharding {folder} (split {options.split}): {len(result.bad)} bad samples ({reasons})")
            write_bytes_atomic(target / SOURCE, (json.dumps(source, indent=1) + "\n").encode())
        entry = read_manifest(target / MANIFEST)["splits"][options.split]
        for item in entry["bad_samples"]:  # also when the shards are reused
            print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
        bad = len(entry["bad_samples"])
    fabric.barrier()
    return str(target / f"{options.split}-*.tar"), bad


def evaluate(options: EvaluateOptions, fabric, on_warning: Callable[[str], None] | None = None) -> dict:
    """Run the model over the data on this process and return the combined results (same on every rank).

    The model runs at ``options.scale`` and is scored at each sample's size; a scale more than 2x off the
    training resolution goes to ``on_warning`` (rank zero, once per sample size)."""
    synthesizer = Synthesizer.load(options.checkpoint, device=fabric.device, precision=options.precision)
    if synthesizer.label_nc == 0 and "miou" in options.metrics:
        raise ValueError(f"{options.checkpoint} takes input images, not label maps: miou (which compares a segmentation "
                         "of the output with the label map) does not apply; use psnr, ssim or fid")
    urls, sharding_bad = shard_urls(options, synthesizer, fabric)
    metrics = EvaluationMetrics(
        metrics=options.metrics,
        label_nc=synthesizer.label_nc,
        ignore_index=synthesizer.ignore_index,
        unscored=synthesizer.export["classes"].get("unlabeled_as"),
        inception=load_fid_inception(options.inception_weights) if "fid" in options.metrics else None,
        segmenter=load_segmenter(options.segmenter, fabric.device) if "miou" in options.metrics else None,
        palette=synthesizer.palette,
        keep=options.keep,
        device=fabric.device,
    )
    stream = ShardStream(urls, batch_size=options.batch_size, train=False, num_workers=options.workers,
                         rank=fabric.global_rank, world_size=fabric.world_size, load_size=options.load_size,
                         label_nc=synthesizer.label_nc, ignore_index=synthesizer.ignore_index, input_nc=synthesizer.input_nc)
    loader = DataLoader(stream, batch_size=None, num_workers=options.workers, pin_memory=fabric.device.type == "cuda")
    try:
        total = len(stream)
    except TypeError:
        total = None
    warned = set()

    def generate(batch: dict) -> torch.Tensor:
        """The model's photos of a batch, at the run size and back at the batch's own."""
        real = batch["image"].to(fabric.device)
        native = (real.shape[-1], real.shape[-2])
        if native not in warned and fabric.global_rank == 0 and on_warning is not None:
            warned.add(native)
            if warning := scale_warning(native, synthesizer.resolution, options.scale):
                on_warning(warning)
        size = run_size(native, synthesizer.resolution, options.scale)
        condition = batch[synthesizer.conditioning.source]  # class ids, or an input image
        label = resize_ids(condition, size) if synthesizer.label_nc else resize_photos(condition.to(fabric.device), size)
        instance = batch.get("inst")
        instance = None if instance is None else resize_ids(instance, size)
        style = synthesizer.style(EVALUATION_STYLE, label, instance, list(batch["key"]), real)
        return resize_photos(synthesizer(label, instance, style=style), native)

    batches = tqdm(loader, total=total, desc="evaluate", unit="batch", disable=fabric.global_rank != 0)
    result = score(metrics, batches, generate)
    result["expected"] = sum(s.samples for s in stream.shards) if all(s.samples is not None for s in stream.shards) else None
    corrupt = int(fabric.all_reduce(torch.tensor(stream.counts.bad), reduce_op="sum"))  # every worker and rank
    missing = result["expected"] - result["num_samples"] if result["expected"] is not None else 0
    # A truncated shard counts once but loses every sample after the cut; samples the sharding refused count too.
    result["skipped"] = max(corrupt, missing) + sharding_bad
    result["names"] = synthesizer.export["classes"]["names"]
    result["iteration"] = synthesizer.export.get("iteration")
    result["urls"] = expand_urls(urls)
    return result
