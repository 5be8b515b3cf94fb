"""VGG19 convolution stack for the perceptual loss, laid out like torchvision's ``vgg19().features``."""

from __future__ import annotations

import torch
from torch import nn

# torchvision's configuration "E" up to relu5_1; "M" is a 2x2 max pool.
_VGG19_UP_TO_RELU5_1 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)

# Exclusive end indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
VGG19_SLICE_ENDS = (2, 7, 12, 21, 30)
VGG19_LAYER_NAMES = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


class VGG19Features(nn.Module):
    """The first 30 layers of torchvision's VGG19 (through relu5_1), returning five activations.

    State-dict keys are ``features.N.weight`` / ``features.N.bias`` with torchvision's N,
    so torchvision's ``vgg19-dcbb9e9d.pth`` loads after dropping the layers past relu5_1
    and the classifier (see ``hrgan.pretrained.load_vgg19_features``).
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in _VGG19_UP_TO_RELU5_1:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]  # as torchvision's
                channels = v
        self.features = nn.Sequential(*layers)
        assert len(self.features) == VGG19_SLICE_ENDS[-1]

    def compile_units(self) -> list[nn.Module]:
        """Compiled whole (``hrgan.training.speed``)."""
        return [self]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[B, 3, H, W] -> [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1] activations."""
        outputs = []
        start = 0
        for end in VGG19_SLICE_ENDS:
            for layer in self.features[start:end]:
                x = layer(x)
            outputs.append(x)
            start = end
        return outputs
