"""Streaming WebDataset shards: split across ranks and workers, equal step counts, exactly-once evaluation.

Every (rank, dataloader worker) pair is a *slot*. Shards are dealt to slots
round-robin (after a per-epoch shuffle for training), so slots read disjoint
data; with fewer shards than slots every slot reads all shards and keeps every
``num_slots``-th sample instead.

- Training: every slot yields the same number of batches per epoch, enough for
  the fullest slot to see all of its data; slots with less data start their
  shards over. An uneven split therefore never hangs DDP, and each epoch covers
  every sample at least once.
- Evaluation: each sample exactly once across all slots, in a fixed order; the
  last batch of a slot may be smaller.

Corrupt samples (unreadable tar members, undecodable images, parts of
different sizes) are skipped, logged and counted; more than
``max_bad_fraction`` of them stops the run with an error.
"""

from __future__ import annotations

import glob
import itertools
import json
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info

from hrgan.data.decode import collate, decode_sample
from hrgan.data.images import BadSampleError
from hrgan.data.shards import MANIFEST

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    url: str
    samples: int | None = None  # from the manifest, when known


def expand_urls(urls: str | Sequence[str]) -> list[str]:
    """Expand brace patterns (``train-{000000..000099}.tar``), local globs (``shards/train-*.tar``),
    ``::``-joined lists and lists of either.

    ``pipe:`` commands are kept as they are (apart from braces), so shards can be
    streamed from object storage with the user's own tools, e.g. ``pipe:aws s3 cp s3://b/train-{0..9}.tar -``.
    """
    items = [urls] if isinstance(urls, (str, os.PathLike)) else list(urls)
    expanded = []
    for url in (u for item in items for u in wds.shardlists.expand_urls(str(item))):
        if "*" in url and _local_path(url) is not None:
            matches = sorted(glob.glob(str(_local_path(url))))
            if not matches:
                raise FileNotFoundError(
                    f"no shards match {url}: write them with 'hrgan shards --layout ... --root DATA --split SPLIT "
                    f"--out {Path(url).parent}', or point data.train_urls / data.val_urls at yours"
                )
            expanded += matches
        else:
            expanded.append(url)
    return expanded


def _local_path(url: str) -> Path | None:
    if url.startswith("file:"):
        return Path(url[5:])
    return None if ":" in url.split("/")[0] else Path(url)


def read_shards(urls: str | Sequence[str]) -> list[Shard]:
    """Expand ``urls`` and attach per-shard sample counts from ``manifest.json`` beside local shards."""
    expanded = expand_urls(urls)
    if not expanded:
        raise ValueError(f"no shard URLs in {urls!r}")
    counts: dict[Path, dict[str, int]] = {}
    shards = []
    for url in expanded:
        path = _local_path(url)
        samples = None
        if path is not None:
            folder = path.parent
            if folder not in counts:
                counts[folder] = {}
                manifest = folder / MANIFEST
                if manifest.is_file():
                    for split in json.loads(manifest.read_text()).get("splits", {}).values():
                        counts[folder].update({s["url"]: s["samples"] for s in split.get("shards", [])})
            samples = counts[folder].get(path.name)
        shards.append(Shard(url, samples))
    return shards


def manifest_label_ncs(urls: str | Sequence[str]) -> dict[str, int]:
    """The ``label_nc`` recorded by the manifest.json beside the local shards of ``urls``: one entry,
    keyed ``"{manifest} ({split})"``, for each split that lists one of those shards."""
    wanted: dict[Path, set[str]] = {}
    for url in expand_urls(urls):
        path = _local_path(url)
        if path is not None:
            wanted.setdefault(path.parent, set()).add(path.name)
    found = {}
    for folder, names in wanted.items():
        manifest = folder / MANIFEST
        if not manifest.is_file():
            continue
        for split, entry in json.loads(manifest.read_text()).get("splits", {}).items():
            if "label_nc" in entry and names & {s["url"] for s in entry.get("shards", [])}:
                found[f"{manifest} ({split})"] = int(entry["label_nc"])
    return found


