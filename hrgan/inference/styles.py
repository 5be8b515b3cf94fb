"""Collecting pix2pixHD's instance features over training shards (behind ``hrgan encode-features``).

The bank of clustered styles and its math live with the models (``hrgan.models.style_bank``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan.data.stream import ShardStream
from hrgan.models.style_bank import StyleBank, instance_regions, kmeans, large_instance_features

if TYPE_CHECKING:
    from hrgan.inference.synthesizer import Synthesizer

__all__ = ["StyleBank", "collect_instance_features", "instance_regions", "kmeans", "large_instance_features"]


def collect_instance_features(synth: Synthesizer, urls: str, *, min_fraction: float, limit: int | None) -> tuple[dict[int, list[torch.Tensor]], int]:
    """{class: [instance vectors]} over the shards (one sample at a time, any size), and the samples read."""
    stream = ShardStream(urls, batch_size=1, train=False, require_image=True)
    per_class: dict[int, list[torch.Tensor]] = {}
    count = 0
    for batch in tqdm(DataLoader(stream, batch_size=None), desc="encode-features", unit="sample"):
        if "inst" not in batch:
            raise ValueError(f"sample {batch['key'][0]} has no instance map; styles are per instance")
        instance = batch["inst"].long()
        features = synth.encode(batch["image"], instance)[0].cpu()
        found = large_instance_features(features, batch["label"][0], instance[0], synth.label_nc, min_fraction=min_fraction)
        for c, vectors in found.items():
            per_class.setdefault(c, []).append(vectors)
        count += 1
        if limit is not None and count >= limit:
            break
    return per_class, count
