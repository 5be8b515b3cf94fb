"""The stage driver: the one place that moves a run through its schedule.

``StageDriver`` holds the run's ``Progress`` (iteration, stage, fade-in alpha, the epoch's end) and applies
each stage: the data's resolution and batch size, the learning-rate factor, the end of training. The
training module calls it from its own hooks, in an order it states, so no rule depends on the order in which
Lightning calls callbacks. ``TrainingData`` says what training needs from a data module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info

from hrgan.training.progress import Progress
from hrgan.training.schedule import GrowthState, ProgressiveSchedule


@runtime_checkable
class TrainingData(Protocol):
    """What training asks of a data module (``hrgan.data.datamodule.ShardDataModule`` is one)."""

    train_urls: str | Sequence[str] | None
    val_urls: str | Sequence[str] | None
    load_size: tuple[int, int] | None

    def set_stage(self, *, resolution: tuple[int, int] | None, batch_size: int) -> None:
        """Load the next epochs at this resolution and batch size."""

    def train_batches_per_epoch(self, batch_size: int) -> int:
        """Batches per device in one training epoch at ``batch_size``."""

    def fixed_batches(self, num_samples: int | None, *, device: torch.device | str, split: str = "val",
                      urls: str | Sequence[str] | None = None, batch_size: int = 4,
                      per_rank: bool = False) -> Iterator[dict]:
        """The same first samples at every call, at the current stage's size, on ``device``."""


def training_data(trainer: pl.Trainer | None) -> TrainingData | None:
    """The trainer's data module when it is one training can drive, else None (e.g. plain data loaders)."""
    datamodule = trainer.datamodule if trainer is not None else None
    return datamodule if isinstance(datamodule, TrainingData) else None


class StageDriver:
    """Where a run is, and what each stage sets (its data, its learning rates, the end of the run).

    Args:
        schedule: the run's stages.
    """

    def __init__(self, schedule: ProgressiveSchedule) -> None:
        self.progress = Progress(schedule)

    @property
    def growth(self) -> GrowthState:
        return self.progress.growth

    def start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """At the start of fit: take the state to start (or resume) at and apply its stage."""
        self._enter(trainer, module, self.progress.start(trainer, training_data(trainer)))

    def begin_epoch(self) -> None:
        self.progress.begin_epoch()

    def begin_batch(self, trainer: pl.Trainer, module: pl.LightningModule) -> bool:
        """Before a batch: whether it is trained on. If not, the epoch ends: the run is done (the Trainer is
        told to stop), or a new stage starts, whose data the next epoch loads."""
        progress = self.progress
        if progress.begin_iteration():
            self.set_lr_factor(module, progress.growth.lr_factor, global_batch=progress.growth.batch_size * trainer.world_size)
            return True
        if progress.done:
            trainer.should_stop = True
        else:
            self._enter(trainer, module, progress.growth)
        return False

    def end_batch(self, trainer: pl.Trainer) -> None:
        """After a trained batch (the training step counted it): stop at the schedule's end."""
        if self.progress.done:
            trainer.should_stop = True

    def evaluate_at_stage(self, trainer: pl.Trainer) -> None:
        """Standalone validation of a checkpoint: its data at the stage it was saved in."""
        data = training_data(trainer)
        if data is not None:
            data.set_stage(resolution=self.growth.resolution, batch_size=self.growth.batch_size)

    @staticmethod
    def set_lr_factor(module: pl.LightningModule, factor: float, global_batch: int | None = None) -> None:
        """Scale G's and D's learning rates by ``factor`` (the schedule's), with the linear rule when set."""
        settings = module.optimization
        if global_batch is not None:
            factor *= settings.batch_scale(global_batch)
        for optimizer, base in zip(module.optimizers(use_pl_optimizer=False), (settings.lr_G, settings.lr_D), strict=True):
            for group in optimizer.param_groups:
                group["lr"] = base * factor

    @staticmethod
    def learning_rates(module: pl.LightningModule) -> dict[str, float]:
        """``lr/G`` and ``lr/D`` as the optimizers hold them now (schedule and linear scaling included)."""
        opt_g, opt_d = module.optimizers(use_pl_optimizer=False)
        return {"lr/G": opt_g.param_groups[0]["lr"], "lr/D": opt_d.param_groups[0]["lr"]}

    def _enter(self, trainer: pl.Trainer, module: pl.LightningModule, growth: GrowthState) -> None:
        """A stage's data size and batch, said once."""
        data = training_data(trainer)
        if data is not None:
            data.set_stage(resolution=growth.resolution, batch_size=growth.batch_size)
        schedule = self.progress.schedule
        w, h = growth.resolution
        global_batch = growth.batch_size * trainer.world_size
        scale = module.optimization.batch_scale(global_batch)
        iteration = self.progress.iteration
        rank_zero_info(
            f"stage {growth.stage + 1}/{len(schedule.stages)}: {w}x{h}, {growth.n_enhancers} local enhancer(s), "
            f"{growth.num_D} discriminator scales, batch {growth.batch_size} per device x {trainer.world_size} = "
            f"{global_batch} global" + (f" (learning rates x{scale:g}, linear rule)" if scale != 1 else "") + ", "
            f"iterations {schedule.start(growth.stage)}-{schedule.start(growth.stage + 1) - 1} of {schedule.total_steps}"
            + (f" (resuming at {iteration})" if iteration > schedule.start(growth.stage) else "")
        )
