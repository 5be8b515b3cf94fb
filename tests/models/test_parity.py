"""Parameter counts and discriminator output sizes match the official pix2pixHD networks exactly.

Networks are built on the meta device: full-size counts and shapes without allocating memory.
"""

import json

import pytest
import torch

from hrgan.models import GlobalGenerator, InstanceFeatureEncoder, MultiscaleDiscriminator, Pix2PixHDGenerator

PARITY = [
    (lambda: GlobalGenerator(in_channels=36), 182_546_755),
    (lambda: Pix2PixHDGenerator(in_channels=36, ngf=32, n_local_enhancers=1), 182_857_059),
    (lambda: Pix2PixHDGenerator(in_channels=36, ngf=64, n_local_enhancers=1), 731_036_355),
    (lambda: MultiscaleDiscriminator(in_channels=39, num_D=3), 8_404_803),
    (lambda: MultiscaleDiscriminator(in_channels=39, num_D=2), 5_603_202),
    (lambda: InstanceFeatureEncoder(in_channels=3, feat_num=3, nef=16), 788_803),
    (lambda: GlobalGenerator(in_channels=39), 182_556_163),
]


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("build, expected", PARITY)
def test_parameter_counts_match_pix2pixhd(build, expected):
    with torch.device("meta"):
        assert count(build()) == expected


def test_discriminator_sizes_at_256x512():
    with torch.device("meta"):
        d = MultiscaleDiscriminator(in_channels=36, num_D=3)
        outputs = d(torch.empty(1, 36, 256, 512))
    assert [tuple(scale[-1].shape[-2:]) for scale in outputs] == [(35, 67), (19, 35), (11, 19)]
    assert [tuple(f.shape[-2:]) for f in outputs[0][:-1]] == [(129, 257), (65, 129), (33, 65), (34, 66)]
    assert all(len(scale) == 3 + 2 for scale in outputs)


@pytest.mark.shared_data
@pytest.mark.parametrize("num_d", [2, 3])
def test_discriminator_shapes_match_reference_listing(shared_dir, num_d):
    parity = json.loads((shared_dir / "reference/pix2pixhd/parity.json").read_text())
    sizes = {k.rsplit("_", 1)[1]: v for k, v in parity.items() if k.startswith(f"D_shapes_D_numD{num_d}_")}
    assert sizes, "no discriminator shapes listed"
    with torch.device("meta"):
        d = MultiscaleDiscriminator(in_channels=36, num_D=num_d)
        for size, expected in sizes.items():
            h, w = (int(v) for v in size.split("x"))
            outputs = d(torch.empty(1, 36, h, w))
            assert [[list(f.shape[1:]) for f in scale] for scale in outputs] == expected, size


@pytest.mark.shared_data
def test_generator_shapes_match_reference_listing(shared_dir):
    parity = json.loads((shared_dir / "reference/pix2pixhd/parity.json").read_text())
    with torch.device("meta"):
        g = Pix2PixHDGenerator(in_channels=36, ngf=32)
        for key, in_shape in parity.items():
            if key.startswith("G_input_shape_"):
                out = g(torch.empty(in_shape))
                assert list(out.shape) == parity[key.replace("input", "output")]
