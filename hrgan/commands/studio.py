"""hrgan studio: edit label maps in the browser and see the photo the model makes of them.

Opens the label maps of --labels (with the instance maps of --instances,
paired by stem) or blank canvases at the model's training size, and serves an
editor at http://HOST:PORT/: a palette of the model's classes, a brush, flood
fill, erase to unlabeled (models with an ignore value), new objects (fresh
instance ids, so instance edges appear), select / delete an object, undo and
redo, downloads of the label map (index PNG), the instance map (16-bit PNG) and
the photo. With instance styles (hrgan encode-features) a selected object takes
a cluster or a random one; a SPADE VAE model takes a random z. The photo is
regenerated after each edit and the time it took is shown.

Bound to 127.0.0.1 unless --host says otherwise; the browser names maps from
the listing, never paths; requests are limited to 1 MB; each browser tab has
its own canvas (the newest 16 are kept). Needs aiohttp: pip install hrgan[studio].

examples:
  hrgan studio --checkpoint runs/demo/export.pt --labels runs/demo/heldout/test_label --instances runs/demo/heldout/test_inst
  hrgan studio --checkpoint export.pt --port 8800 --device cuda     (blank canvases only)
"""

from __future__ import annotations

import sys
from pathlib import Path

from hrgan.commands.common import add_device, command_parser, fail, non_negative_int, parse_arguments, positive_int

PROG = "hrgan studio"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint")
    parser.add_argument("--labels", type=Path, help="folder of label maps to open (default: blank canvases only)")
    parser.add_argument("--instances", type=Path, help="folder of instance maps, paired with the labels by stem")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=positive_int, default=8765, help="port (default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of random styles (default: %(default)s)")
    add_device(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    try:
        from aiohttp import web
    except ImportError:
        return fail(PROG, "the studio needs aiohttp: pip install 'hrgan[studio]'")
    from hrgan.inference.synthesizer import Synthesizer
    from hrgan.studio.app import Studio, make_app
    from hrgan.studio.library import MapLibrary

    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device)
        library = MapLibrary(args.labels, args.instances, synth.file_convention())
    except (FileNotFoundError, ValueError) as error:
        return fail(PROG, str(error))
    if synth.label_nc == 0:
        return fail(PROG, f"{args.checkpoint} takes input images (label_nc 0): the studio edits label maps")
    size = synth.resolution or (256, 256)
    studio = Studio(synth, library, size=size, seed=args.seed)
    print(f"hrgan studio: http://{args.host}:{args.port}/  ({len(library.names())} maps, canvas {size[0]}x{size[1]}; Ctrl-C stops)",
          flush=True)
    web.run_app(make_app(studio), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
