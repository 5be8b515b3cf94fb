from types import SimpleNamespace

import pytest

from hrgan.training.progress import Progress
from hrgan.training.schedule import ProgressiveSchedule, Stage
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


def trainer(datamodule=None, reload=1):
    return SimpleNamespace(reload_dataloaders_every_n_epochs=reload, datamodule=datamodule)


def test_a_new_stage_and_the_end_of_the_run_end_the_epoch():
    progress = Progress(two_stages(2, 2))
    assert progress.start(trainer()).stage == 0
    trained = []
    for _ in range(8):  # batches offered, more than the run needs
        if progress.begin_iteration():
            trained.append((progress.iteration, progress.growth.stage, progress.growth.step_in_stage))
            progress.finish_iteration()
        else:
            trained.append(("end epoch", progress.growth.stage, progress.done))
            assert progress.end_epoch
            progress.begin_epoch()
            assert not progress.end_epoch
    assert trained == [(0, 0, 0), (1, 0, 1), ("end epoch", 1, False), (2, 1, 0), (3, 1, 1),
                       ("end epoch", 1, True), ("end epoch", 1, True), ("end epoch", 1, True)]
    assert progress.iteration == 4 and progress.growth.stage == 1  # the last stage's state after the run


def test_epochs_are_converted_once_and_the_conversion_is_saved():
    def schedule():
        return ProgressiveSchedule([Stage(steps=2, batch_size=2), Stage(epochs=1.5, niter_decay=1, batch_size=1)])

    asked = []
    data = SimpleNamespace(train_batches_per_epoch=lambda batch_size: asked.append(batch_size) or 4)
    progress = Progress(schedule())
    progress.start(trainer(), data)
    assert asked == [1] and progress.schedule.total_steps == 2 + 6 and progress.schedule.stages[1].niter_decay == 4
    progress.iteration = 5
    resumed = Progress(schedule())
    resumed.load_state_dict(progress.state_dict())  # no data module needed: the saved conversion is used
    # the state of the last iteration done (index 4), as in the run that saved it
    assert resumed.schedule.total_steps == 8 and resumed.growth.stage == 1 and resumed.growth.step_in_stage == 2
    resumed.start(trainer(), data)
    assert asked == [1]
    with pytest.raises(ValueError, match="stage 1 is given in epochs, which needs a ShardDataModule"):
        Progress(schedule()).start(trainer())


def test_the_trainer_must_reload_the_data_every_epoch(tiny_shards, tmp_path):
    with pytest.raises(ValueError, match=r"reload_dataloaders_every_n_epochs': 1.*this Trainer has \{'reload_dataloaders_every_n_epochs': 0\}"):
        tiny_trainer(tmp_path, reload_dataloaders_every_n_epochs=0).fit(tiny_module(two_stages(1, 1)), tiny_data(tiny_shards))


@pytest.mark.parametrize("key", ["progress", "ProgressiveGrowth"])
def test_a_checkpoint_puts_the_module_at_its_stage(key):
    module = tiny_module(two_stages(2, 2))
    state = {"iteration": 3, "epoch_batches": {}}
    # "ProgressiveGrowth": checkpoints from before the Progress object kept the state in the callback's entry
    module.on_load_checkpoint({"progress": state} if key == "progress" else {"callbacks": {key: state}})
    assert module.iteration == 3 and module.current_growth().stage == 1 and module.current_growth().step_in_stage == 0
    module.on_load_checkpoint({"progress": {"iteration": 2, "epoch_batches": {}}})  # stage 1 done, stage 2 not begun
    assert module.current_growth().stage == 0 and module.current_growth().n_enhancers == 0
