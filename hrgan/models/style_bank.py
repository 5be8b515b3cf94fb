"""pix2pixHD's instance-wise styles: per-class k-means clusters of encoder features, and feature maps drawn from them.

The encoder gives every instance one feature vector (its mean). ``hrgan
encode-features`` collects them over the training data, keeps instances larger
than 1/64 of the image (as pix2pixHD), and clusters each class's vectors; at
inference every instance of a label map gets one cluster centre of its class.
An instance's class is the most frequent label under it, so any instance-id
encoding works (pix2pixHD reads it from Cityscapes' ``id // 1000``).
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import torch


def instance_regions(
    label: torch.Tensor, instance: torch.Tensor, label_nc: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Instances of one image: (region index per pixel [H, W], class per region [N], pixels per region [N]).

    Pixels whose label is outside [0, label_nc) (the ignore label) do not vote;
    a region with no valid pixel gets class -1.
    """
    _, region = torch.unique(instance.reshape(-1), return_inverse=True)
    n = int(region.max()) + 1
    flat = label.reshape(-1).long()
    valid = (flat >= 0) & (flat < label_nc)
    votes = torch.zeros(n * label_nc, dtype=torch.long, device=label.device)
    votes.index_add_(0, region[valid] * label_nc + flat[valid], torch.ones_like(flat[valid]))
    votes = votes.view(n, label_nc)
    classes = torch.where(votes.sum(1) > 0, votes.argmax(1), torch.full((n,), -1, device=label.device))
    sizes = torch.bincount(region, minlength=n)
    return region.view(label.shape), classes, sizes


def large_instance_features(
    features: torch.Tensor, label: torch.Tensor, instance: torch.Tensor, label_nc: int, *, min_fraction: float = 1 / 64
) -> dict[int, torch.Tensor]:
    """{class: [n, F] instance feature vectors} of one image's instances larger than ``min_fraction`` of it.

    ``features`` [F, H, W] is the encoder's instance-pooled output, constant within each instance.
    """
    region, classes, sizes = instance_regions(label, instance, label_nc)
    f, h, w = features.shape
    flat = features.reshape(f, -1).t()
    means = torch.zeros(len(sizes), f, dtype=flat.dtype, device=flat.device).index_add_(0, region.reshape(-1), flat)
    means /= sizes.unsqueeze(1).clamp_min(1)
    keep = (sizes > min_fraction * h * w) & (classes >= 0)
    return {int(c): means[keep & (classes == c)] for c in classes[keep].unique().tolist()}


def kmeans(points: torch.Tensor, k: int, *, seed: int = 0, iterations: int = 100) -> torch.Tensor:
    """Cluster centres [min(k, n), F] of ``points`` [n, F]: k-means++ seeding, then Lloyd's iterations."""
    points = points.double()
    n = points.shape[0]
    k = min(k, n)
    generator = torch.Generator().manual_seed(seed)
    centres = [points[torch.randint(n, (1,), generator=generator)].squeeze(0)]
    for _ in range(1, k):
        distance = torch.cdist(points, torch.stack(centres)).min(1).values.square()
        if float(distance.sum()) == 0:  # fewer distinct points than k
            break
        centres.append(points[torch.multinomial(distance, 1, generator=generator)].squeeze(0))
    centres = torch.stack(centres)
    for _ in range(iterations):
        assignment = torch.cdist(points, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, assignment, points)
        counts = torch.bincount(assignment, minlength=len(centres)).unsqueeze(1)
        updated = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
        if torch.allclose(updated, centres):
            break
        centres = updated
    return centres.float()


def style_rng(seed: int, *parts: str | int) -> np.random.Generator:
    """The one seeded random rule for styles (cluster choices, a VAE's z): a generator from ``seed`` and the
    parts that say what is drawn for (a map's name, an instance id, a draw count), so a draw does not depend
    on the batch, the device or the other inputs."""
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) if isinstance(p, str) else p & 0xFFFFFFFF for p in parts)])


@dataclass
class StyleBank:
    """Cluster centres per class: ``centres[c, :counts[c]]`` are class c's styles ([label_nc, K, F])."""

    centres: torch.Tensor
    counts: torch.Tensor
    instances: torch.Tensor  # instances per class the clusters came from

    @classmethod
    def fit(cls, per_class: dict[int, list[torch.Tensor]], label_nc: int, feat_num: int, *, clusters: int = 10,
            seed: int = 0) -> StyleBank:
        """Cluster each class's collected instance vectors (classes without any get no styles)."""
        centres = torch.zeros(label_nc, clusters, feat_num)
        counts = torch.zeros(label_nc, dtype=torch.long)
        instances = torch.zeros(label_nc, dtype=torch.long)
        for c, chunks in per_class.items():
            points = torch.cat(chunks).float().cpu()
            if len(points) == 0:
                continue
            found = kmeans(points, clusters, seed=seed + c)
            centres[c, : len(found)] = found
            counts[c], instances[c] = len(found), len(points)
        return cls(centres, counts, instances)

    def to_export(self) -> dict:
        return {"centres": self.centres, "counts": self.counts, "instances": self.instances}

    @classmethod
    def from_export(cls, styles: dict | None) -> StyleBank | None:
        return None if not styles else cls(styles["centres"], styles["counts"], styles["instances"])

    def feature_map(
        self, label: torch.Tensor, instance: torch.Tensor, *, cluster: int | None, rng: np.random.Generator
    ) -> torch.Tensor:
        """[F, H, W]: every instance filled with one centre of its class, ``cluster`` or a random one from
        ``rng``; classes without styles stay zero. A class with fewer clusters than ``cluster`` takes its last
        one, with a warning (a ``cluster`` past every class's is refused by ``check_options``)."""
        label_nc, _, feat_num = self.centres.shape
        region, classes, _ = instance_regions(label, instance, label_nc)
        values = torch.zeros(len(classes), feat_num)
        for i, c in enumerate(classes.tolist()):
            n = int(self.counts[c]) if c >= 0 else 0
            if not n:
                continue
            chosen = cluster if cluster is not None else int(rng.integers(n))
            if chosen >= n:  # classes with few instances get fewer clusters: say so, use the last
                warnings.warn(f"style cluster:{cluster}: class {c} has {n} cluster(s); it uses cluster:{n - 1}", stacklevel=2)
                chosen = n - 1
            values[i] = self.centres[c, chosen]
        return values.to(label.device)[region].permute(2, 0, 1)
