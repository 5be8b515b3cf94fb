"""Speed switches applied to the networks: torch.compile of fixed-shape units, eager runs outside training."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from hrgan.models import GlobalGenerator, LocalEnhancer, PatchDiscriminator, SPADEGenerator, UNetGenerator, VGG19Features


def compile_units(*networks: nn.Module | None) -> list[nn.Module]:
    """The parts compiled one by one: tensor in, tensors out, with shapes that change only between stages.

    The generator's progressive wiring (active enhancers, fade-in blend) stays in Python between
    the units, so a fade-in step or a new stage never changes what a unit sees except its size.
    """
    units: list[nn.Module] = []
    for network in networks:
        if network is None:
            continue
        for module in network.modules():
            if isinstance(module, (GlobalGenerator, LocalEnhancer)):
                units += [child for child in module.children() if isinstance(child, nn.Sequential)]
            elif isinstance(module, (PatchDiscriminator, SPADEGenerator, UNetGenerator, VGG19Features)):
                units.append(module)
    return units


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
