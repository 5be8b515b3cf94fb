"""SPADE (Park et al., CVPR 2019): the spatially-adaptive generator and the VAE style encoder.

State-dict keys are NVlabs/SPADE's own (``fc``, ``head_0``, ``G_middle_0``, ``up_0`` ... ``conv_img``;
``conv_0`` / ``conv_1`` / ``conv_s`` and ``norm_0`` / ``norm_1`` / ``norm_s`` in a block; ``param_free_norm``,
``mlp_shared.0``, ``mlp_gamma``, ``mlp_beta`` in a SPADE layer), and spectral norm is torch's
``nn.utils.spectral_norm`` (``weight_orig``, ``weight_u``, ``weight_v``), so official weights load as they are.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm
from torch.utils.checkpoint import checkpoint

from hrgan.models.layers import GeneratorNetwork, RecordsInitArgs

UPSAMPLING_LAYERS = {"normal": 5, "more": 6, "most": 7}


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class SPADE(nn.Module):
    """Parameter-free batch norm, then per-pixel scale and shift predicted from the label map resized to x.

    The batch norm becomes SyncBatchNorm under DDP (``trainer.sync_batchnorm``), as SPADE's synchronized one.
    """

    def __init__(self, *, channels: int, label_channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.param_free_norm = nn.BatchNorm2d(channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        normalized = self.param_free_norm(x)
        features = self.mlp_shared(F.interpolate(segmap, size=x.shape[2:], mode="nearest"))
        return normalized * (1 + self.mlp_gamma(features)) + self.mlp_beta(features)


@contextlib.contextmanager
def replaying(module: nn.Module):
    """Recompute ``module`` in backward (activation checkpointing) without repeating its forward's side effects:
    spectral norm's power iteration (the convs compute their weight from the u and v the forward left, as in
    eval mode) and the batch norms' running statistics (momentum 0, the batch count put back)."""
    convs = [m for m in module.modules() if hasattr(m, "weight_orig")]
    norms = [(m, m.momentum, m.num_batches_tracked.clone()) for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.num_batches_tracked is not None]
    modes = [m.training for m in convs]
    for m in convs:
        m.training = False
    for m, _, _ in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, mode in zip(convs, modes, strict=True):
            m.training = mode
        for m, momentum, count in norms:
            m.momentum = momentum
            m.num_batches_tracked.copy_(count)


class SPADEResnetBlock(nn.Module):
    """Two SPADE-normalised, spectral-normed 3x3 convs with a (learned, when the width changes) shortcut.

    With ``checkpointed`` set (``hrgan.models.set_activation_checkpointing``) a training forward keeps only the
    block's inputs and recomputes the inside during backward.
    """

    def __init__(self, *, in_channels: int, out_channels: int, label_channels: int) -> None:
        super().__init__()
        self.checkpointed = False
        self.learned_shortcut = in_channels != out_channels
        middle = min(in_channels, out_channels)
        self.conv_0 = spectral_norm(nn.Conv2d(in_channels, middle, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(middle, out_channels, 3, padding=1))
        self.norm_0 = SPADE(channels=in_channels, label_channels=label_channels)
        self.norm_1 = SPADE(channels=middle, label_channels=label_channels)
        if self.learned_shortcut:
            self.conv_s = spectral_norm(nn.Conv2d(in_channels, out_channels, 1, bias=False))
            self.norm_s = SPADE(channels=in_channels, label_channels=label_channels)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        if self.checkpointed and torch.is_grad_enabled() and x.requires_grad:
            calls = []

            def run(x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
                calls.append(None)
                with replaying(self) if len(calls) > 1 else contextlib.nullcontext():
                    return self._forward(x, segmap)

            return checkpoint(run, x, segmap, use_reentrant=False)
        return self._forward(x, segmap)

    def _forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, segmap)) if self.learned_shortcut else x
        dx = self.conv_0(_leaky(self.norm_0(x, segmap)))
        dx = self.conv_1(_leaky(self.norm_1(dx, segmap)))
        return shortcut + dx


