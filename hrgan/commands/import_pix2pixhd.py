"""hrgan import-pix2pixhd: NVIDIA pix2pixHD generator weights (latest_net_G.pth) as an hrgan inference export.

The network's sizes (global or local, ngf, blocks, enhancers, input channels)
are read off the weights; the options you give are checked against them. The
input channels must equal --label-nc (--input-nc for models trained with
--label_nc 0, on input images) + 1 (instance edges, unless --instance-edges
false) + the encoder's feature channels (--encoder latest_net_E.pth for models
trained with --instance_feat). The files are read
with torch.load(weights_only=True).

examples:
  hrgan import-pix2pixhd --generator checkpoints/label2city_1024p/latest_net_G.pth --label-nc 35 --classes cityscapes --out city1024.pt
  hrgan import-pix2pixhd --generator latest_net_G.pth --netG global --ngf 64 --label-nc 35 --instance-edges false --out global.pt
  hrgan import-pix2pixhd --generator latest_net_G.pth --label-nc 0 --input-nc 3 --instance-edges false --out photo2photo.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

from hrgan.commands.common import boolean, command_parser, non_negative_int, positive_int, save_import

PROG = "hrgan import-pix2pixhd"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--generator", type=Path, required=True, help="pix2pixHD's latest_net_G.pth (or any saved net_G)")
    parser.add_argument("--encoder", type=Path, help="latest_net_E.pth of a model trained with --instance_feat")
    parser.add_argument("--netG", choices=("global", "local"), help="check the network type (read from the weights)")
    parser.add_argument("--ngf", type=positive_int, help="check ngf (read from the weights)")
    parser.add_argument("--label-nc", type=non_negative_int, default=35,
                        help="classes, as pix2pixHD's --label_nc; 0 for a model on input images (default: %(default)s, Cityscapes)")
    parser.add_argument("--input-nc", type=positive_int, choices=(1, 3), default=3,
                        help="with --label-nc 0: the input images' channels, as pix2pixHD's --input_nc (default: %(default)s)")
    parser.add_argument("--instance-edges", type=boolean, default=True, metavar="true|false",
                        help="the model takes the instance-edge channel (false: it was trained with pix2pixHD's --no_instance; default: true)")
    parser.add_argument("--ignore-index", type=non_negative_int, help="a label value that means unlabeled (all-zero one-hot)")
    parser.add_argument("--classes", help="class names/colours: cityscapes, a classes.json path (default: numbered)")
    parser.add_argument("--out", type=Path, required=True, help="the hrgan export to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hrgan.inference.official_import import build_export

    export, code = save_import(PROG, args.out, lambda: build_export(
        args.generator, label_nc=args.label_nc, input_nc=args.input_nc, use_instance_edges=args.instance_edges,
        encoder_path=args.encoder, netG=args.netG, ngf=args.ngf, ignore_index=args.ignore_index, classes=args.classes))
    if export is None:
        return code
    g = export["generator"]["init_args"]
    print(f"{args.out}: {export['generator']['class_path'].rsplit('.', 1)[-1]} {g}, label_nc {args.label_nc}, "
          f"instance edges {'on' if args.instance_edges else 'off'}, features {export['feat_num']}")
    print(f"try it: hrgan infer --checkpoint {args.out} " + ("--inputs IMAGES" if args.label_nc == 0 else "--labels LABELS")
          + (" --instances INSTANCES" if args.instance_edges else "") + " --out OUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
