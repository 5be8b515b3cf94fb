import functools
import math
import warnings

import pytest
import torch

from hrgan.losses import GANLoss, VGGLoss, feature_matching_loss, gan_loss, gradient_penalty, kl_divergence
from hrgan.models.discriminator import MultiscaleDiscriminator
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


def test_spade_averages_the_adversarial_term_over_scales():
    out = d_outputs([2.0, 0.5], [-1.0, -3.0])
    # hinge for G: -mean per scale: -1.25 and 2; summed 0.75, averaged 0.375
    assert gan_loss(out, target_real=True, mode="hinge", for_discriminator=False).item() == pytest.approx(0.75)
    spade = GANLoss("hinge", scale_reduction="mean")
    assert spade(out, target_real=True, for_discriminator=False).item() == pytest.approx(0.375)
    with pytest.raises(ValueError, match="scale_reduction"):
        GANLoss("hinge", scale_reduction="max")


def test_kl_divergence_sums_over_batch_and_dimensions():
    assert kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).item() == 0.0  # N(0, 1) itself
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]])
    # 0.5 * (mu^2 + var - 1 - log var) per dimension: 0.5 and 0.5 * (1 - log 2)
    assert kl_divergence(mu, logvar).item() == pytest.approx(0.5 + 0.5 * (1 - math.log(2.0)))
    assert kl_divergence(mu.repeat(3, 1), logvar.repeat(3, 1)).item() == pytest.approx(3 * (1 - 0.5 * math.log(2.0)))


def test_gan_loss_module_checks_mode():
    with pytest.raises(ValueError, match="lsgan"):
        GANLoss("wgan")
    assert GANLoss("hinge")(d_outputs([3.0]), target_real=True).item() == 0.0


def test_wgan_critic_and_generator_terms():
    real, fake = d_outputs([1.0, -3.0], [2.0]), d_outputs([0.5, 1.5], [-4.0])
    # critic on real: -mean per scale, summed: -(-1) - 2 = -1; on fake: +mean: 1 + (-4) = -3
    assert gan_loss(real, target_real=True, mode="wgan-gp").item() == pytest.approx(-1.0)
    assert gan_loss(fake, target_real=False, mode="wgan-gp").item() == pytest.approx(-3.0)
    critic = GANLoss("wgan-gp")
    # mean(fake) - mean(real) = (1 - 4) - (-1 + 2) = -4
    assert (critic(real, target_real=True) + critic(fake, target_real=False)).item() == pytest.approx(-4.0)
    # generator: -mean(fake logits) = -(1 - 4) = 3
    assert critic(fake, target_real=True, for_discriminator=False).item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="real"):
        critic(fake, target_real=False, for_discriminator=False)


