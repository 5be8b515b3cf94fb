"""The training module: the order of a conditional GAN's generator and discriminator steps, and nothing else.

It trains a ``GeneratorFamily`` (``hrgan.models.family``) against a discriminator, minimising an ``Objective``
(``hrgan.training.objective``); its ``StageDriver`` (``hrgan.training.stage``) moves it through the schedule."""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
from dataclasses import asdict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from hrgan.artifacts import checkpoint_entry, family_export
from hrgan.data.classes import load_classes
from hrgan.evaluation.psnr import psnr
from hrgan.models import MultiscaleDiscriminator, set_activation_checkpointing
from hrgan.models.family import Conditioning, ConditioningSettings, GeneratorFamily, Style
from hrgan.training import rng_state
from hrgan.training.checks import SettingsError, combination_problems, data_problems, network_problems
from hrgan.training.ema import ema_decay_at, update_ema
from hrgan.training.freezing import frozen
from hrgan.training.objective import Objective, perceptual_network
from hrgan.training.pretrain import load_matching_weights
from hrgan.training.progress import Progress
from hrgan.training.schedule import GrowthState, ProgressiveSchedule
from hrgan.training.settings import EMASettings, ObjectiveSettings, OptimizerSettings, SpeedSettings
from hrgan.training.speed import compile_networks, eager_mode
from hrgan.training.stage import StageDriver, training_data

ALIASES = {"Pix2PixHDModule": "hrgan.training.pix2pixhd_module"}


