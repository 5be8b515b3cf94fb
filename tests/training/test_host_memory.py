"""CPU training keeps freed host memory: large blocks are not page-faulted in again at every step."""

import subprocess
import sys

import pytest

from hrgan.data.datamodule import ShardDataModule
from hrgan.training.host_memory import HostMemory
from hrgan.training.lightning_cli import HrganCLI
from hrgan.training.module import Pix2PixHDModule
from hrgan.training.progress import REQUIRED_TRAINER_SETTINGS
from tests.training.helpers import TINY_NET_ARGS, tiny_data, tiny_module, tiny_trainer, two_stages

# Allocates, touches and frees a 64 MiB block five times; prints the page faults of the last four.
FAULTS = """
import resource, sys
import torch
from hrgan.training.host_memory import keep_freed_host_memory
if sys.argv[1] == "keep":
    assert keep_freed_host_memory()
torch.ones(2**24).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    block = torch.ones(2**24)  # 64 MiB, written
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_memory_is_not_faulted_in_again():
    faults = {}
    for mode in ("default", "keep"):
        done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        faults[mode] = int(done.stdout.strip())
    pages = 4 * 2**26 // 4096
    assert faults["default"] > 0.9 * pages  # every block mapped and faulted in anew
    assert faults["keep"] < 0.3 * pages, faults  # at most the first block: the others reuse its pages


def test_cpu_training_applies_it_and_hrgan_fit_adds_it(tiny_shards, tmp_path):
    callback = HostMemory()
    tiny_trainer(tmp_path, [callback]).fit(tiny_module(two_stages(1, 1)), tiny_data(tiny_shards))
    assert callback.applied == sys.platform.startswith("linux")
    cli = HrganCLI(Pix2PixHDModule, ShardDataModule, run=False, auto_configure_optimizers=False,
                   trainer_defaults=REQUIRED_TRAINER_SETTINGS,
                   args=["--config", "configs/demo.yaml", "--trainer.logger", "false",
                         "--trainer.default_root_dir", str(tmp_path / "cli"), *TINY_NET_ARGS])
    assert sum(isinstance(c, HostMemory) for c in cli.trainer.callbacks) == 1