def init_spade_weights(module: nn.Module, gain: float = 0.02) -> None:
    """SPADE's ``init_weights('xavier', 0.02)``: conv and linear weights xavier-normal, biases 0 (the
    spectral-normed weight's ``weight_orig`` included)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_normal_(getattr(m, "weight_orig", m.weight), gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class SPADEGenerator(GeneratorNetwork):
    """SPADE's generator: a downsampled label map (or, with the VAE, z through a linear layer) upsampled
    through SPADE residual blocks, each modulated by the label map.

    Cityscapes settings (in_channels 36, ngf 64) have 93,048,003 parameters, ADE20K's (151) 96,492,483,
    with the VAE (z_dim 256, latent 16x8) 126,400,707.

    Args:
        in_channels: the label map's channels (one-hot + instance edges).
        out_channels: image channels.
        ngf: width; the first blocks have 16 * ngf channels.
        num_upsampling_layers: ``normal`` (5 upsamplings), ``more`` (6) or ``most`` (7, with a fifth up block).
        z_dim: the VAE's latent size (0: no VAE; the input is the downsampled label map).
        latent_size: (W, H) of the first feature map with the VAE: the output size / 2**upsamplings
            (SPADE's crop_size / 2**n and its aspect ratio; 16x8 for 512x256).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int = 3,
        ngf: int = 64,
        num_upsampling_layers: str = "normal",
        z_dim: int = 0,
        latent_size: tuple[int, int] = (16, 8),
    ) -> None:
        super().__init__()
        if num_upsampling_layers not in UPSAMPLING_LAYERS:
            raise ValueError(f"num_upsampling_layers must be one of {sorted(UPSAMPLING_LAYERS)}, got {num_upsampling_layers!r}")
        self.num_upsampling_layers, self.z_dim = num_upsampling_layers, z_dim
        self.latent_size = tuple(latent_size)
        nf = ngf
        if z_dim:
            self.fc = nn.Linear(z_dim, 16 * nf * self.latent_size[0] * self.latent_size[1])
        else:
            self.fc = nn.Conv2d(in_channels, 16 * nf, 3, padding=1)

        def block(fin: int, fout: int) -> SPADEResnetBlock:
            return SPADEResnetBlock(in_channels=fin, out_channels=fout, label_channels=in_channels)

        self.head_0 = block(16 * nf, 16 * nf)
        self.G_middle_0 = block(16 * nf, 16 * nf)
        self.G_middle_1 = block(16 * nf, 16 * nf)
        self.up_0 = block(16 * nf, 8 * nf)
        self.up_1 = block(8 * nf, 4 * nf)
        self.up_2 = block(4 * nf, 2 * nf)
        self.up_3 = block(2 * nf, nf)
        final = nf
        if num_upsampling_layers == "most":
            self.up_4 = block(nf, nf // 2)
            final = nf // 2
        self.conv_img = nn.Conv2d(final, out_channels, 3, padding=1)
        init_spade_weights(self)

    min_size_multiples = 1  # no reflection padding at the bottom: one multiple is enough
    checkpoints_under_compile = False  # its recomputation must not repeat spectral norm's power iteration

    def size_multiple(self, n_active_enhancers: int | None = None) -> int:
        """Input heights and widths must be multiples of this (2 ** upsamplings)."""
        if n_active_enhancers:
            raise ValueError(f"a SPADEGenerator has no local enhancers, got n_active_enhancers={n_active_enhancers}")
        return 2 ** UPSAMPLING_LAYERS[self.num_upsampling_layers]

    def run(self, x: torch.Tensor, *, n_active_enhancers: int | None = None, fade_alpha: float | torch.Tensor = 1.0,
            z: torch.Tensor | None = None) -> torch.Tensor:
        return self(x, z=z) if self.z_dim else self(x)

    def example_inputs(self, height: int, width: int) -> tuple[torch.Tensor, ...]:
        return super().example_inputs(height, width) + ((torch.zeros(1, self.z_dim),) if self.z_dim else ())

    def fixed_export_size(self, fmt: str) -> tuple[int, int] | None:
        """The VAE's ONNX graph has the latent map's size: ONNX's shape inference loses its channels through a
        resize of dynamic size."""
        if not (self.z_dim and fmt == "onnx"):
            return None
        width, height = self.latent_size
        return width * self.size_multiple(), height * self.size_multiple()

    def stage_problems(self, resolution: tuple[int, int], n_enhancers: int, fade_in: bool) -> list[str]:
        """A resolution off the multiple, or (the VAE) a latent map not of the resolution's size."""
        found = super().stage_problems(resolution, n_enhancers, fade_in)
        width, height = resolution
        multiple = self.size_multiple()
        if not found and self.z_dim and tuple(self.latent_size) != (width // multiple, height // multiple):
            found.append(f"resolution {width}x{height} needs the VAE generator's latent_size "
                         f"[{width // multiple}, {height // multiple}] (resolution / {multiple}), got {list(self.latent_size)}")
        return found

    def forward(self, segmap: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """[B, in, H, W] label map (H, W multiples of ``size_multiple()``) -> image [B, out, H, W] in [-1, 1].

        With the VAE, ``z`` [B, z_dim] is the style (encoded from a photo, or None: drawn from N(0, 1)).
        Its linear layer makes a ``latent_size`` map, the map of the training size; at other sizes that map
        is resized (bilinear) to H, W / 2**upsamplings, which SPADE itself does not do.
        """
        n = UPSAMPLING_LAYERS[self.num_upsampling_layers]
        height, width = segmap.shape[2] // 2**n, segmap.shape[3] // 2**n
        if self.z_dim:
            if z is None:
                z = torch.randn(segmap.shape[0], self.z_dim, device=segmap.device, dtype=segmap.dtype)
            x = self.fc(z).view(segmap.shape[0], -1, self.latent_size[1], self.latent_size[0])
            # always (a same-size bilinear resize is exact), so that a TorchScript trace keeps it for other sizes;
            # ONNX graphs of the VAE have the latent map's size (hrgan.inference.standalone): no resize there
            if not torch.onnx.is_in_onnx_export():
                x = F.interpolate(x, size=(height, width), mode="bilinear")
        else:
            x = self.fc(F.interpolate(segmap, size=(height, width)))
        x = self.head_0(x, segmap)
        x = F.interpolate(x, scale_factor=2)
        x = self.G_middle_0(x, segmap)
        if n >= 6:
            x = F.interpolate(x, scale_factor=2)
        x = self.G_middle_1(x, segmap)
        for up in (self.up_0, self.up_1, self.up_2, self.up_3):
            x = up(F.interpolate(x, scale_factor=2), segmap)
        if n == 7:
            x = self.up_4(F.interpolate(x, scale_factor=2), segmap)
        return torch.tanh(self.conv_img(_leaky(x)))


class SPADEStyleEncoder(RecordsInitArgs):
    """SPADE's VAE encoder (ConvEncoder): a photo, resized to 256x256, to the mean and log-variance of z.

    Six spectral-normed, instance-normed 3x3 stride-2 convs (256 -> 4) and two linear layers: 10,463,424
    parameters at ngf 64, z_dim 256 (SPADE's for crops of 256 and more).
    """

    def __init__(self, *, ngf: int = 64, z_dim: int = 256) -> None:
        super().__init__()
        widths = [3, ngf, ngf * 2, ngf * 4, ngf * 8, ngf * 8, ngf * 8]
        for i, (fin, fout) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            conv = spectral_norm(nn.Conv2d(fin, fout, 3, stride=2, padding=1, bias=False))
            setattr(self, f"layer{i}", nn.Sequential(conv, nn.InstanceNorm2d(fout, affine=False)))
        self.num_layers = len(widths) - 1
        self.fc_mu = nn.Linear(ngf * 8 * 4 * 4, z_dim)
        self.fc_var = nn.Linear(ngf * 8 * 4 * 4, z_dim)
        init_spade_weights(self)

    def forward(self, photo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 3, H, W] in [-1, 1] -> (mu, logvar), each [B, z_dim]."""
        x = photo
        if x.shape[2:] != (256, 256):
            x = F.interpolate(x, size=(256, 256), mode="bilinear")
        for i in range(1, self.num_layers + 1):
            x = getattr(self, f"layer{i}")(x if i == 1 else _leaky(x))
        x = _leaky(x).flatten(1)
        return self.fc_mu(x), self.fc_var(x)
