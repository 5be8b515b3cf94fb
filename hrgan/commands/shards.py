"""hrgan shards: validate paired files and write them as WebDataset shards with a manifest.

Each sample becomes label.png (8 or 16 bit), inst.png (16 bit, when present),
img.<ext> (the original bytes unless --reencode or --size) and json (size and
source paths) in OUT/SPLIT-NNNNNN.tar. OUT/manifest.json records, per split,
the shards and their sample counts, label_nc, the ignore value, the class
table, per-class pixel frequencies, the label values found, image sizes,
instance presence and every skipped file with its reason.

Label conventions: the mask files' value of class 0 is --label-offset (ADE20K:
1, so file values 1..150 are stored as 0..149) and their "unlabeled" value is
--ignore-index (ADE20K: 0, COCO-Stuff: 255); with an offset, unlabeled pixels
are stored as 255. --classes NAME (a built-in table: ade20k, celebamask-hq,
cityscapes, coco-stuff, facades, synthetic) or --classes FILE (a classes.json)
gives label_nc, the offset and the ignore value in one option; a classes.json
under --root is read when neither --classes nor --label-nc is given. The
command prints the values it found and what to pass when they disagree with
the options; when they show that the options would store wrong ids (classes
numbered from 1 read from 0, an ignore value that is also a class) it writes
nothing and fails, unless --accept-labels.

Image inputs (pix2pixHD's --label_nc 0: photo->photo, edges->photo, maps->aerial): with --input image
the input side (--labels, or the A|B halves) is stored as an image (input.<ext>, its own bytes unless
--reencode, --size or a half), not as class ids, and the manifest records label_nc 0. A colour-coded
label image can be either: with --palette it becomes class ids (one-hot input, class names in samples,
FCN-score in evaluate); with --input image the model sees its colours as they are.

Aligned files (pix2pix's datasets): --layout aligned reads ROOT/SPLIT/*.jpg (or --images), each file A|B
side by side; --direction AtoB (default) takes the left half as the input, BtoA the right.

Sizes: with --size WxH every modality is resized to WxH before sizes are
compared (photos Lanczos, label and instance maps nearest), so 512x512 masks
pair with their 1024x1024 photos and a set of mixed sizes comes out uniform;
pairs whose aspect ratios differ are bad samples.

Bad samples (unreadable, truncated, sizes that differ, label values that are
neither a class nor the ignore value, over the pixel limit HRGAN_MAX_PIXELS,
default 2**26) are skipped. When more than --max-bad-fraction of them are bad
the command fails (exit 1) and writes nothing: the split's existing shards and
OUT/manifest.json stay as they were. A corrupt OUT/manifest.json is named and
left as it is (exit 1).

examples:
  hrgan shards --layout cityscapes --root /data/cityscapes --split train --out shards/ --label-nc 35
  hrgan shards --layout pix2pixhd --root data/synth --split train --out data/synth/shards --size 1024x512
  hrgan shards --layout folders --root data --labels 'masks/{split}' --images 'photos/{split}' --out shards/ --label-nc 19
  hrgan shards --layout aligned --root datasets/facades --split train --direction BtoA --input image --out shards/
  hrgan shards --layout folders --root day2night --labels 'day/{split}' --images 'night/{split}' --input image --out shards/
  hrgan shards --layout folders --root ADEChallengeData2016 --labels 'annotations/{split}' --images 'images/{split}' \
      --split training --classes ade20k --size 512x512 --out shards/
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hrgan.commands.common import (command_parser, fail, fraction, non_negative_float, non_negative_int, parse_size, positive_float,
                                   positive_int)
from hrgan.data.layouts import DIRECTIONS, LAYOUTS

PROG = "hrgan shards"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--layout", choices=LAYOUTS, required=True,
                        help="pix2pixhd: {split}_label/_inst/_img folders; cityscapes: gtFine/ + leftImg8bit/; folders: "
                             "--labels/--instances/--images; aligned: {split}/ of pix2pix's A|B files")
    parser.add_argument("--input", choices=("labels", "image"), default="labels",
                        help="what the input side holds: label maps (class ids) or images (label_nc 0; no class "
                             "options apply) (default: %(default)s)")
    parser.add_argument("--direction", choices=DIRECTIONS, default="AtoB",
                        help="aligned layout: AtoB takes the left half as the input, BtoA the right (default: %(default)s)")
    parser.add_argument("--root", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="train", help="split name (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for {split}-NNNNNN.tar and manifest.json")
    parser.add_argument("--classes", metavar="NAME|FILE",
                        help="class table: a built-in name or a classes.json; gives label_nc, --label-offset and "
                             "--ignore-index unless they are passed (default: classes.json under --root, if any)")
    parser.add_argument("--label-nc", type=positive_int, help="number of label classes (default: from the class table)")
    parser.add_argument("--ignore-index", type=non_negative_int,
                        help="the mask files' value meaning 'unlabeled' (e.g. 255 for COCO-Stuff, 0 for ADE20K)")
    parser.add_argument("--label-offset", type=int, metavar="K",
                        help="the mask files' value of class 0: stored id = value - K (1 for classes numbered from 1; "
                             "default: from the class table, else 0)")
    parser.add_argument("--palette", type=Path, help="JSON palette mapping colours to class ids, for colour-coded label images")
    parser.add_argument("--palette-tolerance", type=non_negative_float, default=30.0, help="RGB distance counted as a match (default: %(default)s)")
    parser.add_argument("--labels", help="folders layout: label (or input image) folder or glob relative to --root ({split} is replaced)")
    parser.add_argument("--instances", help="folders layout: instance folder or glob")
    parser.add_argument("--images", help="folders layout: photo folder or glob; aligned layout: the A|B files (default: {split})")
    parser.add_argument("--allow-missing-images", action="store_true", help="keep labels without a photo (inference sets)")
    parser.add_argument("--reencode", choices=("png", "jpg"), help="re-encode photos instead of storing their bytes")
    parser.add_argument("--size", type=parse_size, metavar="WxH",
                        help="resize every sample once, here (labels and instances nearest, photos Lanczos, re-encoded in "
                             "their own format unless --reencode): training at 1024x512 from 2048x1024 frames then "
                             "decodes a quarter of the pixels per sample")
    parser.add_argument("--accept-labels", action="store_true",
                        help="write the shards even when the label values show the options to be wrong (classes "
                             "numbered from 1 read from 0, an ignore value that is also a class)")
    parser.add_argument("--max-shard-samples", type=positive_int, default=1000, help="samples per shard at most (default: %(default)s)")
    parser.add_argument("--max-shard-mb", type=positive_float, default=512, help="shard size in MiB at most (default: %(default)s)")
    parser.add_argument("--max-bad-fraction", type=fraction, default=0.05,
                        help="exit 1 when more than this fraction of samples is bad (default: %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=min(8, os.cpu_count() or 1), help="processes (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing shards of this split")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from hrgan.data.labels import describe_values
    from hrgan.data.palette import Palette
    from hrgan.data.labels import LabelConvention
    from hrgan.data.shards import label_convention, write_split

    if args.input == "image":
        given = [f"--{n.replace('_', '-')}" for n in ("label_nc", "ignore_index", "label_offset", "classes", "palette")
                 if getattr(args, n) is not None]
        if given:
            parser.error(f"--input image stores the input as an image; {', '.join(given)} only apply to label maps")
        convention, classes = LabelConvention(label_nc=0), None
    else:
        try:
            convention, classes = label_convention(args.root, label_nc=args.label_nc, ignore_index=args.ignore_index,
                                                   label_offset=args.label_offset, classes=args.classes)
        except FileNotFoundError as error:
            return fail(PROG, str(error))
        except ValueError as error:
            parser.error(str(error))
    try:
        palette = Palette.load(args.palette, tolerance=args.palette_tolerance) if args.palette else None
        result = write_split(
            args.layout, args.root, args.split, args.out, convention=convention, classes=classes,
            palette=palette, labels=args.labels, instances=args.instances, images=args.images,
            require_images=not args.allow_missing_images, direction=args.direction, reencode=args.reencode, size=args.size,
            max_shard_samples=args.max_shard_samples, max_shard_mb=args.max_shard_mb, workers=args.workers,
            overwrite=args.overwrite, max_bad_fraction=args.max_bad_fraction, strict_labels=not args.accept_labels,
        )
    except FileExistsError as error:
        parser.error(str(error))
    except (FileNotFoundError, ValueError) as error:
        return fail(PROG, str(error))
    for item in result.unpaired:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
    for item in result.bad:  # the reason names the file
        print(f"bad sample {item.reason}" if str(item.path) in item.reason else f"bad sample {item.path}: {item.reason}",
              file=sys.stderr)
    entry = result.entry
    offset = f", offset {convention.offset}" if convention.offset else ""
    ignore = f", ignore value {convention.ignore_index}" if convention.ignore_index is not None else ""
    if args.input == "labels":
        print(f"label values found: {describe_values(result.label_values)} (label_nc {convention.label_nc}{offset}{ignore})")
    for line in result.advice:
        print(f"check: {line}", file=sys.stderr)
    if "palette_outside_fraction" in entry:
        outside = entry["palette_outside_fraction"]
        print(f"palette: on average {outside['mean']:.1%} of label pixels were farther than {args.palette_tolerance} "
              f"from every palette colour (max {outside['max']:.1%})")
    if result.refusal:
        return fail(PROG, f"{result.refusal}; nothing written, {args.out} left as it was")
    sizes = ", ".join(f"{size} ({n})" for size, n in sorted(entry["image_sizes"].items(), key=lambda kv: -kv[1]))
    print(f"wrote {entry['num_samples']} samples in {len(entry['shards'])} shards to {args.out} ({result.manifest.name} "
          f"updated); {len(result.bad)} bad, {len(result.unpaired)} unpaired files skipped; sizes: {sizes or 'none'}")
    if len(entry["image_sizes"]) > 1:
        print("check: the samples have several sizes; pass --size WxH (here) or --data.load_size [W,H] (hrgan fit) "
              "to train on them", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
