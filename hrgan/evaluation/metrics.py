"""Accumulating the evaluation metrics over batches, on every process, and combining them once.

FID (torchmetrics, FID's own Inception), PSNR (``hrgan.evaluation.psnr``) and SSIM
(torchmetrics) against the real photos, and semantic consistency: a segmentation
network's confusion matrix on the generated photos and on the real ones, against
the input labels.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure
from PIL import Image
from torchmetrics.image.fid import FrechetInceptionDistance

from hrgan.evaluation.psnr import psnr
from hrgan.pixels import to_uint8
from hrgan.visualize import colorize_labels, default_palette, image_to_uint8

RANKING = ("psnr", "ssim", "pixel_accuracy")  # what orders the worst/best grid, the first one measured


def confusion(pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int | None) -> torch.Tensor:
    """[num_classes, num_classes] int64 counts, rows = true class, columns = predicted; ignore_index skipped."""
    valid = (label >= 0) & (label < num_classes)
    if ignore_index is not None:
        valid &= label != ignore_index
    index = label[valid].long() * num_classes + pred[valid].long().clamp(0, num_classes - 1)
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def segmentation_scores(matrix: torch.Tensor) -> dict:
    """mIoU over the classes present in the labels, pixel accuracy and per-class IoU (None when absent)."""
    matrix = matrix.double()
    true_positive = matrix.diag()
    in_labels = matrix.sum(1)
    union = in_labels + matrix.sum(0) - true_positive
    iou = [float(tp / u) if n > 0 else None for tp, u, n in zip(true_positive, union, in_labels, strict=True)]
    present = [v for v in iou if v is not None]
    total = float(matrix.sum())
    return {
        "miou": sum(present) / len(present) if present else float("nan"),
        "pixel_accuracy": float(true_positive.sum()) / total if total else float("nan"),
        "per_class_iou": iou,
        "pixels_per_class": [int(v) for v in in_labels],
    }


def load_segmenter(path: Path, device: torch.device) -> torch.nn.Module:
    """A TorchScript segmentation network (images in [-1, 1] -> logits), in eval mode on ``device``."""
    if not path.is_file():
        raise FileNotFoundError(f"segmenter {path} does not exist")
    try:
        model = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"segmenter {path} is not a TorchScript file (torch.jit.save): {error}") from error
    return model.eval()


@dataclass(order=True)
class Ranked:
    """A sample kept for the worst/best grid: its score, key and small pictures (label colours, fake, real)."""

    score: float
    key: str = field(compare=False)
    pictures: tuple = field(compare=False, default=())


def thumbnail(picture: np.ndarray, width: int, *, labels: bool = False) -> np.ndarray:
    """[H, W, 3] uint8 at ``width`` pixels wide: box-filtered, or nearest for label colours."""
    height = max(1, round(picture.shape[0] * width / picture.shape[1]))
    resample = Image.Resampling.NEAREST if labels else Image.Resampling.BOX
    return np.asarray(Image.fromarray(picture).resize((width, height), resample))


class EvaluationMetrics:
    """Everything ``hrgan evaluate`` and the evaluation callback report, accumulated batch by batch.

    Args:
        metrics: names from ``hrgan.evaluation.options.METRICS``.
        label_nc, ignore_index: the model's classes (for the confusion matrices).
        unscored: a class whose pixels are left out of the scores like unlabeled ones (SPADE's don't-care label,
            the last class); the segmenter may then leave it out of its logits too.
        inception: FID's network (``hrgan.pretrained.load_fid_inception``), needed for ``fid``.
        segmenter: a network mapping images in [-1, 1] to logits over label_nc, needed for ``miou``.
        palette: colours of the classes, for the grid's label pictures.
        keep: worst and best samples kept for the grid (by PSNR, else pixel accuracy).
        thumb_width: width of the kept pictures.
        device: where the metrics run.
    """

    def __init__(
        self,
        *,
        metrics: tuple[str, ...],
        label_nc: int,
        ignore_index: int | None = None,
        unscored: int | None = None,
        inception: nn.Module | None = None,
        segmenter: nn.Module | None = None,
        palette: list[list[int]] | None = None,
        keep: int = 4,
        thumb_width: int = 256,
        device: torch.device | str = "cpu",
    ) -> None:
        if "fid" in metrics and inception is None:
            raise ValueError("fid needs the FID Inception network")
        if "miou" in metrics and segmenter is None:
            raise ValueError("miou needs a segmentation network (--segmenter model.pt)")
        self.metrics, self.label_nc = metrics, label_nc
        self.ignore_index = ignore_index if ignore_index is not None else unscored  # the one value not scored
        self.segmenter_classes = (label_nc, label_nc - 1) if unscored == label_nc - 1 else (label_nc,)
        self.device = torch.device(device)
        self.fid = None
        if "fid" in metrics:
            self.fid = FrechetInceptionDistance(feature=inception, normalize=False).to(self.device)
        self.segmenter = segmenter
        self.confusion = {"fake": torch.zeros(label_nc, label_nc, dtype=torch.int64, device=self.device),
                          "real": torch.zeros(label_nc, label_nc, dtype=torch.int64, device=self.device)}
        # Per-class squared error of the generated photo ([0, 1] scale, mean over channels) and pixel counts.
        self.class_error = torch.zeros(label_nc, dtype=torch.float64, device=self.device)
        self.class_pixels = torch.zeros(label_nc, dtype=torch.int64, device=self.device)
        self.rows: list[dict] = []
        self.palette = np.asarray(palette, dtype=np.uint8) if palette else default_palette(label_nc)
        self.keep, self.thumb_width = keep, thumb_width
        self._worst: list[Ranked] = []  # max-heap by score (negated) of the lowest scores
        self._best: list[Ranked] = []  # min-heap of the highest scores

    # ------------------------------------------------------------ per batch
    @torch.inference_mode()
    def update(self, fake: torch.Tensor, real: torch.Tensor, label: torch.Tensor, keys: list[str]) -> None:
        """fake, real: [B, 3, H, W] in [-1, 1]; label: [B, H, W] class ids, or an image-input model's input
        image [B, C, H, W] (no per-class or segmentation scores then); keys: one name per sample."""
        fake, real, label = fake.to(self.device).float(), real.to(self.device).float(), label.to(self.device)
        has_classes = not label.is_floating_point()
        if self.segmenter is not None and not has_classes:
            raise ValueError("miou needs label maps: an image-input model's samples have none")
        rows = [{"key": key} for key in keys]
        fake01, real01 = (fake.clamp(-1, 1) + 1) / 2, (real.clamp(-1, 1) + 1) / 2
        if "psnr" in self.metrics:
            if has_classes:
                self._add_class_errors(fake01, real01, label)
            values = psnr(fake.clamp(-1, 1), real.clamp(-1, 1))
            for row, value in zip(rows, values.tolist(), strict=True):
                row["psnr"] = value
        if "ssim" in self.metrics:
            values = structural_similarity_index_measure(fake01, real01, data_range=1.0, reduction="none")
            for row, value in zip(rows, values.tolist(), strict=True):
                row["ssim"] = value
        if self.fid is not None:
            self.fid.update(to_uint8(real), real=True)
            self.fid.update(to_uint8(fake), real=False)
        if self.segmenter is not None:
            for name, images in (("fake", fake), ("real", real)):
                predicted = self.segment(images, label.shape[-2:])
                for i, row in enumerate(rows):
                    matrix = confusion(predicted[i], label[i], self.label_nc, self.ignore_index)
                    self.confusion[name] += matrix
                    if name == "fake":
                        total = int(matrix.sum())
                        row["pixel_accuracy"] = float(matrix.diag().sum()) / total if total else float("nan")
        self.rows += rows
        self._rank(rows, fake, real, label)

    def _add_class_errors(self, fake01: torch.Tensor, real01: torch.Tensor, label: torch.Tensor) -> None:
        error = (fake01 - real01).pow(2).mean(1).flatten()
        ids = label.flatten().long()
        valid = (ids >= 0) & (ids < self.label_nc)
        if self.ignore_index is not None:
            valid &= ids != self.ignore_index
        self.class_error.index_add_(0, ids[valid], error[valid].double())
        self.class_pixels += torch.bincount(ids[valid], minlength=self.label_nc)

    def segment(self, images: torch.Tensor, size: torch.Size) -> torch.Tensor:
        """Class ids [B, H, W] the segmenter finds in ``images`` ([-1, 1]), its logits resized to ``size``."""
        logits = self.segmenter(images)
        if logits.ndim != 4 or logits.shape[1] not in self.segmenter_classes:
            expected = " or ".join(str(n) for n in self.segmenter_classes)
            raise ValueError(f"the segmenter returned {tuple(logits.shape)}; expected [B, {expected}, h, w] logits")
        if logits.shape[-2:] != size:
            logits = F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=False)
        return logits.argmax(1)

    def _score_name(self) -> str | None:
        return next((m for m in RANKING if self.rows and m in self.rows[-1]), None)

    def _rank(self, rows: list[dict], fake: torch.Tensor, real: torch.Tensor, label: torch.Tensor) -> None:
        name = self._score_name()
        if name is None or self.keep <= 0:
            return
        for i, row in enumerate(rows):
            score = row[name]
            if math.isnan(score):
                continue
            lowest_kept = -self._worst[0].score if len(self._worst) >= self.keep else math.inf
            highest_floor = self._best[0].score if len(self._best) >= self.keep else -math.inf
            if score >= lowest_kept and score <= highest_floor:
                continue
            condition = (thumbnail(image_to_uint8(label[i]), self.thumb_width) if label.is_floating_point()
                         else thumbnail(colorize_labels(label[i], self.palette), self.thumb_width, labels=True))
            pictures = (
                condition,
                thumbnail(image_to_uint8(fake[i]), self.thumb_width),
                thumbnail(image_to_uint8(real[i]), self.thumb_width),
            )
            if score < lowest_kept:
                heapq.heappush(self._worst, Ranked(-score, row["key"], pictures))
                if len(self._worst) > self.keep:
                    heapq.heappop(self._worst)
            if score > highest_floor:
                heapq.heappush(self._best, Ranked(score, row["key"], pictures))
                if len(self._best) > self.keep:
                    heapq.heappop(self._best)

    # ------------------------------------------------------------ combining
    def compute(self) -> dict:
        """Combine every process's share (each call must happen on all ranks) and return the results.

        Returns a dict with ``num_samples``, the metric means, ``segmentation`` (fake and real),
        ``samples`` (per-sample rows, sorted by key), and ``worst`` / ``best`` (score, key, pictures).
        """
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        rows, worst, best = self.rows, [(-r.score, r.key, r.pictures) for r in self._worst], [(r.score, r.key, r.pictures) for r in self._best]
        # Copies, so that computing twice never sums the other ranks' shares in twice.
        confusions = {name: matrix.clone() for name, matrix in self.confusion.items()}
        class_error, class_pixels = self.class_error.clone(), self.class_pixels.clone()
        if distributed:
            gathered: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, (rows, worst, best))
            rows = [row for part in gathered for row in part[0]]
            worst = [item for part in gathered for item in part[1]]
            best = [item for part in gathered for item in part[2]]
            for total in (*confusions.values(), class_error, class_pixels):
                torch.distributed.all_reduce(total)
        result: dict = {"num_samples": len(rows)}
        for name in RANKING:
            values = [row[name] for row in rows if name in row]
            if values:
                result[name] = sum(values) / len(values)  # inf when any image is identical to its photo (PSNR)
        if self.fid is not None:
            result["fid"] = float(self.fid.compute()) if len(rows) >= 2 else float("nan")
        if "psnr" in self.metrics:
            pixels = class_pixels.cpu()
            mse = (class_error.cpu() / pixels.clamp_min(1)).tolist()
            result["per_class_psnr"] = [10 * math.log10(1 / m) if m > 0 else math.inf if n else None
                                        for m, n in zip(mse, pixels.tolist(), strict=True)]
            result["pixels_per_class"] = pixels.tolist()
        if self.segmenter is not None:
            result["segmentation"] = {name: segmentation_scores(matrix.cpu()) for name, matrix in confusions.items()}
            result["miou"] = result["segmentation"]["fake"]["miou"]
            # pooled over every pixel, as the real photos' ceiling is (the per-image figures rank the grid)
            result["pixel_accuracy"] = result["segmentation"]["fake"]["pixel_accuracy"]
        result["samples"] = sorted(rows, key=lambda row: row["key"])
        result["ranked_by"] = next((m for m in RANKING if rows and m in rows[0]), None)
        result["worst"] = sorted(worst, key=lambda item: item[0])[: self.keep]
        result["best"] = sorted(best, key=lambda item: -item[0])[: self.keep]
        return result

    def reset(self) -> None:
        """Start over (the training callback reuses one instance)."""
        if self.fid is not None:
            self.fid.reset()
        for total in (*self.confusion.values(), self.class_error, self.class_pixels):
            total.zero_()
        self.rows, self._worst, self._best = [], [], []
