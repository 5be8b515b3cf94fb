"""pix2pixHD's losses: adversarial (LSGAN, vanilla, hinge, WGAN-GP), discriminator feature matching, VGG perceptual.

Losses are stateless: they hold constants only (no cached target tensors),
and the training objective (``hrgan.training.objective``) combines them with
weights from the config. ``LOSS_TERMS`` names the generator's terms besides
the adversarial one: a new loss is a function here, an entry there, and a weight.
Discriminator outputs are what ``MultiscaleDiscriminator`` returns: one list
of feature maps per scale, the last of each list being the patch logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hrgan.pretrained import load_vgg19_features

GAN_MODES = ("lsgan", "vanilla", "hinge", "wgan-gp")
SMOOTHABLE_GAN_MODES = ("lsgan", "vanilla")  # the modes that take a soft real target (real_label < 1)
SCALE_REDUCTIONS = ("sum", "mean")  # over discriminator scales: pix2pixHD sums, SPADE averages
VGG_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

# ImageNet statistics for inputs mapped to [0, 1], used when VGGLoss(normalize_input=True).
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

DiscriminatorOutputs = Sequence[Sequence[torch.Tensor]]


def check_gan_options(mode: str, real_label: float, scale_reduction: str = "sum") -> None:
    """``ValueError`` for a mode, real label or scale reduction the adversarial loss does not take."""
    if mode not in GAN_MODES:
        raise ValueError(f"unknown GAN loss mode {mode!r}; choose one of {GAN_MODES}")
    if scale_reduction not in SCALE_REDUCTIONS:
        raise ValueError(f"scale_reduction must be one of {SCALE_REDUCTIONS}, got {scale_reduction!r}")
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"real_label must be in (0, 1], got {real_label}")
    if real_label != 1.0 and mode not in SMOOTHABLE_GAN_MODES:
        raise ValueError(
            f"real_label={real_label} (label smoothing) needs a mode in {SMOOTHABLE_GAN_MODES}, not {mode!r}"
        )


def _gan_term(
    logits: torch.Tensor, *, target_real: bool, mode: str, for_discriminator: bool, real_label: float = 1.0
) -> torch.Tensor:
    # one-sided label smoothing: only the discriminator's real target is soft
    target = (real_label if for_discriminator else 1.0) if target_real else 0.0
    if mode == "lsgan":
        return (logits - target).pow(2).mean()
    if mode == "vanilla":  # BCE with logits against t, stably: softplus(-x)·t + softplus(x)·(1-t) = softplus(x) - t·x
        return (F.softplus(-logits) if target == 1.0 else F.softplus(logits) - target * logits).mean()
    if mode in ("hinge", "wgan-gp"):
        if not for_discriminator:
            if not target_real:
                raise ValueError(f"the {mode} generator loss only has a 'real' target")
            return -logits.mean()
        if mode == "wgan-gp":  # the critic: mean(fake) - mean(real) once both terms are added
            return -logits.mean() if target_real else logits.mean()
        return F.relu(1.0 - logits if target_real else 1.0 + logits).mean()
    raise ValueError(f"unknown GAN loss mode {mode!r}; choose one of {GAN_MODES}")


def gan_loss(
    outputs: DiscriminatorOutputs,
    *,
    target_real: bool,
    mode: str = "lsgan",
    for_discriminator: bool = True,
    real_label: float = 1.0,
    scale_reduction: str = "sum",
) -> torch.Tensor:
    """Adversarial loss over discriminator scales: summed (pix2pixHD) or averaged (SPADE).

    Args:
        outputs: per-scale lists of D outputs; only each scale's last entry (the logits) is used.
        target_real: whether the discriminator should call these inputs real.
        mode: ``lsgan`` (MSE to 1/0), ``vanilla`` (BCE with logits), ``hinge`` or
            ``wgan-gp`` (critic: -mean(logits) for real, +mean(logits) for fake;
            generator: -mean(logits); add ``gradient_penalty`` to the critic's loss).
        for_discriminator: False for the generator's loss.
        real_label: the discriminator's real target for ``lsgan`` and ``vanilla``
            (one-sided label smoothing, e.g. 0.9); the fake target (0) and the
            generator's target (1) do not change. Must be 1 for the other modes.
        scale_reduction: ``sum`` (pix2pixHD) or ``mean`` (SPADE) over the scales.
    """
    check_gan_options(mode, real_label, scale_reduction)
    total = sum(
        _gan_term(
            scale[-1], target_real=target_real, mode=mode, for_discriminator=for_discriminator, real_label=real_label
        )
        for scale in outputs
    )
    return total / len(outputs) if scale_reduction == "mean" else total


class GANLoss(nn.Module):
    """``gan_loss`` with its mode and real label fixed at construction."""

    def __init__(self, mode: str = "lsgan", *, real_label: float = 1.0, scale_reduction: str = "sum") -> None:
        super().__init__()
        check_gan_options(mode, real_label, scale_reduction)
        self.mode, self.scale_reduction = mode, scale_reduction
        self.real_label = float(real_label)

    def forward(
        self, outputs: DiscriminatorOutputs, *, target_real: bool, for_discriminator: bool = True
    ) -> torch.Tensor:
        return gan_loss(
            outputs,
            target_real=target_real,
            mode=self.mode,
            for_discriminator=for_discriminator,
            real_label=self.real_label,
            scale_reduction=self.scale_reduction,
        )


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], DiscriminatorOutputs],
    real_input: torch.Tensor,
    fake_input: torch.Tensor,
    *,
    lambda_gp: float = 10.0,
    epsilon: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017): lambda_gp * mean_i((||grad D(x_i)||_2 - 1)^2).

    x_i = eps_i * real_i + (1 - eps_i) * fake_i with one eps_i ~ U[0, 1] per sample.
    For a multi-scale D, "D(x_i)" is the sum over scales of the sum of that
    sample's patch logits, and the norm is over all C x H x W entries of its
    gradient; D must treat samples independently (instance norm, no batch norm).
    As in common conditional WGAN-GP code the inputs are condition and image
    concatenated, and the whole concatenation is interpolated and penalised
    (the condition parts of real and fake are equal, so stay as they are).
    The inputs are detached: the penalty trains D only, through a
    ``create_graph=True`` gradient.

    Args:
        discriminator: x [B, C, H, W] -> per-scale output lists, e.g.
            ``functools.partial(D, num_scales=n)``.
        real_input, fake_input: [B, C, H, W] D inputs.
        lambda_gp: the penalty's weight.
        epsilon: [B] mixing weights (default: drawn from U[0, 1]).
        rng: random generator for epsilon, on the inputs' device.

    Returns:
        The weighted penalty, a scalar.
    """
    if real_input.shape != fake_input.shape:
        raise ValueError(
            f"real_input and fake_input differ in shape: {tuple(real_input.shape)} vs {tuple(fake_input.shape)}"
        )
    batch = real_input.shape[0]
    if epsilon is None:
        epsilon = torch.rand(batch, generator=rng, device=real_input.device, dtype=real_input.dtype)
    if epsilon.numel() != batch:
        raise ValueError(f"epsilon needs one value per sample ({batch}), got shape {tuple(epsilon.shape)}")
    epsilon = epsilon.to(real_input).reshape(batch, *([1] * (real_input.dim() - 1)))  # [B, 1, 1, 1]
    mixed = (epsilon * real_input.detach() + (1 - epsilon) * fake_input.detach()).requires_grad_(True)
    score = sum(scale[-1].sum() for scale in discriminator(mixed))
    (gradient,) = torch.autograd.grad(score, mixed, create_graph=True)  # [B, C, H, W]
    norm = gradient.flatten(1).norm(2, dim=1)  # [B]
    return lambda_gp * (norm - 1).pow(2).mean()


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) summed over the batch and the latent dimensions (SPADE's KLDLoss)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


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


@dataclass(frozen=True)
class TermInputs:
    """What a generator step's loss terms may use: the fake and real photos, D's outputs on both, a VAE's
    posterior (``mu``, ``logvar``; None without one) and the perceptual network (None when off)."""

    fake: torch.Tensor
    real: torch.Tensor
    d_fake: DiscriminatorOutputs
    d_real: DiscriminatorOutputs
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    vgg: VGGLoss | None = None


def feature_matching_term(t: TermInputs) -> torch.Tensor:
    return feature_matching_loss(t.d_fake, t.d_real)


def vgg_term(t: TermInputs) -> torch.Tensor | None:
    return None if t.vgg is None else t.vgg(t.fake, t.real)


def l1_term(t: TermInputs) -> torch.Tensor:
    return F.l1_loss(t.fake, t.real)


def kld_term(t: TermInputs) -> torch.Tensor | None:
    """SPADE's KL term, where z was sampled from a posterior (a VAE's training step)."""
    return None if t.mu is None else kl_divergence(t.mu.float(), t.logvar.float())


# The generator's loss terms by the name they are logged under (loss/G/<name>), in the order they are added:
# each returns the unweighted loss, or None where it does not apply to this step.
LOSS_TERMS: dict[str, Callable[[TermInputs], torch.Tensor | None]] = {
    "feat": feature_matching_term,
    "vgg": vgg_term,
    "l1": l1_term,
    "kld": kld_term,
}
