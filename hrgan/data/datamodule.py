"""The LightningDataModule: shard streams for training and validation, augmentation on the device."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch.utils.data import DataLoader

from hrgan.data.augment import GPUAugment
from hrgan.data.stream import BadSampleCount, ShardStream

# ShardStream.__len__ counts each worker's share exactly (every slot yields the same number of batches).
warnings.filterwarnings("ignore", message=r".*`IterableDataset` has `__len__` defined.*")


@dataclass
class SyntheticData:
    """Synthetic scenes made (once) by ``prepare_data`` when their shards are missing.

    Args:
        root: folder for the scenes and ``shards/``.
        train: training scenes.
        val: held-out scenes (validation and the fidelity report).
        size: (W, H) of the scenes.
        seed: scene seed (validation uses seed + 1).
        per_node: make the scenes on every node (for nodes without shared storage). By default global
            rank zero alone makes them and the other ranks wait: on shared storage two nodes writing the
            same files at once would race.
    """

    root: str = "runs/data/synth"
    train: int = 64
    val: int = 8
    size: tuple[int, int] = (256, 128)
    seed: int = 0
    per_node: bool = False

    @property
    def shard_dir(self) -> Path:
        return Path(self.root) / "shards"


class ShardDataModule(pl.LightningDataModule):
    """WebDataset shards in, augmented device batches out.

    Batches are dicts: ``image`` [B, 3, H, W] float in [-1, 1], ``label`` int64
    [B, H, W] (or, from image-input shards, ``input`` [B, input_nc, H, W] float in [-1, 1]), ``inst`` int32 [B, H, W] (when the shards have instance maps),
    ``key`` (list of str) and ``skipped`` (corrupt samples of the split skipped so far
    in this process, every worker and epoch). Augmentation runs after the batch is on the device.

    Args:
        train_urls: training shards (paths, globs, brace patterns, ``pipe:`` commands).
        val_urls: validation shards, each sample seen once per validation run.
        synthetic: make synthetic scenes and shard them when missing (train_urls/val_urls default to them).
        batch_size: per-device training batch size (global batch = batch_size x world size);
            the progressive schedule's stages override it.
        val_batch_size: per-device validation batch size (default: batch_size).
        num_workers: DataLoader worker processes per device.
        resolution: (W, H) the batches are resized and cropped to (the schedule's stages override it).
        load_size: (W, H) every sample is resized to on the CPU when loading, for sets of mixed sizes.
        scale_range: random extra zoom (min, max) >= 1 before cropping.
        flip: random horizontal flips.
        color_jitter: photo-only colour jitter strength (0: off).
        shuffle_buffer: raw samples held per worker for shuffling.
        samples_per_epoch: training epoch length when the shards have no manifest counts.
        seed: base seed (shard order, shuffle buffer; augmentation gets seed + rank).
        max_bad_fraction: stop when more than this fraction of the samples read in the run (all epochs
            and workers of the process) are corrupt; checked once min(20, one pass over the data) are read.
        pin_memory: page-locked host batches for faster copies to the GPU.
        label_nc, ignore_index: samples with label values outside [0, label_nc) other than
            ``ignore_index`` are skipped as corrupt (linked from the model by ``hrgan fit``; None: unchecked);
            label_nc 0 reads image-input shards (``hrgan shards --input image``).
        input_nc: channels of input images (linked from the model).
    """

    def __init__(
        self,
        *,
        train_urls: str | list[str] | None = None,
        val_urls: str | list[str] | None = None,
        synthetic: SyntheticData | None = None,
        batch_size: int = 1,
        val_batch_size: int | None = None,
        num_workers: int = 4,
        resolution: tuple[int, int] | None = None,
        load_size: tuple[int, int] | None = None,
        scale_range: tuple[float, float] = (1.0, 1.0),
        flip: bool = True,
        color_jitter: float = 0.0,
        shuffle_buffer: int = 64,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        max_bad_fraction: float = 0.05,
        pin_memory: bool = True,
        label_nc: int | None = None,
        ignore_index: int | None = None,
        input_nc: int = 3,
    ) -> None:
        super().__init__()
        self.synthetic = synthetic
        if synthetic is not None:
            self.prepare_data_per_node = synthetic.per_node
            train_urls = train_urls or str(synthetic.shard_dir / "train-*.tar")
            if synthetic.val > 0:
                val_urls = val_urls or str(synthetic.shard_dir / "val-*.tar")
        self.train_urls, self.val_urls = train_urls, val_urls
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        self.resolution = tuple(resolution) if resolution else None
        self.load_size = tuple(load_size) if load_size else None
        self.scale_range, self.flip, self.color_jitter = tuple(scale_range), flip, color_jitter
        self.shuffle_buffer, self.samples_per_epoch = shuffle_buffer, samples_per_epoch
        self.seed, self.max_bad_fraction, self.pin_memory = seed, max_bad_fraction, pin_memory
        self.label_nc, self.ignore_index, self.input_nc = label_nc, ignore_index, input_nc
        self._bad_counts: dict[str, BadSampleCount] = {}  # per split, for the whole run; made when first read
        self.augment: GPUAugment | None = None
        self._augment_state: torch.Tensor | None = None
        self._delivered = 0  # training batches handed to the model in the current epoch
        self._resume: dict | None = None  # data position restored from a checkpoint
        self._epoch = 0  # the data epoch (shard shuffle) the training loader reads
        self._start = 0  # the batch of that epoch it started at

    # ------------------------------------------------------------- preparation
    def prepare_data(self) -> None:
        spec = self.synthetic
        if spec is None:
            return
        from hrgan.data.shards import write_split
        from hrgan.data.synthetic import write_dataset

        width, height = spec.size
        for split, count, seed in (("train", spec.train, spec.seed), ("val", spec.val, spec.seed + 1)):
            if count <= 0 or list(spec.shard_dir.glob(f"{split}-*.tar")):
                continue
            rank_zero_info(f"making {count} synthetic {split} scenes at {width}x{height} in {spec.root}")
            write_dataset(Path(spec.root), num=count, width=width, height=height, seed=seed, split=split)
            result = write_split("pix2pixhd", Path(spec.root), split, spec.shard_dir, overwrite=True)
            if result.bad:
                raise RuntimeError(f"sharding the synthetic {split} scenes failed: {result.bad[0].reason}")

    def _place(self) -> tuple[int | None, int | None]:
        if self.trainer is None:
            return None, None  # the stream reads torch.distributed or RANK / WORLD_SIZE
        return self.trainer.global_rank, self.trainer.world_size

    def setup(self, stage: str | None = None) -> None:
        rank, _ = self._place()
        spec = self.synthetic
        if spec is not None and spec.train > 0 and not list(spec.shard_dir.glob("train-*.tar")):
            raise FileNotFoundError(
                f"no synthetic shards in {spec.shard_dir} on rank {rank or 0}: rank zero made them elsewhere. "
                "Put data.synthetic.root on storage every node shares, or set data.synthetic.per_node true")
        self.augment = GPUAugment(
            size=self.resolution,
            scale_range=self.scale_range,
            flip=self.flip,
            color_jitter=self.color_jitter,
            seed=self.seed + 1 + (rank or 0),
        )
        if self._augment_state is not None:
            self.augment.generator.set_state(self._augment_state)

    # ------------------------------------------------------------- stages
    def set_stage(self, *, resolution: tuple[int, int] | None, batch_size: int) -> None:
        """Follow a progressive-growth stage: the next loaders use this resolution and batch size."""
        self.resolution = tuple(resolution) if resolution else None
        self.batch_size = batch_size
        if self.augment is not None:
            self.augment.set_size(self.resolution)

    def train_batches_per_epoch(self, batch_size: int) -> int:
        """Batches per device in one training epoch at ``batch_size``."""
        _, world = self._place()
        stream = self._stream(self.train_urls, train=True, batch_size=batch_size)
        workers = max(1, self.num_workers)
        return stream.batches_per_slot((world or 1) * workers) * workers

    def _stream(
        self, urls, *, train: bool, batch_size: int, epoch: int | None = None, start_batch: int = 0,
        place: tuple[int, int] | None = None, counts: BadSampleCount | None = None,
    ) -> ShardStream:
        rank, world = place or self._place()
        return ShardStream(
            urls,
            batch_size=batch_size,
            train=train,
            num_workers=self.num_workers,
            rank=rank,
            world_size=world,
            samples_per_epoch=self.samples_per_epoch if train else None,
            shuffle_buffer=self.shuffle_buffer,
            seed=self.seed,
            load_size=self.load_size,
            image_dtype="uint8",  # 4x fewer bytes through the loader; converted on the device
            label_nc=self.label_nc,
            ignore_index=self.ignore_index,
            input_nc=self.input_nc,
            max_bad_fraction=self.max_bad_fraction,
            counts=counts,
            epoch=epoch,
            start_batch=start_batch,
        )

    def _loader(self, stream: ShardStream) -> DataLoader:
        return DataLoader(
            stream,
            batch_size=None,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            prefetch_factor=2 if self.num_workers > 0 else None,
        )

    def fixed_batches(
        self,
        num_samples: int | None,
        *,
        device: torch.device | str,
        split: str = "val",
        urls: str | list[str] | None = None,
        batch_size: int = 4,
        per_rank: bool = False,
    ) -> Iterator[dict]:
        """The first ``num_samples`` samples of a split, the same ones at every call, as batches on ``device``
        resized and centre-cropped to the current stage: for sample grids, reports and evaluations.

        No random numbers are drawn, so calling this leaves a seeded run unchanged.

        Args:
            num_samples: how many (None: every sample once).
            device: where the batches go.
            split: ``val`` or ``train``.
            urls: shards to read instead of the split's.
            batch_size: samples per batch (the last one may be smaller).
            per_rank: share the samples out over the ranks of the Trainer (every rank must call this): each
                takes ceil(num_samples / world size) from its own shards. Otherwise this process reads them alone.
        """
        splits = {"val": self.val_urls, "train": self.train_urls}
        if split not in splits:
            raise ValueError(f"unknown split {split!r}; choose from {sorted(splits)}")
        urls = urls or splits[split]
        if urls is None:
            raise ValueError(f"the data module has no {split} shards")
        if self.augment is None:
            self.setup()
        rank, world = self._place() if per_rank else (0, 1)
        rank, world = rank or 0, world or 1
        wanted = None if num_samples is None else math.ceil(num_samples / world)
        if wanted == 0:
            return
        taken = 0
        for batch in self._stream(urls, train=False, batch_size=batch_size, place=(rank, world)):
            keep = len(batch["key"]) if wanted is None else wanted - taken
            batch = {k: (v[:keep].to(device) if torch.is_tensor(v) else v[:keep]) for k, v in batch.items() if k != "skipped"}
            taken += len(batch["key"])
            yield self.augment(batch, random=False)
            if wanted is not None and taken >= wanted:
                return

    def train_dataloader(self) -> DataLoader:
        if self.train_urls is None:
            raise ValueError("no training data: set data.train_urls (or data.synthetic)")
        # The data epoch is counted here, not read from Lightning, whose epoch counter a resumed run
        # moves at other times (a run stopped by max_steps or a signal is saved with its epoch
        # complete; the loader is made once before Lightning moves to the next epoch and once after).
        if self._resume is not None:  # continue the data epoch the checkpoint was reading, where it stopped
            epoch, start = self._resume["epoch"], self._resume["batches"]
            if start >= self.train_batches_per_epoch(self.batch_size):
                epoch, start = epoch + 1, 0  # that epoch's data was all read
            self._resume = None
        elif self._delivered > self._start:  # the last loader was read from: a new epoch
            epoch, start = self._epoch + 1, 0
        else:  # made again before any batch was read
            epoch, start = self._epoch, self._start
        self._epoch, self._start, self._delivered = epoch, start, start
        return self._loader(self._stream(self.train_urls, train=True, batch_size=self.batch_size, epoch=epoch,
                                         start_batch=start, counts=self.bad_counts("train")))

    def val_dataloader(self) -> DataLoader | list:
        if self.val_urls is None:
            return []
        return self._loader(self._stream(self.val_urls, train=False, batch_size=self.val_batch_size or self.batch_size,
                                         counts=self.bad_counts("val")))

    def bad_counts(self, split: str) -> BadSampleCount:
        """The run's totals of good and corrupt samples of ``split`` in this process (made here, after any
        process spawning, since shared counters pickle only to DataLoader workers)."""
        if split not in self._bad_counts:
            self._bad_counts[split] = BadSampleCount()
        return self._bad_counts[split]

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if self.augment is None:
            self.setup()
        training = self.trainer is not None and self.trainer.training
        self._delivered += int(training)
        return self.augment(batch, random=training)

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {
            "augment_rng": self.augment.generator.get_state() if self.augment else None,
            "position": {"epoch": self._epoch, "batches": self._delivered},  # the data epoch being read
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self._resume = state_dict.get("position")
        self._augment_state = state_dict.get("augment_rng")
        if self.augment is not None and self._augment_state is not None:
            self.augment.generator.set_state(self._augment_state)
