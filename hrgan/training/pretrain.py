"""Starting a run from another run's weights (pix2pixHD's --load_pretrain), e.g. a later stage from an earlier one."""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning.utilities import rank_zero_info
from torch import nn

from hrgan.artifacts import read_state_dict


def load_matching_weights(module: nn.Module, path: str | Path) -> dict[str, list[str]]:
    """Copy every tensor whose name and shape match from a checkpoint or export into ``module``.

    An export's networks go to every copy of them in ``module`` (the training module's ``network_prefixes()``).

    Returns the keys loaded, left at their initialisation (new in this model) and
    skipped (absent here, or of another shape); a summary is printed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"init_from: {path} does not exist")
    source = read_state_dict(path, prefixes=module.network_prefixes())
    own = module.state_dict()
    loaded = [k for k, v in source.items() if k in own and own[k].shape == v.shape]
    skipped = [k for k in source if k not in loaded]
    new = [k for k in own if k not in source]
    module.load_state_dict({k: source[k] for k in loaded}, strict=False)
    rank_zero_info(f"init_from {path}: loaded {len(loaded)} tensors, {len(new)} new (initialised), {len(skipped)} skipped")
    return {"loaded": loaded, "new": new, "skipped": skipped}
