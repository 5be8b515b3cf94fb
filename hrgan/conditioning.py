"""Turning label and instance maps into the generator's input: one-hot labels, instance edges, features.

With ``label_nc`` 0 (pix2pixHD's convention) the input is an image of ``input_nc`` channels in [-1, 1],
used as it is, beside the same optional edges and features.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_label_batch(label: torch.Tensor, name: str) -> torch.Tensor:
    if label.dim() == 4 and label.shape[1] == 1:
        label = label[:, 0]
    if label.dim() != 3:
        raise ValueError(f"{name} map must be [B, H, W] (or [B, 1, H, W]), got shape {tuple(label.shape)}")
    if label.is_floating_point() or label.is_complex():
        raise ValueError(f"{name} map must hold integer ids, got dtype {label.dtype}")
    return label


def invalid_label_values(label: torch.Tensor | np.ndarray, label_nc: int, *, ignore_index: int | None = None) -> list[int]:
    """The distinct values of a label map (tensor or array) outside [0, label_nc), ``ignore_index`` excepted."""
    bad = (label < 0) | (label >= label_nc)
    if ignore_index is not None:
        bad &= label != ignore_index
    if not bool(bad.any()):
        return []
    values = torch.unique(label[bad]) if isinstance(label, torch.Tensor) else np.unique(label[bad])
    return [int(v) for v in values.tolist()]


def format_values(values: list[int], limit: int = 20) -> str:
    """``1, 2, 3 ...``: at most ``limit`` values."""
    return ", ".join(str(v) for v in values[:limit]) + (" ..." if len(values) > limit else "")


def check_label_values(label: torch.Tensor, label_nc: int, *, ignore_index: int | None = None) -> None:
    """Raise ``ValueError`` listing every label value outside [0, label_nc) other than ``ignore_index``."""
    values = invalid_label_values(label, label_nc, ignore_index=ignore_index)
    if values:
        shown = format_values(values)
        hint = "raise label_nc to cover them" + ("" if ignore_index is not None else ", or set ignore_index (e.g. 255)")
        raise ValueError(f"label map has values outside [0, {label_nc}): {shown}; {hint}")


def one_hot_labels(
    label: torch.Tensor,
    label_nc: int,
    *,
    ignore_index: int | None = None,
    dtype: torch.dtype = torch.float32,
    validate: bool = True,
) -> torch.Tensor:
    """Class-id map to one-hot channels.

    Args:
        label: [B, H, W] (or [B, 1, H, W]) integer class ids.
        label_nc: number of classes (channels).
        ignore_index: a value (e.g. 255, "unlabeled") whose pixels get all-zero channels.
        dtype: output dtype.
        validate: check values first (costs one device sync); ``ValueError`` names the bad ones.

    Returns:
        [B, label_nc, H, W].
    """
    label = _as_label_batch(label, "label")
    if validate:
        check_label_values(label, label_nc, ignore_index=ignore_index)
    keep = torch.ones_like(label, dtype=torch.bool) if ignore_index is None else label != ignore_index
    index = torch.where(keep, label, torch.zeros_like(label)).long().unsqueeze(1)  # [B, 1, H, W]
    b, h, w = label.shape
    out = torch.zeros(b, label_nc, h, w, dtype=dtype, device=label.device)
    # Ignored pixels write 0 into channel 0, which leaves them all-zero.
    return out.scatter_(1, index, keep.unsqueeze(1).to(dtype))


def instance_edges(instance: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Instance boundary map: 1 where a pixel's id differs from any of its 4 neighbours.

    Args:
        instance: [B, H, W] (or [B, 1, H, W]) integer instance ids.

    Returns:
        [B, 1, H, W] of 0/1.
    """
    instance = _as_label_batch(instance, "instance")
    edge = torch.zeros_like(instance, dtype=torch.bool)
    horizontal = instance[:, :, 1:] != instance[:, :, :-1]
    vertical = instance[:, 1:, :] != instance[:, :-1, :]
    edge[:, :, 1:] |= horizontal
    edge[:, :, :-1] |= horizontal
    edge[:, 1:, :] |= vertical
    edge[:, :-1, :] |= vertical
    return edge.unsqueeze(1).to(dtype)


def input_channels(label_nc: int, *, input_nc: int = 3, use_instance_edges: bool = True, feat_num: int = 0) -> int:
    """Channels of ``build_generator_input``'s output (the generator's ``in_channels``); ``input_nc`` counts
    only for image inputs (label_nc 0)."""
    return (label_nc or input_nc) + int(use_instance_edges) + feat_num


def image_input(image: torch.Tensor, input_nc: int) -> torch.Tensor:
    """An input image batch [B, input_nc, H, W] in [-1, 1], checked."""
    if image.dim() != 4 or image.shape[1] != input_nc or not image.is_floating_point():
        raise ValueError(f"an image input must be a float [B, {input_nc}, H, W] batch in [-1, 1] (input_nc {input_nc}), "
                         f"got {image.dtype} of shape {tuple(image.shape)}")
    return image


def build_generator_input(
    label: torch.Tensor,
    *,
    label_nc: int,
    input_nc: int = 3,
    instance: torch.Tensor | None = None,
    ignore_index: int | None = None,
    features: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
    validate: bool = True,
) -> torch.Tensor:
    """Concatenate [one-hot labels (or the input image), instance edges (if ``instance`` given), instance features (if given)].

    Args:
        label: [B, H, W] integer class ids; with ``label_nc`` 0 the input image [B, input_nc, H, W] in [-1, 1].
        label_nc: number of classes (0: image input).
        input_nc: the input image's channels (label_nc 0 only).
        instance: [B, H, W] instance ids, or None for no edge channel.
        ignore_index: label value mapped to all-zero channels.
        features: [B, F, H, W] instance-wise features (from the encoder or a style cluster).
        dtype: output dtype.
        validate: check label values (see ``one_hot_labels``).

    Returns:
        [B, (label_nc or input_nc) + (1 if instance) + F, H, W].
    """
    if label_nc == 0:
        parts = [image_input(label, input_nc).to(dtype)]
    else:
        parts = [one_hot_labels(label, label_nc, ignore_index=ignore_index, dtype=dtype, validate=validate)]
    size = parts[0].shape[-2:]
    if instance is not None:
        edges = instance_edges(instance, dtype=dtype)
        if edges.shape[-2:] != size:
            raise ValueError(f"instance map size {tuple(edges.shape[-2:])} differs from label map size {tuple(size)}")
        parts.append(edges)
    if features is not None:
        if features.shape[-2:] != size:
            raise ValueError(f"feature map size {tuple(features.shape[-2:])} differs from label map size {tuple(size)}")
        parts.append(features.to(dtype))
    return torch.cat(parts, dim=1)
