"""Building blocks shared by the pix2pixHD and pix2pix networks."""

from __future__ import annotations

import functools
import inspect

import torch
import torch.nn.functional as F
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


class GeneratorNetwork(RecordsInitArgs):
    """What training, inference and export ask of any generator; the defaults are a single-scale generator
    whose forward takes only its input. A family overrides what differs (see ``hrgan.models.family``)."""

    z_dim = 0  # a VAE generator's style size (its forward then takes z)
    n_local_enhancers = 0
    min_size_multiples = 2  # inference pads to at least this many size multiples
    checkpoints_under_compile = True  # activation checkpointing may recompute compiled code

    def size_multiple(self, n_active_enhancers: int | None = None) -> int:
        """Input heights and widths must be multiples of this with ``n_active_enhancers`` running."""
        raise NotImplementedError

    def run(self, x: torch.Tensor, *, n_active_enhancers: int | None = None, fade_alpha: float | torch.Tensor = 1.0,
            z: torch.Tensor | None = None) -> torch.Tensor:
        """The forward pass with whatever this generator takes besides its input (progressive growth, z)."""
        return self(x)

    def compile_units(self) -> list[nn.Module]:
        """The parts ``torch.compile`` compiles one by one (``hrgan.training.speed``): the whole network here."""
        return [self]

    def example_inputs(self, height: int, width: int) -> tuple[torch.Tensor, ...]:
        """Zero inputs of one sample at a size, as ``run`` takes them positionally (to trace it for export)."""
        return (torch.zeros(1, self.init_args["in_channels"], height, width),)

    def fixed_export_size(self, fmt: str) -> tuple[int, int] | None:
        """The (W, H) an export in ``fmt`` (``torchscript``, ``onnx``) must have, or None: any multiple."""
        return None

    def frozen_parts(self, n_active_enhancers: int) -> list[nn.Module]:
        """The parts that do not train while only the newest of ``n_active_enhancers`` enhancers does."""
        return []

    def stage_problems(self, resolution: tuple[int, int], n_enhancers: int, fade_in: bool) -> list[str]:
        """What stops a training stage at ``resolution`` with ``n_enhancers`` active (and faded in) running."""
        multiple = self.size_multiple(n_enhancers)
        width, height = resolution
        if width % multiple or height % multiple:
            return [f"resolution {width}x{height} is not a multiple of {multiple}, which the generator needs with "
                    f"{n_enhancers} local enhancer(s) active"]
        return []


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """pix2pixHD's normalisation: instance norm without affine parameters or running stats."""
    return nn.InstanceNorm2d(channels, affine=False)


NORMS = ("instance", "batch", "none")


def norm_layer(norm: str, channels: int) -> nn.Module | None:
    """The normalisation named ``norm`` (one of ``NORMS``) for ``channels``; None for "none".

    "instance" is ``instance_norm``; "batch" is ``nn.BatchNorm2d`` with affine parameters and running stats,
    as in pix2pix.
    """
    if norm == "instance":
        return instance_norm(channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return None
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


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
    """Recompute every residual block of ``network`` (pix2pixHD's, SPADE's: any module with a
    ``checkpointed`` flag) in backward instead of storing its activations.

    Trades about one extra forward of the blocks for their activation memory. Returns the number of blocks.
    """
    blocks = [m for m in network.modules() if hasattr(m, "checkpointed")]
    for block in blocks:
        block.checkpointed = enabled
    return len(blocks)


WEIGHT_INITS = ("pix2pixhd", "pix2pix")


def init_pix2pixhd_weights(module: nn.Module) -> None:
    """pix2pixHD's ``weights_init``: conv (and transposed conv) weights ~ N(0, 0.02), BatchNorm weights
    ~ N(1, 0.02) and biases 0.

    Conv biases keep PyTorch's default initialisation, as in the official code.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def init_pix2pix_weights(module: nn.Module) -> None:
    """pix2pix's ``init_weights(net, "normal", 0.02)``: as ``init_pix2pixhd_weights``, and conv biases 0."""
    init_pix2pixhd_weights(module)
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
            nn.init.zeros_(m.bias)


def init_weights(module: nn.Module, weight_init: str) -> None:
    """Initialise ``module`` the way ``weight_init`` (one of ``WEIGHT_INITS``) names."""
    if weight_init == "pix2pixhd":
        init_pix2pixhd_weights(module)
    elif weight_init == "pix2pix":
        init_pix2pix_weights(module)
    else:
        raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}")


def input_pyramid_downsample() -> nn.AvgPool2d:
    """The 2x downsampling used for input pyramids in G and D."""
    return nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)


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
