"""hrgan import-spade: NVlabs/SPADE (GauGAN) checkpoints as an hrgan inference export.

Give SPADE's own options: --label-nc as its --label_nc (Cityscapes 35,
ADE20K 150, COCO-Stuff 182), --dontcare-label for --contain_dontcare_label
(ADE20K, COCO-Stuff), --instance-edges false for --no_instance (ADE20K). The
generator's input channels must equal label_nc + the don't-care label + the
instance edge. ngf, the VAE (z_dim, latent map) and a fifth up block are read
off the weights; --num-upsampling-layers more must be given (its keys are
normal's), and VAE models need SPADE's --aspect_ratio when it is not 1. With
the don't-care label, label files' unlabeled value (the class table's, or
hrgan infer --ignore-index) is read as that last class, as SPADE's loaders do.
Keys and spectral-norm state (weight_orig, weight_u, weight_v) are SPADE's own,
so the weights load unchanged. Files are read with torch.load(weights_only=True).

examples:
  hrgan import-spade --generator checkpoints/cityscapes_pretrained/latest_net_G.pth --label-nc 35 --classes cityscapes --out spade_city.pt
  hrgan import-spade --generator checkpoints/ade20k_pretrained/latest_net_G.pth --label-nc 150 --dontcare-label --instance-edges false --classes ade20k --out spade_ade.pt
  hrgan import-spade --generator checkpoints/coco_pretrained/latest_net_G.pth --label-nc 182 --dontcare-label --classes coco-stuff --out spade_coco.pt
  hrgan import-spade --generator G.pth --encoder E.pth --label-nc 35 --aspect-ratio 2 --out spade_vae.pt   (VAE: hrgan infer --style)
"""

from __future__ import annotations

import sys
from pathlib import Path

from hrgan.commands.common import boolean, command_parser, positive_float, positive_int, save_import, warn

PROG = "hrgan import-spade"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--generator", type=Path, required=True, help="SPADE's latest_net_G.pth (or any saved net_G)")
    parser.add_argument("--encoder", type=Path, help="latest_net_E.pth of a VAE model (--use_vae): enables hrgan infer --style from-image")
    parser.add_argument("--label-nc", type=positive_int, required=True, help="SPADE's --label_nc (Cityscapes 35, ADE20K 150, COCO-Stuff 182)")
    parser.add_argument("--dontcare-label", action="store_true", help="the model was trained with SPADE's --contain_dontcare_label")
    parser.add_argument("--instance-edges", type=boolean, default=True, metavar="true|false",
                        help="the model takes the instance-edge channel (false: SPADE's --no_instance; default: true)")
    parser.add_argument("--num-upsampling-layers", choices=("normal", "more", "most"),
                        help="SPADE's option (default: read off the weights: most, else normal)")
    parser.add_argument("--aspect-ratio", type=positive_float, default=1.0,
                        help="SPADE's --aspect_ratio: the shape of a VAE model's latent map (default: %(default)s)")
    parser.add_argument("--classes", help="a table of --label-nc classes: cityscapes, ade20k, coco-stuff or a classes.json path "
                        "(default: numbered)")
    parser.add_argument("--out", type=Path, required=True, help="the hrgan export to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hrgan.inference.spade_import import build_spade_export

    export, code = save_import(PROG, args.out, lambda: build_spade_export(
        args.generator, label_nc=args.label_nc, dontcare_label=args.dontcare_label, use_instance_edges=args.instance_edges,
        encoder_path=args.encoder, num_upsampling_layers=args.num_upsampling_layers, aspect_ratio=args.aspect_ratio,
        classes=args.classes))
    if export is None:
        return code
    if not args.dontcare_label and export["classes"]["ignore_index"] is not None:
        warn(PROG, f"the {args.classes} table has an unlabeled value ({export['classes']['ignore_index']}), which SPADE "
                   "reads as its don't-care label with --contain_dontcare_label (its ADE20K and COCO-Stuff models): "
                   "if this one was trained so, import it with --dontcare-label"
                   + (" --instance-edges false" if args.instance_edges else ""))
    g = export["generator"]["init_args"]
    vae = f", VAE z_dim {g['z_dim']}" + (" with its encoder" if export["style_encoder"] else " (no encoder: --style random only)")
    print(f"{args.out}: SPADEGenerator ngf {g['ngf']}, {g['num_upsampling_layers']} upsampling, label_nc {export['label_nc']}"
          + (" (the last is the don't-care label)" if args.dontcare_label else "")
          + f", instance edges {'on' if args.instance_edges else 'off'}{vae if g['z_dim'] else ''}")
    print(f"try it: hrgan infer --checkpoint {args.out} --labels LABELS" + (" --instances INSTANCES" if args.instance_edges else "")
          + " --out OUT" + (" --style random --seed 0" if g["z_dim"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
