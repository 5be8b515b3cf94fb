import math
import warnings

import pytest
import torch

from hrgan.losses import GANLoss, VGGLoss, feature_matching_loss, gan_loss
from hrgan.pretrained import RandomWeightsWarning


def d_outputs(*logits):
    """Per-scale D outputs whose last entry is the given logits."""
    return [[torch.zeros(1), torch.tensor(values)] for values in logits]


def test_lsgan_sums_mse_over_scales():
    out = d_outputs([0.5, -1.0], [1.0, 1.0])
    # scale 0: ((0.5-1)^2 + (-1-1)^2) / 2 = 2.125; scale 1: 0
    assert gan_loss(out, target_real=True).item() == pytest.approx(2.125)
    # fake target: scale 0: (0.25 + 1) / 2 = 0.625; scale 1: 1
    assert gan_loss(out, target_real=False).item() == pytest.approx(1.625)


def test_vanilla_is_bce_with_logits():
    out = d_outputs([0.0, 2.0])
    expected = (math.log(2) + math.log1p(math.exp(-2))) / 2
    assert gan_loss(out, target_real=True, mode="vanilla").item() == pytest.approx(expected)
    expected_fake = (math.log(2) + math.log1p(math.exp(2))) / 2
    assert gan_loss(out, target_real=False, mode="vanilla").item() == pytest.approx(expected_fake)


def test_hinge_for_d_and_g():
    out = d_outputs([2.0, 0.5, -1.0])
    assert gan_loss(out, target_real=True, mode="hinge").item() == pytest.approx((0 + 0.5 + 2) / 3)
    assert gan_loss(out, target_real=False, mode="hinge").item() == pytest.approx((3 + 1.5 + 0) / 3)
    assert gan_loss(out, target_real=True, mode="hinge", for_discriminator=False).item() == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="real"):
        gan_loss(out, target_real=False, mode="hinge", for_discriminator=False)


def test_gan_loss_module_checks_mode():
    with pytest.raises(ValueError, match="lsgan"):
        GANLoss("wgan")
    assert GANLoss("hinge")(d_outputs([3.0]), target_real=True).item() == 0.0


def test_feature_matching_weights_layers_and_scales():
    # 2 scales, n_layers = 1 -> 2 intermediate features + logits per scale: weight 4/2 * 1/2 = 1 per layer.
    fake = [[torch.ones(2, 3), torch.full((4,), 3.0), torch.full((1,), 100.0)] for _ in range(2)]
    real = [[torch.zeros(2, 3), torch.ones(4), torch.zeros(1)] for _ in range(2)]
    # per scale: |1-0| + |3-1| = 3; logits ignored; two scales -> 6
    assert feature_matching_loss(fake, real).item() == pytest.approx(6.0)


def test_feature_matching_does_not_push_gradients_into_real_features():
    fake = [[torch.ones(3, requires_grad=True), torch.zeros(1)]]
    real = [[torch.zeros(3, requires_grad=True), torch.zeros(1)]]
    feature_matching_loss(fake, real).backward()
    assert real[0][0].grad is None
    torch.testing.assert_close(fake[0][0].grad, torch.full((3,), 4.0 / 3))


def random_vgg_loss(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        return VGGLoss(weights="random", **kwargs)


@pytest.fixture(scope="module")
def random_vgg():
    return random_vgg_loss()


def test_vgg_loss_is_zero_for_identical_images_and_grads_only_the_fake(random_vgg):
    real = torch.rand(1, 3, 32, 32) * 2 - 1
    assert random_vgg(real, real).item() == 0.0
    fake = (real + 0.1 * torch.randn_like(real)).requires_grad_(True)
    real.requires_grad_(True)
    loss = random_vgg(fake, real)
    loss.backward()
    assert loss.item() > 0 and fake.grad.abs().sum() > 0 and real.grad is None
    assert all(p.grad is None for p in random_vgg.parameters())


def test_vgg_layer_weights_select_layers(random_vgg):
    fake, real = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    only_last = random_vgg_loss(layer_weights=(0, 0, 0, 0, 1.0))
    only_last.vgg.load_state_dict(random_vgg.vgg.state_dict())
    expected = torch.nn.functional.l1_loss(random_vgg.vgg(fake)[4], random_vgg.vgg(real)[4])
    torch.testing.assert_close(only_last(fake, real), expected)
    with pytest.raises(ValueError, match="5 values"):
        random_vgg_loss(layer_weights=(1.0, 1.0))


def test_vgg_normalisation_is_optional(random_vgg):
    fake, real = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    plain = random_vgg(fake, real)
    random_vgg.normalize_input = True
    try:
        assert not torch.isclose(random_vgg(fake, real), plain)
    finally:
        random_vgg.normalize_input = False
