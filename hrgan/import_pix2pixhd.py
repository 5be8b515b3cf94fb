"""hrgan import-pix2pixhd: NVIDIA pix2pixHD generator weights (latest_net_G.pth) as an hrgan inference export.

The network's sizes (global or local, ngf, blocks, enhancers, input channels)
are read off the weights; the options you give are checked against them. The
input channels must equal --label-nc + 1 (instance edges, unless --no-instance)
+ the encoder's feature channels (--encoder latest_net_E.pth for models trained
with --instance_feat). The file is read with torch.load(weights_only=True).

examples:
  hrgan import-pix2pixhd --generator checkpoints/label2city_1024p/latest_net_G.pth --label-nc 35 --classes cityscapes --out city1024.pt
  hrgan import-pix2pixhd --generator latest_net_G.pth --netG global --ngf 64 --label-nc 35 --no-instance --out global.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from hrgan.artifacts import make_export, save_export
from hrgan.data.classes import load_classes
from hrgan.models import GlobalGenerator, Pix2PixHDGenerator, build_from_pix2pixhd


def _load(path: Path, what: str):
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file")
    try:
        return build_from_pix2pixhd(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # unreadable, pickled code, not an official layout
        raise ValueError(f"{path}: not a pix2pixHD {what} state dict ({error})") from error


def build_export(args: argparse.Namespace) -> dict:
    """The export dict for the official weights named in ``args``; ``ValueError`` on any disagreement."""
    generator = _load(args.generator, "generator")
    if isinstance(generator, GlobalGenerator):
        net, ngf, n_local = "global", generator.init_args["ngf"], 0
    elif isinstance(generator, Pix2PixHDGenerator):
        net, ngf, n_local = "local", generator.init_args["ngf"], generator.init_args["n_local_enhancers"]
    else:
        raise ValueError(f"{args.generator}: holds an encoder, not a generator (give it as --encoder)")
    if args.netG and args.netG != net:
        raise ValueError(f"{args.generator}: --netG {args.netG}, but the weights are a {net} generator")
    if args.ngf and args.ngf != ngf:
        raise ValueError(f"{args.generator}: --ngf {args.ngf}, but the weights have ngf {ngf}")
    encoder = _load(args.encoder, "encoder") if args.encoder else None
    feat_num = encoder.feat_num if encoder is not None else 0
    expected = args.label_nc + (0 if args.no_instance else 1) + feat_num
    channels = generator.init_args["in_channels"]
    if channels != expected:
        hint = " (models trained with --instance_feat need --encoder latest_net_E.pth)" if channels > expected else ""
        raise ValueError(
            f"{args.generator}: the generator takes {channels} input channels, but --label-nc {args.label_nc}"
            f"{'' if args.no_instance else ' + 1 instance edge'} + {feat_num} features = {expected}{hint}"
        )
    classes = load_classes(args.classes, args.label_nc)
    return make_export(
        generator=generator,
        encoder=encoder,
        label_nc=args.label_nc,
        ignore_index=args.ignore_index,
        use_instance_edges=not args.no_instance,
        feat_num=feat_num,
        n_active_enhancers=n_local,
        classes=classes,
        imported_from=str(args.generator),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hrgan import-pix2pixhd", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", type=Path, required=True, help="pix2pixHD's latest_net_G.pth (or any saved net_G)")
    parser.add_argument("--encoder", type=Path, help="latest_net_E.pth of a model trained with --instance_feat")
    parser.add_argument("--netG", choices=("global", "local"), help="check the network type (read from the weights)")
    parser.add_argument("--ngf", type=int, help="check ngf (read from the weights)")
    parser.add_argument("--label-nc", type=int, default=35, help="classes, as pix2pixHD's --label_nc (default: %(default)s, Cityscapes)")
    parser.add_argument("--no-instance", action="store_true", help="the model was trained with --no_instance")
    parser.add_argument("--ignore-index", type=int, help="a label value that means unlabeled (all-zero one-hot)")
    parser.add_argument("--classes", help="class names/colours: cityscapes, a classes.json path (default: numbered)")
    parser.add_argument("--out", type=Path, required=True, help="the hrgan export to write")
    args = parser.parse_args(argv)
    try:
        export = build_export(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"hrgan import-pix2pixhd: {error}", file=sys.stderr)
        return 2
    save_export(args.out, export)
    g = export["generator"]["init_args"]
    print(f"{args.out}: {export['generator']['class_path'].rsplit('.', 1)[-1]} {g}, label_nc {args.label_nc}, "
          f"instance edges {'off' if args.no_instance else 'on'}, features {export['feat_num']}")
    print(f"try it: hrgan infer --checkpoint {args.out} --labels LABELS" + ("" if args.no_instance else " --instances INSTANCES")
          + " --out OUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
