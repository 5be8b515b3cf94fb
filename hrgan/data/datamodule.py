"""The LightningDataModule: shard streams for training and validation, augmentation on the device."""

from __future__ import annotations

import warnings

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from hrgan.data.augment import GPUAugment
from hrgan.data.stream import ShardStream

# ShardStream.__len__ counts each worker's share exactly (every slot yields the same number of batches).
warnings.filterwarnings("ignore", message=r".*`IterableDataset` has `__len__` defined.*")


class ShardDataModule(pl.LightningDataModule):
    """WebDataset shards in, augmented device batches out.

    Batches are dicts: ``image`` [B, 3, H, W] float in [-1, 1], ``label`` int64
    [B, H, W], ``inst`` int32 [B, H, W] (when the shards have instance maps),
    ``key`` (list of str) and ``skipped`` (corrupt samples skipped so far by the
    worker). Augmentation runs after the batch is on the device.

    Args:
        train_urls: training shards (paths, brace patterns, ``pipe:`` commands).
        val_urls: validation shards, each sample seen once per validation run.
        batch_size: per-device training batch size (global batch = batch_size x world size).
        val_batch_size: per-device validation batch size (default: batch_size).
        num_workers: DataLoader worker processes per device.
        resolution: (W, H) the batches are resized and cropped to; None keeps the stored size.
        load_size: (W, H) every sample is resized to on the CPU when loading, for sets of mixed sizes.
        scale_range: random extra zoom (min, max) >= 1 before cropping.
        flip: random horizontal flips.
        color_jitter: photo-only colour jitter strength (0: off).
        shuffle_buffer: raw samples held per worker for shuffling.
        samples_per_epoch: training epoch length when the shards have no manifest counts.
        seed: base seed (shard order, shuffle buffer; augmentation gets seed + rank).
        max_bad_fraction: stop when more than this fraction of samples is corrupt.
        pin_memory: page-locked host batches for faster copies to the GPU.
    """

    def __init__(
        self,
        *,
        train_urls: str | list[str] | None = None,
        val_urls: str | list[str] | None = None,
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
    ) -> None:
        super().__init__()
        self.train_urls, self.val_urls = train_urls, val_urls
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.resolution = tuple(resolution) if resolution else None
        self.load_size = tuple(load_size) if load_size else None
        self.scale_range, self.flip, self.color_jitter = tuple(scale_range), flip, color_jitter
        self.shuffle_buffer, self.samples_per_epoch = shuffle_buffer, samples_per_epoch
        self.seed, self.max_bad_fraction, self.pin_memory = seed, max_bad_fraction, pin_memory
        self.augment: GPUAugment | None = None

    def _place(self) -> tuple[int | None, int | None]:
        if self.trainer is None:
            return None, None  # the stream reads torch.distributed or RANK / WORLD_SIZE
        return self.trainer.global_rank, self.trainer.world_size

    def setup(self, stage: str | None = None) -> None:
        rank, _ = self._place()
        self.augment = GPUAugment(
            size=self.resolution,
            scale_range=self.scale_range,
            flip=self.flip,
            color_jitter=self.color_jitter,
            seed=self.seed + 1 + (rank or 0),
        )

    def set_resolution(self, resolution: tuple[int, int] | None) -> None:
        """Follow a progressive-growth stage: batches come out at ``resolution`` from now on."""
        self.resolution = tuple(resolution) if resolution else None
        if self.augment is not None:
            self.augment.set_size(self.resolution)

    def _stream(self, urls, *, train: bool) -> ShardStream:
        rank, world = self._place()
        return ShardStream(
            urls,
            batch_size=self.batch_size if train else self.val_batch_size,
            train=train,
            num_workers=self.num_workers,
            rank=rank,
            world_size=world,
            samples_per_epoch=self.samples_per_epoch if train else None,
            shuffle_buffer=self.shuffle_buffer,
            seed=self.seed,
            load_size=self.load_size,
            image_dtype="uint8",  # 4x fewer bytes through the loader; converted on the device
            max_bad_fraction=self.max_bad_fraction,
        )

    def _loader(self, stream: ShardStream) -> DataLoader:
        return DataLoader(
            stream,
            batch_size=None,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,  # workers count epochs for the shard shuffle
            prefetch_factor=2 if self.num_workers > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        if self.train_urls is None:
            raise ValueError("no training data: set data.train_urls")
        return self._loader(self._stream(self.train_urls, train=True))

    def val_dataloader(self) -> DataLoader | list:
        if self.val_urls is None:
            return []
        return self._loader(self._stream(self.val_urls, train=False))

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if self.augment is None:
            self.setup()
        training = self.trainer is not None and self.trainer.training
        return self.augment(batch, random=training)
