"""VGG19 weights: explicit files, the torch hub cache, a clear error, and random only with a warning."""

import warnings

import pytest
import torch

from hrgan import pretrained
from hrgan.models.vgg import VGG19Features
from hrgan.pretrained import (
    VGG19_FILENAME,
    RandomWeightsWarning,
    hub_checkpoint_path,
    load_vgg19_features,
    resolve_vgg19_weights,
)


def write_torchvision_vgg19(path):
    """A file in torchvision's vgg19 layout: all 16 convs (past relu5_1 too) and a classifier."""
    reference = VGG19Features()
    state = dict(reference.state_dict())
    for i in (30, 32, 34):
        state[f"features.{i}.weight"] = torch.randn(512, 512, 3, 3)
        state[f"features.{i}.bias"] = torch.randn(512)
    state["classifier.0.weight"] = torch.randn(8, 4)
    state["classifier.0.bias"] = torch.randn(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return reference


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def test_loads_a_torchvision_file_from_a_path(tmp_path):
    reference = write_torchvision_vgg19(tmp_path / "vgg.pth")
    vgg = load_vgg19_features(str(tmp_path / "vgg.pth"))
    x = torch.randn(1, 3, 32, 32)
    for a, b in zip(vgg(x), reference(x), strict=True):
        torch.testing.assert_close(a, b)
    assert not vgg.training and not any(p.requires_grad for p in vgg.parameters())


def test_auto_finds_the_hub_cache(empty_torch_home):
    assert hub_checkpoint_path(VGG19_FILENAME).is_relative_to(empty_torch_home)
    reference = write_torchvision_vgg19(hub_checkpoint_path(VGG19_FILENAME))
    vgg = load_vgg19_features("auto", allow_download=False)
    torch.testing.assert_close(vgg.features[0].weight, reference.features[0].weight)


def test_auto_without_a_file_says_how_to_provide_it(empty_torch_home):
    with pytest.raises(FileNotFoundError) as error:
        resolve_vgg19_weights("auto", allow_download=False)
    message = str(error.value)
    assert str(hub_checkpoint_path(VGG19_FILENAME)) in message
    assert "download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    assert "vgg_weights:" in message and "use_vgg_loss: false" in message


def test_missing_explicit_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth does not exist"):
        load_vgg19_features(str(tmp_path / "nope.pth"))


def test_foreign_or_corrupt_files_are_named(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"other.pth is not a torchvision VGG19 state dict"):
        load_vgg19_features(str(tmp_path / "other.pth"))
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not read torchvision VGG19 weights from .*broken.pth"):
        load_vgg19_features(str(tmp_path / "broken.pth"))


def test_random_warns_once(monkeypatch):
    monkeypatch.setattr(pretrained, "_random_warning_shown", False)
    with pytest.warns(RandomWeightsWarning, match="RANDOM"):
        assert resolve_vgg19_weights("random") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_vgg19_features("random")  # a second time: silent


def test_fid_inception_loads_a_file_in_the_expected_layout_and_explains_a_missing_one(tmp_path, monkeypatch):
    from hrgan.models.inception import FIDInceptionV3
    from hrgan.pretrained import INCEPTION_FILENAME, load_fid_inception

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(FileNotFoundError, match=r"(?s)hub cache: .*torch_home.*--inception-weights"):
        load_fid_inception()
    torch.manual_seed(0)
    written = FIDInceptionV3()
    state = {k: v for k, v in written.state_dict().items() if not k.endswith("num_batches_tracked")}  # as old files
    cache = tmp_path / "torch_home" / "hub" / "checkpoints" / INCEPTION_FILENAME
    cache.parent.mkdir(parents=True)
    torch.save(state, cache)
    loaded = load_fid_inception()
    assert torch.equal(loaded.state_dict()["Mixed_7c.branch_pool.conv.weight"], state["Mixed_7c.branch_pool.conv.weight"])
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    features = loaded(torch.randint(0, 256, (2, 3, 80, 120), dtype=torch.uint8))
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    torch.save({k: v for k, v in state.items() if not k.startswith("fc.")}, tmp_path / "nofc.pth")
    with pytest.raises(ValueError, match=r"nofc.pth is not a FID Inception .* state dict: missing \['fc.weight'"):
        load_fid_inception(str(tmp_path / "nofc.pth"))
