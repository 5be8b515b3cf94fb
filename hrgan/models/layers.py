"""Building blocks shared by the pix2pixHD networks."""

from __future__ import annotations

import functools
import inspect

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class RecordsInitArgs(nn.Module):
    """An ``nn.Module`` that keeps the arguments it was built with, defaults filled in, as ``init_args``,
    so that ``type(net)(**net.init_args)`` rebuilds it (what an export stores, see ``hrgan.artifacts``).

    Subclasses only define ``__init__``; each class's is wrapped once, and the outermost
    constructor records last.
    """

    init_args: dict

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in vars(cls):
            return  # the inherited constructor already records
        init = cls.__init__
        signature = inspect.signature(init)

        @functools.wraps(init)  # keeps the signature that --help and LightningCLI read
        def recording_init(self, *args, **kwargs) -> None:
            init(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            self.init_args = dict(list(bound.arguments.items())[1:])  # without self

        cls.__init__ = recording_init


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """pix2pixHD's normalisation: instance norm without affine parameters or running stats."""
    return nn.InstanceNorm2d(channels, affine=False)


def conv_norm_relu(
    in_channels: int, out_channels: int, *, kernel_size: int = 3, stride: int = 1, padding: int = 1
) -> list[nn.Module]:
    """Conv -> InstanceNorm -> ReLU, as a list so callers can flatten it into one Sequential."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding),
        instance_norm(out_channels),
        nn.ReLU(inplace=True),
    ]


def upconv_norm_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """ConvTranspose3 stride 2 (exact 2x upsampling) -> InstanceNorm -> ReLU."""
    return [
        nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1),
        instance_norm(out_channels),
        nn.ReLU(inplace=True),
    ]


def c7s1(in_channels: int, out_channels: int) -> list[nn.Module]:
    """Reflection-padded 7x7 convolution, stride 1 (pix2pixHD's c7s1-k without the norm)."""
    return [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, out_channels, 7)]


class ResidualBlock(nn.Module):
    """pix2pixHD's ResnetBlock: x + (pad, conv3, norm, ReLU, pad, conv3, norm)(x).

    The inner Sequential is called ``conv_block`` so its state-dict keys
    (``conv_block.1.*``, ``conv_block.5.*``) read like the official ones.

    With ``checkpointed`` set (see ``set_activation_checkpointing``) a training
    forward keeps only the block's input and recomputes the inside during backward.
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.checkpointed = False
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            instance_norm(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            instance_norm(channels),
        )

    def forward(self, x):
        if self.checkpointed and torch.is_grad_enabled() and x.requires_grad:
            return x + checkpoint(self.conv_block, x, use_reentrant=False)
        return x + self.conv_block(x)


def set_activation_checkpointing(network: nn.Module, enabled: bool = True) -> int:
    """Recompute every residual block of ``network`` in backward instead of storing its activations.

    Trades about one extra forward of the blocks for their activation memory. Returns the number of blocks.
    """
    blocks = [m for m in network.modules() if isinstance(m, ResidualBlock)]
    for block in blocks:
        block.checkpointed = enabled
    return len(blocks)


def init_pix2pixhd_weights(module: nn.Module) -> None:
    """pix2pixHD's ``weights_init``: every conv (and transposed conv) weight ~ N(0, 0.02).

    Biases keep PyTorch's default initialisation, as in the official code.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)


def input_pyramid_downsample() -> nn.AvgPool2d:
    """The 2x downsampling used for input pyramids in G and D."""
    return nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
