"""hrgan selftest: train a tiny model through the real pipeline, to check an installation or a GPU node.

Makes 8 synthetic scenes, shards them, and trains a small pix2pixHD (global
generator, then one local enhancer) through the same DataModule, module,
callbacks and checkpoint IO as 'hrgan fit', for --steps iterations. Writes
selftest.json (losses per iteration, seconds per iteration, parameter counts,
device) and samples/latest.png (labels | edges | generated | real) to --out.
Exit code 1 when a loss is not finite or the run stopped early.

examples:
  hrgan selftest
  hrgan selftest --device cuda --precision bf16-mixed --size 512x256 --steps 20
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from hrgan.commands.common import (add_device, command_parser, fail, lightning_device, non_negative_int, parse_arguments, parse_size,
                                   positive_int)

PROG = "hrgan selftest"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/selftest"), help="output folder (default: %(default)s)")
    parser.add_argument("--size", type=functools.partial(parse_size, multiple=32), default=(128, 64),
                        help="WIDTHxHEIGHT of stage 2, multiples of 32 (default: 128x64)")
    parser.add_argument("--steps", type=positive_int, default=10, help="training iterations, split over 2 stages (default: %(default)s)")
    add_device(parser)
    parser.add_argument("--precision", default="32", choices=("32", "bf16-mixed", "16-mixed"), help="(default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    from hrgan.training.selftest import run

    accelerator, devices = lightning_device(args.device)
    report = run(out=args.out, width=args.size[0], height=args.size[1], steps=args.steps, accelerator=accelerator,
                 devices=devices, precision=args.precision, seed=args.seed)
    first, last = report["losses"][0], report["losses"][-1]
    print(f"device {report['device']}, {report['steps']} iterations at up to {report['size']}, "
          f"{report['seconds_per_step']:.3f} s/iteration, precision {report['precision']}")
    print(f"VGG loss: {report['vgg_loss']}")
    print("losses first -> last: " + ", ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in first if k in last))
    print(f"wrote {args.out / 'selftest.json'} and {args.out / 'samples' / 'latest.png'}")
    if not report["ok"]:
        return fail(PROG, "FAILED: a loss is not finite or the run stopped early")
    return 0


if __name__ == "__main__":
    sys.exit(main())
