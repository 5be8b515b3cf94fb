"""pix2pixHD generators: the global generator and the coarse-to-fine local enhancers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrgan.models.layers import (
    GeneratorNetwork,
    RecordsInitArgs,
    ResidualBlock,
    c7s1,
    conv_norm_relu,
    init_pix2pixhd_weights,
    input_pyramid_downsample,
    instance_norm,
    upconv_norm_relu,
)


def _to_rgb_head(in_channels: int, out_channels: int) -> nn.Sequential:
    """c7s1-out + tanh: features to an image in [-1, 1]."""
    return nn.Sequential(*c7s1(in_channels, out_channels), nn.Tanh())


class GlobalGenerator(GeneratorNetwork):
    """pix2pixHD's global generator G1 (an encoder, residual bottleneck and decoder).

    c7s1-ngf, ``n_downsample`` x (conv3 stride 2, norm, ReLU), ``n_blocks``
    residual blocks, ``n_downsample`` x (transposed conv3 stride 2, norm, ReLU),
    c7s1-out_channels, tanh.

    Args:
        in_channels: input channels (label_nc + edge + instance features).
        out_channels: output image channels.
        ngf: width of the first and last layers; the bottleneck has ngf * 2**n_downsample.
        n_downsample: number of stride-2 convolutions (input sizes should be multiples of 2**n_downsample).
        n_blocks: residual blocks at the bottleneck.
        with_head: build the final c7s1 + tanh layer; the local enhancer drops it, as pix2pixHD does.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int = 3,
        ngf: int = 64,
        n_downsample: int = 4,
        n_blocks: int = 9,
        with_head: bool = True,
    ) -> None:
        super().__init__()
        self.ngf = ngf
        self.n_downsample = n_downsample
        self.stem = nn.Sequential(*c7s1(in_channels, ngf), instance_norm(ngf), nn.ReLU(inplace=True))
        self.down = nn.Sequential(
            *(nn.Sequential(*conv_norm_relu(ngf * 2**i, ngf * 2 ** (i + 1), stride=2)) for i in range(n_downsample))
        )
        self.blocks = nn.Sequential(*(ResidualBlock(channels=ngf * 2**n_downsample) for _ in range(n_blocks)))
        self.up = nn.Sequential(
            *(
                nn.Sequential(*upconv_norm_relu(ngf * 2 ** (n_downsample - i), ngf * 2 ** (n_downsample - i - 1)))
                for i in range(n_downsample)
            )
        )
        self.head = _to_rgb_head(ngf, out_channels) if with_head else None
        init_pix2pixhd_weights(self)

    def size_multiple(self, n_active_enhancers: int | None = None) -> int:
        """Input heights and widths must be multiples of this (``n_active_enhancers``: None or 0, there are none)."""
        if n_active_enhancers:
            raise ValueError(f"a GlobalGenerator has no local enhancers, got n_active_enhancers={n_active_enhancers}")
        return 2**self.n_downsample

    def compile_units(self) -> list[nn.Module]:
        """Its Sequential parts: the progressive wiring between them stays in Python (``hrgan.training.speed``)."""
        return [child for child in self.children() if isinstance(child, nn.Sequential)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in, H, W] -> [B, ngf, H, W]: everything up to the head."""
        return self.up(self.blocks(self.down(self.stem(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in, H, W] -> image [B, out, H, W] in [-1, 1]."""
        if self.head is None:
            raise RuntimeError("this GlobalGenerator was built with with_head=False; call features() instead")
        return self.head(self.features(x))


