"""A generator family: one model object that training, inference, evaluation, export and the studio ask.

``GeneratorFamily`` owns a generator (``GeneratorNetwork``), its style source and its conditioning spec:

- ``Conditioning``: how the generator's input is built (label_nc or an input image, the ignore value,
  instance edges, instance-feature channels), one value instead of five loose keywords.
- a style source: ``NoStyle``; ``InstanceStyle``, pix2pixHD's instance-feature encoder with the clustered
  styles of ``hrgan encode-features``; ``VAEStyle``, SPADE's style encoder and z. Each turns a
  ``StyleChoice`` (the paired photo, a random draw, a cluster, a reference photo, a given z) into a ``Style``,
  the extra inputs the generator takes, with one seeded random rule (``style_rng``) everywhere.

Nothing outside ``hrgan.models`` tests which family a model is: it asks the family. A new family is a
``GeneratorNetwork`` (and, with a new kind of style, a ``StyleSource``) here, its export in
``hrgan/models/__init__.py`` and a config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from hrgan.conditioning import build_generator_input, input_channels
from hrgan.models.encoder import InstanceFeatureEncoder, instance_average_pool
from hrgan.models.layers import GeneratorNetwork, pad_to_multiple
from hrgan.models.spade import SPADEStyleEncoder
from hrgan.models.style_bank import StyleBank, instance_regions, style_rng
from hrgan.pixels import resize_photos


@dataclass(frozen=True)
class Conditioning:
    """How a generator's input is built (``hrgan.conditioning``): one-hot labels of ``label_nc`` classes (0: an
    input image of ``input_nc`` channels), ``ignore_index`` as all-zero channels, an instance-edge channel,
    then ``feat_num`` instance-feature channels."""

    label_nc: int
    input_nc: int = 3
    ignore_index: int | None = None
    use_instance_edges: bool = True
    feat_num: int = 0

    @property
    def source(self) -> str:
        """The batch entry the condition comes from: ``label`` (class ids) or ``input`` (an image)."""
        return "input" if self.label_nc == 0 else "label"

    @property
    def channels(self) -> int:
        """The generator's input channels."""
        return input_channels(self.label_nc, input_nc=self.input_nc, use_instance_edges=self.use_instance_edges,
                              feat_num=self.feat_num)

    @property
    def discriminator_channels(self) -> int:
        """The discriminator's input channels: the condition without instance features, and the photo."""
        return self.channels - self.feat_num + 3

    def problems(self) -> list[str]:
        found = []
        if self.label_nc < 0 or (self.label_nc == 0 and self.input_nc not in (1, 3)):
            found.append(f"label_nc must be >= 0 (0: image inputs, greyscale or RGB: input_nc 1 or 3), got label_nc "
                         f"{self.label_nc}, input_nc {self.input_nc}")
        if self.label_nc == 0 and self.feat_num > 0:
            found.append("instance features (feat_num > 0) need label maps: their styles are clustered per class; "
                         "with image inputs set feat_num: 0")
        return found

    def build(self, condition: torch.Tensor, instance: torch.Tensor | None = None) -> torch.Tensor:
        """[B, label_nc or input_nc (+ 1 edge), H, W] from class ids [B, H, W] (or an input image) and instance ids."""
        return build_generator_input(condition, label_nc=self.label_nc, input_nc=self.input_nc,
                                     instance=instance if self.use_instance_edges else None, ignore_index=self.ignore_index)

    def to_export(self) -> dict:
        return {"label_nc": self.label_nc, "input_nc": self.input_nc, "ignore_index": self.ignore_index,
                "use_instance_edges": self.use_instance_edges, "feat_num": self.feat_num}

    @classmethod
    def from_export(cls, export: Mapping) -> Conditioning:
        """From an export's keys (``input_nc`` and ``feat_num`` absent in old ones)."""
        return cls(label_nc=export["label_nc"], input_nc=export.get("input_nc", 3), ignore_index=export.get("ignore_index"),
                   use_instance_edges=export["use_instance_edges"], feat_num=export.get("feat_num", 0))


class ConditioningSettings:
    """``label_nc``, ``input_nc``, ``ignore_index``, ``use_instance_edges`` and ``feat_num`` of ``self.conditioning``,
    for the classes that hold a ``Conditioning`` (the training module, the Synthesizer)."""

    conditioning: Conditioning
    label_nc = property(lambda self: self.conditioning.label_nc)
    input_nc = property(lambda self: self.conditioning.input_nc)
    ignore_index = property(lambda self: self.conditioning.ignore_index)
    use_instance_edges = property(lambda self: self.conditioning.use_instance_edges)
    feat_num = property(lambda self: self.conditioning.feat_num)


