"""The ``hrgan`` command: dispatches to the subcommand's module in ``hrgan.commands`` (imported only when used)."""

from __future__ import annotations

import importlib
import sys

from hrgan import __version__
from hrgan.commands import COMMANDS

USAGE = """usage: hrgan COMMAND [options]

High-resolution conditional image synthesis (pix2pixHD family) on PyTorch Lightning.

commands:
{commands}

examples:
  hrgan synth --out data/synth --num 200 --size 2048x1024
  hrgan shards --layout pix2pixhd --root data/synth --split train --out data/synth/shards
  hrgan fit --config configs/demo.yaml
  hrgan fit --config configs/demo.yaml --ckpt_path last        # resume
  hrgan validate --config configs/demo.yaml --ckpt_path runs/demo/checkpoints/last.ckpt
  hrgan infer --checkpoint runs/demo/export.pt --labels maps/ --instances insts/ --out photos/

Run 'hrgan COMMAND --help' for a command's options.
"""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``hrgan COMMAND ...`` to the command's module."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        print(f"hrgan {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"hrgan: unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return int(importlib.import_module(COMMANDS[name][0]).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
