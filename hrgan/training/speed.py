"""Speed switches applied to the networks: torch.compile of fixed-shape units, eager runs outside training."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def compile_units(*networks: nn.Module | None) -> list[nn.Module]:
    """The parts compiled one by one: tensor in, tensors out, with shapes that change only between stages.

    Each network says which (``compile_units()``, e.g. a pix2pixHD generator's Sequential parts, whose
    progressive wiring stays in Python, so a fade-in step or a new stage changes only the sizes a unit sees);
    one that says nothing, and holds nothing that does, is compiled whole.
    """
    return [unit for network in networks if network is not None for unit in (_declared_units(network) or [network])]


def _declared_units(module: nn.Module) -> list[nn.Module]:
    if hasattr(module, "compile_units"):
        return module.compile_units()
    return [unit for child in module.children() for unit in _declared_units(child)]


def compile_networks(*networks: nn.Module | None, mode: str | None = None) -> int:
    """``torch.compile`` every unit of ``networks`` in place (state-dict keys unchanged); returns how many.

    Shapes are static: a unit compiles once per stage resolution (and batch size), not per step.
    """
    if not hasattr(nn.Module, "compile") or not hasattr(torch.compiler, "set_stance"):
        raise RuntimeError(f"model.compile needs torch >= 2.6 (this is {torch.__version__}); turn it off or upgrade")
    units = compile_units(*networks)
    # Dynamo keeps its compiled entries per code object: every Sequential unit shares Sequential.forward's
    # (8 entries by default), and past that limit the remaining units would silently run eagerly.
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, limit, max(getattr(config, limit), 4 * len(units)))
    for unit in units:
        # The bound forward, not nn.Module.compile: that compiles Module._call_impl, a torch frame dynamo
        # skips, so a Sequential of torch layers (the generator's stem, down, up and head) stayed eager.
        unit.forward = torch.compile(unit.forward, dynamic=False, mode=mode)
    return len(units)


@contextlib.contextmanager
def eager_mode(enabled: bool = True):
    """Run compiled units eagerly inside (validation, sample grids): their shapes and batch sizes differ from
    training's and would otherwise cost a recompilation each."""
    if not enabled:
        yield
        return
    with torch.compiler.set_stance("force_eager"):
        yield
