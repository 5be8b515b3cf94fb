"""Two CPU processes under Lightning's DDP (gloo), started as a user would: launch/local/train.sh in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRUB = ("LOCAL_RANK", "NODE_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK", "LOCAL_WORLD_SIZE")


def clean_env(accelerator: str = "cpu"):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith(("SLURM_", "PYTEST_"))}
    env.update(WANDB_MODE="offline", HRGAN_ACCELERATOR=accelerator, HRGAN_DEVICES="2",
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", PYTHONPATH=str(REPO))  # REPO: the probe
    return env


def test_two_process_ddp_keeps_replicas_identical_across_a_stage_transition(tmp_path):
    run_two_process_ddp(tmp_path, accelerator="cpu")


def run_two_process_ddp(tmp_path, *, accelerator: str) -> None:
    """Two ranks (gloo on cpu, NCCL on gpu) across a stage transition: identical replicas, disjoint samples."""
    stages = [
        {"resolution": [64, 32], "n_enhancers": 0, "num_D": 2, "batch_size": 2, "steps": 4, "niter_decay": 0, "epochs": None},
        {"resolution": [128, 64], "n_enhancers": 1, "num_D": 3, "batch_size": 1, "steps": 4, "niter_decay": 0,
         "fix_global_steps": 2, "fade_in_steps": 2, "epochs": None},
    ]
    command = [
        "bash", "launch/local/train.sh", "configs/demo.yaml",
        "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false", "--trainer.callbacks+=tests.training.ddp_probe.Probe",
        "--data.synthetic.root", str(tmp_path / "data"), "--data.synthetic.train", "8", "--data.synthetic.val", "4",
        "--data.synthetic.size", "[128, 64]", "--data.num_workers", "0",
        "--model.generator.init_args.ngf", "4", "--model.discriminator.init_args.ndf", "4",
        "--model.schedule.stages", json.dumps(stages), "--model.lr_reference_batch", "2",
    ]
    # A rank stuck in a collective ignores SIGTERM under Lightning: kill hard after the grace period.
    result = subprocess.run(["timeout", "-k", "10", "300", *command], cwd=REPO, env=clean_env(accelerator),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        assert f"rank {rank} of world size 2 (node rank 0, local rank {rank}, LightningEnvironment)" in result.stdout
    ranks = [json.loads((tmp_path / f"probe_rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["iteration"] for r in ranks] == [8, 8]
    assert ranks[0]["digest"].keys() == ranks[1]["digest"].keys()
    different = [k for k in ranks[0]["digest"] if ranks[0]["digest"][k] != ranks[1]["digest"][k]]
    assert not different, f"parameters differ across ranks: {different[:5]}"
    # per stage, the two ranks trained on disjoint samples (stage 1: 4 batches of 2, stage 2: 4 of 1)
    for first, last in ((0, 8), (8, 12)):
        a, b = set(ranks[0]["keys"][first:last]), set(ranks[1]["keys"][first:last])
        assert a and b and not a & b
    # linear scaling: global batch 2x2 = 4 against 2 doubles the rates in stage 1; 1x2 = 2 keeps them in stage 2
    lr_g, lr_d = 5e-4, 2e-4  # configs/demo.yaml
    assert ranks[0]["lrs"] == {"0": [[2 * lr_g, 2 * lr_d]], "1": [[lr_g, lr_d]]}
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == ["last.ckpt"]  # written once, by rank zero
