"""The objective: named loss terms from the registry with their weights, and the D phase's rules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hrgan.losses import LOSS_TERMS, feature_matching_loss, kl_divergence
from hrgan.models.family import Style
from hrgan.training.objective import Objective
from hrgan.training.settings import ObjectiveSettings
from tests.training.helpers import tiny_module


def outputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)] for _ in range(2)]


def test_generator_losses_are_the_configured_terms_weighted():
    fake, real = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    d_fake, d_real = outputs(0), outputs(1)
    objective = Objective(ObjectiveSettings(weights={"feat": 3.0, "vgg": 0.0, "l1": 2.0, "kld": 0.5}))
    losses = objective.generator_losses(fake, real, d_fake, d_real, Style())
    assert list(losses) == ["gan", "feat", "l1"]  # vgg is off (weight 0), kld has no posterior here
    assert torch.equal(losses["l1"], 2.0 * F.l1_loss(fake, real))
    assert torch.equal(losses["feat"], 3.0 * feature_matching_loss(d_fake, d_real))
    mu, logvar = torch.randn(2, 4), torch.randn(2, 4)
    with_vae = objective.generator_losses(fake, real, d_fake, d_real, Style(z=mu, mu=mu, logvar=logvar))
    assert torch.equal(with_vae["kld"], 0.5 * kl_divergence(mu, logvar))


def test_settings_name_unknown_terms_and_bad_modes():
    problems = ObjectiveSettings(gan_mode="wgan", weights={"perceptual": 1.0}, critic_steps=0).problems()
    assert any("unknown gan_mode 'wgan'" in p for p in problems)
    assert any("unknown loss term 'perceptual'" in p and ", ".join(LOSS_TERMS) in p for p in problems)
    assert any("critic_steps must be >= 1" in p for p in problems)
    assert any("label smoothing" in p for p in ObjectiveSettings(gan_mode="hinge", real_label=0.9).problems())
    negative = ObjectiveSettings(gan_mode="wgan-gp", lambda_gp=-10.0, weights={"l1": -1.0}).problems()
    assert negative == ["lambda_gp must be >= 0, got -10.0", "the l1 loss's weight (model.lambda_l1) must be >= 0 (0: off), got -1.0"]


@pytest.mark.parametrize("mode,reduction,factor", [("lsgan", "sum", 0.5), ("hinge", "mean", 1.0)])
def test_the_discriminator_loss_is_halved_only_when_summed_over_scales(mode, reduction, factor):
    objective = Objective(ObjectiveSettings(gan_mode=mode, gan_scale_reduction=reduction))
    losses = objective.discriminator_losses(outputs(0), outputs(1), critic=None, cond=None, real=None, fake=None)
    assert list(losses) == ["real", "fake"]
    assert torch.equal(objective.discriminator_total(losses), factor * (losses["real"] + losses["fake"]))


def test_wgan_gp_adds_the_penalty_and_steps_g_every_kth_iteration():
    objective = Objective(ObjectiveSettings(gan_mode="wgan-gp", critic_steps=3, lambda_gp=5.0))
    critic = lambda x: [[x.mean((1, 2, 3), keepdim=True)]]  # noqa: E731
    cond, real, fake = torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    losses = objective.discriminator_losses(outputs(0), outputs(1), critic=critic, cond=cond, real=real, fake=fake)
    assert set(losses) == {"real", "fake", "gp"} and float(losses["gp"]) > 0
    assert torch.equal(objective.discriminator_total(losses), sum(losses.values()))
    assert [objective.generator_steps_at(i) for i in range(6)] == [False, False, True, False, False, True]


def test_the_flat_keywords_become_the_typed_settings():
    module = tiny_module(use_feat_loss=False, lambda_feat=7.0, lambda_l1=3.0, lr_G=1e-3, ema_decay=0.5, ema_power=2.0)
    # feat switched off, vgg off in the tiny module; kld is configured but adds nothing without a VAE
    assert module.objective.weights == {"l1": 3.0, "kld": 0.05}
    assert module.optimization.lr_G == 1e-3 and (module.ema.decay, module.ema.power) == (0.5, 2.0)
    assert module.hparams["lambda_feat"] == 7.0 and "objective" not in module.hparams  # configs' names in checkpoints
