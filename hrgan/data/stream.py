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

Corrupt samples (unreadable tar members, a tar truncated mid-member,
undecodable or oversized images, parts of different sizes, unsafe keys, label
values outside [0, label_nc), a size other than the set's when batches hold
several samples) are skipped, logged by name and counted in a ``BadSampleCount``
that every DataLoader worker of a process shares (shared memory) and that
outlives the epoch's stream when its owner (the data module) passes it again.
More than ``max_bad_fraction`` of the samples read stops the run with
``TooManyBadSamples``, checked once min(20, one pass over this process's data)
samples have been read.
"""

from __future__ import annotations

import glob
import itertools
import logging
import math
import multiprocessing
import os
import tarfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info

from hrgan.data.decode import collate, decode_sample
from hrgan.data.images import BadSampleError
from hrgan.data.shards import MANIFEST, read_manifest

log = logging.getLogger(__name__)

CHECK_AFTER = 20  # samples read before max_bad_fraction is checked (or one pass over fewer)


@dataclass(frozen=True)
class Shard:
    url: str
    samples: int | None = None  # from the manifest, when known
    size: tuple[int, int] | None = None  # (W, H): the commonest sample size of its split, from the manifest


class TooManyBadSamples(RuntimeError):
    """More than ``max_bad_fraction`` of the samples read were corrupt; the one-line message gives the counts."""

    def line(self) -> str:
        """The message alone, also when a DataLoader worker raised it (its re-raise wraps the traceback)."""
        last = str(self).strip().splitlines()[-1]
        return last.split(f"{type(self).__name__}: ", 1)[-1]


class BadSampleCount:
    """Good and corrupt samples read, totalled in shared memory over a process's DataLoader workers.

    One object lives as long as its owner keeps it (the data module keeps one per split for the
    whole run), so the totals span epochs as well. Pass it to ``ShardStream(counts=...)``; it
    travels to DataLoader workers with the dataset (fork or spawn) but cannot be pickled otherwise.
    """

    def __init__(self) -> None:
        self._good = multiprocessing.Value("q", 0)
        self._bad = multiprocessing.Value("q", 0)

    def add(self, *, good: int = 0, bad: int = 0) -> tuple[int, int]:
        """Count samples; returns the totals (good, bad) after counting them."""
        with self._good.get_lock():
            self._good.value += good
            self._bad.value += bad
            return self._good.value, self._bad.value

    @property
    def good(self) -> int:
        return self._good.value

    @property
    def bad(self) -> int:
        return self._bad.value


def tar_error_reason(error: Exception, url: str) -> str:
    """One line for a shard that webdataset could not read, naming the file; truncation said as such."""
    text = str(error.args[0]) if error.args else str(error)
    if isinstance(error, EOFError) or (isinstance(error, tarfile.ReadError) and "unexpected end of data" in text):
        return f"{url}: truncated (the tar ends inside a member; the samples from there on are lost)"
    return f"{url}: unreadable shard data ({type(error).__name__}: {text.split(' @ ')[0]})"


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
    known: dict[Path, dict[str, tuple[int, tuple[int, int] | None]]] = {}
    shards = []
    for url in expanded:
        path = _local_path(url)
        samples = size = None
        if path is not None:
            folder = path.parent
            if folder not in known:
                known[folder] = {}
                manifest = folder / MANIFEST
                if manifest.is_file():
                    for split in read_manifest(manifest).get("splits", {}).values():
                        sizes = Counter(split.get("image_sizes", {}))
                        common = tuple(int(v) for v in sizes.most_common(1)[0][0].split("x")) if sizes else None
                        known[folder].update({s["url"]: (s["samples"], common) for s in split.get("shards", [])})
            samples, size = known[folder].get(path.name, (None, None))
        shards.append(Shard(url, samples, size))
    return shards


def manifest_entries(urls: str | Sequence[str]) -> dict[str, dict]:
    """The split entries of the manifest.json beside the local shards of ``urls``: one for each split that
    lists one of those shards, keyed ``"{manifest} ({split})"``."""
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
        for split, entry in read_manifest(manifest).get("splits", {}).items():
            if names & {s["url"] for s in entry.get("shards", [])}:
                found[f"{manifest} ({split})"] = entry
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
        label_nc, ignore_index: when given, samples with label values outside [0, label_nc) (other than
            ``ignore_index``) are skipped as corrupt; label_nc 0 expects input images (``input.<ext>``).
        input_nc: channels input images are decoded to (1: greyscale, 3: RGB).
        max_bad_fraction: stop when more than this fraction of the samples read are corrupt (checked once
            min(20, one pass over this process's data) have been read).
        counts: the totals to add to (shared by the workers; pass the same one to every epoch's stream
            for run totals). By default the stream keeps its own.
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
        label_nc: int | None = None,
        ignore_index: int | None = None,
        input_nc: int = 3,
        max_bad_fraction: float = 0.05,
        counts: BadSampleCount | None = None,
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
        self.decode_options = dict(load_size=load_size, image_dtype=image_dtype, require_image=require_image,
                                   label_nc=label_nc, ignore_index=ignore_index, input_nc=input_nc)
        self.max_bad_fraction = max_bad_fraction
        self.counts = counts if counts is not None else BadSampleCount()
        self.epoch = epoch
        self.start_batch = start_batch
        self._iterations = 0
        self._check_after = CHECK_AFTER
        sizes = Counter(s.size for s in self.shards if s.size is not None)
        # Samples of one batch must share a size: without load_size, the set's commonest size (from the
        # manifest, else the first sample this worker reads) is the size; others are corrupt for batches > 1.
        self._size = sizes.most_common(1)[0][0] if sizes and load_size is None else None
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
        index = 0
        for shard in shards:
            truncated = False

            def tar_error(error: Exception, url: str = shard.url) -> bool:
                nonlocal truncated
                reason = tar_error_reason(error, url)
                if not (truncated and "truncated" in reason):  # webdataset reports one truncation twice
                    self._count(bad=1, reason=reason)
                truncated = truncated or "truncated" in reason
                return True

            for sample in wds.tariterators.tarfile_samples([{"url": shard.url}], handler=tar_error):
                if truncated:  # the sample cut short: counted with the truncation
                    continue
                if by_sample:
                    index += 1
                    if (index - 1) % num_slots != slot:
                        continue
                yield sample

    def _count(self, *, good: int = 0, bad: int = 0, reason: str = "") -> None:
        good_total, bad_total = self.counts.add(good=good, bad=bad)
        read = good_total + bad_total
        if bad:
            log.warning("skipped a corrupt sample (%d of %d read so far): %s", bad_total, read, reason)
        if read >= self._check_after and bad_total / read > self.max_bad_fraction:
            raise TooManyBadSamples(
                f"{bad_total} of {read} samples read were corrupt, more than max_bad_fraction={self.max_bad_fraction}"
                + (f"; the last: {reason}" if bad else "")
            )

    def _decoded(self, raw: Iterator[dict]) -> Iterator[dict]:
        for sample in raw:
            try:
                decoded = decode_sample(sample, **self.decode_options)
                self._check_size(decoded, f"{sample.get('__url__', '?')}:{decoded['key']}")
            except BadSampleError as error:
                self._count(bad=1, reason=str(error))
                continue
            self._count(good=1)
            yield decoded

    def _check_size(self, decoded: dict, where: str) -> None:
        if self.batch_size == 1 or self.decode_options["load_size"] is not None:
            return
        height, width = decoded["label" if "label" in decoded else "input"].shape[-2:]
        if self._size is None:
            self._size = (width, height)
        elif (width, height) != self._size:
            raise BadSampleError(
                f"{where}: {width}x{height}, but the set's samples are {self._size[0]}x{self._size[1]} "
                "(a set of mixed sizes: resize it once with 'hrgan shards --size WxH', or on load with "
                "--data.load_size [W,H] in hrgan fit, --load-size WxH in hrgan evaluate)"
            )

    def _batches(self, samples: Iterator[dict], limit: int | None) -> Iterator[dict]:
        count = 0
        while limit is None or count < limit:
            chunk = list(itertools.islice(samples, self.batch_size))
            if not chunk or (limit is not None and len(chunk) < self.batch_size):
                return
            batch = collate(chunk)
            batch["skipped"] = torch.tensor(self.counts.bad)
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
        per_slot = samples_per_slot(self.shards, num_slots)
        if per_slot is not None:  # check a small set after one pass over this process's share of it
            self._check_after = max(1, min(CHECK_AFTER, sum(per_slot[rank * workers : (rank + 1) * workers])))
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
