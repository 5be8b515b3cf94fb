"""hrgan env: versions, devices, whether pretrained weights are found locally, and wandb's mode.

Run it first on a new machine or cluster node: it says where to put the VGG19
and Inception weights when they are missing (nothing is ever downloaded).
"""

from __future__ import annotations

import sys

from hrgan.commands.common import command_parser


def build_parser():
    return command_parser("hrgan env", __doc__)


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    from hrgan.envinfo import report

    print("\n".join(report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
