"""hrgan export: the generator alone as TorchScript or ONNX, for serving without hrgan.

The exported network takes the conditioning tensor [B, C, H, W] (one-hot labels,
or an image-input model's input image in [-1, 1], then the instance-edge channel,
then instance features: C = label_nc (or input_nc) + edges + feat_num) and returns the image [B, 3, H, W] in [-1, 1]. H and W must be
multiples of the size multiple printed here and stored with the file (TorchScript:
the extra file hrgan.json; ONNX: metadata_props); the ONNX graph has dynamic
batch, height and width. Both hold CPU weights, whatever --device traced them
(torch.jit.load(FILE, map_location="cuda") moves a TorchScript file). 'hrgan
infer' does the padding and conditioning for you.

examples:
  hrgan export --checkpoint runs/demo/export.pt --format torchscript --out generator.pt
  hrgan export --checkpoint runs/demo/checkpoints/last.ckpt --format onnx --out generator.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path

from hrgan.commands.common import add_device, command_parser, fail, parse_arguments

PROG = "hrgan export"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint (EMA weights when present)")
    parser.add_argument("--format", choices=("torchscript", "onnx"), required=True, help="output format")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    add_device(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    from hrgan.inference.standalone import describe, export_generator
    from hrgan.inference.synthesizer import Synthesizer

    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device)
        path = export_generator(synth, args.format, args.out)
    except ImportError as error:
        return fail(PROG, f"ONNX export needs the onnx package: pip install 'hrgan[onnx]' ({error})")
    except (FileNotFoundError, ValueError) as error:
        return fail(PROG, str(error))
    meta = describe(synth)
    print(f"{path}: input [B, {meta['in_channels']}, H, W] with H and W multiples of {meta['size_multiple']}, "
          f"output [B, 3, H, W] in [-1, 1]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
