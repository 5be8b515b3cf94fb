"""Tiny modules, data and trainers for the training tests (64x32 and 128x64, ngf 4)."""

from __future__ import annotations

import pytorch_lightning as pl

from hrgan.data.datamodule import ShardDataModule
from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
from hrgan.training.pix2pixhd_module import Pix2PixHDModule
from hrgan.training.recipe import QUIET, hrgan_trainer
from hrgan.training.schedule import ProgressiveSchedule, Stage

LABEL_NC = 8  # the synthetic scenes

# hrgan fit options that make a config's networks tiny and its run quiet (for CLI tests)
TINY_NET_ARGS = [
    "--model.generator.init_args.ngf", "4", "--model.generator.init_args.n_downsample_global", "2",
    "--model.generator.init_args.n_blocks_global", "1", "--model.discriminator.init_args.ndf", "4",
    "--model.discriminator.init_args.n_layers", "2", "--trainer.enable_progress_bar", "false",
    "--data.num_workers", "0",
]


def two_stages(first: int = 4, second: int = 4, **second_stage) -> ProgressiveSchedule:
    return ProgressiveSchedule([
        Stage(resolution=(64, 32), n_enhancers=0, num_D=1, batch_size=2, steps=first),
        Stage(resolution=(128, 64), n_enhancers=1, num_D=2, batch_size=1, steps=second, **second_stage),
    ])


def tiny_module(schedule: ProgressiveSchedule | None = None, **kwargs) -> Pix2PixHDModule:
    generator = Pix2PixHDGenerator(in_channels=LABEL_NC + 1, ngf=4, n_downsample_global=2, n_blocks_global=1,
                                   n_local_enhancers=1, n_blocks_local=1, keep_coarse_heads=True)
    discriminator = MultiscaleDiscriminator(in_channels=LABEL_NC + 1 + 3, ndf=4, n_layers=2, num_D=2)
    options = dict(classes="synthetic", use_vgg_loss=False, lambda_l1=10.0, ema_decay=0.99, fused_adam=False)
    return Pix2PixHDModule(generator=generator, discriminator=discriminator, label_nc=LABEL_NC,
                           schedule=schedule or two_stages(), **(options | kwargs))


def tiny_data(shards, **kwargs) -> ShardDataModule:
    options = dict(train_urls=str(shards / "train-*.tar"), num_workers=0, shuffle_buffer=4)
    return ShardDataModule(**(options | kwargs))


def tiny_trainer(tmp_path, callbacks=(), **kwargs) -> pl.Trainer:
    options = QUIET | dict(accelerator="cpu", devices=1, default_root_dir=tmp_path, limit_val_batches=0)
    return hrgan_trainer(callbacks=list(callbacks), **(options | kwargs))
