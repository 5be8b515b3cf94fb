"""Load pix2pix state dicts (junyanz/pytorch-CycleGAN-and-pix2pix, ``latest_net_G/D.pth``) into our networks.

| reference network (keys)                             | our module                                                    |
|------------------------------------------------------|---------------------------------------------------------------|
| ``UnetGenerator``, unet_256/128 (``model.model.*``)  | ``UNetGenerator``                                             |
| ``NLayerDiscriminator``, 'basic' (``model.N``)       | ``MultiscaleDiscriminator(num_D=1, norm="batch", padding=1)`` |

The tensors are unchanged; only the keys are renamed (see ``hrgan.models.unet`` for the U-Net's layout).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

_UNET_KEY = re.compile(r"^model\.model\.((?:\d+\.model\.)*)(\d+)\.(.+)$")
_SEQ_KEY = re.compile(r"^model\.(\d+)\.(.+)$")


def convert_pix2pix_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a pix2pix ``UnetGenerator`` or ``NLayerDiscriminator`` state dict to our keys.

    A generator's keys (``model.model.1.model.3.model.1.weight``) become ``UNetGenerator``'s
    (``down.2.0.weight``); a discriminator's (``model.2.weight``) become those of a one-scale
    ``MultiscaleDiscriminator`` (``discriminators.0.layers.1.0.weight``). Load the result with
    ``strict=True`` into a network of the same size and norm.
    """
    keys = list(state_dict)
    if keys and all(_UNET_KEY.match(k) for k in keys):
        return _convert_unet(state_dict)
    if keys and all(_SEQ_KEY.match(k) for k in keys):
        return _convert_nlayer(state_dict)
    raise ValueError(
        "not a pix2pix UnetGenerator or NLayerDiscriminator state dict: expected keys like "
        f"'model.model.1.model.3.weight' or 'model.2.weight', found {keys[:5]}"
    )


def _convert_unet(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    parsed = []
    for key, value in state_dict.items():
        m = _UNET_KEY.match(key)
        nesting = m.group(1).split(".model.")[:-1]  # the submodule's index in each block above this one
        if nesting and (nesting[0] != "1" or any(i != "3" for i in nesting[1:])):
            raise ValueError(f"not a pix2pix UnetGenerator key: {key!r}")
        parsed.append((len(nesting), int(m.group(2)), m.group(3), value))
    innermost = max(depth for depth, *_ in parsed)
    converted = {}
    for depth, index, rest, value in parsed:
        if depth == 0:  # [conv, submodule, ReLU, convT, Tanh]
            positions = {0: "down.0.0", 3: "up.0.1"}
        elif depth == innermost:  # [LeakyReLU, conv, ReLU, convT, norm]
            positions = {1: f"down.{depth}.0", 3: f"up.{depth}.1", 4: f"up.{depth}.2"}
        else:  # [LeakyReLU, conv, norm, submodule, ReLU, convT, norm (, Dropout)]
            positions = {1: f"down.{depth}.0", 2: f"down.{depth}.1", 5: f"up.{depth}.1", 6: f"up.{depth}.2"}
        if index not in positions:
            raise ValueError(f"unexpected pix2pix UnetGenerator key at depth {depth}: {index}.{rest}")
        converted[f"{positions[index]}.{rest}"] = value
    return converted


def _convert_nlayer(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each conv (4-d weight) starts one of our layers; a norm after it is that layer's ``.1``."""
    by_position: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        m = _SEQ_KEY.match(key)
        by_position.setdefault(int(m.group(1)), {})[m.group(2)] = value
    converted, layer = {}, -1
    for position in sorted(by_position):
        params = by_position[position]
        weight = params.get("weight")
        if weight is not None and weight.dim() == 4:
            layer, part = layer + 1, 0
        elif layer >= 0:
            part = 1
        else:
            raise ValueError(f"pix2pix NLayerDiscriminator: model.{position} (a norm) comes before any conv")
        converted.update({f"discriminators.0.layers.{layer}.{part}.{name}": v for name, v in params.items()})
    return converted
