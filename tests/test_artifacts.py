"""The export and checkpoint format: one builder, one reader, format versions, no hard-coded module layout."""


import pytest
import torch

from hrgan.artifacts import (
    READABLE_VERSIONS,
    VERSION,
    build_network,
    checkpoint_entry,
    read_export,
    read_state_dict,
    save_export,
)
from hrgan.inference.official_import import build_export
from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
from hrgan.training.module import Pix2PixHDModule
from tests.models import pix2pixhd_layout as official

LABEL_NC, FEAT_NUM = 8, 3


@pytest.fixture
def module():
    """A tiny module with an encoder whose EMA generator differs from the trained one."""
    generator = Pix2PixHDGenerator(in_channels=LABEL_NC + 1 + FEAT_NUM, ngf=4, n_downsample_global=2, n_blocks_global=1,
                                   n_local_enhancers=0)
    module = Pix2PixHDModule(generator=generator, discriminator=MultiscaleDiscriminator(in_channels=LABEL_NC + 4, ndf=4),
                             label_nc=LABEL_NC, feat_num=FEAT_NUM, nef=4, classes="synthetic", use_vgg_loss=False)
    with torch.no_grad():
        for p in module.generator_ema.parameters():
            p.add_(1.0)
    return module


def write_checkpoint(module, path):
    """What Lightning writes: the module's state dict and what its on_save_checkpoint adds."""
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return checkpoint


def assert_same_weights(actual: dict, expected: dict):
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(actual[key], value, rtol=0, atol=0)


def test_checkpoint_and_export_read_as_the_same_export(module, tmp_path):
    write_checkpoint(module, tmp_path / "last.ckpt")
    save_export(tmp_path / "export.pt", module.inference_export())
    from_ckpt, from_export = read_export(tmp_path / "last.ckpt"), read_export(tmp_path / "export.pt")
    assert from_ckpt.pop("from_checkpoint") is True and "from_checkpoint" not in from_export
    assert from_ckpt.keys() == from_export.keys() and from_export["version"] == VERSION
    for name in ("generator", "encoder"):
        assert_same_weights(from_ckpt[name].pop("state_dict"), from_export[name].pop("state_dict"))
    assert from_ckpt == from_export
    assert_same_weights(read_export(tmp_path / "last.ckpt")["generator"]["state_dict"], module.generator_ema.state_dict())


def test_the_reader_takes_the_weights_where_the_checkpoint_says(module, tmp_path):
    checkpoint = write_checkpoint(module, tmp_path / "last.ckpt")
    renamed = {"nets." + k: v for k, v in checkpoint["state_dict"].items()}
    prefixes = {"generator": ["nets.generator_ema.", "nets.generator."], "encoder": ["nets.encoder."]}
    entry = checkpoint_entry(module.inference_export(weights=False), state_dict_prefixes=prefixes)
    torch.save({"state_dict": renamed, "inference": entry}, tmp_path / "other.ckpt")
    export = read_export(tmp_path / "other.ckpt")
    assert_same_weights(export["generator"]["state_dict"], module.generator_ema.state_dict())
    assert_same_weights(export["encoder"]["state_dict"], module.encoder.state_dict())


def test_checkpoint_entry_needs_a_prefix_for_every_network_and_no_weights(module):
    with pytest.raises(ValueError, match="no state-dict prefix for the encoder"):
        checkpoint_entry(module.inference_export(weights=False), state_dict_prefixes={"generator": ["generator."]})
    with pytest.raises(ValueError, match="holds weights"):
        checkpoint_entry(module.inference_export(), state_dict_prefixes=module.network_prefixes())


def test_version_1_files_still_load(module, tmp_path):
    """Version 1 as written before the format had a version number: a format tag, and checkpoints without prefixes."""
    v1 = {k: v for k, v in module.inference_export().items() if k != "imported_from"}
    torch.save({"format": "hrgan-export/1", **v1}, tmp_path / "export.pt")
    v1_entry = {k: v for k, v in module.inference_export(weights=False).items() if k != "imported_from"}
    torch.save({"state_dict": module.state_dict(), "inference": v1_entry}, tmp_path / "last.ckpt")
    for path in (tmp_path / "export.pt", tmp_path / "last.ckpt"):
        export = read_export(path)
        assert export["ema"] is True and export["version"] == VERSION
        assert_same_weights(build_network(export["generator"]).state_dict(), module.generator_ema.state_dict())
        assert_same_weights(build_network(export["encoder"]).state_dict(), module.encoder.state_dict())


def test_newer_versions_are_refused_naming_the_file_and_the_versions_read(module, tmp_path):
    newer = VERSION + 1
    torch.save({**module.inference_export(), "format": "hrgan-export", "version": newer}, tmp_path / "future.pt")
    checkpoint = write_checkpoint(module, tmp_path / "future.ckpt")
    checkpoint["inference"]["version"] = newer
    torch.save(checkpoint, tmp_path / "future.ckpt")
    versions = ", ".join(map(str, READABLE_VERSIONS))
    for path in (tmp_path / "future.pt", tmp_path / "future.ckpt"):
        with pytest.raises(ValueError, match=rf"{path.name} is an hrgan \w+ of format version {newer}.*versions {versions}"):
            read_export(path)
        with pytest.raises(ValueError, match=rf"{path.name}.*version {newer}"):
            read_state_dict(path, prefixes=module.network_prefixes())


def test_an_export_fills_every_copy_of_its_networks(module, tmp_path):
    save_export(tmp_path / "export.pt", module.inference_export())
    state = read_state_dict(tmp_path / "export.pt", prefixes={"generator": ["a.", "b."], "encoder": ["e."]})
    ema = module.generator_ema.state_dict()
    assert_same_weights({k: v for k, v in state.items() if k.startswith("a.")}, {"a." + k: v for k, v in ema.items()})
    assert_same_weights({k: v for k, v in state.items() if k.startswith("b.")}, {"b." + k: v for k, v in ema.items()})
    assert_same_weights({k: v for k, v in state.items() if k.startswith("e.")},
                        {"e." + k: v for k, v in module.encoder.state_dict().items()})
    write_checkpoint(module, tmp_path / "last.ckpt")
    assert_same_weights(read_state_dict(tmp_path / "last.ckpt", prefixes={}), module.state_dict())


def test_exports_name_only_hrgan_models_classes(module):
    spec = module.inference_export()["generator"]
    with pytest.raises(ValueError, match="only hrgan.models classes"):
        build_network(dict(spec, class_path="collections.OrderedDict"))


def test_imported_and_trained_exports_have_the_same_keys(module, tmp_path):
    path = tmp_path / "latest_net_G.pth"
    torch.save(official.OfficialGlobal(LABEL_NC + 1, ngf=8).state_dict(), path)
    imported = build_export(path, label_nc=LABEL_NC, classes="synthetic")
    assert imported.keys() == module.inference_export().keys()
    assert imported["imported_from"] == str(path) and imported["resolution"] is None and imported["ema"] is False
