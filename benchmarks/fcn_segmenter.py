"""The facades FCN-score network: a small U-Net trained on the real training photos -> their label maps.

    python benchmarks/fcn_segmenter.py                                  # 8 minutes of training, runs/quality/segmenter.pt
    python benchmarks/fcn_segmenter.py --epochs 20 --seed 0             # a fixed length instead of a time budget
    python benchmarks/fcn_segmenter.py --data /work/shared/data/facades --out runs/x/segmenter.pt --minutes 2

Trains on ``DATA/train_img`` + ``DATA/train_label_approx`` (400 pairs, 12 classes) with
cross-entropy, flips and brightness/contrast jitter, at ``--size`` pixels (the photos are
downscaled inside the network, so it takes any size). With ``--minutes`` the first epoch is
timed and the run gets as many epochs as fit the budget; the count is recorded, and
``--epochs N`` repeats the run exactly (same seed, same thread count).

Writes OUT (TorchScript: images in [-1, 1] [B, 3, H, W] -> logits [B, 12, h, w], what
``hrgan evaluate --segmenter OUT --metrics miou`` loads) and OUT with ``.json``: the settings
and the network's mIoU and pixel accuracy on the 106 real test photos (the FCN-score's ceiling),
measured with ``hrgan.evaluation.metrics.EvaluationMetrics`` on the saved file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hrgan.evaluation.metrics import EvaluationMetrics, confusion, load_segmenter, segmentation_scores  # noqa: E402
from hrgan.io import write_bytes_atomic  # noqa: E402
from hrgan.pixels import from_uint8  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data/facades")
LABEL_NC = 12


def load_split(root: Path, split: str) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Keys, photos uint8 [N, 3, H, W] and label maps int64 [N, H, W] of ``{split}_img`` / ``{split}_label_approx``."""
    keys = sorted((p.stem for p in (root / f"{split}_label_approx").glob("*.png")), key=lambda k: (len(k), k))
    if not keys:
        raise FileNotFoundError(f"no label maps in {root / f'{split}_label_approx'}")
    photos = [np.asarray(Image.open(root / f"{split}_img" / f"{k}.jpg").convert("RGB")) for k in keys]
    labels = [np.asarray(Image.open(root / f"{split}_label_approx" / f"{k}.png")) for k in keys]
    return keys, torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(np.stack(labels)).long()


def block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Images in [-1, 1] at any size -> logits at ``scale`` times that size (a U-Net over 5 levels)."""

    def __init__(self, num_classes: int = LABEL_NC, widths: tuple[int, ...] = (16, 32, 48, 64, 96), scale: float = 0.5) -> None:
        super().__init__()
        self.scale = scale
        self.down = nn.ModuleList()
        cin = 3
        for i, width in enumerate(widths):
            self.down.append(nn.Sequential(block(cin, width, 1 if i == 0 else 2), block(width, width)))
            cin = width
        self.up = nn.ModuleList(block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale != 1.0:
            x = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False, antialias=True)
        skips: list[torch.Tensor] = []
        for level in self.down:
            x = level(x)
            skips.append(x)
        skips.pop()
        for level in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = level(torch.cat([x, skip], 1))
        return self.head(x)


def augment(photos: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal flips and photo brightness/contrast jitter; photos float in [-1, 1]."""
    flip = torch.rand(len(photos), generator=generator) < 0.5
    photos, labels = photos.clone(), labels.clone()
    photos[flip], labels[flip] = photos[flip].flip(-1), labels[flip].flip(-1)
    contrast = 1 + 0.4 * (torch.rand(len(photos), 1, 1, 1, generator=generator) - 0.5)
    brightness = 0.2 * (torch.rand(len(photos), 1, 1, 1, generator=generator) - 0.5)
    mean = photos.mean((1, 2, 3), keepdim=True)
    return ((photos - mean) * contrast + mean + brightness).clamp(-1, 1), labels


def label_targets(labels: torch.Tensor, scale: float) -> torch.Tensor:
    """Label maps at the network's output size (nearest)."""
    if scale == 1.0:
        return labels
    return F.interpolate(labels[:, None].float(), scale_factor=scale, mode="nearest")[:, 0].long()


