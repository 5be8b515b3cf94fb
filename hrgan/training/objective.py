"""The objective: the adversarial loss (mode, scale reduction, label smoothing, WGAN-GP's penalty and critic
interval) and the generator's named loss terms (``hrgan.losses.LOSS_TERMS``) with their weights.

The training module asks it for each phase's losses, by name, and logs whatever it returns
(``loss/G/<name>``, ``loss/D/<name>``); it knows no loss itself.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch import nn

from hrgan.losses import LOSS_TERMS, GANLoss, TermInputs, VGGLoss, gradient_penalty
from hrgan.models.family import Style
from hrgan.pretrained import find_cached_vgg19, hub_checkpoint_path
from hrgan.training.settings import ObjectiveSettings


def perceptual_network(settings: ObjectiveSettings) -> VGGLoss | None:
    """The VGG19 network of the ``vgg`` term, or None when the term is off (or, with ``vgg_if_available``, when
    no local weights are found: said once)."""
    if not settings.weights.get("vgg", 0) > 0:
        return None
    if settings.vgg_if_available and settings.vgg_weights == "auto" and find_cached_vgg19() is None:
        rank_zero_warn("the VGG loss is off: no VGG19 weights (vgg19-dcbb9e9d.pth) in the torch hub cache "
                       f"({hub_checkpoint_path('vgg19-dcbb9e9d.pth').parent}); put them there or set "
                       "model.vgg_weights: PATH to train with it")
        return None
    return VGGLoss(weights=settings.vgg_weights, allow_download=False)


class Objective:
    """Each phase's losses by name, weighted.

    Args:
        settings: the mode, penalty, critic interval and term weights.
        vgg: the perceptual network (``perceptual_network``); the module registers it, so that its weights
            stay where checkpoints have them (``vgg.``).
    """

    def __init__(self, settings: ObjectiveSettings, vgg: VGGLoss | None = None) -> None:
        self.settings, self.vgg = settings, vgg
        self.gan = GANLoss(settings.gan_mode, real_label=settings.real_label, scale_reduction=settings.gan_scale_reduction)
        self.weights = {name: settings.weights[name] for name in LOSS_TERMS if settings.weights.get(name, 0) > 0}

    def warn_about(self, discriminator: nn.Module) -> None:
        """Settings that train, but not as meant."""
        if self.settings.wgan and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
            rank_zero_warn("gan_mode wgan-gp with batch norm in the discriminator: the gradient penalty assumes each "
                           "sample's critic value depends on that sample alone (use norm: instance or none)")

    def generator_steps_at(self, iteration: int) -> bool:
        """Whether iteration ``iteration`` (0-based) makes a G step: every ``critic_steps``-th, the last of each group."""
        return (iteration + 1) % self.settings.critic_steps == 0

    def generator_updates(self, steps_in_stage: int) -> int:
        """The G updates among a stage's first ``steps_in_stage`` iterations."""
        return steps_in_stage // self.settings.critic_steps

    def generator_losses(self, fake: torch.Tensor, real: torch.Tensor, d_fake, d_real, style: Style) -> dict[str, torch.Tensor]:
        """The G phase's weighted losses: ``gan`` and every configured term that applies to this step."""
        losses = {"gan": self.gan(d_fake, target_real=True, for_discriminator=False)}
        inputs = TermInputs(fake, real, d_fake, d_real, style.mu, style.logvar, self.vgg)
        for name, weight in self.weights.items():
            loss = LOSS_TERMS[name](inputs)
            if loss is not None:
                losses[name] = weight * loss
        return losses

    def discriminator_losses(self, d_real, d_fake, *, critic: Callable, cond: torch.Tensor, real: torch.Tensor,
                             fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """The D phase's losses: ``real``, ``fake`` and, with WGAN-GP, the weighted penalty ``gp`` of ``critic``
        (D as a function of its input) between the real and fake inputs."""
        losses = {"real": self.gan(d_real, target_real=True), "fake": self.gan(d_fake, target_real=False)}
        if self.settings.wgan:
            losses["gp"] = gradient_penalty(critic, torch.cat([cond, real], 1), torch.cat([cond, fake.detach()], 1),
                                            lambda_gp=self.settings.lambda_gp)
        return losses

    @staticmethod
    def check_finite(losses: dict[str, torch.Tensor], where: str, iteration: int) -> None:
        """``FloatingPointError`` before the optimizer step when a loss is not finite (nothing is damaged yet)."""
        bad = {k: float(v) for k, v in losses.items() if not torch.isfinite(v)}
        if bad:
            raise FloatingPointError(
                f"non-finite {where} loss at iteration {iteration}: {bad}; training stopped before the optimizer "
                "step, so the weights and the last checkpoint are intact. Lower the learning rate or try precision "
                "32 to find the cause."
            )

    def discriminator_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """What D minimises: pix2pixHD halves its loss (summed over scales), SPADE does not (averaged); WGAN-GP's
        critic loss is the plain difference plus the penalty."""
        halved = self.settings.gan_scale_reduction == "sum" and not self.settings.wgan
        return (0.5 if halved else 1.0) * sum(losses.values())

