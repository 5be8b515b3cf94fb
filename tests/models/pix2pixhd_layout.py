"""The official pix2pixHD networks' layouts, written out flat as NVIDIA's code stores them.

Used only by tests, as an independent oracle: weights in this layout, renamed by
``convert_pix2pixhd_state_dict``, must make our networks compute the same outputs.
Keys match ``../shared/reference/pix2pixhd/`` (``model.N``, ``model{n}_1``, ``scale{k}_layer{j}``).
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(c):
    return nn.InstanceNorm2d(c, affine=False)


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), _norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), _norm(dim),
        )

    def forward(self, x):
        return x + self.conv_block(x)


def global_layers(input_nc, output_nc, ngf, n_down, n_blocks):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), _norm(ngf), nn.ReLU(True)]
    for i in range(n_down):
        m = 2**i
        layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1), _norm(ngf * m * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 2**n_down) for _ in range(n_blocks)]
    for i in range(n_down):
        m = 2 ** (n_down - i)
        layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1), _norm(ngf * m // 2), nn.ReLU(True)]
    return layers + [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]


class OfficialGlobal(nn.Module):
    def __init__(self, input_nc, output_nc=3, ngf=8, n_down=2, n_blocks=2):
        super().__init__()
        self.model = nn.Sequential(*global_layers(input_nc, output_nc, ngf, n_down, n_blocks))

    def forward(self, x):
        return self.model(x)


class OfficialLocal(nn.Module):
    def __init__(self, input_nc, output_nc=3, ngf=4, n_down=2, n_blocks=2, n_local=1, n_blocks_local=2):
        super().__init__()
        self.n_local = n_local
        self.model = nn.Sequential(*global_layers(input_nc, output_nc, ngf * 2**n_local, n_down, n_blocks)[:-3])
        for n in range(1, n_local + 1):
            g = ngf * 2 ** (n_local - n)
            down = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, g, 7), _norm(g), nn.ReLU(True),
                    nn.Conv2d(g, g * 2, 3, stride=2, padding=1), _norm(g * 2), nn.ReLU(True)]
            up = [ResnetBlock(g * 2) for _ in range(n_blocks_local)]
            up += [nn.ConvTranspose2d(g * 2, g, 3, 2, 1, output_padding=1), _norm(g), nn.ReLU(True)]
            if n == n_local:
                up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*down))
            setattr(self, f"model{n}_2", nn.Sequential(*up))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x):
        pyramid = [x]
        for _ in range(self.n_local):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_local + 1):
            out = getattr(self, f"model{n}_2")(getattr(self, f"model{n}_1")(pyramid[self.n_local - n]) + out)
        return out


class OfficialMultiscaleD(nn.Module):
    def __init__(self, input_nc, ndf=8, n_layers=3, num_D=3):
        super().__init__()
        self.num_D, self.n_layers = num_D, n_layers
        for i in range(num_D):
            seq = [[nn.Conv2d(input_nc, ndf, 4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]]
            nf = ndf
            for _ in range(1, n_layers):
                prev, nf = nf, min(nf * 2, 512)
                seq += [[nn.Conv2d(prev, nf, 4, stride=2, padding=2), _norm(nf), nn.LeakyReLU(0.2, True)]]
            prev, nf = nf, min(nf * 2, 512)
            seq += [[nn.Conv2d(prev, nf, 4, stride=1, padding=2), _norm(nf), nn.LeakyReLU(0.2, True)]]
            seq += [[nn.Conv2d(nf, 1, 4, stride=1, padding=2)]]
            for j, layer in enumerate(seq):
                setattr(self, f"scale{i}_layer{j}", nn.Sequential(*layer))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x):
        result = []
        for i in range(self.num_D):
            feats = [x]
            for j in range(self.n_layers + 2):
                feats.append(getattr(self, f"scale{self.num_D - 1 - i}_layer{j}")(feats[-1]))
            result.append(feats[1:])
            if i != self.num_D - 1:
                x = self.downsample(x)
        return result


class OfficialEncoder(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, ngf=4, n_down=2):
        super().__init__()
        self.output_nc = output_nc
        self.model = nn.Sequential(*global_layers(input_nc, output_nc, ngf, n_down, 0))

    def forward(self, image, inst):
        """Official instance-wise average pooling: a Python loop over ids, images and channels."""
        outputs = self.model(image)
        return loop_instance_average(outputs, inst)


def loop_instance_average(outputs, inst):
    means = outputs.clone()
    for i in torch.unique(inst).tolist():
        for b in range(outputs.shape[0]):
            mask = inst[b] == i
            if mask.any():
                for j in range(outputs.shape[1]):
                    means[b, j][mask] = outputs[b, j][mask].mean()
    return means
