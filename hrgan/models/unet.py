"""pix2pix's U-Net generator (``unet_256`` / ``unet_128``).

The reference (junyanz/pytorch-CycleGAN-and-pix2pix, ``UnetGenerator``) nests one
``UnetSkipConnectionBlock`` per depth; here the same layers sit in two flat lists indexed by
depth d (0 = outermost, ``num_downs - 1`` = innermost): ``down[d]`` and ``up[d]``
(``hrgan.models.pix2pix`` renames a reference state dict to these keys).

| depth d        | ``down[d]``             | ``up[d]``                          |
|----------------|-------------------------|------------------------------------|
| 0              | conv, LeakyReLU         | ReLU, convT, Tanh                  |
| 1 .. n-2       | conv, norm, LeakyReLU   | ReLU, convT, norm (, Dropout)      |
| n-1            | conv                    | ReLU, convT, norm                  |

The reference applies each LeakyReLU in place at the start of the next block, so the tensor
it concatenates as the skip is already activated; ``down[d]`` ending with the LeakyReLU computes
the same (the encoder C64-C128-... of the pix2pix paper, with Ck = conv-norm-LeakyReLU).
"""

from __future__ import annotations

import torch
from torch import nn

from hrgan.models.layers import GeneratorNetwork, init_pix2pix_weights, norm_layer

UNET_NORMS = ("batch", "instance")


class UNetGenerator(GeneratorNetwork):
    """pix2pix's U-Net: ``num_downs`` conv4 stride-2 layers down to 1x1, transposed convs back up,
    each decoder level concatenating [encoder features, decoder features].

    Widths are ngf * (1, 2, 4, 8, 8, ...). With ``use_dropout``, the decoder levels of width
    ngf * 8 between the innermost and depth 4 (three for unet_256, two for unet_128) end with
    Dropout(0.5), active in train mode only. Weights follow pix2pix's ``init_weights("normal", 0.02)``.
    unet_256 (``num_downs=8``) from 3 to 3 channels has 54,413,955 parameters, unet_128 41,828,995.

    Args:
        in_channels: input channels (3 for an image, the label-map channels for semantic inputs).
        out_channels: output image channels.
        num_downs: stride-2 layers (unet_256: 8, unet_128: 7); at least 5.
        ngf: width of the outermost layer.
        norm: "batch" (convs without bias) or "instance" (no affine parameters nor running stats; convs with bias).
        use_dropout: Dropout(0.5) in the innermost ngf * 8 decoder levels, as pix2pix trains.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = True,
    ) -> None:
        super().__init__()
        if norm not in UNET_NORMS:
            raise ValueError(f"norm must be one of {UNET_NORMS}, got {norm!r}")
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (the reference builds 5 levels for any fewer), got {num_downs}")
        self.num_downs = num_downs
        bias = norm == "instance"
        innermost = num_downs - 1
        width = [ngf * min(2**d, 8) for d in range(num_downs)]  # down[d]'s output channels
        down, up = [], []
        for d in range(num_downs):
            layers: list[nn.Module] = [nn.Conv2d(in_channels if d == 0 else width[d - 1], width[d], 4, 2, 1, bias=bias)]
            if 0 < d < innermost:
                layers.append(norm_layer(norm, width[d]))
            if d < innermost:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            down.append(nn.Sequential(*layers))

            up_in = width[d] if d == innermost else 2 * width[d]
            if d == 0:
                layers = [nn.ReLU(inplace=True), nn.ConvTranspose2d(up_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [nn.ReLU(inplace=True), nn.ConvTranspose2d(up_in, width[d - 1], 4, 2, 1, bias=bias),
                          norm_layer(norm, width[d - 1])]
                if use_dropout and 4 <= d < innermost:
                    layers.append(nn.Dropout(0.5))
            up.append(nn.Sequential(*layers))
        self.down = nn.ModuleList(down)
        self.up = nn.ModuleList(up)
        init_pix2pix_weights(self)

    min_size_multiples = 1  # inference pads to one multiple: the innermost level is 1x1 at size_multiple()

    def size_multiple(self, n_active_enhancers: int | None = None) -> int:
        """Input heights and widths must be multiples of this (``n_active_enhancers``: None or 0, there are none)."""
        if n_active_enhancers:
            raise ValueError(f"a UNetGenerator has no local enhancers, got n_active_enhancers={n_active_enhancers}")
        return 2**self.num_downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in, H, W] -> image [B, out, H, W] in [-1, 1] (H and W multiples of ``size_multiple()``)."""
        skips = []
        for layer in self.down:
            x = layer(x)  # [B, width[d], H / 2**(d+1), W / 2**(d+1)]
            skips.append(x)
        x = self.up[-1](skips.pop())
        for d in reversed(range(self.num_downs - 1)):
            x = self.up[d](torch.cat([skips.pop(), x], 1))  # [B, 2 * width[d], ...] -> twice the size
        return x

