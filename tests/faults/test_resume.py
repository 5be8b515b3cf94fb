"""Exact resume: a run stopped and resumed ends with the weights and optimizer states of a run that never stopped.

Each case stops a run where the issue found resume inexact (colour jitter on, a checkpoint at the first
iteration of a stage, the last.ckpt of a run stopped by max_steps, SIGTERM, Slurm's requeue signal on a
single device), resumes it, and compares every tensor with the uninterrupted run: max abs diff 0.
"""

from __future__ import annotations

import os
import signal

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from hrgan.training.callbacks import Checkpoints
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


def tensors(state, prefix=""):
    """Every tensor of a nested state dict, by path."""
    if torch.is_tensor(state):
        return {prefix: state}
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    found = {}
    for key, value in items:
        found.update(tensors(value, f"{prefix}/{key}"))
    return found


def assert_same_run(a, b):
    """Weights (G, G EMA, D) and both Adam states equal, to the bit."""
    assert a.iteration == b.iteration
    first = tensors({"model": a.state_dict(), "optim": [o.optimizer.state_dict() for o in a.optimizers()]})
    second = tensors({"model": b.state_dict(), "optim": [o.optimizer.state_dict() for o in b.optimizers()]})
    assert first.keys() == second.keys()
    worst = max((first[k].double() - second[k].double()).abs().max().item() for k in first if first[k].numel())
    assert worst == 0.0, f"max abs diff {worst}"


def fit(folder, shards, *, schedule=None, ckpt_path=None, callbacks=(), every=None, max_steps=-1, data=None):
    pl.seed_everything(0)
    checkpoints = Checkpoints(dirpath=str(folder / "ckpt"), every_n_iterations=every)
    trainer = tiny_trainer(folder, [checkpoints, *callbacks], enable_checkpointing=True, max_steps=max_steps)
    module = tiny_module(schedule or two_stages(4, 4))
    trainer.fit(module, tiny_data(shards, **(data or {})), ckpt_path=ckpt_path)
    return module


class SignalAt(Callback):
    """Sends ``signum`` to this process before the updates of iteration ``iteration`` (0-based), as Slurm
    or a user would at any moment."""

    def __init__(self, iteration: int, signum: int) -> None:
        self.iteration, self.signum = iteration, signum

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.iteration == self.iteration:
            os.kill(os.getpid(), self.signum)


class Iterations(Callback):
    """The iterations a run trained, by the count after each."""

    def __init__(self) -> None:
        self.done = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.done.append(pl_module.iteration)


def test_resume_with_colour_jitter_is_exact(tiny_shards, tmp_path):
    jitter = {"color_jitter": 0.3}
    full = fit(tmp_path / "a", tiny_shards, every=3, data=jitter)
    resumed = fit(tmp_path / "b", tiny_shards, ckpt_path=str(tmp_path / "a" / "ckpt" / "iter_0000003.ckpt"), data=jitter)
    assert_same_run(full, resumed)


def test_resume_from_the_first_iteration_of_a_stage_is_exact(tiny_shards, tmp_path):
    full = fit(tmp_path / "a", tiny_shards, every=4)  # iteration 4 is stage 2's first
    resumed = fit(tmp_path / "b", tiny_shards, ckpt_path=str(tmp_path / "a" / "ckpt" / "iter_0000004.ckpt"))
    assert_same_run(full, resumed)


def test_resume_after_max_steps_is_exact(tiny_shards, tmp_path):
    full = fit(tmp_path / "a", tiny_shards)
    fit(tmp_path / "b", tiny_shards, max_steps=2 * 6)  # two optimizer steps per iteration: stops after 6
    resumed = fit(tmp_path / "b", tiny_shards, ckpt_path=str(tmp_path / "b" / "ckpt" / "last.ckpt"))
    assert_same_run(full, resumed)


