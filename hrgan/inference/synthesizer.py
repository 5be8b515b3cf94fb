"""A trained generator ready for label maps of any size: padding to the network's multiple, precision, styles."""

from __future__ import annotations

import contextlib
import os

import torch
import torch.nn.functional as F

from hrgan.artifacts import build_network, read_export
from hrgan.conditioning import build_generator_input
from hrgan.data.labels import LabelConvention
from hrgan.inference.options import PRECISION_NAMES
from hrgan.inference.styles import StyleBank
from hrgan.models import instance_average_pool, run_generator

PRECISIONS = dict(zip(PRECISION_NAMES, (None, torch.bfloat16, torch.float16), strict=True))


def pad_to_multiple(x: torch.Tensor, multiple: int, *, minimum: int = 2) -> torch.Tensor:
    """Pad [B, C, H, W] at the bottom and right to multiples of ``multiple``, at least ``minimum`` of them
    (pix2pixHD's bottleneck reflection padding needs 2 pixels; a generator says otherwise with a
    ``min_size_multiples`` attribute), by reflection, or by edge replication where the image is too small
    to reflect."""
    h, w = x.shape[-2:]
    pad_h, pad_w = (max(-(-n // multiple), minimum) * multiple - n for n in (h, w))
    if not pad_h and not pad_w:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


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


class Synthesizer:
    """The generator (and encoders) of an inference export on one device.

    A VAE generator (SPADE's, ``z_dim`` > 0) takes a style z [B, z_dim]: drawn from N(0, 1), or
    ``encode_style`` of a photo when the export has the style encoder.

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
        self.generator = build_network(export["generator"]).to(self.device).requires_grad_(False)
        encoder = export.get("encoder")
        self.encoder = build_network(encoder).to(self.device).requires_grad_(False) if encoder else None
        style_encoder = export.get("style_encoder")
        self.style_encoder = build_network(style_encoder).to(self.device).requires_grad_(False) if style_encoder else None
        self.z_dim: int = getattr(self.generator, "z_dim", 0)
        self.label_nc: int = export["label_nc"]
        self.input_nc: int = export.get("input_nc", 3)
        self.ignore_index: int | None = export.get("ignore_index")
        self.use_instance_edges: bool = export["use_instance_edges"]
        self.feat_num: int = export.get("feat_num", 0)
        self.n_active_enhancers: int = export.get("n_active_enhancers", 0)
        self.styles = StyleBank.from_export(export.get("styles"))

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> Synthesizer:
        """From an export or a Lightning checkpoint (EMA weights when present)."""
        return cls(read_export(path), **kwargs)

    @property
    def size_multiple(self) -> int:
        """Input sizes the network takes without padding are multiples of this."""
        return self.generator.size_multiple(self.n_active_enhancers)

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

    @torch.inference_mode()
    def encoder_features(self, photo: torch.Tensor) -> torch.Tensor:
        """The encoder's per-pixel features [B, F, H, W] of photos [B, 3, H, W] in [-1, 1], before pooling."""
        if self.encoder is None:
            raise ValueError("this model has no instance-feature encoder (feat_num 0)")
        photo = photo.to(self.device)
        h, w = photo.shape[-2:]
        padded = pad_to_multiple(photo, self.encoder.size_multiple())
        with self._autocast():
            return self.encoder.backbone(padded)[..., :h, :w].float()

    @torch.inference_mode()
    def encode(self, photo: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        """Instance-wise features [B, F, H, W] of photos [B, 3, H, W] in [-1, 1] over instance maps [B, H, W]."""
        return instance_average_pool(self.encoder_features(photo), instance.to(self.device).long())

    @torch.inference_mode()
    def encode_style(self, photo: torch.Tensor) -> torch.Tensor:
        """A VAE model's style z [B, z_dim] of photos [B, 3, H, W] in [-1, 1]: the posterior mean (SPADE's test
        script samples around it; the mean makes a photo's style one z)."""
        if self.style_encoder is None:
            raise ValueError("this model's export has no style encoder" + (
                " (hrgan import-spade --encoder latest_net_E.pth adds it)" if self.z_dim else ": it has no VAE (z_dim 0)"))
        with self._autocast():
            mu, _ = self.style_encoder(photo.to(self.device))
        return mu.float()

    @torch.inference_mode()
    def __call__(
        self, label: torch.Tensor, instance: torch.Tensor | None = None, features: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Photos [B, 3, H, W] (float32 in [-1, 1]) for label maps [B, H, W] (or input images) of any size.

        Args:
            label: integer class ids (validated: bad values raise ``ValueError`` listing them); for an
                image-input model (label_nc 0) input images [B, input_nc, H, W] in [-1, 1].
            instance: instance ids; for a model trained with instance edges, None gives an
                all-zero edge channel (``--instance-edges false``).
            features: [B, feat_num, H, W] instance features, required when the model has an encoder.
            z: a VAE model's styles [B, z_dim]; None draws them from N(0, 1) with torch's generator.
        """
        label = label.to(self.device)
        if self.feat_num and features is None:
            raise ValueError(f"this model takes {self.feat_num} instance-feature channels: pass features (a style)")
        if self.use_instance_edges and instance is None:
            instance = torch.zeros(label.shape[0], *label.shape[-2:], dtype=torch.long)  # a constant map has no edges
        x = build_generator_input(
            label,
            label_nc=self.label_nc,
            input_nc=self.input_nc,
            instance=instance.to(self.device) if self.use_instance_edges else None,
            ignore_index=self.ignore_index,
            features=features.to(self.device) if self.feat_num else None,
        )
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.size_multiple, minimum=getattr(self.generator, "min_size_multiples", 2))
        with self._autocast():
            out = run_generator(self.generator, x, n_active_enhancers=self.n_active_enhancers,
                                z=None if z is None else z.to(self.device))
        return out[..., :h, :w].float()