@dataclass
class Style:
    """What a generator takes besides its condition: instance features [B, F, H, W] and/or a VAE's z [B, z_dim]
    (with the posterior's ``mu`` and ``logvar`` when z was sampled for training)."""

    features: torch.Tensor | None = None
    z: torch.Tensor | None = None
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None


@dataclass(frozen=True)
class StyleChoice:
    """The style a caller asks for, whatever the family.

    mode:
        ``photo``: each map's own photo (evaluation; a VAE without its encoder draws z as ``random``);
        ``random``: drawn per map from ``seed`` and the map's key; ``cluster``: cluster ``cluster`` of each class;
        ``reference``: one photo's style for every map, ``reference(height, width)`` giving it at a size.
    objects: the studio's choice per object, ``objects(instance id, class, clusters of the class)`` -> a cluster.
    z: a VAE's z [1, z_dim] as given (the studio's).
    """

    mode: str = "random"
    seed: int = 0
    cluster: int | None = None
    reference: Callable[[int, int], torch.Tensor] | None = None
    objects: Callable[[int, int, int], int | None] | None = field(default=None, compare=False)
    z: torch.Tensor | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StyleRequest:
    """One batch's part of a style choice: maps [B, H, W] (or input images), instance maps, keys, paired photos
    [B, 3, H, W] in [-1, 1] (mode ``photo``), and the resolution the model trained at (W, H) or None."""

    label: torch.Tensor
    instance: torch.Tensor | None
    keys: list[str]
    photo: torch.Tensor | None = None
    resolution: tuple[int, int] | None = None


class StyleSource(nn.Module):
    """A generator without a style input; the base of the sources that give one."""

    export_key: str | None = None  # the export's key of its network
    bank: StyleBank | None = None  # clustered styles (instance features only)
    clusters = False  # whether ``hrgan encode-features`` can cluster its styles
    no_clusters = ("the model has no instance-feature encoder (trained with feat_num 0): its photos come from the map "
                   "alone")

    @property
    def network(self) -> nn.Module | None:
        return None

    @property
    def choices(self) -> tuple[str, ...]:
        """The ``StyleChoice`` modes it takes."""
        return ()

    def choice_problems(self, choice: StyleChoice) -> list[tuple[bool, str]]:
        """Why ``choice`` cannot be served: (whether the choice itself is wrong, rather than the model, a line)."""
        return []

    def train_style(self, photo: torch.Tensor, instance: torch.Tensor | None, *, sample: bool) -> Style:
        """The style of the paired photos in training (``sample``: a VAE draws z from its posterior)."""
        return Style()

    def posterior(self, photo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) [B, z_dim] of a VAE's z for photos [B, 3, H, W] in [-1, 1]."""
        raise ValueError("this model has no VAE (z_dim 0): its style comes from the map alone")

    def choose(self, choice: StyleChoice, request: StyleRequest) -> Style:
        """The style of one batch at inference."""
        return Style()


