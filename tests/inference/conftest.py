import pytest

from hrgan.data.synthetic import write_dataset
from hrgan.training.callbacks import Checkpoints, InferenceExport
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


@pytest.fixture(scope="session")
def trained(tiny_shards, tmp_path_factory):
    """A tiny two-stage run (global generator, then one enhancer): its folder with export.pt and checkpoints/last.ckpt."""
    run = tmp_path_factory.mktemp("trained")
    module = tiny_module(two_stages(2, 2))
    callbacks = [Checkpoints(dirpath=str(run / "checkpoints")), InferenceExport()]
    tiny_trainer(run, callbacks, enable_checkpointing=True).fit(module, tiny_data(tiny_shards))
    return run


@pytest.fixture(scope="session")
def odd_maps(tmp_path_factory):
    """Three synthetic scenes at 70x45 (not a multiple of anything) in pix2pixHD's layout, split 'test'."""
    root = tmp_path_factory.mktemp("odd")
    write_dataset(root, num=3, width=70, height=45, seed=11, split="test", progress=False)
    return root
