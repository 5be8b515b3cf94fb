"""hrgan studio: edit label maps in the browser and see the photo the model makes of them.

Opens the label maps of --labels (with the instance maps of --instances,
paired by stem) or blank canvases at the model's training size, and serves an
editor at http://HOST:PORT/: a palette of the model's classes, a brush, flood
fill, erase to unlabeled (models with an ignore value), new objects (fresh
instance ids, so instance edges appear), select / delete an object, undo and
redo, downloads of the label map (index PNG), the instance map (16-bit PNG) and
the photo (the label map in the folder's numbering, which hrgan infer reads
back as the same classes). With instance styles (hrgan encode-features) a
selected object takes a cluster or a random one; a SPADE VAE model takes a
random z or a reference photo's style. The photo is regenerated after each edit
and the time it took is shown; style changes are undone like edits.

Bound to 127.0.0.1 unless --host says otherwise (then anyone who reaches the
address can use it: a warning says so); requests for names other than this
machine's (and --allow-host's) are refused; the browser names maps from the
listing, never paths; edits are limited to 1 MB, photos to 16 MB, maps to
4096x2048 pixels; each browser tab has its own canvas (the 16 used last are
kept). Needs aiohttp: pip install 'hrgan[studio]'.

examples:
  hrgan studio --checkpoint runs/demo/export.pt --labels runs/demo/heldout/test_label --instances runs/demo/heldout/test_inst
  hrgan studio --checkpoint export.pt --port 8800 --device cuda     (blank canvases only)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hrgan.commands.common import add_device, command_parser, fail, non_negative_int, parse_arguments, warn

PROG = "hrgan studio"


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: the system picks a free one)."""
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint")
    parser.add_argument("--labels", type=Path, help="folder of label maps to open (default: blank canvases only)")
    parser.add_argument("--instances", type=Path, help="folder of instance maps, paired with the labels by stem")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another name the browser may use for this machine, e.g. an /etc/hosts alias (repeatable; "
                             "its own names and addresses are always answered, other names are refused: DNS rebinding)")
    parser.add_argument("--port", type=port_number, default=8765, help="port, 0 for any free one (default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of random styles (default: %(default)s)")
    add_device(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    try:
        import aiohttp  # noqa: F401 (the studio extra)
    except ImportError:
        return fail(PROG, "the studio needs aiohttp: pip install 'hrgan[studio]'")
    from hrgan.inference.synthesizer import Synthesizer
    from hrgan.studio.app import Studio, make_app
    from hrgan.studio.security import is_loopback
    from hrgan.studio.library import MapLibrary

    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device)
        library = MapLibrary(args.labels, args.instances, synth.file_convention())
    except (FileNotFoundError, ValueError) as error:
        return fail(PROG, str(error))
    if synth.label_nc == 0:
        return fail(PROG, f"{args.checkpoint} takes input images (label_nc 0): the studio edits label maps")
    size = synth.resolution or (256, 256)
    if not is_loopback(args.host):
        warn(PROG, f"listening on {args.host}: anyone who can reach it can use the studio and its model (no login)")
    app = make_app(Studio(synth, library, size=size, seed=args.seed), host=args.host, allowed_hosts=tuple(args.allow_host))
    try:
        asyncio.run(serve(app, args.host, args.port, f"{len(library.names())} maps, canvas {size[0]}x{size[1]}"))
    except OSError as error:  # the port is taken, the address is not this machine's, ...
        return fail(PROG, f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
    except KeyboardInterrupt:
        pass
    return 0


async def serve(app, host: str, port: int, what: str) -> None:
    """Serve ``app`` until interrupted, printing the address it listens on (the port the system gave for 0)."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        shown = f"[{host}]" if ":" in host else host
        ports = sorted({address[1] for address in runner.addresses})  # one per address with --port 0 (IPv4 and IPv6)
        urls = ", ".join(f"http://{shown}:{port}/" for port in ports)
        print(f"{PROG}: {urls}  ({what}; Ctrl-C stops)", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


