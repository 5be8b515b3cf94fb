import torch

from hrgan.models import VGG19Features

# torchvision's vgg19().features positions of the 13 convolutions up to conv5_1.
TORCHVISION_CONV_POSITIONS = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28]


def test_state_dict_keys_follow_torchvision():
    keys = list(VGG19Features().state_dict())
    assert keys == [f"features.{i}.{p}" for i in TORCHVISION_CONV_POSITIONS for p in ("weight", "bias")]


def test_returns_relu1_1_to_relu5_1():
    vgg = VGG19Features()
    outputs = vgg(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outputs] == [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4)]
    assert all((o >= 0).all() for o in outputs)  # each is taken after a ReLU
    # relu1_1 is the first conv + ReLU, nothing more.
    first = torch.relu(vgg.features[0](torch.ones(1, 3, 16, 16)))
    torch.testing.assert_close(vgg(torch.ones(1, 3, 16, 16))[0], first)
