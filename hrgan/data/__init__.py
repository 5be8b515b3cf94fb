"""Data: synthetic scenes, shard writing, WebDataset streaming, GPU augmentation (issue 3)."""
