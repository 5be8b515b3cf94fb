"""Starting a run from another run's weights (pix2pixHD's --load_pretrain), e.g. a later stage from an earlier one."""

from __future__ import annotations

from pathlib import Path

import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import nn

from hrgan.export import FORMAT


def _source_state(path: Path) -> dict[str, torch.Tensor]:
    data = torch.load(path, map_location="cpu", weights_only=True)  # hrgan checkpoints and exports hold no pickled code
    if isinstance(data, dict) and data.get("format") == FORMAT:
        state = {f"generator.{k}": v for k, v in data["generator"]["state_dict"].items()}
        state.update({f"generator_ema.{k}": v for k, v in data["generator"]["state_dict"].items()})
        return state
    if isinstance(data, dict) and "state_dict" in data:
        return data["state_dict"]
    raise ValueError(f"{path}: neither a Lightning checkpoint nor an hrgan export")


def load_matching_weights(module: nn.Module, path: str | Path) -> dict[str, list[str]]:
    """Copy every tensor whose name and shape match from a checkpoint or export into ``module``.

    Returns the keys loaded, left at their initialisation (new in this model) and
    skipped (absent here, or of another shape); a summary is printed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"init_from: {path} does not exist")
    source = _source_state(path)
    own = module.state_dict()
    loaded = [k for k, v in source.items() if k in own and own[k].shape == v.shape]
    skipped = [k for k in source if k not in loaded]
    new = [k for k in own if k not in source]
    module.load_state_dict({k: source[k] for k in loaded}, strict=False)
    rank_zero_info(f"init_from {path}: loaded {len(loaded)} tensors, {len(new)} new (initialised), {len(skipped)} skipped")
    return {"loaded": loaded, "new": new, "skipped": skipped}
