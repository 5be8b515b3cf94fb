"""NVIDIA pix2pixHD generator weights (latest_net_G.pth) as an hrgan inference export (behind ``hrgan import-pix2pixhd``).

The network's sizes (global or local, ngf, blocks, enhancers, input channels)
are read off the weights; the options given are checked against them. Files are
read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hrgan.artifacts import make_export
from hrgan.data.classes import load_classes
from hrgan.models import GlobalGenerator, Pix2PixHDGenerator, build_from_pix2pixhd


def _load(path: Path, what: str):
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file")
    try:
        return build_from_pix2pixhd(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # unreadable, pickled code, not an official layout
        raise ValueError(f"{path}: not a pix2pixHD {what} state dict ({error})") from error


class OptionMismatch(ValueError):
    """An option given by the user disagrees with what the weights are."""


def build_export(
    generator_path: Path,
    *,
    label_nc: int,
    input_nc: int = 3,
    use_instance_edges: bool = True,
    encoder_path: Path | None = None,
    netG: str | None = None,
    ngf: int | None = None,
    ignore_index: int | None = None,
    classes: str | None = None,
) -> dict:
    """The export dict for official weights; ``OptionMismatch`` when an option disagrees with them,
    ``ValueError`` when a file is not a pix2pixHD state dict."""
    generator = _load(generator_path, "generator")
    if isinstance(generator, GlobalGenerator):
        net, width, n_local = "global", generator.init_args["ngf"], 0
    elif isinstance(generator, Pix2PixHDGenerator):
        net, width, n_local = "local", generator.init_args["ngf"], generator.init_args["n_local_enhancers"]
    else:
        raise ValueError(f"{generator_path}: holds an encoder, not a generator (give it as --encoder)")
    if netG and netG != net:
        raise OptionMismatch(f"{generator_path}: --netG {netG}, but the weights are a {net} generator")
    if ngf and ngf != width:
        raise OptionMismatch(f"{generator_path}: --ngf {ngf}, but the weights have ngf {width}")
    encoder = _load(encoder_path, "encoder") if encoder_path else None
    feat_num = encoder.feat_num if encoder is not None else 0
    expected = (label_nc or input_nc) + (1 if use_instance_edges else 0) + feat_num
    channels = generator.init_args["in_channels"]
    if channels != expected:
        hint = " (models trained with --instance_feat need --encoder latest_net_E.pth)" if channels > expected else ""
        raise OptionMismatch(
            f"{generator_path}: the generator takes {channels} input channels, but "
            + (f"--label-nc {label_nc}" if label_nc else f"--input-nc {input_nc} (--label-nc 0)") +
            f"{' + 1 instance edge' if use_instance_edges else ''} + {feat_num} features = {expected}{hint}"
        )
    table = load_classes(classes, label_nc)
    return make_export(
        generator=generator,
        encoder=encoder,
        label_nc=label_nc,
        input_nc=input_nc,
        ignore_index=ignore_index,
        use_instance_edges=use_instance_edges,
        feat_num=feat_num,
        n_active_enhancers=n_local,
        classes=table,
        imported_from=str(generator_path),
    )
