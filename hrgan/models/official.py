"""Load NVIDIA pix2pixHD state dicts (``latest_net_G/D/E.pth``) into our networks.

The official code stores its networks as flat ``nn.Sequential``s, so its keys
carry layer positions (``model.16.conv_block.1.weight``); ours carry names
(``blocks.0.conv_block.1.weight``). The tensors themselves are identical.

| official network              | our module               | official keys                    |
|-------------------------------|--------------------------|----------------------------------|
| ``--netG global``             | ``GlobalGenerator``      | ``model.N``                      |
| ``--netG local``              | ``Pix2PixHDGenerator``   | ``model.N``, ``model{n}_1/2.N``  |
| ``MultiscaleDiscriminator``   | ``MultiscaleDiscriminator`` | ``scale{k}_layer{j}.0``      |
| ``Encoder`` (``netE``)        | ``InstanceFeatureEncoder`` | ``model.N``                    |

Discriminator scale k keeps its index: official ``scale{k}`` and our
``discriminators[k]`` both see the input downsampled ``num_D - 1 - k`` times.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from hrgan.models.encoder import InstanceFeatureEncoder
from hrgan.models.generator import GlobalGenerator, Pix2PixHDGenerator

NETWORKS = ("global", "local", "discriminator", "encoder")

_SEQ_KEY = re.compile(r"^model\.(\d+)\.(.+)$")
_ENHANCER_KEY = re.compile(r"^model(\d+)_([12])\.(\d+)\.(.+)$")
_D_KEY = re.compile(r"^scale(\d+)_layer(\d+)\.(.+)$")


def detect_pix2pixhd_network(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Tell which official network a state dict belongs to: one of ``NETWORKS``."""
    keys = list(state_dict)
    if any(_D_KEY.match(k) for k in keys):
        return "discriminator"
    if any(_ENHANCER_KEY.match(k) for k in keys):
        return "local"
    if any(_SEQ_KEY.match(k) for k in keys):
        return "global" if any(".conv_block." in k for k in keys) else "encoder"
    raise ValueError(
        "not a pix2pixHD state dict: expected keys like 'model.1.weight', 'model1_1.1.weight' or "
        f"'scale0_layer0.0.weight', found {keys[:5]}"
    )


def _trunk_key_map(indices_with_params: dict[int, bool], *, has_head: bool) -> dict[int, str]:
    """Name each parametrised position of an official encoder-decoder Sequential.

    ``indices_with_params`` maps each position holding parameters to whether it is a
    residual block. The layout is: stem conv, n downsampling convs, residual blocks,
    n upsampling convs, then the head conv when ``has_head``.
    """
    positions = sorted(indices_with_params)
    blocks = [i for i in positions if indices_with_params[i]]
    convs = [i for i in positions if not indices_with_params[i]]
    stem, rest = convs[0], convs[1:]
    head = rest.pop() if has_head else None
    if len(rest) % 2:
        raise ValueError(f"unexpected official layout: {len(rest)} resampling convolutions (expected an even number)")
    n_down = len(rest) // 2
    names = {stem: "stem.1"}
    names.update({i: f"down.{j}.0" for j, i in enumerate(rest[:n_down])})
    names.update({i: f"blocks.{j}" for j, i in enumerate(blocks)})
    names.update({i: f"up.{j}.0" for j, i in enumerate(rest[n_down:])})
    if head is not None:
        names[head] = "head.1"
    return names


def _convert_trunk(state_dict: Mapping[str, torch.Tensor], *, prefix: str, has_head: bool) -> dict[str, torch.Tensor]:
    parsed = {}
    for key, value in state_dict.items():
        m = _SEQ_KEY.match(key)
        if m:
            parsed[key] = (int(m.group(1)), m.group(2), value)
    is_block: dict[int, bool] = {}
    for index, rest, _ in parsed.values():
        is_block[index] = is_block.get(index, False) or rest.startswith("conv_block.")
    names = _trunk_key_map(is_block, has_head=has_head)
    return {f"{prefix}{names[index]}.{rest}": value for index, rest, value in parsed.values()}


