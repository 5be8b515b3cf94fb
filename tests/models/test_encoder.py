import pytest
import torch

from hrgan.models import InstanceFeatureEncoder, instance_average_pool
from tests.models.pix2pixhd_layout import loop_instance_average


def random_instances(b, h, w, n):
    """Blocky instance maps with arbitrary (large, repeated across images) ids."""
    ids = torch.tensor([0, 7, 26001, 26002, 33000, 5])[:n]
    cells = torch.randint(0, n, (b, h // 4, w // 4))
    return ids[cells].repeat_interleave(4, 1).repeat_interleave(4, 2)


def test_pooling_matches_the_official_loop():
    features = torch.randn(3, 4, 16, 24)
    instance = random_instances(3, 16, 24, 6)
    torch.testing.assert_close(instance_average_pool(features, instance), loop_instance_average(features, instance))


def test_same_id_in_different_images_is_pooled_separately():
    features = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    instance = torch.zeros(2, 4, 4, dtype=torch.long)
    pooled = instance_average_pool(features, instance)
    assert pooled[0].eq(0).all() and pooled[1].eq(1).all()


def test_pooling_is_differentiable():
    features = torch.randn(1, 2, 8, 8, requires_grad=True)
    instance = torch.zeros(1, 8, 8, dtype=torch.long)
    instance[:, :, 4:] = 1
    instance_average_pool(features, instance)[:, :, :, :4].sum().backward()
    # Each left-half pixel's output is the left-region mean, so d/dx = (#left pixels) / (#left pixels) = 1.
    torch.testing.assert_close(features.grad[:, :, :, :4], torch.ones(1, 2, 8, 4))
    assert features.grad[:, :, :, 4:].eq(0).all()


def test_pooling_rejects_mismatched_maps():
    with pytest.raises(ValueError, match="does not match"):
        instance_average_pool(torch.randn(1, 3, 8, 8), torch.zeros(1, 8, 4, dtype=torch.long))


def test_encoder_output_is_constant_per_instance():
    encoder = InstanceFeatureEncoder(in_channels=3, feat_num=3, nef=4, n_downsample=2)
    assert encoder.size_multiple() == 4
    instance = random_instances(2, 32, 64, 4)
    out = encoder(torch.randn(2, 3, 32, 64), instance)
    assert out.shape == (2, 3, 32, 64)
    for b in range(2):
        for i in torch.unique(instance[b]):
            region = out[b][:, instance[b] == i]
            assert torch.allclose(region, region[:, :1].expand_as(region))
