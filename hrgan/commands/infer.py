"""hrgan infer: label maps (or input images) to photos with a trained model, at any size.

An image-input model (trained on 'hrgan shards --input image' shards: photo->photo,
edges->photo, pix2pix's A->B) reads input images instead of label maps: pass
them with --inputs (the same option as --labels); --side-by-side then shows
input | output.

Inputs are paired by file stem; each output is OUTDIR/STEM.png (with
--side-by-side also STEM_side.png: colourised label | photo). Inputs of any size
are padded (reflection) to the network's multiple and cropped back.

Scale: by default (--size trained) every map is resized (nearest) to the scale
the model trained at (the export records it; maps of another aspect ratio get
the same pixel count) and each photo is resized back to its map's size: a
model applied at twice its training scale paints texture at half its size.
--size native runs on the maps as they are; --size WxH resizes the maps to WxH
and writes WxH photos. Maps more than 2x off the training scale are warned about. Existing
outputs are kept unless --overwrite; every file is written under a temporary
name and renamed. One bad input never stops the others: the summary lists
every failure with its reason, and the exit code is 1 when any failed. Failures
include a shard member whose key would lead outside OUTDIR (absolute, '..'), a
tar truncated mid-member (named; the samples before the cut are used) and an
image over the pixel limit (HRGAN_MAX_PIXELS, default 2**26), refused from its
header before it is decoded.

Styles: a model with instance features (pix2pixHD's feat_num) takes --style
random (a random cluster per instance), cluster:K or from-image:PATH (the
photo's encoder features). A SPADE model with the VAE takes --style random (z
drawn from N(0, 1)) or from-image PATH (the photo's z, the encoder's posterior
mean). Random styles are drawn per map from --seed and the map's name, so a map
gets the same photo whatever the batch, device or other inputs. Models without
either are deterministic and ignore --style.

examples:
  hrgan infer --checkpoint runs/demo/export.pt --labels data/test_label --instances data/test_inst --out out/
  hrgan infer --checkpoint last.ckpt --labels 'maps/**/*_labelIds.png' --instances 'maps/**/*_instanceIds.png' --out out/
  hrgan infer --checkpoint export.pt --labels 'shards/val-{000000..000003}.tar' --out out/ --device cuda --precision bf16
  hrgan infer --checkpoint export.pt --labels facade.png --palette palette.json --instance-edges false --out out/
  hrgan infer --checkpoint export.pt --labels l/ --instances i/ --out out/ --style cluster:3   (models with styles)
  hrgan infer --checkpoint runs/spade/export.pt --labels l/ --instances i/ --out out/ --style random --seed 7   (SPADE + VAE)
  hrgan infer --checkpoint runs/spade/export.pt --labels l/ --instances i/ --out out/ --style from-image photo.jpg
  hrgan infer --checkpoint runs/pix2pix_facades/export.pt --inputs facades/test_label_rgb --out out/   (image inputs)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hrgan.commands.common import (USAGE_ERROR, add_device, argument_type, boolean, command_parser, fail,
                                   non_negative_int, parse_arguments, positive_int, warn)
from hrgan.inference.options import PRECISION_NAMES, TRAINED, InferOptions, Style, parse_scale

PROG = "hrgan infer"


class StyleAction(argparse.Action):
    """``--style random``, ``--style cluster:K``, ``--style from-image PATH`` or ``--style from-image:PATH``."""

    def __call__(self, parser, namespace, values, option_string=None):
        text = ":".join(values) if len(values) == 2 and values[0] == "from-image" else " ".join(values)
        try:
            setattr(namespace, self.dest, Style.parse(text))
        except ValueError as error:
            parser.error(f"argument --style: {error}")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint (EMA weights when present)")
    parser.add_argument("--labels", "--inputs", dest="labels", required=True,
                        help="label map (or, for an image-input model, input image) file, folder (recursive), glob, "
                             "or WebDataset shard URLs")
    parser.add_argument("--instances", help="instance map file, folder or glob, paired with the labels by stem")
    parser.add_argument("--instance-edges", type=boolean, default=True, metavar="true|false",
                        help="false: read no instance maps and run a model trained with them on an all-zero edge channel (default: true)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--label-offset", type=int, metavar="K",
                        help="the label files' value of class 0, as for hrgan shards (1 for classes numbered from 1; "
                             "default: the export's class table's, else 0)")
    parser.add_argument("--ignore-index", type=non_negative_int, metavar="V",
                        help="the label files' value for unlabeled pixels, read as the model's ignore value "
                             "(default: the class table's with its offset, else the model's)")
    parser.add_argument("--size", type=argument_type(parse_scale), default=TRAINED, metavar="trained|native|WxH",
                        help="the scale the model runs at: trained (default; photos come back at each map's size), "
                             "native (the maps as they are) or WxH (maps resized to it, photos at WxH)")
    parser.add_argument("--palette", type=Path, help="palette JSON to turn colour-coded label images into class ids")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="maps per forward pass (same-size neighbours are batched; default: %(default)s)")
    add_device(parser)
    parser.add_argument("--precision", choices=PRECISION_NAMES, default="32", help="32, bf16 or 16 (autocast; default: %(default)s)")
    parser.add_argument("--style", nargs="+", action=StyleAction, metavar="STYLE",
                        help="random, cluster:K (instance features) or from-image PATH (also from-image:PATH); see Styles above")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed for --style random (each map is reproducible alone; default: %(default)s)")
    parser.add_argument("--side-by-side", action="store_true", help="also write STEM_side.png: colourised label | photo")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--workers", type=non_negative_int, default=2, help="processes reading inputs (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    options = InferOptions(
        out=args.out, instances=args.instances, instance_edges=args.instance_edges, scale=args.size, palette=args.palette,
        label_offset=args.label_offset, ignore_index=args.ignore_index,
        batch_size=args.batch_size, style=args.style, seed=args.seed, side_by_side=args.side_by_side,
        overwrite=args.overwrite, workers=args.workers,
    )
    from hrgan.inference.runner import check_options, run_inference
    from hrgan.inference.scale import describe_scale
    from hrgan.inference.synthesizer import Synthesizer

    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device, precision=args.precision)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        return fail(PROG, str(error))
    usage_problem, model_problem = check_options(synth, args.checkpoint, args.labels, options)
    if usage_problem:
        return fail(PROG, usage_problem, USAGE_ERROR)
    if model_problem:
        return fail(PROG, model_problem)
    print(describe_scale(options.scale, synth.resolution))
    if args.style is not None and not synth.family.style.choices:
        warn(PROG, "this model takes no style (no instance features, no VAE); --style is ignored")
    try:
        summary = run_inference(synth, args.labels, options, on_warning=lambda line: warn(PROG, line))
    except FileNotFoundError as error:
        return fail(PROG, str(error))
    print(summary.report(args.out))
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
