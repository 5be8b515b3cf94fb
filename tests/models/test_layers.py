"""Shared building blocks: constructor arguments recorded by every network an export can rebuild."""

import inspect

import pytest

from hrgan.models import (
    GlobalGenerator,
    InstanceFeatureEncoder,
    LocalEnhancer,
    MultiscaleDiscriminator,
    PatchDiscriminator,
    Pix2PixHDGenerator,
    UNetGenerator,
)

NETWORKS = [
    (GlobalGenerator, dict(in_channels=5, ngf=4, n_downsample=2, n_blocks=1, with_head=False)),
    (LocalEnhancer, dict(in_channels=5, ngf=4, n_blocks=1)),
    (Pix2PixHDGenerator, dict(in_channels=5, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=2)),
    (InstanceFeatureEncoder, dict(feat_num=2, nef=4, n_downsample=2)),
    (PatchDiscriminator, dict(in_channels=7, ndf=4, n_layers=2)),
    (MultiscaleDiscriminator, dict(in_channels=7, ndf=4, n_layers=2, num_D=2)),
    (MultiscaleDiscriminator, dict(in_channels=6, ndf=4, num_D=1, norm="batch", padding=1, weight_init="pix2pix")),
    (UNetGenerator, dict(in_channels=13, num_downs=5, ngf=4, norm="instance")),
]


@pytest.mark.parametrize("cls, kwargs", NETWORKS, ids=[cls.__name__ for cls, _ in NETWORKS])
def test_every_network_records_its_arguments_with_defaults_and_rebuilds_from_them(cls, kwargs):
    network = cls(**kwargs)
    signature = inspect.signature(cls)  # what LightningCLI and --help read: the constructor's own
    assert all(p.kind is p.KEYWORD_ONLY for p in signature.parameters.values())
    defaults = {name: p.default for name, p in signature.parameters.items() if p.default is not p.empty}
    assert network.init_args == defaults | kwargs
    rebuilt = cls(**network.init_args)
    assert rebuilt.init_args == network.init_args
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in network.state_dict().items()}


def test_inner_networks_record_their_own_arguments():
    g = Pix2PixHDGenerator(in_channels=5, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=1)
    assert g.init_args["ngf"] == 4 and g.global_generator.init_args["ngf"] == 8
    assert g.enhancers[0].init_args == dict(in_channels=5, out_channels=3, ngf=4, n_blocks=3, with_head=True)
