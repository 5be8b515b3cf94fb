"""``Pix2PixHDModule``: the training module with the flat settings every config and checkpoint has used.

It builds the typed settings (``hrgan.training.settings``) from its keywords and is otherwise
``ConditionalGANModule``; ``hrgan fit`` trains it, so ``model.lambda_feat``, ``--model.lr_G`` and the
rest keep their names.
"""

from __future__ import annotations

from torch import nn

from hrgan.models import MultiscaleDiscriminator
from hrgan.models.family import Conditioning
from hrgan.training.module import ConditionalGANModule
from hrgan.training.schedule import ProgressiveSchedule
from hrgan.training.settings import EMASettings, ObjectiveSettings, OptimizerSettings, SpeedSettings


GROUPS = ("conditioning", "objective", "optimization", "ema", "speed")  # ConditionalGANModule's typed settings


class Pix2PixHDModule(ConditionalGANModule):
    """A conditional GAN (pix2pixHD, pix2pix, SPADE, WGAN-GP) as ``ConditionalGANModule`` trains it, configured
    with flat keywords.

    Args:
        generator: ``Pix2PixHDGenerator``, ``GlobalGenerator``, ``UNetGenerator`` (pix2pix) or ``SPADEGenerator``; its in_channels
            are linked to label_nc (or input_nc) + instance edge + feat_num by the CLI.
        discriminator: ``MultiscaleDiscriminator`` (in_channels = label_nc or input_nc + edge + 3, linked).
        label_nc: number of label classes (one-hot channels); 0 for image inputs (pix2pixHD's label_nc 0):
            the batches' ``input`` image is the condition.
        input_nc: channels of the input image (label_nc 0 only).
        ignore_index: label value meaning "unlabeled" (all-zero one-hot), e.g. 255.
        use_instance_edges: add the instance boundary map as an input channel.
        feat_num: instance-wise feature channels from the encoder (0: no encoder).
        nef: encoder width.
        classes: class names/colours: a classes.json path or a built-in table (``cityscapes``).
        schedule: progressive stages (see ``hrgan.training.schedule``).
        gan_mode: ``lsgan`` (pix2pixHD), ``vanilla`` (pix2pix), ``hinge`` or ``wgan-gp``.
        gan_scale_reduction: the adversarial terms over D scales: ``sum`` (pix2pixHD; D's loss is then halved)
            or ``mean`` (SPADE; D's loss is real + fake).
        real_label: D's target for real images with ``lsgan`` and ``vanilla`` (one-sided label smoothing, e.g. 0.9).
        lambda_gp: the gradient penalty's weight (``wgan-gp`` only).
        critic_steps: D steps per G step (``wgan-gp``'s n_critic, e.g. 5; 1 otherwise).
        use_feat_loss: discriminator feature matching.
        lambda_feat: its weight.
        use_vgg_loss: VGG19 perceptual loss.
        lambda_vgg: its weight.
        vgg_weights: VGG19 weights: a path, ``auto`` (torch hub cache) or ``random`` (tests).
        vgg_if_available: with ``use_vgg_loss``, silently train without it when ``auto`` finds no
            local weights (the demo); otherwise a missing file is an error.
        lambda_kld: weight of the VAE's KL term (SPADE's 0.05; VAE generators only).
        lambda_l1: weight of an L1 term against the real photo (pix2pix-style; 0 in pix2pixHD).
        lr_G: generator (and encoder) learning rate.
        lr_D: discriminator learning rate (TTUR when different).
        lr_reference_batch: linear learning-rate scaling (off when None): ``lr_G`` and ``lr_D`` are the
            rates for a global batch of this many samples, and are scaled by global batch / this, where
            the global batch is the stage's per-device batch x world size.
        beta1: Adam beta1.
        beta2: Adam beta2.
        ema_decay: EMA of the generator weights for validation and export (0: off); its warm-up
            restarts at every stage.
        ema_power: shape of that warm-up (``hrgan.training.ema.ema_decay_at``): until the decay reaches
            ``ema_decay`` the EMA averages about the last 1 / (ema_power + 1) of the stage's updates.
        channels_last: keep networks and activations in channels_last memory format.
        fused_adam: use fused Adam kernels on CUDA.
        compile: ``torch.compile`` the generator's, discriminators' and VGG's fixed-shape parts (see
            ``hrgan.training.speed``); they recompile at stage transitions only, and validation runs eagerly.
        compile_mode: torch.compile mode (``default``, ``reduce-overhead``, ``max-autotune``, ...).
        activation_checkpointing: recompute the generator's residual blocks in backward instead of
            storing their activations (less memory, about one extra forward of the blocks).
        init_from: a checkpoint or export to take matching weights from (pix2pixHD's load_pretrain).
        allow_stage_change: resume from a checkpoint whose iteration this schedule puts in another stage than
            the one it was saved in (refused otherwise: a changed schedule would train at another stage's settings).
    """

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: MultiscaleDiscriminator,
        label_nc: int,
        input_nc: int = 3,
        ignore_index: int | None = None,
        use_instance_edges: bool = True,
        feat_num: int = 0,
        nef: int = 16,
        classes: str | None = None,
        schedule: ProgressiveSchedule | None = None,
        gan_mode: str = "lsgan",
        gan_scale_reduction: str = "sum",
        real_label: float = 1.0,
        lambda_gp: float = 10.0,
        critic_steps: int = 1,
        use_feat_loss: bool = True,
        lambda_feat: float = 10.0,
        use_vgg_loss: bool = True,
        lambda_vgg: float = 10.0,
        vgg_weights: str = "auto",
        vgg_if_available: bool = False,
        lambda_kld: float = 0.05,
        lambda_l1: float = 0.0,
        lr_G: float = 2e-4,
        lr_D: float = 2e-4,
        lr_reference_batch: int | None = None,
        beta1: float = 0.5,
        beta2: float = 0.999,
        ema_decay: float = 0.999,
        ema_power: float = 1.0,
        channels_last: bool = False,
        fused_adam: bool = True,
        compile: bool = False,
        compile_mode: str | None = None,
        activation_checkpointing: bool = False,
        init_from: str | None = None,
        allow_stage_change: bool = False,
    ) -> None:
        super().__init__(
            generator=generator,
            discriminator=discriminator,
            conditioning=Conditioning(label_nc=label_nc, input_nc=input_nc, ignore_index=ignore_index,
                                      use_instance_edges=use_instance_edges, feat_num=feat_num),
            nef=nef,
            classes=classes,
            schedule=schedule,
            objective=ObjectiveSettings(
                gan_mode=gan_mode, gan_scale_reduction=gan_scale_reduction, real_label=real_label, lambda_gp=lambda_gp,
                critic_steps=critic_steps, vgg_weights=vgg_weights, vgg_if_available=vgg_if_available,
                weights={"feat": lambda_feat if use_feat_loss else 0.0, "vgg": lambda_vgg if use_vgg_loss else 0.0,
                         "l1": lambda_l1, "kld": lambda_kld},
            ),
            optimization=OptimizerSettings(lr_G=lr_G, lr_D=lr_D, lr_reference_batch=lr_reference_batch, beta1=beta1,
                                           beta2=beta2, fused_adam=fused_adam),
            ema=EMASettings(decay=ema_decay, power=ema_power),
            speed=SpeedSettings(channels_last=channels_last, compile=compile, compile_mode=compile_mode,
                                activation_checkpointing=activation_checkpointing),
            init_from=init_from,
            allow_stage_change=allow_stage_change,
        )
        # the flat keywords instead of the groups: LightningCLI reads a checkpoint's hyperparameters back as this
        # class's arguments
        self.save_hyperparameters(ignore=["generator", "discriminator", "schedule", *GROUPS])
