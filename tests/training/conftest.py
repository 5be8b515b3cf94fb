import pytest

from hrgan.data.synthetic import write_dataset
from tests.data.conftest import make_shards


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory):
    """16 synthetic 128x64 training scenes and 4 validation scenes, as shards."""
    root = tmp_path_factory.mktemp("tiny_synth")
    write_dataset(root, num=16, width=128, height=64, seed=5, progress=False)
    write_dataset(root, num=4, width=128, height=64, seed=6, split="val", progress=False)
    out = make_shards(root, root / "shards", 8)
    from hrgan.data.shards import main as shards_main

    assert shards_main(["--layout", "pix2pixhd", "--root", str(root), "--split", "val", "--out", str(out), "--workers", "1"]) == 0
    return out
