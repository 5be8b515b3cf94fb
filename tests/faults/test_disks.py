"""Outputs that cannot be written: one line naming the path and the cause, nothing half-written left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def fit(*args, cwd=REPO):
    env = {**os.environ, "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, "-m", "hrgan.cli", "fit", "--config", "configs/demo.yaml", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_fit_into_a_file_or_an_unwritable_folder_is_one_line(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    result = fit("--trainer.default_root_dir", str(a_file))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"hrgan fit: {a_file} exists and is not a folder"
    under_a_file = a_file / "run"
    result = fit("--trainer.default_root_dir", str(under_a_file))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{under_a_file}: cannot write there (Not a directory)" in result.stderr
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = fit("--trainer.default_root_dir", str(locked / "run"))
        assert result.returncode == 1 and "Permission denied" in result.stderr
    assert a_file.read_text() == "not a folder"


SAVE_UNDER_A_SIZE_LIMIT = """
import resource, signal, sys, torch
from hrgan.io import OutputError
from hrgan.training.checkpoint_io import AtomicCheckpointIO
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # what a nearly full disk looks like to a write
try:
    AtomicCheckpointIO().save_checkpoint({"weights": torch.zeros(1_000_000)}, sys.argv[1])
except OutputError as error:
    print(error)
    sys.exit(1)
"""


@pytest.mark.skipif(not hasattr(os, "setrlimit") and sys.platform != "linux", reason="needs RLIMIT_FSIZE")
def test_a_checkpoint_that_does_not_fit_names_the_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "ckpt" / "iter_0000010.ckpt"
    result = subprocess.run([sys.executable, "-c", SAVE_UNDER_A_SIZE_LIMIT, str(target)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout.strip().startswith(f"could not write {target}: ")
    assert "File too large" in result.stdout or "disk full" in result.stdout
    assert list((tmp_path / "ckpt").iterdir()) == []  # neither the checkpoint nor a temporary file
