"""What `hrgan env` reports: versions, devices, local pretrained weights, and wandb's mode (the rule `hrgan fit` follows)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

import torch

from hrgan import __version__
from hrgan.pretrained import INCEPTION_FILENAME, VGG19_FILENAME, find_cached_vgg19, hub_checkpoint_path

PACKAGES = ("torch", "pytorch-lightning", "webdataset", "wandb", "kornia", "numpy", "pillow")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def wandb_is_set_up() -> bool:
    """True when the user configured wandb (mode, API key, or a login in ~/.netrc); else ``hrgan fit`` runs it offline."""
    if os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path.home() / ".netrc"
    return netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def _wandb_mode() -> str:
    """What ``hrgan fit`` will do with wandb, by the same rule as fit."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return f"{mode} (WANDB_MODE)"
    if wandb_is_set_up():
        return "online (credentials found)"
    return "offline (no WANDB_MODE, WANDB_API_KEY or wandb login found; runs sync later with 'wandb sync')"


def report() -> list[str]:
    """The lines ``hrgan env`` prints."""
    lines = [f"hrgan {__version__}, python {platform.python_version()} on {platform.platform()}"]
    lines += [f"  {name}: {_version(name)}" for name in PACKAGES]
    lines.append(f"cpu: {os.cpu_count()} cores")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            lines.append(f"cuda:{i}: {props.name}, {props.total_memory / 2**30:.0f} GiB, bf16 {torch.cuda.is_bf16_supported()}")
    else:
        lines.append("cuda: not available (training runs on CPU)")
    vgg = find_cached_vgg19()
    lines.append(
        f"VGG19 weights (perceptual loss): {vgg}"
        if vgg
        else f"VGG19 weights (perceptual loss): not found; put {VGG19_FILENAME} at {hub_checkpoint_path(VGG19_FILENAME)}"
        " or set vgg_weights in the config"
    )
    inception = hub_checkpoint_path(INCEPTION_FILENAME)
    lines.append(
        f"Inception weights (FID): {inception}"
        if inception.is_file()
        else f"Inception weights (FID): not found; put {INCEPTION_FILENAME} at {inception} or pass --inception-weights"
    )
    lines.append(f"wandb: {_wandb_mode()}")
    return lines