class LocalEnhancer(RecordsInitArgs):
    """One pix2pixHD local enhancer level (G2): works at twice its coarser branch's resolution.

    The input is downsampled once (c7s1-ngf, conv3 stride 2 to 2*ngf), the
    coarser branch's features are added, ``n_blocks`` residual blocks run, and
    a transposed conv brings the result back to ngf channels at full resolution.
    """

    def __init__(
        self, *, in_channels: int, out_channels: int = 3, ngf: int = 32, n_blocks: int = 3, with_head: bool = True
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            *c7s1(in_channels, ngf),
            instance_norm(ngf),
            nn.ReLU(inplace=True),
            *conv_norm_relu(ngf, ngf * 2, stride=2),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(channels=ngf * 2) for _ in range(n_blocks)))
        self.up = nn.Sequential(*upconv_norm_relu(ngf * 2, ngf))
        self.head = _to_rgb_head(ngf, out_channels) if with_head else None

    def compile_units(self) -> list[nn.Module]:
        """Its Sequential parts: the progressive wiring between them stays in Python (``hrgan.training.speed``)."""
        return [child for child in self.children() if isinstance(child, nn.Sequential)]

    def features(self, x: torch.Tensor, coarse_features: torch.Tensor) -> torch.Tensor:
        """x [B, in, H, W], coarse_features [B, 2*ngf, H/2, W/2] -> [B, ngf, H, W]."""
        return self.up(self.blocks(self.stem(x) + coarse_features))


