"""Checkpoints written through a temporary file and a rename, so a crash never leaves a half-written one."""

from __future__ import annotations

from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from hrgan.io import describe_write_error, write_atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, but atomic on local file systems."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        try:
            write_atomic(path, lambda f: torch.save(checkpoint, f))
        except (OSError, RuntimeError) as error:  # no space, a size limit, a read-only folder: name the file
            raise describe_write_error(path, error) from error
