"""pix2pix's networks' layouts, written out nested as junyanz/pytorch-CycleGAN-and-pix2pix stores them.

Used only by tests, as an independent oracle: weights in this layout, renamed by
``convert_pix2pix_state_dict``, must make our networks compute the same outputs. Keys are the
reference's (``model.model.1.model.3.model.1.weight`` for the U-Net, ``model.N`` for the PatchGAN),
batch norm as pix2pix trains; each LeakyReLU acts in place on its block's input, as there.
"""

from __future__ import annotations

import torch
from torch import nn


class Wrapped(nn.Module):
    """Holds the network as ``model``, the reference's outermost attribute."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


class SkipBlock(nn.Module):
    """One U-Net depth: [x, model(x)] concatenated, except at the outermost."""

    def __init__(self, layers, *, outermost=False):
        super().__init__()
        self.outermost = outermost
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def _block(outer, inner, sub, dropout=False):
    layers = [nn.LeakyReLU(0.2, True), nn.Conv2d(outer, inner, 4, 2, 1, bias=False), nn.BatchNorm2d(inner), sub,
              nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
    return SkipBlock(layers + ([nn.Dropout(0.5)] if dropout else []))


def unet(input_nc, output_nc, num_downs, ngf, use_dropout=False):
    c = ngf * 8
    block = SkipBlock([nn.LeakyReLU(0.2, True), nn.Conv2d(c, c, 4, 2, 1, bias=False),
                       nn.ReLU(True), nn.ConvTranspose2d(c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c)])
    for _ in range(num_downs - 5):
        block = _block(c, c, block, use_dropout)
    for outer in (ngf * 4, ngf * 2, ngf):
        block = _block(outer, outer * 2, block)
    outermost = SkipBlock([nn.Conv2d(input_nc, ngf, 4, 2, 1, bias=False), block, nn.ReLU(True),
                           nn.ConvTranspose2d(ngf * 2, output_nc, 4, 2, 1), nn.Tanh()], outermost=True)
    return Wrapped(outermost)


def nlayer_discriminator(input_nc, ndf=64, n_layers=3):
    layers = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    channels = ndf
    for n in range(1, n_layers + 1):
        out = ndf * min(2**n, 8)
        layers += [nn.Conv2d(channels, out, 4, 2 if n < n_layers else 1, 1, bias=False), nn.BatchNorm2d(out),
                   nn.LeakyReLU(0.2, True)]
        channels = out
    return Wrapped(nn.Sequential(*layers, nn.Conv2d(channels, 1, 4, 1, 1)))


def randomize_norms(network: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    for m in network.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(c, generator=g))
                m.bias.copy_(0.2 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
    return network
