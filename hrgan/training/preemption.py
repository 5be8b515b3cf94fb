"""Stopping on a signal: save at an iteration boundary every rank reaches together, then requeue or exit."""

from __future__ import annotations

import os
import signal
import subprocess

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.trainer.connectors.checkpoint_connector import _CheckpointConnector
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import SIGTERMException


class SlurmRequeue(Callback):
    """On Slurm's warning signal (``--signal=SIGUSR1@120``): save an hpc checkpoint, requeue, stop.

    Lightning's own handler saves inside the signal handler, so under DDP each rank
    enters the checkpoint barrier wherever the signal caught it, possibly while the
    other rank waits in a gradient all-reduce; the job then hangs (seen in
    tests/launch/test_slurm.py). Here the handler only sets a flag. After every
    training batch the ranks combine their flags with one all-reduce, then all save
    together and rank zero runs ``scontrol requeue``. Installing our handler first
    makes Lightning skip its own, on one device too, where Lightning's would save between
    the generator's and the discriminator's update (an odd global step, after which the
    periodic checkpoints, counted in pairs of steps, never fired again). Outside Slurm (or with
    auto_requeue off) it does nothing.
    """

    def __init__(self) -> None:
        self.active = False
        self.requested = False

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        # a single-device strategy has no cluster_environment of its own; Lightning's handler reads this one
        environment = getattr(trainer.strategy, "cluster_environment", None) or trainer._accelerator_connector.cluster_environment
        if stage != "fit" or not isinstance(environment, SLURMEnvironment) or not environment.auto_requeue:
            return
        signal.signal(environment.requeue_signal or signal.SIGUSR1, self._flag)
        self.active = True

    def _flag(self, signum, frame) -> None:
        self.requested = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.active:
            return
        flag = torch.tensor(float(self.requested), device=pl_module.device)
        if trainer.strategy.reduce(flag, reduce_op="max").item() == 0:
            return
        rank_zero_info("Slurm asked to stop (requeue signal): saving and requeueing")
        trainer.save_checkpoint(_CheckpointConnector.hpc_save_path(trainer.default_root_dir), weights_only=False)
        if trainer.is_global_zero:
            job = os.environ["SLURM_JOB_ID"]
            if os.environ.get("SLURM_ARRAY_JOB_ID"):
                job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
            result = subprocess.call(["scontrol", "requeue", job])
            rank_zero_info(f"requeued Slurm job {job}" if result == 0 else f"scontrol requeue {job} failed ({result})")
        self.active = self.requested = False
        trainer.should_stop = True


class SaveOnSigterm(Callback):
    """On SIGTERM (``kill``, a scheduler's stop, a spot instance going away): ``last.ckpt`` and a non-zero exit.

    Lightning notes the signal and, once the running iteration has finished (all ranks together
    under DDP), stops by raising ``SIGTERMException``, an exit with status 0 and nothing saved. Here
    that exit saves ``last.ckpt`` in the checkpoint folder first and becomes status 143 (128 + 15,
    the shell's for SIGTERM), so a job script sees that the run did not finish; ``--ckpt_path last``
    resumes it exactly.
    """

    def on_exception(self, trainer: pl.Trainer, pl_module, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != "fit":
            return  # a killed validate has nothing to save, and must not replace the run's last.ckpt
        folder = getattr(trainer.checkpoint_callback, "dirpath", None) or os.path.join(trainer.default_root_dir, "checkpoints")
        path = os.path.join(folder, "last.ckpt")
        trainer.save_checkpoint(path, weights_only=False)  # a full checkpoint, to resume from
        rank_zero_info(f"SIGTERM: saved {path} after iteration {pl_module.iteration}; resume with --ckpt_path last")
        exception.code = 128 + signal.SIGTERM
