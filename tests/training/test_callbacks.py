"""What the callbacks write, and under which names, on tiny networks."""

import csv

import torch
from pytorch_lightning.loggers import CSVLogger

from hrgan.training.callbacks import Checkpoints, SampleGrids
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


def test_checkpoints_grids_and_logged_steps_count_iterations(tiny_shards, tmp_path):
    logger = CSVLogger(tmp_path, name="csv")
    callbacks = [Checkpoints(dirpath=str(tmp_path / "ckpt"), every_n_iterations=2), SampleGrids(every_n_iterations=2, num_samples=2)]
    data = tiny_data(tiny_shards, val_urls=str(tiny_shards / "val-*.tar"))
    trainer = tiny_trainer(tmp_path, callbacks, enable_checkpointing=True, logger=logger, log_every_n_steps=1,
                           limit_val_batches=None, val_check_interval=2, check_val_every_n_epoch=None)
    trainer.fit(tiny_module(two_stages(3, 3)), data)  # 6 iterations, 12 optimizer steps
    names = sorted(p.name for p in (tmp_path / "ckpt").glob("iter_*.ckpt"))
    assert names == ["iter_0000002.ckpt", "iter_0000004.ckpt", "iter_0000006.ckpt"]
    for name in names:
        assert torch.load(tmp_path / "ckpt" / name, weights_only=True)["progress"]["iteration"] == int(name[5:12])
    samples = tmp_path / "csv" / "version_0" / "samples"
    assert sorted(p.name for p in samples.glob("iter_*.png")) == ["iter_0000002.png", "iter_0000004.png", "iter_0000006.png"]
    with open(tmp_path / "csv" / "version_0" / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    trained = [row for row in rows if row["iteration"]]
    assert [int(row["step"]) for row in trained] == [int(float(row["iteration"])) for row in trained] == list(range(1, 7))
    validated = [int(row["step"]) for row in rows if row["val/psnr"]]
    assert validated and set(validated) <= set(range(1, 7))
