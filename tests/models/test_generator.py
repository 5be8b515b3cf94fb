import pytest
import torch

from hrgan.models import GlobalGenerator, Pix2PixHDGenerator

IN = 5  # tiny label_nc + edge


def tiny_pix2pixhd(**kwargs):
    args = dict(in_channels=IN, ngf=4, n_downsample_global=2, n_blocks_global=1, n_blocks_local=1)
    return Pix2PixHDGenerator(**(args | kwargs))


def test_global_generator_shape_and_range():
    g = GlobalGenerator(in_channels=IN, ngf=8, n_downsample=3, n_blocks=2)
    out = g(torch.randn(2, IN, 64, 128))
    assert out.shape == (2, 3, 64, 128)
    assert out.abs().max() <= 1.0


@pytest.mark.parametrize("n_local", [0, 1, 2])
def test_pix2pixhd_generator_output_size_at_every_stage(n_local):
    g = tiny_pix2pixhd(n_local_enhancers=n_local, keep_coarse_heads=True)
    assert g.size_multiple() == 2 ** (2 + n_local)
    for k in range(n_local + 1):
        h, w = 16 * 2**k, 32 * 2**k
        assert g(torch.randn(1, IN, h, w), n_active_enhancers=k).shape == (1, 3, h, w)


def test_size_multiple_follows_the_active_enhancers():
    g = tiny_pix2pixhd(n_local_enhancers=2)
    assert [g.size_multiple(k) for k in (0, 1, 2)] == [4, 8, 16] and g.size_multiple() == 16
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        g.size_multiple(3)
    single = GlobalGenerator(in_channels=IN, ngf=4, n_downsample=3, n_blocks=1)
    assert single.size_multiple() == single.size_multiple(0) == 8
    with pytest.raises(ValueError, match="no local enhancers"):
        single.size_multiple(1)


def test_widths_follow_pix2pixhd():
    g = tiny_pix2pixhd(n_local_enhancers=2)
    assert g.global_generator.ngf == 16  # ngf * 2**n_local_enhancers
    assert g.enhancers[0].up[0].out_channels == 8
    assert g.enhancers[1].up[0].out_channels == 4
    assert g.global_generator.head is None and g.enhancers[0].head is None
    assert g.enhancers[1].head is not None


def test_running_a_coarser_stage_needs_its_head():
    g = tiny_pix2pixhd(n_local_enhancers=1)
    with pytest.raises(ValueError, match="keep_coarse_heads=True"):
        g(torch.randn(1, IN, 16, 32), n_active_enhancers=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        g(torch.randn(1, IN, 16, 32), n_active_enhancers=2)


def test_lower_stage_state_dict_loads_unchanged():
    coarse = tiny_pix2pixhd(ngf=8, n_local_enhancers=0)
    fine = tiny_pix2pixhd(ngf=4, n_local_enhancers=1, keep_coarse_heads=True)
    result = fine.load_state_dict(coarse.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(k.startswith("enhancers.0.") for k in result.missing_keys)
    x = torch.randn(1, IN, 16, 32)
    torch.testing.assert_close(fine(x, n_active_enhancers=0), coarse(x), rtol=0, atol=0)
    # A global generator trained on its own loads into the enhanced generator's global part.
    standalone = GlobalGenerator(in_channels=IN, ngf=8, n_downsample=2, n_blocks=1)
    fine.global_generator.load_state_dict(standalone.state_dict(), strict=True)
    torch.testing.assert_close(fine(x, n_active_enhancers=0), standalone(x), rtol=0, atol=0)


def test_fade_in_blends_upsampled_coarse_output():
    g = tiny_pix2pixhd(n_local_enhancers=1, keep_coarse_heads=True).eval()
    x = torch.randn(1, IN, 32, 64)
    new = g(x)
    coarse = torch.nn.functional.interpolate(
        g(g.downsample(x), n_active_enhancers=0), size=(32, 64), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(g(x, fade_alpha=0.0), coarse)
    torch.testing.assert_close(g(x, fade_alpha=0.25), 0.25 * new + 0.75 * coarse)
    with pytest.raises(ValueError, match="fade"):
        g(g.downsample(x), n_active_enhancers=0, fade_alpha=0.5)


def test_every_parameter_gets_a_gradient():
    g = tiny_pix2pixhd(n_local_enhancers=1)
    g(torch.randn(2, IN, 32, 64)).square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if name.endswith("weight"):
            assert p.grad.abs().sum() > 0, name


def test_conv_weights_are_initialised_like_pix2pixhd():
    g = GlobalGenerator(in_channels=IN, ngf=16, n_downsample=2, n_blocks=1)
    w = g.blocks[0].conv_block[1].weight
    assert abs(w.mean().item()) < 0.002
    assert 0.018 < w.std().item() < 0.022
    assert 0.018 < g.up[0][0].weight.std().item() < 0.022  # transposed convs too