class InstanceStyle(StyleSource):
    """pix2pixHD's instance features: the encoder's output averaged per instance (training, a reference photo),
    or the clustered styles of ``hrgan encode-features`` (``bank``), a cluster per instance."""

    export_key = "encoder"
    clusters = True

    def __init__(self, encoder: InstanceFeatureEncoder, bank: StyleBank | None = None) -> None:
        super().__init__()
        self.encoder, self.bank = encoder, bank

    @property
    def network(self) -> nn.Module:
        return self.encoder

    @property
    def choices(self) -> tuple[str, ...]:
        return ("photo", "reference", "random", "cluster", "objects") if self.bank is not None else ("photo", "reference")

    def choice_problems(self, choice: StyleChoice) -> list[tuple[bool, str]]:
        if choice.mode in ("random", "cluster") and self.bank is None:
            return [(False, self._no_bank())]
        most = int(self.bank.counts.max()) if self.bank is not None else 0
        if choice.mode == "cluster" and choice.cluster >= most:
            choices = f"cluster:0 to cluster:{most - 1}" if most else "the styles have none"
            return [(True, f"--style cluster:{choice.cluster}: no class has more than {most} clusters ({choices})")]
        return []

    def train_style(self, photo: torch.Tensor, instance: torch.Tensor | None, *, sample: bool) -> Style:
        return Style(features=self.encoder(photo, instance.long()))

    def _no_bank(self) -> str:
        return (f"this model takes instance features ({self.encoder.feat_num} channels) but its export has no styles: "
                "run 'hrgan encode-features --checkpoint MODEL --data TRAIN_SHARDS --out EXPORT' first, or pass "
                "--style from-image:PHOTO")

    def encoder_features(self, photo: torch.Tensor) -> torch.Tensor:
        """Per-pixel features [B, F, H, W] of photos [B, 3, H, W] in [-1, 1] of any size, before pooling."""
        h, w = photo.shape[-2:]
        return self.encoder.backbone(pad_to_multiple(photo, self.encoder.size_multiple()))[..., :h, :w].float()

    def choose(self, choice: StyleChoice, request: StyleRequest) -> Style:
        label, batch = request.label, len(request.keys)
        regions = request.instance if request.instance is not None else label  # no instances: a region per class
        height, width = label.shape[-2:]
        device = next(self.encoder.parameters()).device
        if choice.mode == "photo":
            raw = self.encoder_features(resize_photos(request.photo.to(device), (width, height)))
            return Style(features=instance_average_pool(raw, regions.to(device).long()))
        if choice.mode == "reference":  # encoded once, for every map of the batch
            raw = self.encoder_features(choice.reference(height, width).to(device)).expand(batch, -1, -1, -1)
            return Style(features=instance_average_pool(raw, regions.to(device).long()))
        if self.bank is None:
            raise ValueError(self._no_bank())
        maps = []
        for key, lab, reg in zip(request.keys, label, regions, strict=True):
            if choice.objects is not None:
                maps.append(self._object_map(lab, reg, choice.objects))
            else:
                maps.append(self.bank.feature_map(lab, reg, cluster=choice.cluster, rng=style_rng(choice.seed, key)))
        return Style(features=torch.stack(maps))

    def _object_map(self, label: torch.Tensor, instance: torch.Tensor, pick: Callable[[int, int, int], int | None]):
        """[F, H, W]: each instance filled with the centre ``pick`` chooses for it (zero where it chooses none)."""
        centres = self.bank.centres
        region, classes, _ = instance_regions(label, instance, centres.shape[0])
        ids = torch.unique(instance.reshape(-1))  # region k is ids[k]
        values = torch.zeros(len(classes), centres.shape[2])
        for k, (instance_id, cls) in enumerate(zip(ids.tolist(), classes.tolist(), strict=True)):
            count = int(self.bank.counts[cls]) if cls >= 0 else 0
            cluster = pick(instance_id, cls, count) if count else None
            if cluster is not None:
                values[k] = centres[cls, cluster]
        return values[region].permute(2, 0, 1)


