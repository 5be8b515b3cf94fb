import json

import pytest

from hrgan.data.shards import write_split
from hrgan.data.synthetic import write_dataset


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    """12 synthetic 128x64 scenes in pix2pixHD's layout."""
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, num=12, width=128, height=64, seed=3, progress=False)
    return root


def make_shards(root, out, per_shard):
    assert not write_split("pix2pixhd", root, "train", out, max_shard_samples=per_shard, progress=False).bad
    return out


@pytest.fixture(scope="session")
def synth_shards(synth_root, tmp_path_factory):
    """The 12 scenes in 6 shards of 2 samples (uneven over 4 slots), with a manifest."""
    return make_shards(synth_root, tmp_path_factory.mktemp("shards"), 2)


def manifest(out, split="train"):
    return json.loads((out / "manifest.json").read_text())["splits"][split]