class ConditionalGANModule(ConditioningSettings, pl.LightningModule):
    """A conditional GAN's training: one generator forward, a G update, then a D update, per batch.

    The order follows pix2pixHD's code: the fake image and D's outputs on the real image are computed once
    with the current weights; the G step uses them (D frozen, so no D weight gradients are computed), then
    the D step uses the same detached fake (G untouched). Three D passes per batch in all.

    With ``critic_steps`` k > 1 (WGAN-GP's n_critic) only every k-th batch makes a G step; the others update
    D alone. An iteration is still one batch (one D step), so the schedule, checkpoints and resume count
    batches. A family with a style source trains it with G (a VAE's z is sampled from the posterior of each
    batch's photos); validation and sample grids take the batch's own style (a VAE's posterior mean).

    Args:
        generator: a ``GeneratorNetwork`` (``Pix2PixHDGenerator``, ``GlobalGenerator``, ``UNetGenerator``,
            ``SPADEGenerator``) taking ``conditioning.channels`` input channels.
        discriminator: ``MultiscaleDiscriminator`` taking ``conditioning.discriminator_channels``.
        conditioning: how the generator's input is built.
        nef: the instance-feature encoder's width (``conditioning.feat_num`` > 0).
        classes: class names and colours: a classes.json path or a built-in table (``cityscapes``).
        schedule: progressive stages (``hrgan.training.schedule``).
        objective: the losses and their weights.
        optimization: Adam's rates and betas.
        ema: the average of G's weights that is validated and exported.
        speed: compile, channels_last, activation checkpointing.
        init_from: a checkpoint or export to take matching weights from (pix2pixHD's load_pretrain).
        allow_stage_change: resume from a checkpoint whose iteration this schedule puts in another stage.
    """

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: MultiscaleDiscriminator,
        conditioning: Conditioning,
        nef: int = 16,
        classes: str | None = None,
        schedule: ProgressiveSchedule | None = None,
        objective: ObjectiveSettings | None = None,
        optimization: OptimizerSettings | None = None,
        ema: EMASettings | None = None,
        speed: SpeedSettings | None = None,
        init_from: str | None = None,
        allow_stage_change: bool = False,
    ) -> None:
        super().__init__()
        objective, optimization = objective or ObjectiveSettings(), optimization or OptimizerSettings()
        ema, speed = ema or EMASettings(), speed or SpeedSettings()
        # plain values only, so that checkpoints load with torch.load(weights_only=True); config.yaml has the rest
        self.save_hyperparameters({"conditioning": asdict(conditioning), "nef": nef, "classes": classes,
                                   **{name: asdict(group) for name, group in (("objective", objective), (
                                       "optimization", optimization), ("ema", ema), ("speed", speed))},
                                   "init_from": init_from, "allow_stage_change": allow_stage_change})
        self.conditioning, self.optimization, self.ema, self.speed = conditioning, optimization, ema, speed
        self.init_from, self.allow_stage_change = init_from, allow_stage_change
        self.generator = generator
        self.discriminator = discriminator
        self.schedule = schedule or ProgressiveSchedule()
        problems = (network_problems(self.schedule, generator=generator, discriminator=discriminator)
                    + GeneratorFamily(generator=generator, conditioning=conditioning).problems(ema=ema.enabled)
                    + objective.problems() + optimization.problems() + ema.problems() + speed.problems()
                    + combination_problems(generator, discriminator, conditioning, objective, speed))
        try:
            self.classes = load_classes(classes, conditioning.label_nc)
        except ValueError as error:  # a table of another size; a missing file stays a FileNotFoundError
            problems.append(str(error))
        if problems:
            raise SettingsError(problems)
        family = GeneratorFamily.for_training(generator, conditioning, nef=nef)
        for name, network in family.networks().items():  # registered under the state-dict names exports record
            setattr(self, name, network)
        self.__dict__["family"] = family  # the same networks, not registered twice
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if ema.enabled else None
        self.objective = Objective(objective, None)
        self.objective.warn_about(discriminator)
        self.vgg = self.objective.vgg = perceptual_network(objective)  # registered: checkpoints keep it as vgg.
        self.stage = StageDriver(self.schedule)  # where the run is; the hooks below drive it
        self.automatic_optimization = False

    # ----------------------------------------------------------------- helpers
    @property
    def progress(self) -> Progress:
        return self.stage.progress

    @property
    def iteration(self) -> int:
        """Iterations done in this run (``progress`` keeps the count)."""
        return self.progress.iteration

    def current_growth(self) -> GrowthState:
        return self.progress.growth

    z_dim = property(lambda self: self.family.z_dim)

    def condition(self, batch: dict) -> torch.Tensor:
        """Labels, or the input image, (+ instance edges) as the conditioning input: [B, label_nc or input_nc (+1), H, W]."""
        spec = self.conditioning
        instance = batch.get("inst") if spec.use_instance_edges else None
        if spec.use_instance_edges and instance is None:
            raise ValueError("use_instance_edges is on but the batch has no instance map ('inst')")
        if spec.source not in batch:
            raise ValueError(f"label_nc is {spec.label_nc} but the batch has no {spec.source!r}: "
                             + ("image inputs come from shards written with 'hrgan shards --input image'"
                                if spec.source == "input" else "these shards hold input images (label_nc 0)"))
        cond = spec.build(batch[spec.source], instance)
        return cond.contiguous(memory_format=torch.channels_last) if self.speed.channels_last else cond

    def style(self, batch: dict, *, sample: bool = False) -> Style:
        """The batch's style, from its own photos (``sample``: a VAE draws z from the posterior, else its mean)."""
        return self.family.style.train_style(batch["image"], batch.get("inst"), sample=sample)

    def generate(self, generator: nn.Module, cond: torch.Tensor, batch: dict, growth: GrowthState,
                 style: Style | None = None) -> torch.Tensor:
        """The fake for a batch with ``generator`` (a copy of the family's: its EMA), in the batch's own style
        by default."""
        style = self.style(batch) if style is None else style
        with eager_mode(self.speed.compile and not torch.is_grad_enabled()):
            return self.family.generate(cond, style, n_active_enhancers=growth.n_enhancers, fade_alpha=growth.alpha,
                                        generator=generator)

    # ----------------------------------------------------------------- the stage, after every callback's hook
    def on_fit_start(self) -> None:
        self.stage.start(self.trainer, self)

    def on_train_epoch_start(self) -> None:
        self.stage.begin_epoch()

    def on_train_batch_start(self, batch, batch_idx):
        return None if self.stage.begin_batch(self.trainer, self) else -1  # -1: the epoch ends (a stage's data reloads)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.stage.end_batch(self.trainer)

    def on_validation_start(self) -> None:
        if self.trainer.state.fn != "fit":  # a checkpoint's validation: at its stage
            self.stage.evaluate_at_stage(self.trainer)

    # ----------------------------------------------------------------- steps

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        growth = self.current_growth()
        real = batch["image"]
        cond = self.condition(batch)
        train_g = self.objective.generator_steps_at(self.iteration)
        with contextlib.nullcontext() if train_g else torch.no_grad():
            style = self.style(batch, sample=True)
            fake = self.generate(self.generator, cond, batch, growth, style)
        d_real = self.discriminator(torch.cat([cond, real], 1), num_scales=growth.num_D)

        losses_g = self._generator_step(opt_g, growth, cond, fake, real, d_real, style) if train_g else {}
        d_fake = self.discriminator(torch.cat([cond, fake.detach()], 1), num_scales=growth.num_D)
        critic = functools.partial(self.discriminator, num_scales=growth.num_D)  # D of its input: the penalty's
        losses_d = self.objective.discriminator_losses(d_real, d_fake, critic=critic, cond=cond, real=real, fake=fake)
        self.objective.check_finite(losses_d, "discriminator", self.iteration)
        with frozen(self.family):
            self.manual_backward(self.objective.discriminator_total(losses_d))
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)

        if self.generator_ema is not None and train_g:
            # the warm-up restarts with each stage: an average over another resolution and another set of
            # active enhancers (untrained ones at their initial weights) is no model of this stage
            g_steps = self.objective.generator_updates(growth.step_in_stage)
            update_ema(self.generator_ema, self.generator, ema_decay_at(g_steps, self.ema.decay, self.ema.power))
        size = real.shape[0]
        self.log_dict({f"loss/D/{k}": v.detach() for k, v in losses_d.items()}, batch_size=size)
        if losses_g:
            self.log_dict({f"loss/G/{k}": v.detach() for k, v in losses_g.items()}, batch_size=size)
            self.log("loss/G/total", sum(losses_g.values()).detach(), batch_size=size, prog_bar=True)
        self.progress.finish_iteration()

    def _generator_step(self, opt_g, growth: GrowthState, cond: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                        d_real, style: Style) -> dict[str, torch.Tensor]:
        """One G update against the frozen D; returns the weighted losses."""
        frozen_parts = self.generator.frozen_parts(growth.n_enhancers) if growth.train_only_newest else []
        with frozen(self.discriminator, *frozen_parts):
            d_fake = self.discriminator(torch.cat([cond, fake], 1), num_scales=growth.num_D)
            losses_g = self.objective.generator_losses(fake, real, d_fake, d_real, style)
            self.objective.check_finite(losses_g, "generator", self.iteration)
            self.manual_backward(sum(losses_g.values()))
            opt_g.step()
            opt_g.zero_grad(set_to_none=True)  # free G's gradients before the D pass
        return losses_g

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        fake = self.generate(self.generator_ema or self.generator, self.condition(batch), batch, self.current_growth())
        real = batch["image"]
        size = real.shape[0]
        self.log("val/l1", F.l1_loss(fake, real), batch_size=size, sync_dist=True)
        self.log("val/psnr", psnr(fake, real).mean(), batch_size=size, sync_dist=True, prog_bar=True)
        self.log("step", float(self.iteration), batch_size=size, sync_dist=True)  # the loggers' x: iterations

    def configure_optimizers(self):
        settings = self.optimization
        betas = (settings.beta1, settings.beta2)
        fused = settings.fused_adam and torch.cuda.is_available()
        kernels = {"fused": True} if fused else {}  # on the CPU foreach was slower than the loop (BENCHMARKS.md)
        opt_g = torch.optim.Adam(self.family.parameters(), lr=settings.lr_G, betas=betas, **kernels)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=settings.lr_D, betas=betas, **kernels)
        return [opt_g, opt_d]

    # ----------------------------------------------------------------- state
    def setup(self, stage: str) -> None:
        trainer = self.trainer if self._trainer is not None else None
        problems = data_problems(self.conditioning, self.progress.schedule, training_data(trainer), self.objective.settings,
                                 None if trainer is None else trainer.precision)
        if problems:
            raise SettingsError(problems)
        if self.speed.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.speed.activation_checkpointing:
            set_activation_checkpointing(self.generator)
        if self.speed.compile and stage == "fit" and not getattr(self, "_compiled", False):
            compile_networks(self.family, self.discriminator, self.vgg, mode=self.speed.compile_mode)
            self._compiled = True
        if self.init_from and stage == "fit" and not getattr(self, "_initialised_from", False):
            load_matching_weights(self, self.init_from)
            self._initialised_from = True

    def inference_export(self, *, weights: bool = True) -> dict:
        """The inference export (see ``hrgan.artifacts``): the family with G's EMA weights, the stage it runs
        at, classes. ``weights=False`` leaves the state dicts out (checkpoints hold them)."""
        growth = self.current_growth()
        return family_export(self.family, generator_state_dict=(self.generator_ema or self.generator).state_dict(),
                             ema=self.generator_ema is not None, n_active_enhancers=growth.n_enhancers,
                             resolution=growth.resolution, classes=self.classes, iteration=self.iteration,
                             weights=weights)

    def network_prefixes(self) -> dict[str, list[str]]:
        """Where the exported networks are in this module's state dict: the prefixes of their copies,
        the exported one first (recorded in checkpoints; ``init_from`` an export fills every copy)."""
        names = {id(module): name for name, module in self.named_modules()}
        prefixes = {key: [f"{names[id(network)]}."] for key, network in self.family.networks().items() if network is not None}
        if self.generator_ema is not None:
            prefixes["generator"].insert(0, "generator_ema.")
        return prefixes

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rng_states"] = rng_state.capture()
        checkpoint["progress"] = self.progress.state_dict()
        # What `hrgan infer` needs to rebuild the networks from this checkpoint alone (weights: state_dict).
        checkpoint["inference"] = checkpoint_entry(self.inference_export(weights=False),
                                                   state_dict_prefixes=self.network_prefixes())

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # checkpoints written before the Progress object kept its state in the ProgressiveGrowth callback's entry
        progress = checkpoint.get("progress") or checkpoint.get("callbacks", {}).get("ProgressiveGrowth")
        if progress:
            self.progress.load_state_dict(progress, allow_stage_change=self.allow_stage_change)
        rng_state.restore(checkpoint.get("rng_states"))

    def configure_callbacks(self):
        from hrgan.training.callbacks import ProgressiveGrowth
        from hrgan.training.preemption import SaveOnSigterm, SlurmRequeue

        return [ProgressiveGrowth(), SlurmRequeue(), SaveOnSigterm()]


def __getattr__(name: str):
    if name in ALIASES:  # the same module with flat settings (it imports this one)
        return getattr(importlib.import_module(ALIASES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
