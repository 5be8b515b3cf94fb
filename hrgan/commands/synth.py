"""hrgan synth: write synthetic street scenes (label map, instance map, photo) at any size.

Scene i of seed s is always the same scene, at every resolution. The output
root gets pix2pixHD's layout ({split}_label/, {split}_inst/, {split}_img/) and
classes.json, ready for 'hrgan shards --layout pix2pixhd'.

examples:
  hrgan synth --out data/synth --num 200 --size 2048x1024 --seed 0 --split train
  hrgan synth --out data/synth --num 20 --size 1024x512 --split val --seed 1
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hrgan.commands.common import command_parser, non_negative_int, parse_size, positive_int


def build_parser():
    parser = command_parser("hrgan synth", __doc__)
    parser.add_argument("--out", type=Path, required=True, help="output root (gets {split}_label/, {split}_inst/, {split}_img/)")
    parser.add_argument("--num", type=positive_int, required=True, help="number of scenes")
    parser.add_argument("--size", type=parse_size, default=(2048, 1024), help="WIDTHxHEIGHT (default: 2048x1024)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="scene i of seed s is always the same (default: %(default)s)")
    parser.add_argument("--split", default="train", help="split name used in folder names (default: %(default)s)")
    parser.add_argument("--image-format", choices=("png", "jpg"), default="png", help="photo format (default: %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=min(8, os.cpu_count() or 1), help="processes (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hrgan.data.synthetic import write_dataset

    write_dataset(args.out, num=args.num, width=args.size[0], height=args.size[1], seed=args.seed, split=args.split,
                  image_format=args.image_format, workers=args.workers)
    print(f"wrote {args.num} {args.split} scenes at {args.size[0]}x{args.size[1]} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
