"""hrgan init-config: write a commented starter config for a shard set.

Reads the shards' manifest.json and writes a YAML config for 'hrgan fit':
label_nc, the ignore value, the class table and instance-edge use as the
shards record them; the training resolution from the commonest sample size
(long side at most 256 for --device cpu, 1024 for gpu, in multiples of 32;
load_size when the set has several sizes); a network and schedule sized for
the device (CPU: ngf 32, 3000 iterations; GPU: pix2pixHD's ngf 64 and 200
epochs, with a local enhancer stage from 1024 pixels up). Every value is
commented. The validation split is the folder's 'val', 'test' or
'validation' shards when there are any.

examples:
  hrgan init-config --data data/facades/shards --out configs/my_facades.yaml
  hrgan init-config --data shards/ --device gpu --run-dir runs/ade --out ade.yaml
"""

from __future__ import annotations

import argparse

import sys
from pathlib import Path

from hrgan.commands.common import USAGE_ERROR, command_parser, fail

PROG = "hrgan init-config"
VAL_SPLITS = ("val", "test", "validation")


def target_device(text: str) -> str:
    """``--device`` as a sizing target: ``auto``, ``cpu`` or ``gpu`` (from cuda, cuda:N or gpu)."""
    if text in ("auto", "cpu"):
        return text
    if text == "gpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        return "gpu"
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--data", type=Path, required=True, help="a shard folder with manifest.json (from 'hrgan shards')")
    parser.add_argument("--split", default="train", help="the training split (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="the config file to write")
    parser.add_argument("--device", type=target_device, default="auto", metavar="auto|cpu|cuda",
                        help="the machine to size the network and schedule for, with the device names of every "
                             "command (cuda, cuda:N or gpu: a GPU, which need not be this machine's; default: auto, "
                             "a GPU when CUDA is available here)")
    parser.add_argument("--run-dir", help="trainer.default_root_dir (default: runs/<the config's name>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing config")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out.exists() and not args.overwrite:
        return fail(PROG, f"{args.out} exists; pass --overwrite to replace it", USAGE_ERROR)
    from hrgan.data.shards import MANIFEST, read_manifest
    from hrgan.io import OutputError, write_bytes_atomic
    from hrgan.training.starter_config import DataFacts, starter_config

    manifest = args.data / MANIFEST
    if not manifest.is_file():
        return fail(PROG, f"{args.data} has no {MANIFEST}: write shards with 'hrgan shards' first")
    try:
        splits = read_manifest(manifest)["splits"]
        if args.split not in splits:
            return fail(PROG, f"{manifest} has no split {args.split!r} (it has {', '.join(sorted(splits)) or 'none'}); "
                              "pass --split", USAGE_ERROR)
        facts = DataFacts.from_entry(splits[args.split])
    except (ValueError, KeyError) as error:
        return fail(PROG, f"{manifest}: {error}")
    device = args.device
    if device == "auto":
        import torch

        device = "gpu" if torch.cuda.is_available() else "cpu"
    val = next((s for s in VAL_SPLITS if s in splits and s != args.split), None)
    text = starter_config(facts, train_urls=str(args.data / f"{args.split}-*.tar"),
                          val_urls=str(args.data / f"{val}-*.tar") if val else None, device=device,
                          run_dir=args.run_dir or f"runs/{args.out.stem}")
    try:
        write_bytes_atomic(args.out, text.encode())
    except (OSError, OutputError) as error:
        return fail(PROG, f"cannot write {args.out}: {error}")
    print(f"wrote {args.out} for {facts.num_samples} samples, {f'{facts.label_nc} classes' if facts.label_nc else 'image inputs'}, sized for a {device.upper()}; "
          f"train with: hrgan fit --config {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
