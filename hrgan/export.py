"""The inference export: the generator (EMA weights when trained with EMA), how to build it, and what it expects.

A plain dict of strings, numbers, lists and tensors, so it loads with
``torch.load(weights_only=True)``, without Lightning and without unpickling code.
"""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import torch
from torch import nn

from hrgan.io import write_bytes_atomic

FORMAT = "hrgan-export/1"
ALLOWED_MODULES = ("hrgan.models.",)  # classes an export may name


def network_spec(module: nn.Module, state_dict: dict[str, torch.Tensor] | None = None) -> dict:
    """{class_path, init_args, state_dict} of one of our networks (it must record ``init_args``)."""
    if not hasattr(module, "init_args"):
        raise TypeError(f"{type(module).__name__} does not record its constructor arguments (init_args)")
    cls = type(module)
    return {
        "class_path": f"{cls.__module__}.{cls.__qualname__}",
        "init_args": dict(module.init_args),
        "state_dict": {k: v.detach().cpu() for k, v in (state_dict or module.state_dict()).items()},
    }


def build_network(spec: dict) -> nn.Module:
    """Instantiate and load a network from ``network_spec``'s output (strict)."""
    module_name, _, name = spec["class_path"].rpartition(".")
    if not module_name.startswith(ALLOWED_MODULES):
        raise ValueError(f"refusing to build {spec['class_path']!r}: only hrgan.models classes are allowed")
    cls = getattr(importlib.import_module(module_name), name)
    network = cls(**spec["init_args"])
    network.load_state_dict(spec["state_dict"], strict=True)
    return network.eval()


def save_export(path: str | os.PathLike, export: dict) -> Path:
    """Write an export dict atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **export}, buffer)
    return write_bytes_atomic(path, buffer.getvalue())


def load_export(path: str | os.PathLike) -> dict:
    """Read an export (``weights_only=True``) and check its format; the networks stay as specs (see ``build_network``)."""
    path = Path(path)
    try:
        export = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign or truncated files
        raise ValueError(f"{path} is not a readable hrgan export: {error}") from error
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise ValueError(f"{path} is not an hrgan export (format {export.get('format') if isinstance(export, dict) else None!r})")
    return export
