"""The stage driver: the module moves the run through its stages from its own hooks."""

from __future__ import annotations

import pytorch_lightning as pl

from hrgan.training.stage import TrainingData, training_data
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


class WithoutCallbacks(pl.Callback):
    """Records each trained iteration's stage and batch shape; the module's own callbacks are left out."""

    def __init__(self):
        self.seen = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen.append((pl_module.iteration, pl_module.current_growth().stage, tuple(batch["image"].shape)))


def test_the_module_drives_the_stages_without_any_callback(tiny_shards, tmp_path):
    module = tiny_module(two_stages(2, 2))
    module.configure_callbacks = lambda: []  # no ProgressiveGrowth, no preemption handlers
    recorder = WithoutCallbacks()
    trainer = tiny_trainer(tmp_path, [recorder])
    trainer.fit(module, tiny_data(tiny_shards))
    assert recorder.seen == [(1, 0, (2, 3, 32, 64)), (2, 0, (2, 3, 32, 64)), (3, 1, (1, 3, 64, 128)),
                             (4, 1, (1, 3, 64, 128))]
    assert trainer.should_stop and module.progress.done


def test_training_data_is_what_the_stage_driver_can_drive(tiny_shards, tmp_path):
    data = tiny_data(tiny_shards)
    assert isinstance(data, TrainingData)
    trainer = tiny_trainer(tmp_path)
    trainer.fit(tiny_module(two_stages(1, 1)), data)
    assert training_data(trainer) is data
    assert training_data(None) is None and not isinstance(pl.LightningDataModule(), TrainingData)
