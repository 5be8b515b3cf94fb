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

import sys
from pathlib import Path

from hrgan.commands.common import (USAGE_ERROR, add_device, command_parser, fail, fraction, non_negative_int, parse_arguments,
                                   positive_int)

PROG = "hrgan encode-features"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint of a model with feat_num > 0")
    parser.add_argument("--data", required=True, help="training shards (brace pattern, glob or pipe:) with photos and instance maps")
    parser.add_argument("--out", type=Path, help="export to write (default: --checkpoint when it is an export)")
    parser.add_argument("--clusters", type=positive_int, default=10, help="k-means clusters per class (default: %(default)s)")
    parser.add_argument("--min-fraction", type=fraction, default=1 / 64, help="smallest instance kept, as a fraction of the image (default: 1/64)")
    parser.add_argument("--max-samples", type=positive_int, help="stop after this many samples")
    add_device(parser)
    parser.add_argument("--seed", type=non_negative_int, default=0, help="k-means seed (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    from hrgan.artifacts import save_export
    from hrgan.inference.styles import StyleBank, collect_instance_features
    from hrgan.inference.synthesizer import Synthesizer

    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device)
    except (FileNotFoundError, ValueError) as error:
        return fail(PROG, str(error))
    if not synth.family.style.clusters:
        return fail(PROG, f"{args.checkpoint}: {synth.family.style.no_clusters}")
    if args.out is None and synth.export.get("from_checkpoint"):
        return fail(PROG, "--checkpoint is a Lightning checkpoint; give --out EXPORT", USAGE_ERROR)
    out = args.out or args.checkpoint
    try:
        per_class, samples = collect_instance_features(synth, args.data, min_fraction=args.min_fraction, limit=args.max_samples)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        return fail(PROG, str(error))
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
