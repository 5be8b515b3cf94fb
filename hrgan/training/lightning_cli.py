"""LightningCLI over the pix2pixHD module and the shard DataModule, behind ``hrgan fit`` and ``hrgan validate``.

Input channel counts are linked: the generator takes label_nc (input_nc for
image inputs, label_nc 0) + 1 (instance edges, when used) + feat_num channels,
the discriminator the same without feat_num, + 3.
The resolved configuration is saved as config.yaml in the run directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pytorch_lightning.callbacks.progress import ProgressBar
from pytorch_lightning.cli import LightningCLI

from hrgan.conditioning import input_channels
from hrgan.data.datamodule import ShardDataModule
from hrgan.envinfo import wandb_is_set_up
from hrgan.io import OutputError, writable_folder
from hrgan.training.callbacks import SampleGrids, run_dir
from hrgan.training.host_memory import HostMemory
from hrgan.training.pix2pixhd_module import Pix2PixHDModule
from hrgan.training.recipe import trainer_settings, uses_gpus
from hrgan.training.progress_bar import ScheduleProgressBar


def generator_channels(label_nc: int, input_nc: int, use_instance_edges: bool, feat_num: int) -> int:
    return input_channels(label_nc, input_nc=input_nc, use_instance_edges=use_instance_edges, feat_num=feat_num)


def discriminator_channels(label_nc: int, input_nc: int, use_instance_edges: bool) -> int:
    return input_channels(label_nc, input_nc=input_nc, use_instance_edges=use_instance_edges) + 3


class HrganCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments(
            ("model.label_nc", "model.input_nc", "model.use_instance_edges", "model.feat_num"),
            "model.generator.init_args.in_channels",
            compute_fn=generator_channels,
        )
        parser.link_arguments(
            ("model.label_nc", "model.input_nc", "model.use_instance_edges"),
            "model.discriminator.init_args.in_channels",
            compute_fn=discriminator_channels,
        )
        # The data module skips (and counts) samples whose labels the model has no class for.
        parser.link_arguments("model.label_nc", "data.label_nc")
        parser.link_arguments("model.ignore_index", "data.ignore_index")
        parser.link_arguments("model.input_nc", "data.input_nc")

    def _instantiate_trainer(self, config: dict, callbacks: list):
        """Our schedule-wide progress bar instead of Lightning's per-epoch one, unless the config brings one;
        ``HostMemory`` (CPU runs keep freed host memory); ``sync_batchnorm`` (on by default) only on GPUs,
        where torch's SyncBatchNorm runs (it changes batch-norm networks, pix2pix's, under multi-GPU DDP only)."""
        if config.get("sync_batchnorm") and not uses_gpus(config.get("accelerator")):
            config = {**config, "sync_batchnorm": False}
        given = config.get("callbacks") or []
        given = given if isinstance(given, list) else [given]  # one callback may be given alone
        if config.get("enable_progress_bar") is not False and not any(
            isinstance(c, ProgressBar) for c in [*given, *callbacks]
        ):
            callbacks = [*callbacks, ScheduleProgressBar()]
        if not any(isinstance(c, HostMemory) for c in [*given, *callbacks]):
            callbacks = [*callbacks, HostMemory()]
        return super()._instantiate_trainer(config, callbacks)

    def before_instantiate_classes(self) -> None:
        if not wandb_is_set_up():
            os.environ["WANDB_MODE"] = "offline"  # no network attempt, no login prompt
        config = self.config[self.subcommand] if self.subcommand else self.config
        writable_folder(config.trainer.default_root_dir or ".")  # before anything is built or written
        place_run_outputs(config.trainer)

    def _finish_loggers(self) -> None:
        """Close wandb runs, so the offline run is complete (and syncable) when the command returns."""
        for logger in self.trainer.loggers:
            if type(logger).__name__ == "WandbLogger" and logger._experiment is not None:
                logger.experiment.finish()

    def after_fit(self) -> None:
        self._finish_loggers()
        if self.trainer.is_global_zero:
            print(run_summary(run_dir(self.trainer), self.trainer), flush=True)

    def after_validate(self) -> None:
        self._finish_loggers()


def run_summary(root: Path, trainer) -> str:
    """Where a finished run put its outputs."""
    lines = [f"run outputs in {root}/:"]
    candidates = [
        ("config.yaml", "the resolved configuration"),
        ("export.pt", "inference export" + (" (EMA generator)" if getattr(trainer.lightning_module, "generator_ema", None) is not None else "")),
        ("samples/latest.png", "latest sample grid: " + " | ".join(grid_columns(trainer) or ["labels", "generated", "real"])),
        ("fidelity.json", "PSNR against the class-mean baseline"),
    ]
    lines += [f"  {name:<20} {what}" for name, what in candidates if (root / name).exists()]
    for callback in trainer.checkpoint_callbacks:
        if getattr(callback, "last_model_path", None):
            lines.append(f"  {'checkpoints':<20} {callback.last_model_path} (resume: --ckpt_path last)")
    runs = sorted((root / "wandb").glob("offline-run-*"))
    if runs:
        lines.append(f"  {'wandb (offline)':<20} {runs[-1]}  (upload: wandb sync {runs[-1]})")
    return "\n".join(lines)


def grid_columns(trainer) -> list[str]:
    """The columns of the sample grids the run wrote (empty without a SampleGrids callback)."""
    return next((c.columns for c in trainer.callbacks if isinstance(c, SampleGrids)), [])


def place_run_outputs(trainer_config) -> None:
    """Put checkpoints and the wandb run under trainer.default_root_dir unless a config says otherwise.

    One setting then moves a whole run (checkpoints/, samples/, config.yaml, export.pt,
    wandb/), and ``--ckpt_path last`` finds the previous checkpoints from it.
    """
    root = Path(trainer_config.default_root_dir or ".")
    for callback in trainer_config.callbacks or []:
        if getattr(callback, "class_path", "").endswith(("ModelCheckpoint", "Checkpoints")) and callback.init_args.get("dirpath") is None:
            callback.init_args["dirpath"] = str(root / "checkpoints")
    logger = trainer_config.logger
    if getattr(logger, "class_path", "").endswith("WandbLogger") and logger.init_args.get("save_dir") in (None, "."):
        logger.init_args["save_dir"] = str(root)


def run_lightning_cli(argv: list[str], *, description: str) -> int:
    """Run LightningCLI on ``argv`` (``fit ...`` or ``validate ...``, without the leading 'hrgan');
    1 with one line when an output cannot be written."""
    try:
        run_cli(argv, description=description)
    except OutputError as error:
        print(f"hrgan {argv[0]}: {error}", file=sys.stderr)
        return 1
    return 0


def run_cli(argv: list[str], *, description: str) -> None:
    HrganCLI(
        Pix2PixHDModule,
        ShardDataModule,
        args=argv,
        trainer_defaults=trainer_settings(as_config=True),  # sync_batchnorm: off on CPUs (_instantiate_trainer)
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"description": description},
        auto_configure_optimizers=False,
    )