def _convert_enhancers(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    converted = {}
    for key, value in state_dict.items():
        m = _ENHANCER_KEY.match(key)
        if not m:
            continue
        level, part, index, rest = int(m.group(1)) - 1, m.group(2), int(m.group(3)), m.group(4)
        if part == "1":  # downsampling branch: identical Sequential positions
            name = f"stem.{index}"
        elif rest.startswith("conv_block."):
            name = f"blocks.{index}"
        else:
            n_blocks = sum(1 for k in state_dict if k.startswith(f"model{level + 1}_2.") and ".conv_block.1.weight" in k)
            offsets = {n_blocks: "up.0", n_blocks + 4: "head.1"}
            if index not in offsets:
                raise ValueError(f"unexpected position in official key {key!r}")
            name = offsets[index]
        converted[f"enhancers.{level}.{name}.{rest}"] = value
    return converted


def convert_pix2pixhd_state_dict(
    state_dict: Mapping[str, torch.Tensor], *, network: str | None = None
) -> dict[str, torch.Tensor]:
    """Rename an official pix2pixHD state dict's keys to ours; tensors are passed through untouched.

    Args:
        state_dict: as saved by pix2pixHD (``torch.load("latest_net_G.pth")``); a
            ``module.`` prefix from DataParallel is stripped.
        network: one of ``NETWORKS``; detected from the keys when None.

    Returns:
        A state dict that loads with ``strict=True`` into ``GlobalGenerator`` (global),
        ``Pix2PixHDGenerator`` with ``keep_coarse_heads=False`` (local),
        ``MultiscaleDiscriminator`` (discriminator) or ``InstanceFeatureEncoder`` (encoder)
        built with the matching sizes.
    """
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    network = network or detect_pix2pixhd_network(state_dict)
    if network == "global":
        converted = _convert_trunk(state_dict, prefix="", has_head=True)
    elif network == "encoder":
        converted = _convert_trunk(state_dict, prefix="backbone.", has_head=True)
    elif network == "local":
        converted = _convert_trunk(state_dict, prefix="global_generator.", has_head=False)
        converted.update(_convert_enhancers(state_dict))
    elif network == "discriminator":
        converted = {}
        for key, value in state_dict.items():
            m = _D_KEY.match(key)
            if m:
                converted[f"discriminators.{m.group(1)}.layers.{m.group(2)}.{m.group(3)}"] = value
    else:
        raise ValueError(f"unknown network {network!r}; choose one of {NETWORKS}")
    if len(converted) != len(state_dict):
        pattern = _D_KEY if network == "discriminator" else re.compile(f"{_SEQ_KEY.pattern}|{_ENHANCER_KEY.pattern}")
        unknown = [k for k in state_dict if not pattern.match(k)]
        raise ValueError(f"keys not part of an official {network} network: {unknown[:10]}")
    return converted


def _count(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    found = {m.group(1) for k in state if (m := re.match(pattern, k))}
    return len(found)


def build_from_pix2pixhd(state_dict: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """Our network for an official generator (global or local) or encoder state dict, sizes read off
    its tensors, loaded with ``strict=True`` (so any disagreement raises)."""
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    network = detect_pix2pixhd_network(state_dict)
    state = convert_pix2pixhd_state_dict(state_dict, network=network)
    if network == "global":
        stem, head = state["stem.1.weight"], state["head.1.weight"]
        module = GlobalGenerator(in_channels=stem.shape[1], out_channels=head.shape[0], ngf=stem.shape[0],
                                 n_downsample=_count(state, r"^down\.(\d+)\."), n_blocks=_count(state, r"^blocks\.(\d+)\."))
    elif network == "encoder":
        stem, head = state["backbone.stem.1.weight"], state["backbone.head.1.weight"]
        module = InstanceFeatureEncoder(in_channels=stem.shape[1], feat_num=head.shape[0], nef=stem.shape[0],
                                        n_downsample=_count(state, r"^backbone\.down\.(\d+)\."))
    elif network == "local":
        n_local = _count(state, r"^enhancers\.(\d+)\.")
        finest = f"enhancers.{n_local - 1}."
        stem, head = state[finest + "stem.1.weight"], state[finest + "head.1.weight"]
        module = Pix2PixHDGenerator(
            in_channels=stem.shape[1], out_channels=head.shape[0], ngf=stem.shape[0],
            n_downsample_global=_count(state, r"^global_generator\.down\.(\d+)\."),
            n_blocks_global=_count(state, r"^global_generator\.blocks\.(\d+)\."),
            n_local_enhancers=n_local, n_blocks_local=_count(state, r"^enhancers\.0\.blocks\.(\d+)\."),
        )
    else:
        raise ValueError(f"a pix2pixHD {network} state dict is not a generator or an encoder")
    module.load_state_dict(state, strict=True)
    return module.eval()
