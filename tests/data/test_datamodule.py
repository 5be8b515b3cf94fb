import pytest
import pytorch_lightning as pl
import torch

from hrgan.data.datamodule import ShardDataModule


class Recorder(pl.LightningModule):
    """Consumes batches and remembers what it saw."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.train_shapes, self.val_keys = [], []

    def training_step(self, batch, batch_idx):
        self.train_shapes.append((tuple(batch["image"].shape), batch["image"].dtype, tuple(batch["label"].shape)))
        return (self.weight * batch["image"].mean()).sum()

    def validation_step(self, batch, batch_idx):
        self.val_keys += batch["key"]

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_gets_augmented_batches_at_the_resolution(synth_shards, tmp_path):
    urls = str(synth_shards / "train-{000000..000005}.tar")
    data = ShardDataModule(train_urls=urls, val_urls=urls, batch_size=4, num_workers=2, resolution=(64, 32),
                           scale_range=(1.0, 1.3), pin_memory=False)
    model = Recorder()
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, default_root_dir=tmp_path, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=data)
    assert len(model.train_shapes) == 4  # 2 workers x ceil(6 samples / 4)
    assert set(model.train_shapes) == {((4, 3, 32, 64), torch.float32, (4, 32, 64))}
    assert sorted(model.val_keys) == sorted(f"synth_s3_{i:06d}" for i in range(12))


def test_synthetic_scenes_are_made_once_for_all_nodes_unless_asked_per_node(tmp_path):
    from hrgan.data.datamodule import SyntheticData

    shared = ShardDataModule(synthetic=SyntheticData(root=str(tmp_path), train=2, val=0, size=(64, 32)), num_workers=0)
    per_node = ShardDataModule(synthetic=SyntheticData(root=str(tmp_path), per_node=True), num_workers=0)
    assert shared.prepare_data_per_node is False  # two nodes on shared storage must not write the same files
    assert per_node.prepare_data_per_node is True
    try:
        shared.setup("fit")  # what a rank sees when rank zero made the scenes on storage it cannot reach
    except FileNotFoundError as error:
        assert str(tmp_path / "shards") in str(error) and "per_node" in str(error)
    else:
        raise AssertionError("setup without shards should fail")
    shared.prepare_data()
    shared.setup("fit")
    assert next(shared.fixed_batches(2, device="cpu", split="train"))["label"].shape[-2:] == (32, 64)


def test_fixed_batches_are_the_first_samples_at_the_stage_size_every_time(synth_shards):
    from types import SimpleNamespace

    urls = str(synth_shards / "train-{000000..000005}.tar")
    data = ShardDataModule(train_urls=urls, val_urls=urls, num_workers=2, resolution=(32, 16), flip=True, pin_memory=False)
    data.setup("fit")
    random_state, augment_state = torch.get_rng_state(), data.augment.generator.get_state()
    first = list(data.fixed_batches(5, device="cpu", batch_size=2))
    assert [len(b["key"]) for b in first] == [2, 2, 1] and "skipped" not in first[0]
    keys = [k for b in first for k in b["key"]]
    assert keys == [f"synth_s3_{i:06d}" for i in range(5)]  # shard order, whatever the loader's workers
    assert first[0]["image"].shape == (2, 3, 16, 32) and first[0]["image"].dtype == torch.float32
    again = list(data.fixed_batches(5, device="cpu", batch_size=2))
    assert all(torch.equal(a["image"], b["image"]) for a, b in zip(first, again, strict=True))  # no random flip or crop
    assert torch.equal(torch.get_rng_state(), random_state) and torch.equal(data.augment.generator.get_state(), augment_state)
    data.set_stage(resolution=(64, 32), batch_size=1)
    assert next(data.fixed_batches(1, device="cpu", split="train"))["image"].shape == (1, 3, 32, 64)
    assert len([k for b in data.fixed_batches(None, device="cpu") for k in b["key"]]) == 12
    shares = []
    for rank in (0, 1):
        data.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        shares.append([k for b in data.fixed_batches(5, device="cpu", per_rank=True) for k in b["key"]])
    assert [len(s) for s in shares] == [3, 3] and not set(shares[0]) & set(shares[1])
    with pytest.raises(ValueError, match="unknown split 'test'"):
        next(data.fixed_batches(1, device="cpu", split="test"))
