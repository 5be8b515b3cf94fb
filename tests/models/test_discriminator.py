import pytest
import torch

from hrgan.models import MultiscaleDiscriminator

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
