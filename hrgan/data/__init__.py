"""Data: synthetic scenes, file pairing, shard writing, WebDataset streaming, GPU augmentation."""

from hrgan.data.augment import GPUAugment
from hrgan.data.datamodule import ShardDataModule
from hrgan.data.stream import ShardStream, expand_urls

__all__ = ["GPUAugment", "ShardDataModule", "ShardStream", "expand_urls"]
