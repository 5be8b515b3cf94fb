"""The one scoring loop, behind ``hrgan evaluate`` and the training ``Evaluation`` callback: photos from the
model's family (a ``Synthesizer``, or the training module's EMA generator), compared with the real ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from hrgan.evaluation.metrics import EvaluationMetrics


def score(metrics: EvaluationMetrics, batches: Iterable[dict], generate: Callable[[dict], torch.Tensor]) -> dict:
    """``metrics`` over ``batches`` (``image``, ``key`` and ``label`` or an image-input model's ``input``), with
    each batch's photos from ``generate``; the combined results (the same on every rank)."""
    metrics.reset()
    for batch in batches:
        metrics.update(generate(batch), batch["image"], batch.get("label", batch.get("input")), list(batch["key"]))
    return metrics.compute()