def test_sigterm_saves_at_an_iteration_boundary_and_exits_non_zero(tiny_shards, tmp_path):
    full = fit(tmp_path / "a", tiny_shards)
    with pytest.raises(SystemExit) as stopped:
        fit(tmp_path / "b", tiny_shards, callbacks=[SignalAt(5, signal.SIGTERM)])
    assert stopped.value.code == 128 + signal.SIGTERM
    saved = torch.load(tmp_path / "b" / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["progress"]["iteration"] == 6  # the iteration the signal arrived in was finished, no more
    resumed = fit(tmp_path / "b", tiny_shards, ckpt_path=str(tmp_path / "b" / "ckpt" / "last.ckpt"))
    assert_same_run(full, resumed)


def test_resume_mid_stage_is_exact(tiny_shards, tmp_path):
    full = fit(tmp_path / "a", tiny_shards, every=3)
    resumed = fit(tmp_path / "b", tiny_shards, ckpt_path=str(tmp_path / "a" / "ckpt" / "iter_0000003.ckpt"))
    assert_same_run(full, resumed)


@pytest.fixture
def slurm_job(tmp_path, monkeypatch):
    """The environment of a one-task Slurm job, with an ``scontrol`` that records the requeue it is asked for."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'requeued'}\n")
    scontrol.chmod(0o755)
    for name, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "42", "SLURM_PROCID": "0",
                        "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return tmp_path / "requeued"


def test_requeue_signal_on_one_device_saves_at_an_iteration_boundary(tiny_shards, tmp_path, slurm_job):
    full = fit(tmp_path / "a", tiny_shards, every=2)
    fit(tmp_path / "b", tiny_shards, every=2, callbacks=[SignalAt(2, signal.SIGUSR1)])
    assert slurm_job.read_text().split() == ["requeue", "42"]
    hpc = torch.load(tmp_path / "b" / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    assert hpc["progress"]["iteration"] == 3 and hpc["global_step"] == 6  # both optimizers of iteration 2 stepped
    resumed = fit(tmp_path / "b", tiny_shards, every=2, ckpt_path=str(tmp_path / "b" / "hpc_ckpt_1.ckpt"))
    assert_same_run(full, resumed)
    periodic = sorted(p.name for p in (tmp_path / "b" / "ckpt").glob("iter_*.ckpt"))
    assert periodic == ["iter_0000002.ckpt", "iter_0000004.ckpt", "iter_0000006.ckpt", "iter_0000008.ckpt"]


def test_resume_last_takes_a_periodic_checkpoint_newer_than_last_ckpt(tiny_shards, tmp_path):
    """A crash between writing iter_N.ckpt and updating last.ckpt: --ckpt_path last resumes from iter_N."""
    full = fit(tmp_path / "a", tiny_shards, every=3)
    folder = tmp_path / "b" / "ckpt"
    folder.mkdir(parents=True)
    (tmp_path / "a" / "ckpt" / "iter_0000003.ckpt").rename(folder / "iter_0000003.ckpt")
    stale = folder / ".iter_0000006.ckpt.x1y2.tmp"  # what a write killed halfway leaves behind
    stale.write_bytes(b"partial")
    os.utime(folder / "iter_0000003.ckpt")  # newer than any last.ckpt
    (folder / "last.ckpt").write_bytes((tmp_path / "a" / "ckpt" / "last.ckpt").read_bytes())
    os.utime(folder / "last.ckpt", (1, 1))
    trained = Iterations()
    resumed = fit(tmp_path / "b", tiny_shards, every=3, ckpt_path="last", callbacks=[trained])
    assert trained.done == [4, 5, 6, 7, 8]  # from iteration 3, not from the finished run's last.ckpt
    assert not stale.exists()
    assert_same_run(full, resumed)


def test_resume_from_a_checkpoint_at_an_epochs_end_is_exact(tiny_shards, tmp_path):
    """16 scenes in batches of 2: iteration 8 ends the first data epoch; the resumed run reads the second."""
    from hrgan.training.schedule import ProgressiveSchedule, Stage

    def schedule():
        return ProgressiveSchedule([Stage(resolution=(64, 32), n_enhancers=0, num_D=1, batch_size=2, steps=12)])

    full = fit(tmp_path / "a", tiny_shards, schedule=schedule(), every=8)
    resumed = fit(tmp_path / "b", tiny_shards, schedule=schedule(), ckpt_path=str(tmp_path / "a" / "ckpt" / "iter_0000008.ckpt"))
    assert_same_run(full, resumed)


def test_a_finished_run_goes_on_with_a_stage_added(tiny_shards, tmp_path):
    from hrgan.training.schedule import ProgressiveSchedule, Stage

    first = Stage(resolution=(64, 32), n_enhancers=0, num_D=1, batch_size=2, steps=2)
    fit(tmp_path / "a", tiny_shards, schedule=ProgressiveSchedule([first]))
    trained = Iterations()
    grown = ProgressiveSchedule([first, Stage(resolution=(128, 64), n_enhancers=1, num_D=2, batch_size=1, steps=2)])
    fit(tmp_path / "a", tiny_shards, schedule=grown, callbacks=[trained], ckpt_path=str(tmp_path / "a" / "ckpt" / "last.ckpt"))
    assert trained.done == [3, 4]
