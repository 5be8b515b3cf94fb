"""A trained generator ready for label maps of any size: padding to the network's multiple, precision, styles."""

from __future__ import annotations

import contextlib
import os

import torch

from hrgan.artifacts import build_family, read_export
from hrgan.data.labels import LabelConvention
from hrgan.inference.options import PRECISION_NAMES
from hrgan.models.family import ConditioningSettings, Style, StyleChoice, StyleRequest
from hrgan.models.layers import pad_to_multiple

__all__ = ["PRECISIONS", "Synthesizer", "label_file_convention", "pad_to_multiple", "shard_label_convention"]

PRECISIONS = dict(zip(PRECISION_NAMES, (None, torch.bfloat16, torch.float16), strict=True))


def label_file_convention(export: dict, label_offset: int | None = None, ignore_index: int | None = None) -> LabelConvention:
    """How label files number an export's classes: the arguments (``hrgan shards``' options), else its class
    table's convention, else the model's own ids. Unlabeled pixels become the model's ignore value, or the
    class the table reads them as (``unlabeled_as``: SPADE's don't-care label)."""
    classes = export["classes"]
    table_offset = classes.get("label_offset") or 0
    offset = table_offset if label_offset is None else label_offset
    unlabeled_as = classes.get("unlabeled_as")
    if ignore_index is not None:
        ignore = ignore_index
    elif offset == table_offset and (table_offset or unlabeled_as is not None):
        ignore = classes.get("ignore_index")  # the table's offset comes with its unlabeled value
    else:
        ignore = None if offset else export.get("ignore_index")
    store = unlabeled_as if unlabeled_as is not None else export.get("ignore_index")
    return LabelConvention(export["label_nc"], ignore, offset, store_ignore_as=store)


def shard_label_convention(export: dict) -> LabelConvention | None:
    """How shards written with an export's class table store unlabeled pixels, read as its ``unlabeled_as`` class
    (SPADE's don't-care label); None where stored ids are the model's own."""
    classes = export["classes"]
    if classes.get("unlabeled_as") is None or classes.get("ignore_index") is None:
        return None
    written = LabelConvention(classes["unlabeled_as"], classes["ignore_index"], classes.get("label_offset") or 0)
    return LabelConvention(export["label_nc"], written.stored_ignore, 0, store_ignore_as=classes["unlabeled_as"])


class Synthesizer(ConditioningSettings):
    """The model of an inference export (``hrgan.models.family.GeneratorFamily``) on one device, for inputs of
    any size, at a precision.

    Args:
        export: from ``hrgan.artifacts.read_export`` (or ``make_export``).
        device: ``cpu``, ``cuda``, ``cuda:1``...
        precision: ``32``, ``bf16`` or ``16`` (autocast; outputs are float32).
    """

    def __init__(self, export: dict, *, device: str | torch.device = "cpu", precision: str = "32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.export = export
        self.device = torch.device(device)
        self.dtype = PRECISIONS[precision]
        self.family = build_family(export).to(self.device).requires_grad_(False)
        self.conditioning = self.family.conditioning
        self.n_active_enhancers: int = export.get("n_active_enhancers", 0)

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> Synthesizer:
        """From an export or a Lightning checkpoint (EMA weights when present)."""
        return cls(read_export(path), **kwargs)

    # what the export says, under the names the callers have used
    generator = property(lambda self: self.family.generator)
    z_dim = property(lambda self: self.family.z_dim)
    encoder = property(lambda self: self.family.networks()["encoder"])
    style_encoder = property(lambda self: self.family.networks()["style_encoder"])
    styles = property(lambda self: self.family.style.bank)

    @property
    def size_multiple(self) -> int:
        """Input sizes the network takes without padding are multiples of this."""
        return self.family.size_multiple(self.n_active_enhancers)

    @property
    def resolution(self) -> tuple[int, int] | None:
        """(W, H) the exported stage trained at, or None (imported weights)."""
        resolution = self.export.get("resolution")
        return tuple(resolution) if resolution else None

    def file_convention(self, label_offset: int | None = None, ignore_index: int | None = None) -> LabelConvention:
        """How label files number the classes (``label_file_convention`` of this export)."""
        return label_file_convention(self.export, label_offset, ignore_index)

    def shard_convention(self) -> LabelConvention | None:
        """How shards' stored ids become this model's (``shard_label_convention``), or None: as they are."""
        return shard_label_convention(self.export)

    @property
    def palette(self) -> list[list[int]]:
        return self.export["classes"]["colors"]

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def style_problems(self, choice: StyleChoice) -> list[tuple[bool, str]]:
        """Why this model cannot take ``choice``: (whether the choice is wrong rather than the model, a line)."""
        return self.family.style.choice_problems(choice)

    @torch.inference_mode()
    def style(self, choice: StyleChoice, label: torch.Tensor, instance: torch.Tensor | None, keys: list[str],
              photo: torch.Tensor | None = None) -> Style:
        """The style ``choice`` gives a batch of maps (``photo``: their own photos, for mode ``photo``)."""
        with self._autocast():
            return self.family.style.choose(choice, StyleRequest(label, instance, list(keys), photo, self.resolution))

    @torch.inference_mode()
    def encode(self, photo: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        """Instance-wise features [B, F, H, W] of photos [B, 3, H, W] in [-1, 1] over instance maps [B, H, W]."""
        keys = [str(i) for i in range(photo.shape[0])]
        features = self.style(StyleChoice("photo"), instance, instance, keys, photo).features
        if features is None:
            raise ValueError("this model has no instance-feature encoder (feat_num 0)")
        return features

    @torch.inference_mode()
    def encode_style(self, photo: torch.Tensor) -> torch.Tensor:
        """A VAE model's style z [B, z_dim] of photos [B, 3, H, W] in [-1, 1]: the posterior mean (SPADE's test
        script samples around it; the mean makes a photo's style one z)."""
        with self._autocast():
            return self.family.style.posterior(photo.to(self.device))[0].float()

    @torch.inference_mode()
    def __call__(
        self, label: torch.Tensor, instance: torch.Tensor | None = None, features: torch.Tensor | None = None,
        z: torch.Tensor | None = None, *, style: Style | None = None,
    ) -> torch.Tensor:
        """Photos [B, 3, H, W] (float32 in [-1, 1]) for label maps [B, H, W] (or input images) of any size.

        Args:
            label: integer class ids (validated: bad values raise ``ValueError`` listing them); for an
                image-input model (label_nc 0) input images [B, input_nc, H, W] in [-1, 1].
            instance: instance ids; for a model trained with instance edges, None gives an
                all-zero edge channel (``--instance-edges false``).
            style: from ``style``; or ``features`` ([B, feat_num, H, W], required with instance features) and
                ``z`` (a VAE's [B, z_dim]; None draws them from N(0, 1) with torch's generator).
        """
        style = style or Style(features=features, z=z)
        if self.feat_num and style.features is None:
            raise ValueError(f"this model takes {self.feat_num} instance-feature channels: pass features (a style)")
        label = label.to(self.device)
        if self.use_instance_edges and instance is None:
            instance = torch.zeros(label.shape[0], *label.shape[-2:], dtype=torch.long)  # a constant map has no edges
        condition = self.conditioning.build(label, None if instance is None else instance.to(self.device))
        placed = Style(features=None if style.features is None else style.features.to(self.device).float(),
                       z=None if style.z is None else style.z.to(self.device))
        x = self.family.input(condition, placed)
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.size_multiple, minimum=self.family.min_size_multiples)
        with self._autocast():
            out = self.family.run(x, placed, n_active_enhancers=self.n_active_enhancers)
        return out[..., :h, :w].float()
