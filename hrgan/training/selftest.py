"""The real training pipeline behind ``hrgan selftest``, tiny, to check an installation or a GPU node.

Makes 8 synthetic scenes, shards them, and trains a small pix2pixHD (global
generator, then one local enhancer) through the same DataModule, module,
callbacks and checkpoint IO as ``hrgan fit``, for ``steps`` iterations. Writes
``selftest.json`` (losses per iteration, seconds per iteration, parameter
counts, device) and ``samples/latest.png`` (labels | edges | generated | real) to ``out``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from hrgan.conditioning import input_channels
from hrgan.data.datamodule import ShardDataModule
from hrgan.data.shards import write_split
from hrgan.data.synthetic import LABEL_NC, write_dataset
from hrgan.io import write_bytes_atomic
from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
from hrgan.pretrained import find_cached_vgg19
from hrgan.training.callbacks import SampleGrids
from hrgan.training.pix2pixhd_module import Pix2PixHDModule
from hrgan.training.recipe import QUIET, hrgan_trainer
from hrgan.training.schedule import ProgressiveSchedule, Stage


class _LossLog(Callback):
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss/")})


def run(*, out: Path, width: int, height: int, steps: int, accelerator: str, devices: list[int] | int = 1,
        precision: str = "32", seed: int = 0) -> dict:
    """Run the self-test and return the report written to ``selftest.json``."""
    pl.seed_everything(seed, verbose=False)
    write_dataset(out / "data", num=8, width=width, height=height, seed=seed, progress=False)
    if write_split("pix2pixhd", out / "data", "train", out / "data" / "shards", overwrite=True, progress=False).bad:
        raise RuntimeError("sharding the self-test scenes failed")
    in_ch = input_channels(LABEL_NC, use_instance_edges=True)
    generator = Pix2PixHDGenerator(in_channels=in_ch, ngf=8, n_downsample_global=3, n_blocks_global=3,
                                   n_blocks_local=1, keep_coarse_heads=True)
    discriminator = MultiscaleDiscriminator(in_channels=in_ch + 3, ndf=8, num_D=2)
    first = max(1, steps // 2)
    schedule = ProgressiveSchedule([
        Stage(resolution=(width // 2, height // 2), n_enhancers=0, num_D=1, batch_size=2, steps=first),
        Stage(resolution=(width, height), n_enhancers=1, num_D=2, batch_size=1, steps=max(1, steps - first), fade_in_steps=1),
    ])
    use_vgg = find_cached_vgg19() is not None
    module = Pix2PixHDModule(generator=generator, discriminator=discriminator, label_nc=LABEL_NC, classes="synthetic",
                             schedule=schedule, use_vgg_loss=use_vgg, lambda_l1=10.0, lr_G=5e-4)
    data = ShardDataModule(train_urls=str(out / "data" / "shards" / "train-*.tar"), num_workers=0)
    losses = _LossLog()
    trainer = hrgan_trainer(**QUIET, accelerator=accelerator, devices=devices, precision=precision, default_root_dir=out,
                            callbacks=[losses, SampleGrids(every_n_iterations=steps, num_samples=2)])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        trainer.fit(module, data)
    seconds = time.perf_counter() - start
    finite = all(math.isfinite(v) for row in losses.rows for v in row.values())
    report = {
        "ok": finite and len(losses.rows) == steps,
        "device": str(module.device),
        "precision": precision,
        "size": f"{width}x{height}",
        "steps": len(losses.rows),
        "seconds_per_step": seconds / max(len(losses.rows), 1),
        "vgg_loss": "on (cached weights)" if use_vgg else "off (no local VGG19 weights; see 'hrgan env')",
        "parameters": {
            "generator": sum(p.numel() for p in generator.parameters()),
            "discriminator": sum(p.numel() for p in discriminator.parameters()),
        },
        "losses": losses.rows,
    }
    write_bytes_atomic(out / "selftest.json", json.dumps(report, indent=2).encode())
    return report
