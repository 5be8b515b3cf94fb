"""The training module's settings in typed groups, each naming its own problems (one line each).

``ConditionalGANModule`` takes them as values; ``Pix2PixHDModule`` builds them from the flat keywords that
configs and checkpoints have always used (``model.lambda_feat``, ``model.lr_G``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hrgan.losses import GAN_MODES, LOSS_TERMS, check_gan_options


# the loss terms' weights under the flat keywords of configs (``Pix2PixHDModule``)
WEIGHT_KEYWORDS = {"feat": "lambda_feat", "vgg": "lambda_vgg", "l1": "lambda_l1", "kld": "lambda_kld"}


@dataclass(frozen=True)
class ObjectiveSettings:
    """What the networks are trained to minimise.

    Args:
        gan_mode: ``lsgan`` (pix2pixHD), ``vanilla`` (pix2pix), ``hinge`` or ``wgan-gp``.
        gan_scale_reduction: the adversarial terms over D scales: ``sum`` (pix2pixHD; D's loss is then halved)
            or ``mean`` (SPADE; D's loss is real + fake).
        real_label: D's target for real images with ``lsgan`` and ``vanilla`` (one-sided label smoothing).
        lambda_gp: the gradient penalty's weight (``wgan-gp`` only).
        critic_steps: D steps per G step (``wgan-gp``'s n_critic; 1 otherwise).
        weights: the generator's loss terms besides the adversarial one (``hrgan.losses.LOSS_TERMS``) and their
            weights; a term of weight 0 is off.
        vgg_weights: VGG19 weights for the ``vgg`` term: a path, ``auto`` (torch hub cache) or ``random`` (tests).
        vgg_if_available: with the ``vgg`` term, train without it when ``auto`` finds no local weights.
    """

    gan_mode: str = "lsgan"
    gan_scale_reduction: str = "sum"
    real_label: float = 1.0
    lambda_gp: float = 10.0
    critic_steps: int = 1
    weights: dict[str, float] = field(default_factory=lambda: {"feat": 10.0, "vgg": 10.0, "l1": 0.0, "kld": 0.05})
    vgg_weights: str = "auto"
    vgg_if_available: bool = False

    @property
    def wgan(self) -> bool:
        return self.gan_mode == "wgan-gp"

    def problems(self) -> list[str]:
        found = []
        if self.gan_mode not in GAN_MODES:
            found.append(f"unknown gan_mode {self.gan_mode!r}; choose one of {GAN_MODES}")
        else:
            try:
                check_gan_options(self.gan_mode, self.real_label, self.gan_scale_reduction)
            except ValueError as error:
                found.append(str(error))
        if self.critic_steps < 1:
            found.append(f"critic_steps must be >= 1, got {self.critic_steps}")
        if self.lambda_gp < 0:
            found.append(f"lambda_gp must be >= 0, got {self.lambda_gp}")
        found += [f"the {name} loss's weight (model.{WEIGHT_KEYWORDS.get(name, name)}) must be >= 0 (0: off), got {weight}"
                  for name, weight in self.weights.items() if weight < 0]
        found += [f"unknown loss term {name!r}; the terms are {', '.join(LOSS_TERMS)}" for name in self.weights
                  if name not in LOSS_TERMS]
        return found


@dataclass(frozen=True)
class OptimizerSettings:
    """Adam for G (with its style networks) and D.

    Args:
        lr_G: generator learning rate.
        lr_D: discriminator learning rate (TTUR when different).
        lr_reference_batch: linear learning-rate scaling (off when None): the rates are for a global batch of
            this many samples and scale with global batch / this.
        beta1: Adam beta1.
        beta2: Adam beta2.
        fused_adam: fused Adam kernels on CUDA.
    """

    lr_G: float = 2e-4
    lr_D: float = 2e-4
    lr_reference_batch: int | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    fused_adam: bool = True

    def problems(self) -> list[str]:
        if self.lr_reference_batch is not None and self.lr_reference_batch < 1:
            return [f"lr_reference_batch must be >= 1 (or null: no scaling), got {self.lr_reference_batch}"]
        return []

    def batch_scale(self, global_batch: int) -> float:
        """The linear scaling rule's factor for a global batch (1 when ``lr_reference_batch`` is None)."""
        return 1.0 if self.lr_reference_batch is None else global_batch / self.lr_reference_batch


@dataclass(frozen=True)
class EMASettings:
    """The exponential moving average of G's weights, exported and validated (``hrgan.training.ema``).

    Args:
        decay: its decay (0: no average); the warm-up restarts at every stage.
        power: the warm-up's shape: until the decay reaches ``decay`` the average spans about the last
            1 / (power + 1) of the stage's updates.
    """

    decay: float = 0.999
    power: float = 1.0

    @property
    def enabled(self) -> bool:
        return self.decay > 0

    def problems(self) -> list[str]:
        return [f"ema_power must be >= 0, got {self.power}"] if self.power < 0 else []


@dataclass(frozen=True)
class SpeedSettings:
    """Switches that change speed and memory, not what is learned (``hrgan.training.speed``).

    Args:
        channels_last: networks and activations in channels_last memory format.
        compile: ``torch.compile`` the networks' fixed-shape units; validation runs eagerly.
        compile_mode: torch.compile's mode.
        activation_checkpointing: recompute the generator's blocks in backward instead of storing them.
    """

    channels_last: bool = False
    compile: bool = False
    compile_mode: str | None = None
    activation_checkpointing: bool = False

    def problems(self) -> list[str]:
        return []
