"""Loading a trained model for inference: an inference export or a Lightning checkpoint, never unpickling code."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from hrgan.export import FORMAT


def load_inference_export(path: str | os.PathLike) -> dict:
    """An export dict (see ``hrgan.export``) from an export file or an hrgan Lightning checkpoint.

    A checkpoint contributes its EMA generator weights when it has them (else the
    trained ones) and the encoder's, and is marked ``from_checkpoint``; both files
    load with ``weights_only=True``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint or export")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign, pickled-code or truncated files
        raise ValueError(f"{path} is not a readable hrgan export or checkpoint: {error}") from error
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return data
    if not (isinstance(data, dict) and "state_dict" in data):
        raise ValueError(f"{path} is neither an hrgan export nor a Lightning checkpoint")
    if "inference" not in data:
        raise ValueError(f"{path} is a Lightning checkpoint without hrgan's network description; use the run's export.pt")
    export = dict(data["inference"], format=FORMAT, from_checkpoint=True)
    state = data["state_dict"]
    prefix = "generator_ema." if any(k.startswith("generator_ema.") for k in state) else "generator."
    export["generator"] = dict(export["generator"], state_dict=_strip(state, prefix))
    export["ema"] = prefix == "generator_ema."
    if export.get("encoder") is not None:
        export["encoder"] = dict(export["encoder"], state_dict=_strip(state, "encoder."))
    return export


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