class VAEStyle(StyleSource):
    """SPADE's VAE: z from the style encoder's posterior (sampled in training, its mean otherwise), or N(0, 1)
    drawn with ``style_rng``; ``encoder`` may be absent in an import without it."""

    export_key = "style_encoder"
    no_clusters = ("a VAE model (SPADE) takes its styles from z, not from clustered instance features; use hrgan "
                   "infer --style random --seed S or --style from-image PHOTO")

    def __init__(self, encoder: SPADEStyleEncoder | None, *, z_dim: int) -> None:
        super().__init__()
        self.encoder, self.z_dim = encoder, z_dim

    @property
    def network(self) -> nn.Module | None:
        return self.encoder

    @property
    def choices(self) -> tuple[str, ...]:
        return ("photo", "random", "z") + (("reference",) if self.encoder is not None else ())

    def choice_problems(self, choice: StyleChoice) -> list[tuple[bool, str]]:
        if choice.mode == "cluster":
            return [(True, f"--style cluster:{choice.cluster} picks instance-feature clusters; this VAE model takes "
                           "--style random (with --seed) or --style from-image PATH")]
        if choice.mode == "reference" and self.encoder is None:
            return [(False, "--style from-image needs the model's style encoder, which its export lacks "
                            "(hrgan import-spade --encoder latest_net_E.pth adds it)")]
        return []

    def posterior(self, photo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) [B, z_dim] of photos [B, 3, H, W] in [-1, 1]."""
        if self.encoder is None:
            raise ValueError("this model's export has no style encoder (hrgan import-spade --encoder latest_net_E.pth "
                             "adds it)")
        return self.encoder(photo.to(next(self.encoder.parameters()).device))

    def train_style(self, photo: torch.Tensor, instance: torch.Tensor | None, *, sample: bool) -> Style:
        mu, logvar = self.posterior(photo)
        if not sample:
            return Style(z=mu)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # the reparameterisation trick
        return Style(z=z, mu=mu, logvar=logvar)

    def random_z(self, seed: int, *parts: str | int) -> torch.Tensor:
        """z [z_dim] ~ N(0, 1) from ``style_rng(seed, *parts)``."""
        return torch.from_numpy(style_rng(seed, *parts).standard_normal(self.z_dim).astype(np.float32))

    def choose(self, choice: StyleChoice, request: StyleRequest) -> Style:
        batch = len(request.keys)
        if choice.z is not None:
            return Style(z=choice.z.expand(batch, -1))
        if choice.mode == "photo" and self.encoder is not None:
            return Style(z=self.posterior(request.photo)[0].float())
        if choice.mode == "reference":
            width, height = request.resolution or (256, 256)  # as in training; the encoder resizes to 256x256
            return Style(z=self.posterior(choice.reference(height, width))[0].float().expand(batch, -1))
        return Style(z=torch.stack([self.random_z(choice.seed, key) for key in request.keys]))


def style_source(generator: GeneratorNetwork, networks: Mapping[str, nn.Module | None], bank: StyleBank | None = None):
    """The style source of ``generator`` with the networks an export or a run holds (by export key)."""
    if generator.z_dim:
        return VAEStyle(networks.get("style_encoder"), z_dim=generator.z_dim)
    if networks.get("encoder") is not None:
        return InstanceStyle(networks["encoder"], bank)
    return StyleSource()


class GeneratorFamily(nn.Module):
    """A generator with its style source and conditioning: what every consumer of a model asks.

    Args:
        generator: a ``GeneratorNetwork``.
        conditioning: how its input is built.
        style: its style source (default: none).
    """

    def __init__(self, *, generator: GeneratorNetwork, conditioning: Conditioning, style: StyleSource | None = None) -> None:
        super().__init__()
        self.generator, self.conditioning = generator, conditioning
        self.style = style if style is not None else StyleSource()

    @classmethod
    def for_training(cls, generator: GeneratorNetwork, conditioning: Conditioning, *, nef: int) -> GeneratorFamily:
        """A new family around ``generator``: a VAE generator gets SPADE's style encoder at its ngf, instance
        features (``feat_num``) pix2pixHD's encoder of width ``nef``."""
        networks = {}
        if generator.z_dim:
            networks["style_encoder"] = SPADEStyleEncoder(ngf=generator.init_args["ngf"], z_dim=generator.z_dim)
        elif conditioning.feat_num > 0:
            networks["encoder"] = InstanceFeatureEncoder(feat_num=conditioning.feat_num, nef=nef)
        return cls(generator=generator, conditioning=conditioning, style=style_source(generator, networks))

    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    def problems(self, *, ema: bool) -> list[str]:
        """Settings this family cannot train with (``ema``: an averaged generator is kept)."""
        found = self.conditioning.problems()
        if self.z_dim and self.conditioning.feat_num > 0:
            found.append("a VAE generator (z_dim > 0) takes its style from z: set feat_num: 0")
        if self.z_dim and ema:
            found.append("a VAE generator (z_dim > 0) with ema_decay > 0: the averaged generator would take z from a "
                         "style encoder it never trained with (SPADE keeps no average); set ema_decay: 0")
        takes = self.generator.init_args.get("in_channels")
        if takes != self.conditioning.channels:
            c = self.conditioning
            source = f"label_nc={c.label_nc}" if c.label_nc else f"image inputs of input_nc={c.input_nc}"
            found.append(f"the generator takes {takes} input channels, but {source}, use_instance_edges="
                         f"{c.use_instance_edges} and feat_num={c.feat_num} make {c.channels}")
        return found

    def size_multiple(self, n_active_enhancers: int | None = None) -> int:
        return self.generator.size_multiple(n_active_enhancers)

    @property
    def min_size_multiples(self) -> int:
        return self.generator.min_size_multiples

    def compile_units(self) -> list[nn.Module]:
        """What ``torch.compile`` compiles (the generator's units; the style networks run eagerly)."""
        return self.generator.compile_units()

    def networks(self) -> dict[str, nn.Module | None]:
        """The networks an export holds, by its keys (``encoder`` and ``style_encoder`` None when absent)."""
        found = {"generator": self.generator, "encoder": None, "style_encoder": None}
        if self.style.export_key is not None:
            found[self.style.export_key] = self.style.network
        return found

    def input(self, condition: torch.Tensor, style: Style) -> torch.Tensor:
        """The generator's input: the condition (``Conditioning.build``) and the style's instance features."""
        return condition if style.features is None else torch.cat([condition, style.features], 1)

    def run(self, x: torch.Tensor, style: Style, *, n_active_enhancers: int | None = None,
            fade_alpha: float | torch.Tensor = 1.0, generator: GeneratorNetwork | None = None) -> torch.Tensor:
        """The photo for an input of ``input`` (``generator``: another copy of the weights, e.g. the EMA one)."""
        return (generator or self.generator).run(x, n_active_enhancers=n_active_enhancers, fade_alpha=fade_alpha, z=style.z)

    def generate(self, condition: torch.Tensor, style: Style, **kwargs) -> torch.Tensor:
        """``run(input(condition, style), style, **kwargs)``."""
        return self.run(self.input(condition, style), style, **kwargs)
