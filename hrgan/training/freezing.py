"""Parameters held still for a step: the D in G's step, G in D's, the trained parts of an older stage."""

from __future__ import annotations

import contextlib

from torch import nn


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Turn gradients off for every parameter of ``modules`` and restore the previous flags afterwards."""
    saved = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
