"""Data: synthetic scenes, file pairing, shard writing, WebDataset streaming, GPU augmentation."""
