"""hrgan evaluate: FID, PSNR/SSIM and semantic consistency of a trained model on held-out labelled data.

Generates a photo for every labelled sample (EMA weights when the checkpoint
has them) and scores it:
  fid    FID against the real photos, with FID's own Inception-v3 weights read
         from a local file (--inception-weights, else the torch hub cache);
  psnr   PSNR against the real photo (dB, on the [0, 1] scale);
  ssim   SSIM against the real photo;
  miou   mIoU and pixel accuracy of your segmentation network (--segmenter, a
         TorchScript file mapping images in [-1, 1] to logits over the model's
         classes) on the generated photos against the input labels, the ignore
         label skipped; the same on the real photos is the ceiling.
Writes OUT (JSON: the means, per-class IoU, per-sample scores), OUT_classes.md
(the per-class table) and OUT_grid.png (worst and best samples: labels |
generated | real). With --devices N each process takes its share of the data
(each sample once) and the numbers are combined before they are written.
Styles: instance features (pix2pixHD's feat_num) and a SPADE VAE model's z
come from the real photo, as the papers' test scripts do (z: the style
encoder's posterior mean; without the encoder z ~ N(0, 1), seeded by the
sample's key), so a score does not depend on the run.

The model runs at the scale it trained at (--size trained, the default: the
export records the resolution), each photo resized back to its sample's size
to be scored; --size native runs at the samples' own size. Samples more than
2x off the training scale are warned about. Sets of mixed sizes: --load-size.

A corrupt sample (unreadable, truncated, oversized, labels outside the model's
classes, an unsafe key) is skipped and named; the report covers the others and
the exit code is 1 when any sample was skipped. More than 5% corrupt stops the
run. A --data folder is sharded into OUT_shards/, reused only while the
folder's files and the options are unchanged; a folder of shards must hold
SPLIT-*.tar (no other split is used in its place).

examples:
  hrgan evaluate --checkpoint runs/x/checkpoints/last.ckpt --data 'shards/val-*.tar' --metrics psnr,ssim --out eval/report.json
  hrgan evaluate --checkpoint export.pt --data /data/cityscapes --layout cityscapes --split val \\
      --inception-weights ~/weights/pt_inception-2015-12-05-6726825d.pth --segmenter drn105.pt --out eval/report.json
  hrgan evaluate --checkpoint last.ckpt --data 'shards/val-*.tar' --out r.json --device cuda --devices 8 --precision bf16
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from hrgan import __version__
from hrgan.commands.common import (USAGE_ERROR, add_device, any_size, argument_type, command_parser, fail,
                                   lightning_device, non_negative_int, parse_arguments, positive_int, warn)
from hrgan.data.layouts import DIRECTIONS, LAYOUTS
from hrgan.evaluation.options import METRICS, EvaluateOptions, parse_metrics
from hrgan.inference.options import PRECISION_NAMES, TRAINED, parse_scale

PROG = "hrgan evaluate"


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="an export (export.pt) or a Lightning checkpoint")
    parser.add_argument("--data", required=True, help="shards (paths, globs, brace patterns, pipe:) or a dataset folder")
    parser.add_argument("--layout", choices=LAYOUTS, default="pix2pixhd", help="layout of a --data folder (default: %(default)s)")
    parser.add_argument("--direction", choices=DIRECTIONS, default="AtoB",
                        help="aligned layout: AtoB takes the left half as the input, BtoA the right (default: %(default)s)")
    parser.add_argument("--split", default="test", help="split of a --data folder or shard folder (default: %(default)s)")
    parser.add_argument("--metrics", type=argument_type(parse_metrics), default=("fid", "psnr", "ssim"),
                        help=f"comma-separated, from {','.join(METRICS)} (default: fid,psnr,ssim)")
    parser.add_argument("--out", type=Path, required=True, help="report JSON; _classes.md and _grid.png go beside it")
    parser.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth (default: the torch hub cache)")
    parser.add_argument("--segmenter", type=Path, help="TorchScript segmentation network for miou")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="per process (default: %(default)s)")
    parser.add_argument("--workers", type=non_negative_int, default=2, help="data loader processes per device (default: %(default)s)")
    parser.add_argument("--load-size", type=any_size, help="resize every sample (its photo too) to WxH first")
    parser.add_argument("--size", type=argument_type(parse_scale), default=TRAINED, metavar="trained|native|WxH",
                        help="the scale the model runs at, each photo resized back to its sample's size to be scored: "
                             "trained (default: the resolution the export records), native or WxH")
    add_device(parser)
    parser.add_argument("--devices", type=positive_int, default=1, help="processes (GPUs) to spread the data over")
    parser.add_argument("--precision", choices=PRECISION_NAMES, default="32", help="generator precision (default: %(default)s)")
    parser.add_argument("--keep", type=non_negative_int, default=4, help="worst and best samples in the grid (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    if args.out.is_dir():
        return fail(PROG, f"--out {args.out} is a folder; give the report's file name, e.g. {args.out / 'report.json'}", USAGE_ERROR)
    if args.out.exists() and not args.overwrite:
        return fail(PROG, f"{args.out} exists; pass --overwrite to replace it", USAGE_ERROR)
    if "miou" in args.metrics and args.segmenter is None:
        return fail(PROG, "miou needs --segmenter model.pt (TorchScript, images in [-1, 1] -> logits)", USAGE_ERROR)
    options = EvaluateOptions(
        checkpoint=args.checkpoint, data=args.data, out=args.out, metrics=args.metrics, layout=args.layout,
        direction=args.direction,
        split=args.split, inception_weights=args.inception_weights, segmenter=args.segmenter,
        batch_size=args.batch_size, workers=args.workers, load_size=args.load_size, scale=args.size, precision=args.precision,
        keep=args.keep,
    )
    from lightning_fabric import Fabric

    from hrgan.data.stream import TooManyBadSamples
    from hrgan.evaluation.report import summary_line, write_report
    from hrgan.evaluation.run import evaluate

    accelerator, one_device = lightning_device(args.device)
    fabric = Fabric(accelerator=accelerator, devices=args.devices if args.devices > 1 else one_device,
                    strategy="ddp" if args.devices > 1 else "auto")
    fabric.launch()
    try:
        result = evaluate(options, fabric, on_warning=lambda line: warn(PROG, line))
    except TooManyBadSamples as error:  # raised in a DataLoader worker: its re-raise carries the traceback
        return fail(PROG, error.line())
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        return fail(PROG, str(error))
    if fabric.global_rank != 0:
        return 0
    if result["num_samples"] == 0:
        return fail(PROG, f"no samples with a photo in {args.data}")
    meta = {
        "checkpoint": str(args.checkpoint), "iteration": result["iteration"], "data": args.data, "metrics": list(args.metrics),
        "skipped": result["skipped"],
        "inception_weights": args.inception_weights if "fid" in args.metrics else None,
        "segmenter": str(args.segmenter) if args.segmenter else None, "processes": fabric.world_size,
        "precision": args.precision, "hrgan": __version__, "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    written = write_report(args.out, result, names=result["names"], meta=meta)
    print(summary_line(result) + f", skipped {result['skipped']}")
    for kind, path in written.items():
        print(f"{kind}: {path}")
    if result["skipped"]:
        return fail(PROG, f"skipped {result['skipped']} samples (corrupt, unreadable or lost to a truncated shard; "
                          "each is named above); the report covers the others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
