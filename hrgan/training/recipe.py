"""The Trainer settings every hrgan run needs, in one place: ``hrgan fit``'s defaults, the self-test's and the
benchmarks' Trainers, and the tests' all start from them."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from hrgan.training.checkpoint_io import AtomicCheckpointIO
from hrgan.training.progress import REQUIRED_TRAINER_SETTINGS

CHECKPOINT_IO = "hrgan.training.checkpoint_io.AtomicCheckpointIO"
# a run that writes and shows nothing but what its callbacks do (tests, the self-test, benchmarks)
QUIET = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False, "enable_model_summary": False,
         "num_sanity_val_steps": 0}


def trainer_settings(*, as_config: bool = False, **overrides) -> dict:
    """The settings: the data reloaded every epoch (a new stage ends one), epochs without limit (the schedule
    ends the run), batch statistics over every GPU (``sync_batchnorm``, which ``hrgan_trainer`` keeps on GPUs
    only), atomic checkpoint writes; ``as_config``: the plugin as a config entry (LightningCLI's defaults)."""
    plugin = {"class_path": CHECKPOINT_IO} if as_config else AtomicCheckpointIO()
    return {**REQUIRED_TRAINER_SETTINGS, "max_epochs": -1, "sync_batchnorm": True, "plugins": [plugin], **overrides}


def uses_gpus(accelerator) -> bool:
    """Whether a Trainer's ``accelerator`` setting runs on CUDA GPUs."""
    if not isinstance(accelerator, str):
        return False
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def hrgan_trainer(**overrides) -> pl.Trainer:
    """A Trainer with ``trainer_settings(**overrides)``; torch's SyncBatchNorm only where it runs (GPUs)."""
    settings = trainer_settings(**overrides)
    settings["sync_batchnorm"] = settings["sync_batchnorm"] and uses_gpus(settings.get("accelerator", "auto"))
    return pl.Trainer(**settings)
