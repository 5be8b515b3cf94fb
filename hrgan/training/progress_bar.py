"""The progress bar of ``hrgan fit``: one bar over the whole schedule, with the ETA of the run and of the stage.

Lightning's bar counts batches per epoch, which means nothing here: the
schedule sets the length of the run, and a 3-image set gives hundreds of
one-batch epochs ("Epoch 172: 1/1").
"""

from __future__ import annotations

import time

from pytorch_lightning.callbacks.progress import ProgressBar
from tqdm import tqdm


def format_seconds(seconds: float) -> str:
    """``1:02:03`` or ``02:03``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ScheduleProgressBar(ProgressBar):
    """``fit: 37%|███ | 370/1000 [02:10<03:41] stage 2/2 128x64 120/750 (ETA 02:46), loss_G 3.21 ...``"""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._bar: tqdm | None = None
        self._stage_clock: tuple[int, int, float] | None = None  # (stage, iteration, time) the stage's rate counts from
        self._val_bar: tqdm | None = None  # hrgan validate's own bar

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def on_train_start(self, trainer, pl_module) -> None:
        if not self._enabled or not trainer.is_global_zero:
            return
        progress = pl_module.progress
        self._bar = tqdm(total=progress.schedule.total_steps, initial=progress.iteration, desc="fit", unit="it",
                         dynamic_ncols=True, smoothing=0.1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._bar is None:
            return
        progress = pl_module.progress
        self._bar.update(progress.iteration - self._bar.n)
        self._bar.set_postfix_str(self.stage_text(pl_module), refresh=False)

    def stage_text(self, pl_module) -> str:
        """The stage, its iterations and ETA, and the losses shown on the bar."""
        progress = pl_module.progress
        schedule, growth = progress.schedule, progress.growth
        done = progress.iteration - schedule.start(growth.stage)
        length = schedule.length(growth.stage)
        now = time.perf_counter()
        if self._stage_clock is None or self._stage_clock[0] != growth.stage:
            self._stage_clock = (growth.stage, progress.iteration, now)
        _, first, start = self._stage_clock
        rate = (progress.iteration - first) / (now - start) if now > start and progress.iteration > first else None
        eta = f" (ETA {format_seconds((length - done) / rate)})" if rate else ""
        width, height = growth.resolution
        text = f"stage {growth.stage + 1}/{len(schedule.stages)} {width}x{height} {done}/{length}{eta}"
        metrics = self.get_metrics(self.trainer, pl_module)
        losses = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items() if k != "v_num")
        return f"{text}, {losses}" if losses else text

    def on_validation_start(self, trainer, pl_module) -> None:
        if self._bar is not None and not trainer.sanity_checking:
            self._bar.set_postfix_str(f"{self.stage_text(pl_module)}, validating")
        elif self._bar is None and self._enabled and trainer.is_global_zero and trainer.state.fn == "validate":
            # hrgan validate: a bar over the validation batches
            total = sum(n for n in trainer.num_val_batches if n != float("inf")) or None
            self._val_bar = tqdm(total=total, desc="validate", unit="batch", dynamic_ncols=True)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if getattr(self, "_val_bar", None) is not None:
            self._val_bar.update()

    def on_validation_end(self, trainer, pl_module) -> None:
        if getattr(self, "_val_bar", None) is not None:
            self._val_bar.close()
            self._val_bar = None

    def on_train_end(self, trainer, pl_module) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.on_train_end(trainer, pl_module)
        self.on_validation_end(trainer, pl_module)