def run_epoch(model: UNet, optimizer, photos, labels, *, batch_size: int, lr_at, step: int, generator) -> tuple[int, float]:
    """One shuffled pass; returns the step count after it and the mean loss."""
    model.train()
    order = torch.randperm(len(photos), generator=generator)
    losses = []
    for start in range(0, len(order) - batch_size + 1, batch_size):
        index = order[start : start + batch_size]
        x, y = augment(from_uint8(photos[index]), labels[index], generator)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        loss = F.cross_entropy(model(x), label_targets(y, model.scale))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
    return step, sum(losses) / len(losses)


def train(photos, labels, *, epochs: int | None, minutes: float, seed: int, batch_size: int, lr: float,
          scale: float) -> tuple[UNet, dict]:
    """Train a U-Net with AdamW and a cosine decay over the run; ``epochs`` None: as many as fit ``minutes``."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = UNet(scale=scale)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(photos) // batch_size
    total = {"steps": (epochs or 0) * steps_per_epoch}  # set after the first epoch when timed

    def lr_at(step: int) -> float:
        """One epoch of linear warm-up, then a cosine decay to zero at the last step."""
        if step < steps_per_epoch:
            return lr * (step + 1) / steps_per_epoch
        return lr * 0.5 * (1 + math.cos(math.pi * (step - steps_per_epoch) / max(1, total["steps"] - steps_per_epoch)))

    start, step, history = time.perf_counter(), 0, []
    while epochs is None or len(history) < epochs:
        step, loss = run_epoch(model, optimizer, photos, labels, batch_size=batch_size, lr_at=lr_at, step=step, generator=generator)
        history.append(round(loss, 4))
        elapsed = time.perf_counter() - start
        if epochs is None:
            epochs = max(1, int(minutes * 60 / elapsed))
            total["steps"] = epochs * steps_per_epoch
        print(f"epoch {len(history)}/{epochs}: loss {loss:.4f}, {elapsed:.0f} s", flush=True)
    info = {"epochs": len(history), "steps": step, "train_s": round(time.perf_counter() - start, 1), "loss_per_epoch": history}
    return model.eval(), info


@torch.inference_mode()
def score(segmenter: nn.Module, photos: torch.Tensor, labels: torch.Tensor, batch_size: int = 16) -> dict:
    """mIoU and pixel accuracy of ``segmenter`` on ``photos`` (uint8) against ``labels``, counted as hrgan evaluate counts them."""
    metrics = EvaluationMetrics(metrics=("miou",), label_nc=LABEL_NC, segmenter=segmenter, keep=0)
    matrix = torch.zeros(LABEL_NC, LABEL_NC, dtype=torch.int64)
    for start in range(0, len(photos), batch_size):
        label = labels[start : start + batch_size]
        predicted = metrics.segment(from_uint8(photos[start : start + batch_size]), label.shape[-2:])
        matrix += confusion(predicted, label, LABEL_NC, None)
    scores = segmentation_scores(matrix)
    return {k: scores[k] for k in ("miou", "pixel_accuracy", "per_class_iou")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="facades folder (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "quality" / "segmenter.pt")
    parser.add_argument("--minutes", type=float, default=8.0, help="training time budget (default: %(default)s)")
    parser.add_argument("--epochs", type=int, help="a fixed number of epochs instead of --minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--size", type=int, default=128, help="working resolution of the network for 256-pixel photos")
    args = parser.parse_args()
    _, photos, labels = load_split(args.data, "train")
    _, test_photos, test_labels = load_split(args.data, "test")
    scale = args.size / photos.shape[-1]
    model, info = train(photos, labels, epochs=args.epochs, minutes=args.minutes, seed=args.seed,
                        batch_size=args.batch_size, lr=args.lr, scale=scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(model), str(args.out))
    saved = load_segmenter(args.out, torch.device("cpu"))
    result = {
        "segmenter": str(args.out), "data": str(args.data), "seed": args.seed, "batch_size": args.batch_size,
        "lr": args.lr, "size": args.size, "minutes": None if args.epochs else args.minutes,
        "threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in model.parameters()),
        **info, "train": score(saved, photos, labels), "test": score(saved, test_photos, test_labels),
    }
    write_bytes_atomic(args.out.with_suffix(".json"), (json.dumps(result, indent=1) + "\n").encode())
    print(f"segmenter {args.out}: {result['parameters']:,} parameters, {info['epochs']} epochs in {info['train_s']:.0f} s; "
          f"real test photos: mIoU {result['test']['miou']:.4f}, pixel accuracy {result['test']['pixel_accuracy']:.4f} "
          f"(train: {result['train']['miou']:.4f} / {result['train']['pixel_accuracy']:.4f})")


if __name__ == "__main__":
    main()