def slot_plan(shards: list[Shard], num_slots: int) -> tuple[list[list[Shard]], bool]:
    """Deal shards to slots: (shards per slot, True when slots instead split samples of shared shards)."""
    if len(shards) >= num_slots:
        return [shards[slot::num_slots] for slot in range(num_slots)], False
    return [list(shards) for _ in range(num_slots)], True


def samples_per_slot(shards: list[Shard], num_slots: int) -> list[int] | None:
    """How many samples each slot holds in one pass, or None when the manifest lacks counts."""
    if any(s.samples is None for s in shards):
        return None
    plan, by_sample = slot_plan(shards, num_slots)
    if by_sample:
        total = sum(s.samples for s in shards)
        return [total // num_slots + (slot < total % num_slots) for slot in range(num_slots)]
    return [sum(s.samples for s in mine) for mine in plan]


def _shuffled(items: Iterator, size: int, rng: np.random.Generator) -> Iterator:
    """A shuffle buffer of ``size`` items."""
    buffer: list = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        i = int(rng.integers(len(buffer)))
        yield buffer[i]
        buffer[i] = item
    rng.shuffle(buffer)
    yield from buffer


class ShardStream(IterableDataset):
    """Batches of decoded samples from WebDataset shards (use with ``DataLoader(batch_size=None)``).

    Args:
        urls: shard paths or URLs (brace patterns, ``pipe:`` commands, lists).
        batch_size: samples per batch.
        train: training mode (shuffled, equal batch counts per slot, repeats) or
            evaluation mode (each sample once, fixed order).
        num_workers: the DataLoader's workers (to compute the batch count).
        rank, world_size: this process's place; None reads torch.distributed or RANK / WORLD_SIZE.
        samples_per_epoch: the epoch length when the manifest has no counts (e.g. ``pipe:`` URLs).
        shuffle_buffer: raw (undecoded) samples held for shuffling per worker.
        seed: base of the per-epoch shard shuffle and the shuffle buffer.
        load_size: (W, H) to resize every sample to on load, for sets of mixed sizes.
        image_dtype: ``float32`` ([-1, 1]) or ``uint8`` (converted on the GPU).
        require_image: skip samples without a photo (training) or keep them (inference).
        max_bad_fraction: stop when more than this fraction of samples are corrupt (checked after 20).
        epoch: the epoch (shard shuffle); None counts iterations of this object.
        start_batch: training batches of this epoch already consumed (resuming mid-epoch):
            the stream skips them without decoding.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        batch_size: int,
        train: bool,
        num_workers: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        samples_per_epoch: int | None = None,
        shuffle_buffer: int = 64,
        seed: int = 0,
        load_size: tuple[int, int] | None = None,
        image_dtype: str = "float32",
        require_image: bool = True,
        max_bad_fraction: float = 0.05,
        epoch: int | None = None,
        start_batch: int = 0,
    ) -> None:
        super().__init__()
        self.shards = read_shards(urls)
        self.batch_size, self.train = batch_size, train
        self.num_workers = num_workers
        self.rank, self.world_size = rank, world_size
        self.samples_per_epoch = samples_per_epoch
        self.shuffle_buffer, self.seed = shuffle_buffer, seed
        self.decode_options = dict(load_size=load_size, image_dtype=image_dtype, require_image=require_image)
        self.max_bad_fraction = max_bad_fraction
        self.epoch = epoch
        self.start_batch = start_batch
        self._iterations = 0
        self.seen = self.skipped = 0
        if train and samples_per_epoch is None and samples_per_slot(self.shards, 1) is None:
            raise ValueError(
                "the shard sample counts are unknown (no manifest.json beside the shards, or pipe: URLs); "
                "set samples_per_epoch"
            )

    def _place(self) -> tuple[int, int, int, int]:
        rank, world = self.rank, self.world_size
        if rank is None or world is None:
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
            else:
                rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        return rank, world, worker, workers

    def batches_per_slot(self, num_slots: int) -> int | None:
        """Batches each slot yields per training epoch (None in evaluation mode)."""
        if not self.train:
            return None
        counts = samples_per_slot(self.shards, num_slots)
        quota = max(counts) if counts else math.ceil(self.samples_per_epoch / num_slots)
        return max(1, math.ceil(quota / self.batch_size))

    def __len__(self) -> int:
        rank, world, _, _ = self._place()
        workers = max(1, self.num_workers)
        if self.train:
            return self.batches_per_slot(world * workers) * workers
        counts = samples_per_slot(self.shards, world * workers)
        if counts is None:
            raise TypeError("evaluation length unknown without a manifest")
        return sum(math.ceil(c / self.batch_size) for c in counts[rank * workers : (rank + 1) * workers])

    def _raw_samples(self, shards: list[Shard], slot: int, num_slots: int, by_sample: bool) -> Iterator[dict]:
        source = ({"url": s.url} for s in shards)
        index = 0
        for sample in wds.tariterators.tarfile_samples(source, handler=self._tar_error):
            if by_sample:
                index += 1
                if (index - 1) % num_slots != slot:
                    continue
            yield sample

    def _tar_error(self, error: Exception) -> bool:
        self._count_bad(f"unreadable shard data: {error}")
        return True

    def _count_bad(self, reason: str) -> None:
        self.skipped += 1
        log.warning("skipped a corrupt sample (%d so far in this worker): %s", self.skipped, reason)
        if self.seen + self.skipped >= 20 and self.skipped / (self.seen + self.skipped) > self.max_bad_fraction:
            raise RuntimeError(
                f"{self.skipped} of {self.seen + self.skipped} samples were corrupt, more than "
                f"max_bad_fraction={self.max_bad_fraction}; last: {reason}"
            )

    def _decoded(self, raw: Iterator[dict]) -> Iterator[dict]:
        for sample in raw:
            try:
                decoded = decode_sample(sample, **self.decode_options)
            except BadSampleError as error:
                self._count_bad(str(error))
                continue
            self.seen += 1
            yield decoded

    def _batches(self, samples: Iterator[dict], limit: int | None) -> Iterator[dict]:
        count = 0
        while limit is None or count < limit:
            chunk = list(itertools.islice(samples, self.batch_size))
            if not chunk or (limit is not None and len(chunk) < self.batch_size):
                return
            batch = collate(chunk)
            batch["skipped"] = torch.tensor(self.skipped)
            yield batch
            count += 1

    def __iter__(self) -> Iterator[dict]:
        rank, world, worker, workers = self._place()
        num_slots, slot = world * workers, rank * workers + worker
        epoch = self.epoch if self.epoch is not None else self._iterations
        self._iterations += 1
        shards = list(self.shards)
        if self.train:
            np.random.default_rng([self.seed, epoch]).shuffle(shards)  # same order on every slot
        plan, by_sample = slot_plan(shards, num_slots)
        mine = plan[slot]
        if not self.train:
            yield from self._batches(self._decoded(self._raw_samples(mine, slot, num_slots, by_sample)), None)
            return
        rng = np.random.default_rng([self.seed, epoch, slot])
        raw = self._raw_passes(mine, slot, num_slots, by_sample, rng)
        # The DataLoader takes batch i from worker i % workers: skip this worker's share of start_batch.
        skip = (self.start_batch - worker + workers - 1) // workers if self.start_batch > worker else 0
        raw = itertools.islice(raw, skip * self.batch_size, None)
        self.start_batch = 0  # only the first epoch after a resume starts late
        yield from self._batches(self._decoded(raw), self.batches_per_slot(num_slots) - skip)

    def _raw_passes(
        self, shards: list[Shard], slot: int, num_slots: int, by_sample: bool, rng: np.random.Generator
    ) -> Iterator[dict]:
        """The slot's raw samples, shuffled within each pass and started over whenever they run out.

        Shuffling pass by pass (not across passes) keeps every sample of the first
        pass ahead of any repeat, so an epoch covers the fullest slot's data completely.
        """
        while True:
            empty = True
            for sample in _shuffled(self._raw_samples(shards, slot, num_slots, by_sample), self.shuffle_buffer, rng):
                empty = False
                yield sample
            if empty:
                raise RuntimeError(f"no samples could be read from {[s.url for s in shards]}")
