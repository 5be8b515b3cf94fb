"""The pix2pixHD LightningModule: the order of the generator and discriminator steps."""

from __future__ import annotations

import contextlib
import copy
import functools
import random

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_warn
import torch
import torch.nn.functional as F
from torch import nn

from hrgan.artifacts import checkpoint_entry, make_export
from hrgan.conditioning import build_generator_input, input_channels
from hrgan.data.classes import load_classes
from hrgan.evaluation.psnr import psnr
from hrgan.losses import GAN_MODES, GANLoss, VGGLoss, feature_matching_loss, gradient_penalty, kl_divergence
from hrgan.models import (InstanceFeatureEncoder, MultiscaleDiscriminator, Pix2PixHDGenerator, SPADEGenerator,
                          SPADEStyleEncoder, run_generator, set_activation_checkpointing)
from hrgan.pretrained import find_cached_vgg19, hub_checkpoint_path
from hrgan.training.checks import SettingsError, label_problems, network_problems, size_problems
from hrgan.training.ema import ema_decay_at, update_ema
from hrgan.training.progress import Progress
from hrgan.training.schedule import GrowthState, ProgressiveSchedule
from hrgan.training.speed import compile_networks, eager_mode


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Turn gradients off for every parameter of ``modules`` and restore the previous flags afterwards."""
    saved = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


class Pix2PixHDModule(pl.LightningModule):
    """pix2pixHD training: one generator forward, a G update, then a D update, per batch.

    The order follows the official code: the fake image and D's outputs on the
    real image are computed once with the current weights; the G step uses them
    (D frozen, so no D weight gradients are computed), then the D step uses the
    same detached fake (G untouched). Three D passes per batch in all.

    With ``critic_steps`` k > 1 (WGAN-GP's n_critic) only every k-th batch makes a G step; the others
    update D alone. An iteration is still one batch (one D step), so the schedule, checkpoints and resume
    count batches, and the G steps are iterations / k.

    With a VAE generator (``SPADEGenerator`` with ``z_dim`` > 0) the module adds SPADE's style encoder (at the
    generator's ngf): each batch's photos are encoded, z is sampled from the posterior, the G step adds the KL
    term, and the encoder trains with G. Validation and sample grids use the posterior mean.

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
        super().__init__()
        # Networks and the schedule are objects: config.yaml records them; hparams stay plain so that
        # checkpoints load with torch.load(weights_only=True).
        self.save_hyperparameters(ignore=["generator", "discriminator", "schedule"])
        if gan_mode not in GAN_MODES:
            raise ValueError(f"unknown gan_mode {gan_mode!r}; choose one of {GAN_MODES}")
        self.label_nc, self.input_nc, self.ignore_index = label_nc, input_nc, ignore_index
        self.use_instance_edges, self.feat_num = use_instance_edges, feat_num
        self.generator = generator
        self.discriminator = discriminator
        self.schedule = schedule or ProgressiveSchedule()
        problems = self._channel_problems() + network_problems(self.schedule, generator=generator, discriminator=discriminator)
        if ema_power < 0:
            problems.append(f"ema_power must be >= 0, got {ema_power}")
        if critic_steps < 1:
            problems.append(f"critic_steps must be >= 1, got {critic_steps}")
        if label_nc < 0 or (label_nc == 0 and input_nc not in (1, 3)):
            problems.append(f"label_nc must be >= 0 (0: image inputs, greyscale or RGB: input_nc 1 or 3), got label_nc "
                            f"{label_nc}, input_nc {input_nc}")
        self.z_dim = getattr(generator, "z_dim", 0)
        if self.z_dim and feat_num > 0:
            problems.append("a VAE generator (z_dim > 0) takes its style from z: set feat_num: 0")
        if self.z_dim and ema_decay > 0:
            problems.append("a VAE generator (z_dim > 0) with ema_decay > 0: the averaged generator would take z from a "
                            "style encoder it never trained with (SPADE keeps no average); set ema_decay: 0")
        if label_nc == 0 and feat_num > 0:
            problems.append("instance features (feat_num > 0) need label maps: their styles are clustered per class; "
                            "with image inputs set feat_num: 0")
        if compile and activation_checkpointing and isinstance(generator, SPADEGenerator):
            problems.append("activation_checkpointing with compile is not supported for the SPADE generator (its "
                            "recomputation must not repeat spectral norm's power iteration, which compiled code would): "
                            "choose one")
        if gan_mode == "wgan-gp" and compile:
            problems.append("gan_mode wgan-gp needs the gradient of a gradient, which torch.compile does not support: "
                            "set compile: false")
        try:
            self.classes = load_classes(classes, label_nc)
        except ValueError as error:  # a table of another size; a missing file stays a FileNotFoundError
            problems.append(str(error))
        if problems:
            raise SettingsError(problems)
        self.encoder = InstanceFeatureEncoder(feat_num=feat_num, nef=nef) if feat_num > 0 else None
        self.style_encoder = (SPADEStyleEncoder(ngf=generator.init_args["ngf"], z_dim=self.z_dim) if self.z_dim
                              else None)
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if ema_decay > 0 else None
        try:
            self.gan = GANLoss(gan_mode, real_label=real_label, scale_reduction=gan_scale_reduction)
        except ValueError as error:
            raise SettingsError([str(error)]) from None
        if gan_mode == "wgan-gp" and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
            rank_zero_warn("gan_mode wgan-gp with batch norm in the discriminator: the gradient penalty assumes each "
                           "sample's critic value depends on that sample alone (use norm: instance or none)")
        use_vgg = use_vgg_loss and lambda_vgg > 0
        if use_vgg and vgg_if_available and vgg_weights == "auto" and find_cached_vgg19() is None:
            use_vgg = False
            rank_zero_warn("the VGG loss is off: no VGG19 weights (vgg19-dcbb9e9d.pth) in the torch hub cache "
                           f"({hub_checkpoint_path('vgg19-dcbb9e9d.pth').parent}); put them there or set model.vgg_weights: PATH to train with it")
        self.vgg = VGGLoss(weights=vgg_weights, allow_download=False) if use_vgg else None
        self.progress = Progress(self.schedule)  # driven by the ProgressiveGrowth callback
        self.automatic_optimization = False

    def _channel_problems(self) -> list[str]:
        expected = input_channels(self.label_nc, input_nc=self.input_nc, use_instance_edges=self.use_instance_edges,
                                  feat_num=self.feat_num)
        takes = getattr(self.generator, "init_args", {}).get("in_channels")
        if takes is None:  # a network that does not record its arguments: its first convolution's
            takes = next(m for m in self.generator.modules() if isinstance(m, nn.Conv2d)).in_channels
        found = []
        if takes != expected:
            source = f"label_nc={self.label_nc}" if self.label_nc else f"image inputs of input_nc={self.input_nc}"
            found.append(
                f"the generator takes {takes} input channels, but {source}, "
                f"use_instance_edges={self.use_instance_edges} and feat_num={self.feat_num} make {expected}"
            )
        d_first = self.discriminator.discriminators[0].layers[0][0]
        if d_first.in_channels != expected - self.feat_num + 3:
            found.append(f"the discriminator takes {d_first.in_channels} channels, expected {expected - self.feat_num + 3}")
        return found

    # ----------------------------------------------------------------- helpers
    @property
    def iteration(self) -> int:
        """Iterations done in this run (``progress`` keeps the count)."""
        return self.progress.iteration

    def current_growth(self) -> GrowthState:
        return self.progress.growth

    def condition(self, batch: dict) -> torch.Tensor:
        """Labels, or the input image, (+ instance edges) as the conditioning input: [B, label_nc or input_nc (+1), H, W]."""
        instance = batch.get("inst") if self.use_instance_edges else None
        if self.use_instance_edges and instance is None:
            raise ValueError("use_instance_edges is on but the batch has no instance map ('inst')")
        source = "input" if self.label_nc == 0 else "label"
        if source not in batch:
            raise ValueError(f"label_nc is {self.label_nc} but the batch has no {source!r}: "
                             + ("image inputs come from shards written with 'hrgan shards --input image'" if source == "input"
                                else "these shards hold input images (label_nc 0)"))
        cond = build_generator_input(batch[source], label_nc=self.label_nc, input_nc=self.input_nc, instance=instance,
                                     ignore_index=self.ignore_index)
        return cond.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else cond

    def generate(self, generator: nn.Module, cond: torch.Tensor, batch: dict, growth: GrowthState,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        """The fake for a batch: its conditioning (+ instance features) and, with a VAE, ``z`` (by default the
        posterior mean of the batch's photos)."""
        features = self.instance_features(batch)
        x = cond if features is None else torch.cat([cond, features], 1)
        if self.style_encoder is not None and z is None:
            z = self.style_code(batch["image"], sample=False)[0]
        with eager_mode(self.hparams.compile and not torch.is_grad_enabled()):
            return run_generator(generator, x, n_active_enhancers=growth.n_enhancers, fade_alpha=growth.alpha, z=z)

    def style_code(self, photo: torch.Tensor, *, sample: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The VAE's z for photos: a posterior sample with its weighted KL term, or (``sample`` False) the mean."""
        mu, logvar = self.style_encoder(photo)
        if not sample:
            return mu, None
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # the reparameterisation trick
        return z, self.hparams.lambda_kld * kl_divergence(mu.float(), logvar.float())

    def instance_features(self, batch: dict) -> torch.Tensor | None:
        if self.encoder is None:
            return None
        return self.encoder(batch["image"], batch["inst"].long())

    def _frozen_generator_parts(self, growth: GrowthState) -> list[nn.Module]:
        """During fix_global_steps only the newest enhancer trains."""
        if not growth.train_only_newest or not isinstance(self.generator, Pix2PixHDGenerator):
            return []
        return [self.generator.global_generator, *self.generator.enhancers[: growth.n_enhancers - 1]]

    def _check_finite(self, losses: dict[str, torch.Tensor], where: str) -> None:
        bad = {k: float(v) for k, v in losses.items() if not torch.isfinite(v)}
        if bad:
            raise FloatingPointError(
                f"non-finite {where} loss at iteration {self.iteration}: {bad}; training stopped before the "
                "optimizer step, so the weights and the last checkpoint are intact. Lower the learning rate or "
                "try precision 32 to find the cause."
            )

    # ----------------------------------------------------------------- steps
    def on_train_batch_start(self, batch, batch_idx):
        if self.progress.end_epoch:
            return -1  # ends the epoch: a stage transition reloads the data at the new size
        return None

    def generator_steps_now(self) -> bool:
        """Whether this iteration makes a G step: every ``critic_steps``-th one (the last of each group)."""
        return (self.iteration + 1) % self.hparams.critic_steps == 0

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        growth = self.current_growth()
        real = batch["image"]
        cond = self.condition(batch)
        train_g = self.generator_steps_now()
        with contextlib.nullcontext() if train_g else torch.no_grad():
            z, kld = self.style_code(real, sample=True) if self.style_encoder is not None else (None, None)
            fake = self.generate(self.generator, cond, batch, growth, z=z)
        d_real = self.discriminator(torch.cat([cond, real], 1), num_scales=growth.num_D)

        losses_g = self._generator_step(opt_g, growth, cond, fake, real, d_real, kld) if train_g else {}
        d_fake = self.discriminator(torch.cat([cond, fake.detach()], 1), num_scales=growth.num_D)
        losses_d = {"real": self.gan(d_real, target_real=True), "fake": self.gan(d_fake, target_real=False)}
        wgan = self.hparams.gan_mode == "wgan-gp"
        if wgan:
            critic = functools.partial(self.discriminator, num_scales=growth.num_D)
            losses_d["gp"] = gradient_penalty(critic, torch.cat([cond, real], 1), torch.cat([cond, fake.detach()], 1),
                                              lambda_gp=self.hparams.lambda_gp)
        self._check_finite(losses_d, "discriminator")
        with frozen(self.generator, *(m for m in (self.encoder, self.style_encoder) if m is not None)):
            # pix2pixHD halves D's loss (summed over scales), SPADE does not (averaged); WGAN-GP's critic loss
            # is the plain difference plus the penalty
            halved = self.hparams.gan_scale_reduction == "sum" and not wgan
            loss_d = (0.5 if halved else 1.0) * sum(losses_d.values())
            self.manual_backward(loss_d)
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)

        if self.generator_ema is not None and train_g:
            # the warm-up restarts with each stage: an average over another resolution and another set of
            # active enhancers (untrained ones at their initial weights) is no model of this stage
            g_steps = growth.step_in_stage // self.hparams.critic_steps  # EMA updates so far in this stage
            update_ema(self.generator_ema, self.generator, ema_decay_at(g_steps, self.hparams.ema_decay, self.hparams.ema_power))
        size = real.shape[0]
        self.log_dict({f"loss/D/{k}": v.detach() for k, v in losses_d.items()}, batch_size=size)
        if losses_g:
            self.log_dict({f"loss/G/{k}": v.detach() for k, v in losses_g.items()}, batch_size=size)
            self.log("loss/G/total", sum(losses_g.values()).detach(), batch_size=size, prog_bar=True)
        self.progress.finish_iteration()

    def _generator_step(self, opt_g, growth: GrowthState, cond: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                        d_real, kld: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One G update against the frozen D (``kld``: the VAE's weighted KL term); returns the weighted losses."""
        with frozen(self.discriminator, *self._frozen_generator_parts(growth)):
            d_fake = self.discriminator(torch.cat([cond, fake], 1), num_scales=growth.num_D)
            losses_g = {"gan": self.gan(d_fake, target_real=True, for_discriminator=False)}
            if self.hparams.use_feat_loss and self.hparams.lambda_feat > 0:
                losses_g["feat"] = self.hparams.lambda_feat * feature_matching_loss(d_fake, d_real)
            if self.vgg is not None:
                losses_g["vgg"] = self.hparams.lambda_vgg * self.vgg(fake, real)
            if self.hparams.lambda_l1 > 0:
                losses_g["l1"] = self.hparams.lambda_l1 * F.l1_loss(fake, real)
            if kld is not None:
                losses_g["kld"] = kld
            self._check_finite(losses_g, "generator")
            self.manual_backward(sum(losses_g.values()))
            opt_g.step()
            opt_g.zero_grad(set_to_none=True)  # free G's gradients before the D pass
        return losses_g

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        growth = self.current_growth()
        cond = self.condition(batch)
        fake = self.generate(self.generator_ema or self.generator, cond, batch, growth)
        real = batch["image"]
        size = real.shape[0]
        self.log("val/l1", F.l1_loss(fake, real), batch_size=size, sync_dist=True)
        self.log("val/psnr", psnr(fake, real).mean(), batch_size=size, sync_dist=True, prog_bar=True)
        self.log("step", float(self.iteration), batch_size=size, sync_dist=True)  # the loggers' x: iterations

    def configure_optimizers(self):
        betas = (self.hparams.beta1, self.hparams.beta2)
        fused = self.hparams.fused_adam and torch.cuda.is_available()
        kernels = {"fused": True} if fused else {}  # on the CPU foreach was slower than the loop (BENCHMARKS.md)
        g_params = [p for m in (self.generator, self.encoder, self.style_encoder) if m is not None for p in m.parameters()]
        opt_g = torch.optim.Adam(g_params, lr=self.hparams.lr_G, betas=betas, **kernels)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.lr_D, betas=betas, **kernels)
        return [opt_g, opt_d]

    def batch_lr_scale(self, global_batch: int) -> float:
        """The linear scaling rule's factor for a global batch (1 when ``lr_reference_batch`` is None)."""
        reference = self.hparams.lr_reference_batch
        return 1.0 if reference is None else global_batch / reference

    def set_lr_factor(self, factor: float, global_batch: int | None = None) -> None:
        """Scale both learning rates (called every step by the schedule), with the linear rule when set."""
        if global_batch is not None:
            factor *= self.batch_lr_scale(global_batch)
        for optimizer, base in zip(self.optimizers(use_pl_optimizer=False), (self.hparams.lr_G, self.hparams.lr_D), strict=True):
            for group in optimizer.param_groups:
                group["lr"] = base * factor

    def learning_rates(self) -> dict[str, float]:
        """``lr/G`` and ``lr/D`` as the optimizers hold them now (schedule and linear scaling included)."""
        opt_g, opt_d = self.optimizers(use_pl_optimizer=False)
        return {"lr/G": opt_g.param_groups[0]["lr"], "lr/D": opt_d.param_groups[0]["lr"]}

    # ----------------------------------------------------------------- state
    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        problems = [line for urls in (getattr(datamodule, "train_urls", None), getattr(datamodule, "val_urls", None))
                    for line in label_problems(self.label_nc, self.ignore_index, urls)]
        for urls in (getattr(datamodule, "train_urls", None), getattr(datamodule, "val_urls", None)):
            problems += size_problems(urls, getattr(datamodule, "load_size", None),
                                      [stage.batch_size for stage in self.progress.schedule.stages])
        if self.hparams.gan_mode == "wgan-gp" and self._trainer is not None and str(self.trainer.precision).startswith("16"):
            problems.append("gan_mode wgan-gp with precision 16-mixed: the gradient penalty's inner gradient is not loss-scaled "
                            "and can underflow; use bf16-mixed or 32")
        if problems:
            raise SettingsError(problems)
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.hparams.activation_checkpointing:
            set_activation_checkpointing(self.generator)
        if self.hparams.compile and stage == "fit" and not getattr(self, "_compiled", False):
            compile_networks(self.generator, self.discriminator, self.vgg, mode=self.hparams.compile_mode)
            self._compiled = True
        if self.hparams.init_from and stage == "fit" and not getattr(self, "_initialised_from", False):
            from hrgan.training.pretrain import load_matching_weights

            load_matching_weights(self, self.hparams.init_from)
            self._initialised_from = True

    def inference_export(self, *, weights: bool = True) -> dict:
        """The inference export (see ``hrgan.artifacts``): generator with EMA weights, encoder, conditioning
        settings and classes. ``weights=False`` leaves the state dicts out (checkpoints hold them)."""
        growth = self.current_growth()
        return make_export(
            generator=self.generator,
            generator_state_dict=(self.generator_ema or self.generator).state_dict(),
            encoder=self.encoder,
            style_encoder=self.style_encoder,
            ema=self.generator_ema is not None,
            label_nc=self.label_nc,
            input_nc=self.input_nc,
            ignore_index=self.ignore_index,
            use_instance_edges=self.use_instance_edges,
            feat_num=self.feat_num,
            n_active_enhancers=growth.n_enhancers,
            resolution=growth.resolution,
            classes=self.classes,
            iteration=self.iteration,
            weights=weights,
        )

    def network_prefixes(self) -> dict[str, list[str]]:
        """Where the exported networks are in this module's state dict: the prefixes of their copies,
        the exported one first (recorded in checkpoints; ``init_from`` an export fills every copy)."""
        prefixes = {"generator": ["generator_ema.", "generator."] if self.generator_ema is not None else ["generator."]}
        if self.encoder is not None:
            prefixes["encoder"] = ["encoder."]
        if self.style_encoder is not None:
            prefixes["style_encoder"] = ["style_encoder."]
        return prefixes

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        name, keys, pos, has_gauss, cached = np.random.get_state()
        checkpoint["rng_states"] = {  # tensors and plain values only, for weights_only loading
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "python": random.getstate(),
        }
        checkpoint["progress"] = self.progress.state_dict()
        # What `hrgan infer` needs to rebuild the networks from this checkpoint alone (weights: state_dict).
        checkpoint["inference"] = checkpoint_entry(
            self.inference_export(weights=False), state_dict_prefixes=self.network_prefixes()
        )

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # checkpoints written before the Progress object kept its state in the ProgressiveGrowth callback's entry
        progress = checkpoint.get("progress") or checkpoint.get("callbacks", {}).get("ProgressiveGrowth")
        if progress:
            self.progress.load_state_dict(progress, allow_stage_change=self.hparams.allow_stage_change)
        states = checkpoint.get("rng_states")
        if not states:
            return
        torch.set_rng_state(states["torch"])
        if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states["cuda"])
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))

    def configure_callbacks(self):
        from hrgan.training.callbacks import ProgressiveGrowth
        from hrgan.training.preemption import SaveOnSigterm, SlurmRequeue

        return [ProgressiveGrowth(), SlurmRequeue(), SaveOnSigterm()]

