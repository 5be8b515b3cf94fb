"""Progressive resolution growth: the stages of one run and what is active at each iteration.

A run is a list of stages. Each has a resolution, a number of active local
enhancers and discriminator scales, a batch size, a length, and a learning-rate
schedule (constant for ``niter`` steps, then linear decay over ``niter_decay``
steps, as in pix2pixHD: the first decay step runs at the full rate, each later
one lr / niter_decay lower, the last at lr / niter_decay). A stage that adds an
enhancer may train only the new enhancer for ``fix_global_steps`` steps
(pix2pixHD's ``niter_fix_global``) and fade it in over ``fade_in_steps`` steps
(alpha 0 at the stage's first step, 1 from step ``fade_in_steps`` on).

A schedule with something wrong is refused when it is built, with every problem
listed (``SettingsError``); what needs the networks is checked by
``hrgan.training.checks`` before the first step.

Once every stage's length is known, what is active is a function of the iteration
number alone, so a resumed run continues with exactly the same stage, learning rate
and fade-in alpha. The one change of state is ``set_epoch_length``: a stage given in
epochs gets its length in iterations when the data's length is known (see
``hrgan.training.progress``, which keeps the iteration count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hrgan.training.checks import SettingsError


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
        niter_decay: iterations of linear decay at the end of the stage (epochs likewise); the stage's last
            iteration runs at lr / niter_decay.
        fix_global_steps: iterations at the start in which only the newest enhancer trains.
        fade_in_steps: iterations over which the newest enhancer's output is blended in (alpha 0 -> 1).
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
        problems = self.problems()
        if problems:
            raise SettingsError(problems)

    def problems(self) -> list[str]:
        """Everything wrong with the stages, one line each; lengths still in epochs are compared in epochs
        (``length_problems`` checks the iterations once they are known)."""
        if not self.stages:
            return ["the schedule needs at least one stage"]
        found = []
        for i, stage in enumerate(self.stages):
            name = f"stage {i + 1}"
            if (stage.steps is None) == (stage.epochs is None):
                found.append(f"{name}: give exactly one of steps or epochs")
            elif stage.steps is not None and stage.steps < 1:
                found.append(f"{name}: steps must be at least 1, got {stage.steps}")
            elif stage.epochs is not None and not stage.epochs > 0:
                found.append(f"{name}: epochs must be more than 0, got {stage.epochs}")
            if stage.batch_size < 1:
                found.append(f"{name}: batch_size must be at least 1, got {stage.batch_size}")
            if stage.num_D < 1:
                found.append(f"{name}: num_D must be at least 1, got {stage.num_D}")
            if stage.n_enhancers < 0:
                found.append(f"{name}: n_enhancers must be at least 0, got {stage.n_enhancers}")
            if len(stage.resolution) != 2 or min(stage.resolution) < 1:
                found.append(f"{name}: resolution must be [width, height], both at least 1, got {list(stage.resolution)}")
            for option in ("niter_decay", "fix_global_steps", "fade_in_steps", "niter"):
                value = getattr(stage, option)
                if value is not None and value < 0:
                    found.append(f"{name}: {option} must be at least 0, got {value}")
            if i:
                before = self.stages[i - 1]
                if stage.n_enhancers < before.n_enhancers:
                    found.append(f"{name}: n_enhancers may not shrink ({before.n_enhancers} -> {stage.n_enhancers})")
                if len(stage.resolution) == len(before.resolution) == 2 and (
                        stage.resolution[0] < before.resolution[0] or stage.resolution[1] < before.resolution[1]):
                    found.append(f"{name}: the resolution may not shrink ({_size(before.resolution)} -> {_size(stage.resolution)})")
            if stage.fade_in_steps and (i == 0 or stage.n_enhancers == self.stages[i - 1].n_enhancers):
                found.append(f"{name}: fade_in_steps needs a stage that adds an enhancer")
        return found + self.length_problems()

    def length_problems(self) -> list[str]:
        """Fade-in and decay longer than their stage. A stage given in epochs has its decay compared in epochs
        (once ``set_epoch_length`` has rounded both to iterations it is not compared again) and its fade-in
        once its length in iterations is known."""
        found = []
        for i, stage in enumerate(self.stages):
            name = f"stage {i + 1}"
            given = stage.steps if stage.epochs is None else stage.epochs
            unit = "steps" if stage.epochs is None else "epochs"
            in_given_units = stage.epochs is None or stage.steps is None
            if in_given_units and given is not None and given > 0:
                if stage.niter_decay > given:
                    found.append(f"{name}: niter_decay ({stage.niter_decay:g}) is longer than the stage ({given:g} {unit})")
                elif stage.niter is not None and stage.niter + stage.niter_decay > given:
                    found.append(f"{name}: niter + niter_decay ({stage.niter:g} + {stage.niter_decay:g}) is longer "
                                 f"than the stage ({given:g} {unit})")
            if stage.steps is not None and stage.steps > 0 and stage.fade_in_steps > stage.steps:
                found.append(f"{name}: fade_in_steps ({stage.fade_in_steps}) is longer than the stage ({stage.steps} steps)")
        return found

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
        """1 for ``niter`` steps, then linear decay over ``niter_decay`` steps (pix2pixHD's update_learning_rate,
        lr -= lr / niter_decay after each decay epoch): decay step j runs at 1 - j / niter_decay, so the first at
        1 and the last at 1 / niter_decay; 0 only past ``niter + niter_decay``."""
        stage = self.stages[index]
        niter = stage.niter if stage.niter is not None else self.length(index) - stage.niter_decay
        if step < niter or stage.niter_decay == 0:
            return 1.0
        remaining = niter + stage.niter_decay - step  # decay steps left, this one included
        return max(0.0, remaining / stage.niter_decay)

    def state(self, iteration: int) -> GrowthState:
        """Everything that is active at ``iteration`` (counted from the start of the run)."""
        index = self.stage_index(iteration)
        stage = self.stages[index]
        step = iteration - self.start(index)
        alpha = min(1.0, step / stage.fade_in_steps) if stage.fade_in_steps else 1.0  # 0 at the first step
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


def _size(resolution) -> str:
    return "x".join(str(v) for v in resolution)
