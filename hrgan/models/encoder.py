"""pix2pixHD's instance-feature encoder E and instance-wise average pooling."""

from __future__ import annotations

import torch

from hrgan.models.generator import GlobalGenerator
from hrgan.models.layers import RecordsInitArgs


def instance_average_pool(features: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
    """Replace every pixel's features by the mean over its instance (per image), without Python loops.

    Args:
        features: [B, C, H, W].
        instance: [B, H, W] integer instance ids (any values, e.g. Cityscapes' 26001).

    Returns:
        [B, C, H, W], constant within each (image, instance) region; differentiable in ``features``.
    """
    b, c, h, w = features.shape
    if instance.shape != (b, h, w):
        raise ValueError(f"instance map shape {tuple(instance.shape)} does not match features {(b, h, w)}")
    instance = instance.long()
    # One key per (image, instance) pair, so equal ids in different images stay apart.
    offset = instance.min()
    span = instance.max() - offset + 1
    keys = (instance - offset) + torch.arange(b, device=instance.device).view(b, 1, 1) * span
    unique_keys, region = torch.unique(keys.flatten(), return_inverse=True)  # region: [B*H*W]
    n_regions = unique_keys.numel()
    flat = features.permute(0, 2, 3, 1).reshape(-1, c)  # [B*H*W, C]
    sums = flat.new_zeros(n_regions, c).index_add_(0, region, flat)
    counts = torch.bincount(region, minlength=n_regions).clamp_min(1).to(flat.dtype)
    means = sums / counts.unsqueeze(1)
    return means[region].view(b, h, w, c).permute(0, 3, 1, 2)


class InstanceFeatureEncoder(RecordsInitArgs):
    """pix2pixHD's feature encoder: an encoder-decoder (no residual blocks) whose output
    is averaged within each instance, giving one low-dimensional style vector per object.

    Args:
        in_channels: image channels.
        feat_num: feature channels produced (appended to the generator input).
        nef: width of the first layer.
        n_downsample: stride-2 convolutions (and as many upsamplings).
    """

    def __init__(self, *, in_channels: int = 3, feat_num: int = 3, nef: int = 16, n_downsample: int = 4) -> None:
        super().__init__()
        self.feat_num = feat_num
        self.backbone = GlobalGenerator(
            in_channels=in_channels, out_channels=feat_num, ngf=nef, n_downsample=n_downsample, n_blocks=0
        )

    def size_multiple(self) -> int:
        """Photo heights and widths must be multiples of this."""
        return self.backbone.size_multiple()

    def forward(self, image: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        """image [B, in, H, W], instance [B, H, W] -> instance-pooled features [B, feat_num, H, W]."""
        return instance_average_pool(self.backbone(image), instance)
