import os
from pathlib import Path

import pytest
import torch

from hrgan.data.shards import write_split
from hrgan.data.synthetic import write_dataset
from tests.data.conftest import make_shards

# Tests never talk to wandb's servers and never download.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` next to the checkout; tests using it skip in a plain clone."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (a plain clone)")
    return SHARED


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory):
    """16 synthetic 128x64 training scenes and 4 validation scenes, as shards."""
    root = tmp_path_factory.mktemp("tiny_synth")
    write_dataset(root, num=16, width=128, height=64, seed=5, progress=False)
    write_dataset(root, num=4, width=128, height=64, seed=6, split="val", progress=False)
    out = make_shards(root, root / "shards", 8)
    assert not write_split("pix2pixhd", root, "val", out, progress=False).bad
    return out


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
