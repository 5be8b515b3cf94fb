import pytest
import torch
from torch import nn

from hrgan.models import MultiscaleDiscriminator, convert_pix2pix_state_dict
from tests.models import pix2pix_layout as reference

IN = 8


def test_outputs_per_scale_finest_first():
    d = MultiscaleDiscriminator(in_channels=IN, ndf=8, n_layers=3, num_D=3)
    outputs = d(torch.randn(2, IN, 64, 128))
    assert len(outputs) == 3 and all(len(scale) == 5 for scale in outputs)
    assert [tuple(s[-1].shape) for s in outputs] == [(2, 1, 11, 19), (2, 1, 7, 11), (2, 1, 5, 7)]
    assert [f.shape[1] for f in outputs[0]] == [8, 16, 32, 64, 1]


def test_channels_are_capped_at_512():
    with torch.device("meta"):
        d = MultiscaleDiscriminator(in_channels=IN, ndf=128, n_layers=4, num_D=1)
    assert [layer[0].out_channels for layer in d.discriminators[0].layers] == [128, 256, 512, 512, 512, 1]


def test_last_discriminator_sees_full_resolution():
    d = MultiscaleDiscriminator(in_channels=IN, ndf=4, num_D=3)
    x = torch.randn(1, IN, 64, 128)
    outputs = d(x)
    torch.testing.assert_close(outputs[0][-1], d.discriminators[2](x)[-1])
    torch.testing.assert_close(outputs[2][-1], d.discriminators[0](d.downsample(d.downsample(x)))[-1])


def test_fewer_scales_use_the_first_discriminators():
    """Growing from 2 to 3 scales: the first two keep their absolute resolutions, the new one is the finest."""
    d = MultiscaleDiscriminator(in_channels=IN, ndf=4, num_D=3)
    small = torch.randn(1, IN, 32, 64)
    two = d(small, num_scales=2)
    torch.testing.assert_close(two[0][-1], d.discriminators[1](small)[-1])
    torch.testing.assert_close(two[1][-1], d.discriminators[0](d.downsample(small))[-1])
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        d(small, num_scales=4)


def test_every_parameter_gets_a_gradient_from_the_d_loss():
    d = MultiscaleDiscriminator(in_channels=IN, ndf=4, num_D=2)
    loss = sum(scale[-1].square().mean() for scale in d(torch.randn(2, IN, 32, 64)))
    loss.backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name.endswith("weight"):
            assert p.grad.abs().sum() > 0, name


def pix2pix_discriminator(**kwargs):
    return MultiscaleDiscriminator(in_channels=6, num_D=1, norm="batch", padding=1, weight_init="pix2pix", **kwargs)


def test_pix2pix_patchgan_size_and_layout():
    with torch.device("meta"):
        d = pix2pix_discriminator()
        outputs = d(torch.empty(1, 6, 256, 256))
    assert sum(p.numel() for p in d.parameters()) == 2_768_705
    assert [tuple(f.shape[1:]) for f in outputs[0]] == [(64, 128, 128), (128, 64, 64), (256, 32, 32), (512, 31, 31),
                                                        (1, 30, 30)]
    convs = [layer[0] for layer in d.discriminators[0].layers]
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]
    assert all(isinstance(layer[1], nn.BatchNorm2d) for layer in d.discriminators[0].layers[1:4])


def test_defaults_keep_pix2pixhd_layout():
    d = MultiscaleDiscriminator(in_channels=IN, ndf=4, num_D=1)
    expected = [f"discriminators.0.layers.{j}.0.{p}" for j in range(5) for p in ("weight", "bias")]
    assert sorted(d.state_dict()) == sorted(expected)
    assert [layer[0].padding for layer in d.discriminators[0].layers] == [(2, 2)] * 5


def test_weight_inits():
    hd = MultiscaleDiscriminator(in_channels=IN, ndf=16, num_D=1, norm="batch")
    p2p = MultiscaleDiscriminator(in_channels=IN, ndf=16, num_D=1, norm="batch", weight_init="pix2pix")
    for d in (hd, p2p):
        norms = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
        weights = torch.cat([m.weight for m in norms])
        assert abs(weights.mean().item() - 1) < 0.01 and 0.01 < weights.std().item() < 0.03
        assert not any(m.bias.any() for m in norms)
    first = lambda d: d.discriminators[0].layers[0][0].bias  # noqa: E731
    assert first(hd).abs().sum() > 0 and not first(p2p).any()
    with pytest.raises(ValueError, match="pix2pixhd"):
        MultiscaleDiscriminator(in_channels=IN, ndf=4, weight_init="xavier")
    with pytest.raises(ValueError, match="instance"):
        MultiscaleDiscriminator(in_channels=IN, ndf=4, norm="group")


def test_reference_patchgan_state_dict_imports_and_computes_the_same():
    theirs = reference.randomize_norms(reference.nlayer_discriminator(6, ndf=8))
    ours = pix2pix_discriminator(ndf=8)
    ours.load_state_dict(convert_pix2pix_state_dict(theirs.state_dict()), strict=True)
    x = torch.randn(2, 6, 64, 64)
    for train in (False, True):
        with torch.no_grad():
            torch.testing.assert_close(ours.train(train)(x)[0][-1], theirs.train(train)(x.clone()), rtol=0, atol=0)
