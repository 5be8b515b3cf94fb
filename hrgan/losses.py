"""pix2pixHD's losses: adversarial (LSGAN, vanilla, hinge), discriminator feature matching, VGG perceptual.

Losses are stateless: they hold constants only (no cached target tensors),
and the training module combines them with weights from the config.
Discriminator outputs are what ``MultiscaleDiscriminator`` returns: one list
of feature maps per scale, the last of each list being the patch logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hrgan.pretrained import load_vgg19_features

GAN_MODES = ("lsgan", "vanilla", "hinge")
VGG_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

# ImageNet statistics for inputs mapped to [0, 1], used when VGGLoss(normalize_input=True).
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

DiscriminatorOutputs = Sequence[Sequence[torch.Tensor]]


def _gan_term(logits: torch.Tensor, *, target_real: bool, mode: str, for_discriminator: bool) -> torch.Tensor:
    if mode == "lsgan":
        return (logits - (1.0 if target_real else 0.0)).pow(2).mean()
    if mode == "vanilla":  # BCE with logits against 1 / 0, written stably
        return F.softplus(-logits if target_real else logits).mean()
    if mode == "hinge":
        if not for_discriminator:
            if not target_real:
                raise ValueError("the hinge generator loss only has a 'real' target")
            return -logits.mean()
        return F.relu(1.0 - logits if target_real else 1.0 + logits).mean()
    raise ValueError(f"unknown GAN loss mode {mode!r}; choose one of {GAN_MODES}")


def gan_loss(
    outputs: DiscriminatorOutputs, *, target_real: bool, mode: str = "lsgan", for_discriminator: bool = True
) -> torch.Tensor:
    """Adversarial loss summed over discriminator scales (as pix2pixHD does).

    Args:
        outputs: per-scale lists of D outputs; only each scale's last entry (the logits) is used.
        target_real: whether the discriminator should call these inputs real.
        mode: ``lsgan`` (MSE to 1/0), ``vanilla`` (BCE with logits) or ``hinge``.
        for_discriminator: False for the generator's loss (matters for hinge only).
    """
    return sum(
        _gan_term(scale[-1], target_real=target_real, mode=mode, for_discriminator=for_discriminator)
        for scale in outputs
    )


class GANLoss(nn.Module):
    """``gan_loss`` with its mode fixed at construction."""

    def __init__(self, mode: str = "lsgan") -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"unknown GAN loss mode {mode!r}; choose one of {GAN_MODES}")
        self.mode = mode

    def forward(
        self, outputs: DiscriminatorOutputs, *, target_real: bool, for_discriminator: bool = True
    ) -> torch.Tensor:
        return gan_loss(outputs, target_real=target_real, mode=self.mode, for_discriminator=for_discriminator)


def feature_matching_loss(fake_outputs: DiscriminatorOutputs, real_outputs: DiscriminatorOutputs) -> torch.Tensor:
    """pix2pixHD's discriminator feature matching loss.

    L1 between D's intermediate features on fake and (detached) real inputs,
    each layer weighted 4 / (n_layers + 1) and each scale 1 / num_D; the
    logits (last output of each scale) are not matched.
    """
    num_d = len(fake_outputs)
    total = fake_outputs[0][0].new_zeros(())
    for fake_scale, real_scale in zip(fake_outputs, real_outputs, strict=True):
        n_features = len(fake_scale) - 1  # = n_layers + 1
        weight = 4.0 / n_features / num_d
        for fake, real in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            total = total + weight * F.l1_loss(fake, real.detach())
    return total


class VGGLoss(nn.Module):
    """VGG19 perceptual loss: sum over relu1_1..relu5_1 of weight * L1(vgg(fake), vgg(real)).

    Args:
        weights: VGG19 weights: a torchvision-format file path, ``auto`` (torch hub
            cache, then torchvision's URL if ``allow_download``) or ``random`` (tests only; warns).
        normalize_input: map [-1, 1] images to ImageNet statistics first. pix2pixHD
            feeds [-1, 1] images as they are (False, the default).
        layer_weights: one weight per layer (pix2pixHD: 1/32, 1/16, 1/8, 1/4, 1).
        allow_download: whether ``auto`` may try the network.
    """

    def __init__(
        self,
        *,
        weights: str = "auto",
        normalize_input: bool = False,
        layer_weights: Sequence[float] = VGG_LAYER_WEIGHTS,
        allow_download: bool = True,
    ) -> None:
        super().__init__()
        if len(layer_weights) != len(VGG_LAYER_WEIGHTS):
            raise ValueError(f"layer_weights needs {len(VGG_LAYER_WEIGHTS)} values, got {len(layer_weights)}")
        self.vgg = load_vgg19_features(weights, allow_download=allow_download)
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.normalize_input = normalize_input
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _prepare(self, image: torch.Tensor) -> torch.Tensor:
        if not self.normalize_input:
            return image
        return ((image + 1.0) / 2.0 - self.mean) / self.std

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """fake, real: [B, 3, H, W] in [-1, 1]. Gradients flow into ``fake`` only."""
        with torch.no_grad():
            real_features = self.vgg(self._prepare(real))
        fake_features = self.vgg(self._prepare(fake))
        total = fake.new_zeros(())
        for weight, f, r in zip(self.layer_weights, fake_features, real_features, strict=True):
            total = total + weight * F.l1_loss(f, r)
        return total
