"""A real Slurm on this machine: launch/slurm/train.sbatch with 2 tasks on CPU, on one node and on two.

tests/launch/local_slurm.sh installs slurm-wlm and munge when absent (root and Debian's packages
needed; otherwise the tests skip), starts a two-node cluster on 127.0.0.1 (two slurmd) and stops it after.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "launch" / "local_slurm.sh"
SCRUB = ("LOCAL_RANK", "NODE_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("apt-get") and not shutil.which("slurmctld"):
        pytest.skip("needs root with Debian's packages, or Slurm installed")
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["timeout", "-k", "5", "300", "bash", str(SCRIPT), "start", str(folder), "2"], capture_output=True, text=True)
    if started.returncode != 0 and not shutil.which("slurmctld"):
        pytest.skip(f"slurm-wlm could not be installed (see {folder}.apt.log)")
    if started.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=False)
        pytest.fail(f"local Slurm did not start: {started.stderr[-2000:]}")
    env = {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith(("SLURM_", "PYTEST_"))}
    # The nodes' names (node1, node2) do not resolve, so rank zero's address is given, as users of such a
    # cluster would (Lightning reads MASTER_ADDR before SLURM_NODELIST).
    env.update(SLURM_CONF=str(folder / "slurm.conf"), HRGAN_ACCELERATOR="cpu", WANDB_MODE="offline", MASTER_ADDR="127.0.0.1",
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    yield env
    subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=False)


def fit_args(run, stages):
    args = [
        "configs/demo.yaml", "--trainer.default_root_dir", str(run), "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false", "--data.synthetic.root", str(run / "data"),
        "--data.synthetic.train", "8", "--data.synthetic.val", "4", "--data.synthetic.size", "[128, 64]",
        "--data.num_workers", "0", "--model.generator.init_args.ngf", "4", "--model.discriminator.init_args.ndf", "4",
        "--model.schedule.stages", json.dumps(stages),
    ]
    return args


def stage(resolution, enhancers, num_d, batch, steps):
    return {"resolution": resolution, "n_enhancers": enhancers, "num_D": num_d, "batch_size": batch, "steps": steps,
            "niter_decay": 0, "epochs": None, "fix_global_steps": 0, "fade_in_steps": 0}


def sbatch(env, run, *args, wait=True, layout=("--nodes=1", "--ntasks-per-node=2")):
    command = ["sbatch", "--parsable", f"--output={run}/slurm-%j.out", *layout, "--cpus-per-task=1"]
    command += ["--wait"] if wait else []
    result = subprocess.run(["timeout", "-k", "10", "300", *command, str(REPO / "launch/slurm/train.sbatch"), *args],
                            cwd=REPO, env=env, capture_output=True, text=True)
    return result


def failure(log: str) -> str:
    """Every rank's error lines and the log's end: a crash on one rank shows up as another's lost peer."""
    errors = [line for line in log.splitlines() if "Error" in line or "error:" in line]
    return "\n".join(errors[:40]) + "\n...\n" + log[-1500:]


def test_two_tasks_run_under_slurm(slurm, tmp_path):
    result = sbatch(slurm, tmp_path, *fit_args(tmp_path, [stage([64, 32], 0, 2, 2, 3), stage([128, 64], 1, 3, 1, 3)]))
    log = "".join(p.read_text() for p in tmp_path.glob("slurm-*.out"))
    assert result.returncode == 0, failure(log)
    for rank in (0, 1):
        assert f"rank {rank} of world size 2 (node rank 0, local rank {rank}, SLURMEnvironment)" in log
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_two_nodes_one_task_each(slurm, tmp_path):
    result = sbatch(slurm, tmp_path, *fit_args(tmp_path, [stage([64, 32], 0, 2, 2, 3)]),
                    layout=("--nodes=2", "--ntasks-per-node=1"))
    log = "".join(p.read_text() for p in tmp_path.glob("slurm-*.out"))
    assert result.returncode == 0, failure(log)
    for rank in (0, 1):
        assert f"rank {rank} of world size 2 (node rank {rank}, local rank 0, SLURMEnvironment)" in log
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]


def test_script_refuses_to_run_outside_sbatch(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    result = subprocess.run(["bash", str(REPO / "launch/slurm/train.sbatch"), "configs/demo.yaml"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "submit this script with sbatch" in result.stderr


def test_uneven_tasks_are_refused(slurm, tmp_path):
    # --ntasks=3 on two nodes would give one node two tasks and the other one: Lightning would hang or
    # run the wrong world size, so the script stops before srun.
    result = sbatch(slurm, tmp_path, "configs/demo.yaml", layout=("--nodes=2", "--ntasks=3", "--ntasks-per-node=2"))
    log = "".join(p.read_text() for p in tmp_path.glob("slurm-*.out"))
    assert result.returncode != 0
    assert "tasks are spread unevenly" in log, log[-2000:]


def test_preemption_requeues_and_resumes(slurm, tmp_path):
    import time

    import torch
    import yaml

    config = yaml.safe_load((REPO / "configs/demo.yaml").read_text())
    for callback in config["trainer"]["callbacks"]:
        if callback["class_path"].endswith("Checkpoints"):
            callback["init_args"]["every_n_iterations"] = 5
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    args = fit_args(tmp_path, [stage([64, 32], 0, 2, 2, 60)])
    args[0] = str(tmp_path / "demo.yaml")
    result = sbatch(slurm, tmp_path, *args, wait=False)
    assert result.returncode == 0, result.stderr
    job = result.stdout.strip().split(";")[0]
    deadline = time.time() + 180
    while not list((tmp_path / "checkpoints").glob("iter_*.ckpt")) and time.time() < deadline:
        time.sleep(1)
    assert list((tmp_path / "checkpoints").glob("iter_*.ckpt")), (tmp_path / f"slurm-{job}.out").read_text()[-3000:]
    subprocess.run(["scancel", "--signal=USR1", job], env=slurm, check=True)  # what Slurm sends before the time limit
    while subprocess.run(["squeue", "-h", "-j", job], env=slurm, capture_output=True, text=True).stdout.strip():
        assert time.time() < deadline + 180, "the job did not finish after the requeue"
        time.sleep(2)
    log = (tmp_path / f"slurm-{job}.out").read_text()
    assert log.count("rank 0 of world size 2") == 2, log[-3000:]  # ran twice: before and after the requeue
    assert "Slurm asked to stop (requeue signal): saving and requeueing" in log  # hrgan's handler, not Lightning's
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["progress"]["iteration"] == 60
