"""Exports and checkpoints written before issue 28's restructuring load and give the same photos, bit for bit.

The files and photos were made on main 00957ce by ``tests/fixtures/make_compat_fixtures.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from hrgan.artifacts import read_export
from hrgan.commands import infer
from hrgan.training.callbacks import Checkpoints
from tests.fixtures.make_compat_fixtures import FEAT_NUM, infer_arguments
from tests.training.helpers import LABEL_NC, tiny_data, tiny_trainer, two_stages

ROOT = Path(__file__).resolve().parent / "fixtures" / "compat"
CASES = json.loads((ROOT / "cases.json").read_text())


@pytest.mark.parametrize("name,checkpoint,extra", CASES, ids=[case[0] for case in CASES])
def test_old_files_give_the_same_photos(name, checkpoint, extra, tmp_path):
    assert infer.main(infer_arguments(ROOT, checkpoint, extra, tmp_path)) == 0
    expected = sorted((ROOT / "expected" / name).glob("*.png"))
    assert expected and sorted(p.name for p in tmp_path.glob("*.png")) == [p.name for p in expected]
    for path in expected:
        assert np.array_equal(np.asarray(Image.open(tmp_path / path.name)), np.asarray(Image.open(path))), path.name


def test_an_old_checkpoint_resumes_with_its_weights(tiny_shards, tmp_path):
    from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
    from hrgan.training.module import Pix2PixHDModule

    generator = Pix2PixHDGenerator(in_channels=LABEL_NC + 1 + FEAT_NUM, ngf=4, n_downsample_global=2, n_blocks_global=1,
                                   n_local_enhancers=1, n_blocks_local=1, keep_coarse_heads=True)
    discriminator = MultiscaleDiscriminator(in_channels=LABEL_NC + 1 + 3, ndf=4, n_layers=2, num_D=2)
    module = Pix2PixHDModule(generator=generator, discriminator=discriminator, label_nc=LABEL_NC, feat_num=FEAT_NUM,
                             nef=4, classes="synthetic", schedule=two_stages(2, 2), use_vgg_loss=False, lambda_l1=10.0,
                             ema_decay=0.9, fused_adam=False)
    loaded, checkpoints = {}, Checkpoints(dirpath=str(tmp_path / "checkpoints"))

    class Probe(pl.Callback):
        def on_train_start(self, trainer, pl_module):  # after the checkpoint's weights and callback states are in
            loaded.update(pl_module.inference_export(), best=checkpoints.best_model_path)

    # the run was done (4 of 4 iterations): resuming restores it and ends at once
    tiny_trainer(tmp_path, [Probe(), checkpoints], enable_checkpointing=True).fit(
        module, tiny_data(tiny_shards), ckpt_path=ROOT / "pix2pixhd" / "last.ckpt")
    saved = torch.load(ROOT / "pix2pixhd" / "last.ckpt", map_location="cpu", weights_only=True)["callbacks"]
    # the Checkpoints state, kept under the key of the Lightning-counted saves, is read back (in another folder,
    # Lightning restores best_model_path alone)
    assert loaded["best"] == next(iter(saved.values()))["best_model_path"] != ""
    export = read_export(ROOT / "pix2pixhd" / "export.pt")
    assert module.iteration == 4
    for network in ("generator", "encoder"):
        ours, theirs = loaded[network]["state_dict"], export[network]["state_dict"]
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), network