class Pix2PixHDGenerator(GeneratorNetwork):
    """pix2pixHD's coarse-to-fine generator: a global generator plus ``n_local_enhancers`` enhancers.

    As in pix2pixHD, ``ngf`` is the width of the finest enhancer; enhancer i
    (0 = coarsest) has width ngf * 2**(n_local_enhancers - 1 - i) and the
    global generator ngf * 2**n_local_enhancers, without its output layer.
    Each level sees the input downsampled with AvgPool2d(3, 2, 1).

    With ``keep_coarse_heads=True`` every level keeps its own output layer, so
    the network can run with only the first k enhancers active (progressive
    growth) and blend the new level in. The default, False, is the official
    layout: one output layer, at the finest level, and the official parameter
    count. A state dict of a coarser stage loads into a finer generator as is:
    the global part under ``global_generator.*``, enhancers under ``enhancers.i.*``.

    Args:
        in_channels: input channels (label_nc + edge + instance features).
        out_channels: output image channels.
        ngf: width of the finest enhancer.
        n_downsample_global: stride-2 convolutions in the global generator.
        n_blocks_global: residual blocks in the global generator.
        n_local_enhancers: number of enhancer levels (0 gives the global generator alone).
        n_blocks_local: residual blocks in each enhancer.
        keep_coarse_heads: keep an output layer at every level (needed to run with fewer enhancers active).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int = 3,
        ngf: int = 32,
        n_downsample_global: int = 4,
        n_blocks_global: int = 9,
        n_local_enhancers: int = 1,
        n_blocks_local: int = 3,
        keep_coarse_heads: bool = False,
    ) -> None:
        super().__init__()
        if n_local_enhancers < 0:
            raise ValueError(f"n_local_enhancers must be >= 0, got {n_local_enhancers}")
        self.n_local_enhancers = n_local_enhancers
        self.global_generator = GlobalGenerator(
            in_channels=in_channels,
            out_channels=out_channels,
            ngf=ngf * 2**n_local_enhancers,
            n_downsample=n_downsample_global,
            n_blocks=n_blocks_global,
            with_head=keep_coarse_heads or n_local_enhancers == 0,
        )
        self.enhancers = nn.ModuleList(
            LocalEnhancer(
                in_channels=in_channels,
                out_channels=out_channels,
                ngf=ngf * 2 ** (n_local_enhancers - 1 - i),
                n_blocks=n_blocks_local,
                with_head=keep_coarse_heads or i == n_local_enhancers - 1,
            )
            for i in range(n_local_enhancers)
        )
        self.downsample = input_pyramid_downsample()
        init_pix2pixhd_weights(self)

    def active_enhancers(self, n_active_enhancers: int | None) -> int:
        """``n_active_enhancers`` checked, None meaning all."""
        k = self.n_local_enhancers if n_active_enhancers is None else n_active_enhancers
        if not 0 <= k <= self.n_local_enhancers:
            raise ValueError(f"n_active_enhancers must be in [0, {self.n_local_enhancers}], got {k}")
        return k

    def size_multiple(self, n_active_enhancers: int | None = None) -> int:
        """Input heights and widths must be multiples of this when ``n_active_enhancers`` run (default: all)."""
        return self.global_generator.size_multiple() * 2 ** self.active_enhancers(n_active_enhancers)

    def head(self, level: int) -> nn.Module:
        """The output layer of ``level`` (0 = global generator, i = enhancer i - 1)."""
        module = self.global_generator if level == 0 else self.enhancers[level - 1]
        if module.head is None:
            raise ValueError(
                f"level {level} has no output layer: build the generator with keep_coarse_heads=True "
                f"to run with {level} of {self.n_local_enhancers} local enhancers active"
            )
        return module.head

    def compile_units(self) -> list[nn.Module]:
        return [unit for level in (self.global_generator, *self.enhancers) for unit in level.compile_units()]

    def frozen_parts(self, n_active_enhancers: int) -> list[nn.Module]:
        """The global generator and the older enhancers (pix2pixHD's niter_fix_global)."""
        return [self.global_generator, *self.enhancers[: n_active_enhancers - 1]]

    def stage_problems(self, resolution: tuple[int, int], n_enhancers: int, fade_in: bool) -> list[str]:
        """A resolution off the stage's multiple, or a missing output layer at an active or fading level."""
        found = super().stage_problems(resolution, n_enhancers, fade_in)
        for level in [n_enhancers, n_enhancers - 1] if fade_in else [n_enhancers]:
            try:
                self.head(level)
            except ValueError as error:
                found.append(str(error))
        return found

    def run(self, x: torch.Tensor, *, n_active_enhancers: int | None = None, fade_alpha: float | torch.Tensor = 1.0,
            z: torch.Tensor | None = None) -> torch.Tensor:
        return self(x, n_active_enhancers=n_active_enhancers, fade_alpha=fade_alpha)

    def forward(
        self, x: torch.Tensor, *, n_active_enhancers: int | None = None, fade_alpha: float | torch.Tensor = 1.0
    ) -> torch.Tensor:
        """Generate an image at the resolution of ``x``.

        Args:
            x: [B, in, H, W] conditioning input at the resolution of the finest active level.
            n_active_enhancers: run the global generator and the first k enhancers
                (default: all). H and W should be multiples of 2**(n_downsample_global + k).
            fade_alpha: in [0, 1]; below 1 the output is
                ``alpha * new + (1 - alpha) * upsample(previous level's output)``,
                the progressive-GAN fade-in of the newest active enhancer.

        Returns:
            [B, out, H, W] image in [-1, 1].
        """
        k = self.active_enhancers(n_active_enhancers)
        pyramid = [x]
        for _ in range(k):
            pyramid.append(self.downsample(pyramid[-1]))
        features = self.global_generator.features(pyramid[k])
        coarser = features
        for i in range(k):
            coarser = features
            features = self.enhancers[i].features(pyramid[k - 1 - i], features)
        out = self.head(k)(features)
        if isinstance(fade_alpha, torch.Tensor) or fade_alpha < 1.0:
            if k == 0:
                raise ValueError("fade_alpha < 1 needs at least one active enhancer to fade in")
            previous = F.interpolate(self.head(k - 1)(coarser), size=out.shape[-2:], mode="bilinear", align_corners=False)
            out = torch.lerp(previous, out, fade_alpha)
        return out


def run_generator(generator: nn.Module, x: torch.Tensor, *, n_active_enhancers: int | None = None,
                  fade_alpha: float | torch.Tensor = 1.0, z: torch.Tensor | None = None) -> torch.Tensor:
    """Call any of our generators on its input (``GeneratorNetwork.run``; ``z``: a VAE generator's style)."""
    return generator.run(x, n_active_enhancers=n_active_enhancers, fade_alpha=fade_alpha, z=z)
