"""hrgan encode-features: pix2pixHD's instance styles for a model trained with an encoder (feat_num > 0).

Runs the encoder over the training shards, takes each instance's mean feature,
keeps instances larger than 1/64 of the image, clusters every class's vectors
with k-means and stores the centres in the inference export (tensors, no
pickle). 'hrgan infer --style random|cluster:K' then draws from them.

examples:
  hrgan encode-features --checkpoint runs/x/export.pt --data 'shards/train-{000000..000009}.tar'
  hrgan encode-features --checkpoint runs/x/checkpoints/last.ckpt --data 'shards/train-*.tar' --out styled.pt --clusters 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan.artifacts import save_export
from hrgan.data.stream import ShardStream
from hrgan.inference.styles import StyleBank, large_instance_features
from hrgan.inference.synthesizer import Synthesizer


def collect(synth: Synthesizer, urls: str, *, min_fraction: float, limit: int | None) -> tuple[dict[int, list[torch.Tensor]], int]:
    """{class: [instance vectors]} over the shards (one sample at a time, any size), and the samples read."""
    stream = ShardStream(urls, batch_size=1, train=False, require_image=True)
    per_class: dict[int, list[torch.Tensor]] = {}
    count = 0
    for batch in tqdm(DataLoader(stream, batch_size=None), desc="encode-features", unit="sample"):
        if "inst" not in batch:
            raise ValueError(f"sample {batch['key'][0]} has no instance map; styles are per instance")
        instance = batch["inst"].long()
        features = synth.encode(batch["image"], instance)[0].cpu()
        found = large_instance_features(features, batch["label"][0], instance[0], synth.label_nc, min_fraction=min_fraction)
        for c, vectors in found.items():
            per_class.setdefault(c, []).append(vectors)
        count += 1
        if limit is not None and count >= limit:
            break
    return per_class, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hrgan encode-features", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint of a model with feat_num > 0")
    parser.add_argument("--data", required=True, help="training shards (brace pattern, glob or pipe:) with photos and instance maps")
    parser.add_argument("--out", type=Path, help="export to write (default: --checkpoint when it is an export)")
    parser.add_argument("--clusters", type=int, default=10, help="k-means clusters per class (default: %(default)s)")
    parser.add_argument("--min-fraction", type=float, default=1 / 64, help="smallest instance kept, as a fraction of the image (default: 1/64)")
    parser.add_argument("--max-samples", type=int, help="stop after this many samples")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="k-means seed (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device)
    except (FileNotFoundError, ValueError) as error:
        print(f"hrgan encode-features: {error}", file=sys.stderr)
        return 2
    if synth.encoder is None:
        print(f"hrgan encode-features: {args.checkpoint} has no instance-feature encoder (trained with feat_num 0)", file=sys.stderr)
        return 2
    if args.out is None and synth.export.get("from_checkpoint"):
        print("hrgan encode-features: --checkpoint is a Lightning checkpoint; give --out EXPORT", file=sys.stderr)
        return 2
    out = args.out or args.checkpoint
    try:
        per_class, samples = collect(synth, args.data, min_fraction=args.min_fraction, limit=args.max_samples)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"hrgan encode-features: {error}", file=sys.stderr)
        return 2
    bank = StyleBank.fit(per_class, synth.label_nc, synth.feat_num, clusters=args.clusters, seed=args.seed)
    export = {k: v for k, v in synth.export.items() if k not in ("format", "from_checkpoint")}
    export["styles"] = bank.to_export()
    save_export(out, export)
    names = synth.export["classes"]["names"]
    print(f"{samples} samples; clusters per class (instances larger than {args.min_fraction:.4g} of the image):")
    for c, name in enumerate(names):
        print(f"  {c:3d} {name:<20} {int(bank.counts[c]):3d} clusters from {int(bank.instances[c])} instances")
    print(f"styles written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
