"""Where a run is: the one owner of the iteration count, the active stage and alpha, and the epoch's end."""

from __future__ import annotations

import pytorch_lightning as pl

from hrgan.training.checks import SettingsError
from hrgan.training.schedule import GrowthState, ProgressiveSchedule

# A new stage ends the epoch, and only reloading the data every epoch gives the next one the stage's size.
REQUIRED_TRAINER_SETTINGS = {"reload_dataloaders_every_n_epochs": 1}


class Progress:
    """Iterations done, what is active (a ``GrowthState``) and whether the epoch must end, for one run.

    The module holds it and saves it in checkpoints (``checkpoint["progress"]``), so a resumed
    run continues at the same stage, learning rate and alpha; the module's ``StageDriver``
    (``hrgan.training.stage``) drives it (``start`` at the beginning of fit, ``begin_epoch``,
    ``begin_iteration`` before each batch) and the module's training step calls ``finish_iteration``.
    """

    def __init__(self, schedule: ProgressiveSchedule) -> None:
        self.schedule = schedule
        self.iteration = 0  # iterations done
        self.epoch_batches: dict[int, int] | None = None  # batches per epoch of the stages given in epochs
        self.end_epoch = False  # this batch is not trained on: the epoch ends (new stage, or the run is done)
        self._growth: GrowthState | None = None

    @property
    def growth(self) -> GrowthState:
        """What is active in the current (or last) iteration; the first iteration's state before any."""
        return self._growth or self.schedule.state(0)

    @property
    def done(self) -> bool:
        return self.iteration >= self.schedule.total_steps

    def start(self, trainer: pl.Trainer, data=None) -> GrowthState:
        """Check the Trainer, give stages set in epochs their length from ``data`` (a ``TrainingData``; once: a
        resumed run keeps the saved one) and take the state to start (or resume) at."""
        wrong = {name: getattr(trainer, name) for name, value in REQUIRED_TRAINER_SETTINGS.items()
                 if getattr(trainer, name) != value}
        if wrong:
            raise ValueError(f"progressive growth needs the Trainer settings {REQUIRED_TRAINER_SETTINGS} "
                             f"(the hrgan CLI sets them); this Trainer has {wrong}")
        if self.epoch_batches is None:
            self.epoch_batches = {}
            for i, stage in enumerate(self.schedule.stages):
                if stage.steps is None:
                    if data is None:
                        raise ValueError(f"stage {i} is given in epochs, which needs a ShardDataModule with known shard sizes")
                    self.epoch_batches[i] = data.train_batches_per_epoch(stage.batch_size)
        growth = self._take_position()
        problems = self.schedule.length_problems()
        if problems:
            raise SettingsError(problems)
        return growth

    def _take_position(self) -> GrowthState:
        """Give the stages set in epochs their length, and take the state of the last iteration done.

        That is the state an uninterrupted run holds between two iterations: a checkpoint taken at the
        end of a stage resumes in that stage, so its first batch ends the epoch as it would have
        (``begin_iteration``), and validation or export of it runs at the stage that was trained.
        """
        for index, batches in (self.epoch_batches or {}).items():
            self.schedule.set_epoch_length(int(index), batches)
        self._growth = self.schedule.state(max(0, min(self.iteration, self.schedule.total_steps) - 1))
        return self._growth

    def begin_epoch(self) -> None:
        self.end_epoch = False

    def begin_iteration(self) -> bool:
        """Take the next iteration's state before its batch; False when the epoch must end instead
        (``end_epoch``): the run is done, or a new stage starts, whose data the next epoch loads."""
        if self.done:
            self.end_epoch = True
            return False
        growth = self.schedule.state(self.iteration)
        self.end_epoch = growth.stage != self.growth.stage
        self._growth = growth
        return not self.end_epoch

    def finish_iteration(self) -> None:
        self.iteration += 1

    def _next_stage(self) -> int:
        """The stage the next iteration is in (the last stage once the run is done)."""
        return self.schedule.stage_index(min(self.iteration, self.schedule.total_steps - 1))

    def state_dict(self) -> dict:
        state = {"iteration": self.iteration, "epoch_batches": self.epoch_batches}
        known = self._growth is not None or not any(stage.steps is None for stage in self.schedule.stages)
        if known and not self.done:  # a finished run may go on with stages added after its last
            state["stage"] = self._next_stage()
        return state

    def load_state_dict(self, state: dict, *, allow_stage_change: bool = False) -> None:
        """Continue from a checkpoint's progress; validate, test and export of it run at its stage.

        A schedule that puts the checkpoint's iteration in another stage than the one it was saved in
        is refused (``SettingsError``) unless ``allow_stage_change``.
        """
        self.iteration = state["iteration"]
        self.epoch_batches = state.get("epoch_batches")
        self._take_position()
        saved, now = state.get("stage"), self._next_stage()
        if saved is not None and saved != now and not allow_stage_change:
            stage = self.schedule.stages[now]
            w, h = stage.resolution
            raise SettingsError([
                f"the checkpoint was saved at iteration {self.iteration} in stage {saved + 1} of its schedule, but this "
                f"schedule puts iteration {self.iteration} in stage {now + 1} of {len(self.schedule.stages)} ({w}x{h}, "
                f"{stage.n_enhancers} local enhancer(s)); restore the schedule, or set model.allow_stage_change true "
                f"(--model.allow_stage_change true) to continue in stage {now + 1}"
            ])
