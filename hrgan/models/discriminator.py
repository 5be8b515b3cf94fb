"""pix2pixHD's multi-scale PatchGAN discriminator with intermediate features (pix2pix's PatchGAN as one scale)."""

from __future__ import annotations

import torch
from torch import nn

from hrgan.models.layers import RecordsInitArgs, init_weights, input_pyramid_downsample, norm_layer


def _d_layer(in_channels: int, out_channels: int, *, stride: int, norm: str, padding: int,
             spectral: bool = False) -> nn.Sequential:
    """Conv4 -> norm -> LeakyReLU(0.2); the conv has no bias when BatchNorm follows (as in pix2pix), and with
    ``spectral`` a normed conv is spectral-normed and has no bias (SPADE's ``spectralinstance``)."""
    spectral = spectral and norm != "none"
    conv = nn.Conv2d(in_channels, out_channels, 4, stride=stride, padding=padding, bias=norm != "batch" and not spectral)
    layers: list[nn.Module] = [nn.utils.spectral_norm(conv) if spectral else conv]
    norm_module = norm_layer(norm, out_channels)
    if norm_module is not None:
        layers.append(norm_module)
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class PatchDiscriminator(RecordsInitArgs):
    """pix2pixHD's NLayerDiscriminator (70x70 PatchGAN for n_layers=3) returning every layer's output.

    Layers: conv4 s2 (no norm), (n_layers - 1) x conv4 s2 + norm, conv4 s1 + norm,
    conv4 s1 to one channel; LeakyReLU(0.2) after all but the last; channels
    double from ``ndf`` and are capped at 512.

    The defaults are pix2pixHD's. ``norm="batch", padding=1`` is pix2pix's NLayerDiscriminator
    (30x30 patches for a 256x256 input when n_layers=3).

    Args:
        in_channels: condition channels + image channels.
        ndf: width of the first layer.
        n_layers: stride-2 layers.
        norm: "instance" (pix2pixHD), "batch" (pix2pix) or "none".
        padding: zero padding of every conv4 (pix2pixHD 2, pix2pix 1).
        spectral: spectral norm on the normed convs, without their biases (SPADE's discriminator; its
            ``n_layers_D`` 4 is ``n_layers`` 3 here: the same four convs before the logits).
    """

    def __init__(
        self, *, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance", padding: int = 2,
        spectral: bool = False,
    ) -> None:
        super().__init__()
        layers = [_d_layer(in_channels, ndf, stride=2, norm="none", padding=padding)]
        channels = ndf
        for _ in range(1, n_layers):
            layers.append(_d_layer(channels, min(channels * 2, 512), stride=2, norm=norm, padding=padding, spectral=spectral))
            channels = min(channels * 2, 512)
        layers.append(_d_layer(channels, min(channels * 2, 512), stride=1, norm=norm, padding=padding, spectral=spectral))
        channels = min(channels * 2, 512)
        layers.append(nn.Sequential(nn.Conv2d(channels, 1, 4, stride=1, padding=padding)))
        self.layers = nn.ModuleList(layers)

    def compile_units(self) -> list[nn.Module]:
        """Compiled whole (``hrgan.training.speed``)."""
        return [self]

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
        norm: "instance" (pix2pixHD), "batch" (pix2pix) or "none"; see ``PatchDiscriminator``.
        padding: conv padding (pix2pixHD 2, pix2pix 1).
        weight_init: "pix2pixhd" (conv biases keep PyTorch's default) or "pix2pix" (conv biases 0);
            both draw conv weights from N(0, 0.02) and BatchNorm weights from N(1, 0.02).
        spectral: spectral norm on the normed convs, without biases (see ``PatchDiscriminator``).

    ``MultiscaleDiscriminator(in_channels=6, num_D=1, norm="batch", padding=1, weight_init="pix2pix")``
    is pix2pix's discriminator ('basic', 2,768,705 parameters); ``MultiscaleDiscriminator(in_channels=39,
    num_D=2, spectral=True)`` SPADE's (num_D 2, n_layers_D 4, spectralinstance: 5,601,410).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        ndf: int = 64,
        n_layers: int = 3,
        num_D: int = 3,
        norm: str = "instance",
        padding: int = 2,
        weight_init: str = "pix2pixhd",
        spectral: bool = False,
    ) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm, padding=padding,
                               spectral=spectral)
            for _ in range(num_D)
        )
        self.downsample = input_pyramid_downsample()
        init_weights(self, weight_init)

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
