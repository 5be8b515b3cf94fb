"""pix2pixHD's multi-scale PatchGAN discriminator with intermediate features."""

from __future__ import annotations

import torch
from torch import nn

from hrgan.models.layers import RecordsInitArgs, init_pix2pixhd_weights, input_pyramid_downsample, instance_norm


def _d_layer(in_channels: int, out_channels: int, *, stride: int, norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, stride=stride, padding=2)]
    if norm:
        layers.append(instance_norm(out_channels))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class PatchDiscriminator(RecordsInitArgs):
    """pix2pixHD's NLayerDiscriminator (70x70 PatchGAN for n_layers=3) returning every layer's output.

    Layers: conv4 s2 (no norm), (n_layers - 1) x conv4 s2 + norm, conv4 s1 + norm,
    conv4 s1 to one channel; LeakyReLU(0.2) after all but the last; channels
    double from ``ndf`` and are capped at 512.
    """

    def __init__(self, *, in_channels: int, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers = [_d_layer(in_channels, ndf, stride=2, norm=False)]
        channels = ndf
        for _ in range(1, n_layers):
            layers.append(_d_layer(channels, min(channels * 2, 512), stride=2, norm=True))
            channels = min(channels * 2, 512)
        layers.append(_d_layer(channels, min(channels * 2, 512), stride=1, norm=True))
        channels = min(channels * 2, 512)
        layers.append(nn.Sequential(nn.Conv2d(channels, 1, 4, stride=1, padding=2)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[B, in, H, W] -> n_layers + 2 feature maps; the last is the [B, 1, h, w] patch logits."""
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


class MultiscaleDiscriminator(RecordsInitArgs):
    """``num_D`` PatchGAN discriminators applied to an input pyramid (AvgPool2d(3, 2, 1) between scales).

    Ordering follows pix2pixHD: ``discriminators[k]`` sees the input
    downsampled ``num_scales - 1 - k`` times, so the last one sees full
    resolution and a finer scale added later is appended at the end. Each
    discriminator therefore keeps seeing the same absolute resolution when
    progressive growth doubles the image size and adds a scale.

    Args:
        in_channels: label/condition channels + image channels.
        ndf: width of the first layer of each discriminator.
        n_layers: stride-2 layers per discriminator.
        num_D: number of scales.
    """

    def __init__(self, *, in_channels: int, ndf: int = 64, n_layers: int = 3, num_D: int = 3) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels=in_channels, ndf=ndf, n_layers=n_layers) for _ in range(num_D)
        )
        self.downsample = input_pyramid_downsample()
        init_pix2pixhd_weights(self)

    @property
    def num_D(self) -> int:
        return len(self.discriminators)

    def forward(self, x: torch.Tensor, *, num_scales: int | None = None) -> list[list[torch.Tensor]]:
        """Run every scale.

        Args:
            x: [B, in, H, W], condition and image concatenated.
            num_scales: use only ``discriminators[:num_scales]`` (default: all), the
                last of them at full resolution.

        Returns:
            One list per scale, finest first, each holding n_layers + 2 feature maps
            (the last is the patch logits).
        """
        n = self.num_D if num_scales is None else num_scales
        if not 1 <= n <= self.num_D:
            raise ValueError(f"num_scales must be in [1, {self.num_D}], got {n}")
        results = []
        for i in range(n):
            if i > 0:
                x = self.downsample(x)
            results.append(self.discriminators[n - 1 - i](x))
        return results
