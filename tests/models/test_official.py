"""Official pix2pixHD state dicts load into our networks, and the networks then compute the same function."""

import ast

import pytest
import torch

from hrgan.models import (
    GlobalGenerator,
    InstanceFeatureEncoder,
    MultiscaleDiscriminator,
    Pix2PixHDGenerator,
    convert_pix2pixhd_state_dict,
    detect_pix2pixhd_network,
)
from tests.models import pix2pixhd_layout as official

IN = 6


def load_converted(ours, theirs):
    state = convert_pix2pixhd_state_dict(theirs.state_dict())
    ours.load_state_dict(state, strict=True)
    return ours.eval(), theirs.eval()


def test_global_generator_matches_official():
    ours, theirs = load_converted(
        GlobalGenerator(in_channels=IN, ngf=8, n_downsample=2, n_blocks=2), official.OfficialGlobal(IN, ngf=8)
    )
    x = torch.randn(2, IN, 32, 64)
    torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("n_local", [1, 2])
def test_local_enhancer_generator_matches_official(n_local):
    theirs = official.OfficialLocal(IN, ngf=4, n_down=2, n_blocks=2, n_local=n_local, n_blocks_local=2)
    ours = Pix2PixHDGenerator(
        in_channels=IN, ngf=4, n_downsample_global=2, n_blocks_global=2, n_local_enhancers=n_local, n_blocks_local=2
    )
    ours, theirs = load_converted(ours, theirs)
    x = torch.randn(1, IN, 64, 128)
    torch.testing.assert_close(ours(x), theirs(x))


def test_discriminator_matches_official_scale_by_scale():
    ours, theirs = load_converted(MultiscaleDiscriminator(in_channels=IN, ndf=8, num_D=3), official.OfficialMultiscaleD(IN))
    x = torch.randn(1, IN, 64, 128)
    for our_scale, their_scale in zip(ours(x), theirs(x), strict=True):
        for a, b in zip(our_scale, their_scale, strict=True):
            torch.testing.assert_close(a, b)


def test_encoder_matches_official_with_its_loop_pooling():
    ours, theirs = load_converted(InstanceFeatureEncoder(in_channels=3, feat_num=3, nef=4, n_downsample=2), official.OfficialEncoder())
    image = torch.randn(2, 3, 32, 64)
    instance = torch.randint(0, 3, (2, 32, 64)) * 1000
    torch.testing.assert_close(ours(image, instance), theirs(image, instance))


def test_dataparallel_prefix_is_stripped():
    theirs = official.OfficialGlobal(IN, ngf=8)
    state = {f"module.{k}": v for k, v in theirs.state_dict().items()}
    GlobalGenerator(in_channels=IN, ngf=8, n_downsample=2, n_blocks=2).load_state_dict(
        convert_pix2pixhd_state_dict(state), strict=True
    )


def test_unknown_keys_are_reported():
    state = official.OfficialGlobal(IN, ngf=8).state_dict()
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="extra.weight"):
        convert_pix2pixhd_state_dict(state)
    with pytest.raises(ValueError, match="not a pix2pixHD state dict"):
        convert_pix2pixhd_state_dict({"generator.conv.weight": torch.zeros(1)})


def read_listing(path):
    listing = {}
    for line in path.read_text().splitlines():
        key, shape = line.split("\t")
        listing[key] = ast.literal_eval(shape)
    return listing


LISTINGS = {
    "state_dict_G_global_ngf64.txt": ("global", lambda: GlobalGenerator(in_channels=36)),
    "state_dict_G_local_ngf32.txt": ("local", lambda: Pix2PixHDGenerator(in_channels=36, ngf=32, n_local_enhancers=1)),
    "state_dict_D_numD3.txt": ("discriminator", lambda: MultiscaleDiscriminator(in_channels=39, num_D=3)),
    "state_dict_D_numD2.txt": ("discriminator", lambda: MultiscaleDiscriminator(in_channels=39, num_D=2)),
    "state_dict_E_nef16.txt": ("encoder", lambda: InstanceFeatureEncoder(in_channels=3, feat_num=3, nef=16)),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("filename", sorted(LISTINGS))
def test_official_listing_loads_strictly_with_every_tensor_placed(shared_dir, filename):
    network, build = LISTINGS[filename]
    listing = read_listing(shared_dir / "reference/pix2pixhd" / filename)
    # Each official tensor is a distinct constant, so a swapped placement cannot go unnoticed.
    theirs = {key: torch.full(shape, float(i)) for i, (key, shape) in enumerate(listing.items())}
    assert detect_pix2pixhd_network(theirs) == network
    converted = convert_pix2pixhd_state_dict(theirs)
    with torch.device("meta"):
        ours = build()
    ours.load_state_dict(converted, strict=True, assign=True)  # assign: our parameters become these tensors
    placed = {p.data_ptr() for p in ours.state_dict().values()}
    assert placed == {t.data_ptr() for t in theirs.values()}
    assert len(converted) == len(listing) == len(ours.state_dict())
