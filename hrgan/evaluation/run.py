"""Score a trained model on held-out labelled data (behind ``hrgan evaluate``): generate, measure, combine ranks.

With several processes (Lightning Fabric) each takes its share of the data,
each sample once, and the numbers are combined before they are returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan.data.shards import write_split
from hrgan.data.stream import ShardStream, expand_urls
from hrgan.evaluation.metrics import EvaluationMetrics, load_segmenter
from hrgan.evaluation.options import EvaluateOptions
from hrgan.inference.inputs import is_shard_input
from hrgan.inference.synthesizer import Synthesizer
from hrgan.pretrained import load_fid_inception


def shard_urls(options: EvaluateOptions, synthesizer: Synthesizer, fabric) -> str:
    """``--data`` as shard URLs; a dataset folder is sharded once (by rank zero) beside the report."""
    data = options.data
    if is_shard_input(data):
        return data
    folder = Path(data)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data {data}: neither shards nor a folder")
    for pattern in (f"{options.split}-*.tar", "*.tar"):
        if list(folder.glob(pattern)):
            return str(folder / pattern)
    target = options.out.with_name(options.out.stem + "_shards")
    if fabric.global_rank == 0 and not list(target.glob(f"{options.split}-*.tar")):
        result = write_split(options.layout, folder, options.split, target, label_nc=synthesizer.label_nc,
                             ignore_index=synthesizer.ignore_index, overwrite=True)
        for item in [*result.unpaired, *result.bad]:
            print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
        if result.too_many_bad:
            reasons = "; ".join(b.reason for b in result.bad[:3])
            raise RuntimeError(f"sharding {folder} (split {options.split}): {len(result.bad)} bad samples ({reasons})")
    fabric.barrier()
    return str(target / f"{options.split}-*.tar")


def evaluate(options: EvaluateOptions, fabric) -> dict:
    """Run the model over the data on this process and return the combined results (same on every rank)."""
    synthesizer = Synthesizer.load(options.checkpoint, device=fabric.device, precision=options.precision)
    urls = shard_urls(options, synthesizer, fabric)
    metrics = EvaluationMetrics(
        metrics=options.metrics,
        label_nc=synthesizer.label_nc,
        ignore_index=synthesizer.ignore_index,
        inception=load_fid_inception(options.inception_weights) if "fid" in options.metrics else None,
        segmenter=load_segmenter(options.segmenter, fabric.device) if "miou" in options.metrics else None,
        palette=synthesizer.palette,
        keep=options.keep,
        device=fabric.device,
    )
    stream = ShardStream(urls, batch_size=options.batch_size, train=False, num_workers=options.workers,
                         rank=fabric.global_rank, world_size=fabric.world_size, load_size=options.load_size)
    loader = DataLoader(stream, batch_size=None, num_workers=options.workers, pin_memory=fabric.device.type == "cuda")
    try:
        total = len(stream)
    except TypeError:
        total = None
    for batch in tqdm(loader, total=total, desc="evaluate", unit="batch", disable=fabric.global_rank != 0):
        real = batch["image"].to(fabric.device)
        instance = batch.get("inst")
        features = synthesizer.encode(real, instance) if synthesizer.feat_num else None
        fake = synthesizer(batch["label"], instance, features)
        metrics.update(fake, real, batch["label"], list(batch["key"]))
    result = metrics.compute()
    result["expected"] = sum(s.samples for s in stream.shards) if all(s.samples is not None for s in stream.shards) else None
    result["names"] = synthesizer.export["classes"]["names"]
    result["iteration"] = synthesizer.export.get("iteration")
    result["urls"] = expand_urls(urls)
    return result
