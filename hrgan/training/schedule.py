"""Progressive resolution growth: the stages of one run and what is active at each iteration.

A run is a list of stages. Each has a resolution, a number of active local
enhancers and discriminator scales, a batch size, a length, and a learning-rate
schedule (constant for ``niter`` steps, then linear decay to 0 over
``niter_decay`` steps, as in pix2pixHD). A stage that adds an enhancer may
train only the new enhancer for ``fix_global_steps`` steps (pix2pixHD's
``niter_fix_global``) and fade it in over ``fade_in_steps`` steps.

Once every stage's length is known, what is active is a function of the iteration
number alone, so a resumed run continues with exactly the same stage, learning rate
and fade-in alpha. The one change of state is ``set_epoch_length``: a stage given in
epochs gets its length in iterations when the data's length is known (see
``hrgan.training.progress``, which keeps the iteration count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Stage:
    """One stage of a progressive run.

    Args:
        resolution: (W, H) of the training images in this stage.
        n_enhancers: active local enhancers (0: the global generator alone).
        num_D: active discriminator scales (the finest at ``resolution``).
        batch_size: per-device batch size.
        steps: length in iterations (one D and one G update each).
        epochs: length in passes over the data, instead of ``steps``.
        niter: iterations at the full learning rate (default: the whole stage minus ``niter_decay``);
            in epochs when the stage length is given in epochs.
        niter_decay: iterations of linear decay to 0 at the end of the stage (epochs likewise).
        fix_global_steps: iterations at the start in which only the newest enhancer trains.
        fade_in_steps: iterations over which the newest enhancer's output is blended in.
    """

    resolution: tuple[int, int] = (1024, 512)
    n_enhancers: int = 0
    num_D: int = 2
    batch_size: int = 1
    steps: int | None = None
    epochs: float | None = None
    niter: float | None = None
    niter_decay: float = 0
    fix_global_steps: int = 0
    fade_in_steps: int = 0


@dataclass(frozen=True)
class GrowthState:
    """What is active at one iteration."""

    stage: int
    step_in_stage: int
    resolution: tuple[int, int]
    n_enhancers: int
    num_D: int
    batch_size: int
    lr_factor: float
    alpha: float
    train_only_newest: bool


@dataclass
class ProgressiveSchedule:
    """The stages of a run; a stage given in epochs needs ``set_epoch_length`` before it is used."""

    stages: list[Stage] = field(default_factory=lambda: [Stage(steps=1000)])

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("the schedule needs at least one stage")
        for i, stage in enumerate(self.stages):
            if (stage.steps is None) == (stage.epochs is None):
                raise ValueError(f"stage {i}: give exactly one of steps or epochs")
            if i and stage.n_enhancers < self.stages[i - 1].n_enhancers:
                raise ValueError(f"stage {i}: n_enhancers may not shrink ({self.stages[i - 1].n_enhancers} -> {stage.n_enhancers})")
            if stage.fade_in_steps and (i == 0 or stage.n_enhancers == self.stages[i - 1].n_enhancers):
                raise ValueError(f"stage {i}: fade_in_steps needs a stage that adds an enhancer")
            if stage.niter_decay < 0 or stage.fix_global_steps < 0 or stage.fade_in_steps < 0:
                raise ValueError(f"stage {i}: niter_decay, fix_global_steps and fade_in_steps must be >= 0")

    def set_epoch_length(self, index: int, batches_per_epoch: float) -> None:
        """Convert stage ``index``'s length, ``niter`` and ``niter_decay`` from epochs to iterations (once)."""
        stage = self.stages[index]
        if stage.steps is not None:
            return
        stage.niter = None if stage.niter is None else round(stage.niter * batches_per_epoch)
        stage.niter_decay = round(stage.niter_decay * batches_per_epoch)
        stage.steps = max(1, math.ceil(stage.epochs * batches_per_epoch))

    def length(self, index: int) -> int:
        steps = self.stages[index].steps
        if steps is None:
            raise ValueError(f"stage {index} is given in epochs and its length in iterations is not known yet")
        return steps

    def start(self, index: int) -> int:
        """The first iteration of stage ``index``."""
        return sum(self.length(i) for i in range(index))

    @property
    def total_steps(self) -> int:
        return self.start(len(self.stages))

    def stage_index(self, iteration: int) -> int:
        end = 0
        for i in range(len(self.stages)):
            end += self.length(i)
            if iteration < end:
                return i
        return len(self.stages) - 1

    def lr_factor(self, index: int, step: int) -> float:
        """1 for ``niter`` steps, then linear decay to 0 over ``niter_decay`` steps (pix2pixHD's update_learning_rate)."""
        stage = self.stages[index]
        niter = stage.niter if stage.niter is not None else self.length(index) - stage.niter_decay
        if step < niter or stage.niter_decay == 0:
            return 1.0
        return max(0.0, 1.0 - (step - niter + 1) / stage.niter_decay)

    def state(self, iteration: int) -> GrowthState:
        """Everything that is active at ``iteration`` (counted from the start of the run)."""
        index = self.stage_index(iteration)
        stage = self.stages[index]
        step = iteration - self.start(index)
        alpha = min(1.0, (step + 1) / stage.fade_in_steps) if stage.fade_in_steps else 1.0
        return GrowthState(
            stage=index,
            step_in_stage=step,
            resolution=tuple(stage.resolution),
            n_enhancers=stage.n_enhancers,
            num_D=stage.num_D,
            batch_size=stage.batch_size,
            lr_factor=self.lr_factor(index, step),
            alpha=alpha,
            train_only_newest=step < stage.fix_global_steps and stage.n_enhancers > 0,
        )
