"""Does the model beat a per-class mean colour? PSNR on held-out scenes against that baseline.

Pixels of classes whose colour is drawn per instance (car paint, shirts in the
synthetic scenes) are unpredictable from the labels; they dominate the
baseline's error, so the headline comparison masks them out ("predictable
pixels") and the full-image figures are reported beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from hrgan.evaluation.psnr import psnr


def class_mean_colours(batches: Iterable[dict], label_nc: int) -> torch.Tensor:
    """Mean photo colour of every class over ``batches``: [label_nc, 3] in [-1, 1] (0 for absent classes)."""
    sums = torch.zeros(label_nc, 3, dtype=torch.float64)
    counts = torch.zeros(label_nc, dtype=torch.float64)
    for batch in batches:
        label = batch["label"].flatten().cpu()
        keep = (label >= 0) & (label < label_nc)
        pixels = batch["image"].permute(0, 2, 3, 1).reshape(-1, 3).cpu().double()
        sums.index_add_(0, label[keep], pixels[keep])
        counts += torch.bincount(label[keep], minlength=label_nc).double()
    return (sums / counts.clamp_min(1).unsqueeze(1)).float()


def fidelity_report(
    batches: Iterable[dict], generate: Callable[[dict], torch.Tensor], means: torch.Tensor, unpredictable: list[int]
) -> dict[str, float]:
    """Mean per-image PSNR of the model and of the class-mean baseline, on predictable pixels and on whole images."""
    scores = {"model_predictable": [], "baseline_predictable": [], "model_full": [], "baseline_full": []}
    for batch in batches:
        real, label = batch["image"], batch["label"]
        fake = generate(batch)
        baseline = means.to(real.device)[label.clamp(0, len(means) - 1)].permute(0, 3, 1, 2)
        predictable = ~torch.isin(label, torch.tensor(unpredictable, device=label.device, dtype=label.dtype))
        for name, image in (("model", fake), ("baseline", baseline)):
            scores[f"{name}_predictable"].append(psnr(image, real, predictable))
            scores[f"{name}_full"].append(psnr(image, real))
    return {k: float(torch.cat(v).nanmean()) for k, v in scores.items()}  # an image with no predictable pixel: NaN


def report_line(scores: dict[str, float]) -> str:
    return (
        f"PSNR: model {scores['model_predictable']:.2f} dB, class-mean baseline {scores['baseline_predictable']:.2f} dB "
        f"(predictable pixels); full image: model {scores['model_full']:.2f} dB, baseline {scores['baseline_full']:.2f} dB"
    )