class LinearCritic(torch.nn.Module):
    """D(x) = <w, x> per sample, one scale: its input gradient is w for every x."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w).view(1, 1, 1, -1))

    def forward(self, x):
        return [[x, (x * self.w).sum(dim=(1, 2, 3)).view(-1, 1)]]


def test_gradient_penalty_of_a_linear_critic_backpropagates_into_it():
    critic = LinearCritic([3.0, 4.0])  # ||w|| = 5
    real = torch.randn(2, 1, 1, 2, generator=torch.Generator().manual_seed(0))
    fake = torch.zeros(2, 1, 1, 2, requires_grad=True)
    penalty = gradient_penalty(critic, real, fake, lambda_gp=10.0)
    assert penalty.item() == pytest.approx(10.0 * (5 - 1) ** 2)
    penalty.backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = 16 w
    torch.testing.assert_close(critic.w.grad, 16.0 * critic.w.detach())
    assert fake.grad is None


def test_gradient_penalty_mixes_each_sample_with_its_epsilon_and_sums_scales():
    w = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)

    def critic(x):  # scale 0: 0.5 ||x||^2 (gradient x), scale 1: <w, x> (gradient w)
        return [[0.5 * x.pow(2).sum(dim=(1, 2, 3))], [x, (x * w).sum(dim=(1, 2, 3))]]

    real = torch.tensor([[2.0, 0.0], [2.0, 0.0]]).view(2, 1, 1, 2)
    fake = torch.tensor([[0.0, 2.0], [0.0, 2.0]]).view(2, 1, 1, 2)
    # eps = 0.25: x = [0.5, 1.5], gradient x + w = [0.5, 2.5]; eps = 1: x = [2, 0], gradient [2, 1]
    expected = 2.0 * ((math.sqrt(0.25 + 6.25) - 1) ** 2 + (math.sqrt(5.0) - 1) ** 2) / 2
    penalty = gradient_penalty(critic, real, fake, lambda_gp=2.0, epsilon=torch.tensor([0.25, 1.0]))
    assert penalty.item() == pytest.approx(expected)


def test_gradient_penalty_draws_epsilon_from_rng():
    def critic(x):
        return [[0.5 * x.pow(2).sum(dim=(1, 2, 3))]]

    real, fake = torch.ones(3, 2, 1, 2), torch.zeros(3, 2, 1, 2)
    eps = torch.rand(3, generator=torch.Generator().manual_seed(7))
    # gradient eps_i * real_i, norm 2 eps_i
    expected = sum((2 * e - 1) ** 2 for e in eps.tolist()) / 3
    penalty = gradient_penalty(critic, real, fake, lambda_gp=1.0, rng=torch.Generator().manual_seed(7))
    assert penalty.item() == pytest.approx(expected)


def test_gradient_penalty_trains_a_multiscale_discriminator():
    torch.manual_seed(0)
    D = MultiscaleDiscriminator(in_channels=4, ndf=4, n_layers=1, num_D=2)
    real, fake = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
    penalty = gradient_penalty(functools.partial(D, num_scales=2), real, fake)
    penalty.backward()
    assert torch.isfinite(penalty) and penalty.item() > 0
    # every weight gets a gradient (a bias shifts D's output, not its input gradient)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in D.named_parameters() if n.endswith("weight"))


def test_gradient_penalty_checks_shapes():
    critic = LinearCritic([1.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        gradient_penalty(critic, torch.zeros(2, 1, 1, 2), torch.zeros(1, 1, 1, 2))
    with pytest.raises(ValueError, match="one value per sample"):
        gradient_penalty(critic, torch.zeros(2, 1, 1, 2), torch.zeros(2, 1, 1, 2), epsilon=torch.rand(3))


def test_label_smoothing_softens_only_the_discriminators_real_target():
    out = d_outputs([0.0, 2.0])
    # BCE against 0.9: 0.9 log(1 + e^-x) + 0.1 log(1 + e^x)
    smoothed = (math.log(2) + 0.9 * math.log1p(math.exp(-2)) + 0.1 * math.log1p(math.exp(2))) / 2
    assert gan_loss(out, target_real=True, mode="vanilla", real_label=0.9).item() == pytest.approx(smoothed)
    assert GANLoss("vanilla", real_label=0.9)(out, target_real=True).item() == pytest.approx(smoothed)
    # lsgan: ((0 - 0.9)^2 + (2 - 0.9)^2) / 2 = (0.81 + 1.21) / 2
    assert GANLoss("lsgan", real_label=0.9)(out, target_real=True).item() == pytest.approx(1.01)


def test_label_smoothing_leaves_the_fake_and_generator_targets():
    out = d_outputs([0.0, 2.0])
    for mode, real, fake in (
        ("vanilla", (math.log(2) + math.log1p(math.exp(-2))) / 2, (math.log(2) + math.log1p(math.exp(2))) / 2),
        ("lsgan", (1 + 1) / 2, (0 + 4) / 2),
    ):
        loss = GANLoss(mode, real_label=0.9)
        assert loss(out, target_real=True, for_discriminator=False).item() == pytest.approx(real)
        assert loss(out, target_real=False).item() == pytest.approx(fake)


def test_smoothed_bce_is_stable_for_large_logits():
    # x = 100: 0.9 softplus(-100) + 0.1 * 100 ~ 10; x = -100: 0.9 * 100 + 0.1 softplus(-100) ~ 90
    loss = gan_loss(d_outputs([100.0, -100.0]), target_real=True, mode="vanilla", real_label=0.9)
    assert loss.item() == pytest.approx(50.0)


@pytest.mark.parametrize("mode", ["hinge", "wgan-gp"])
def test_label_smoothing_is_refused_where_it_has_no_meaning(mode):
    with pytest.raises(ValueError, match="label smoothing"):
        GANLoss(mode, real_label=0.9)
    with pytest.raises(ValueError, match="label smoothing"):
        gan_loss(d_outputs([1.0]), target_real=True, mode=mode, real_label=0.9)
    assert GANLoss(mode, real_label=1.0).real_label == 1.0


@pytest.mark.parametrize("real_label", [0.0, -0.1, 1.1, float("nan")])
def test_real_label_must_be_in_zero_one(real_label):
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        GANLoss("vanilla", real_label=real_label)


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
