"""hrgan validate: validation metrics of a checkpoint, at the stage it was saved in.

examples:
  hrgan validate --config configs/demo.yaml --ckpt_path runs/demo/checkpoints/last.ckpt
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from hrgan.training.lightning_cli import run_lightning_cli  # its options come from the classes' signatures

    return run_lightning_cli(["validate", *(sys.argv[1:] if argv is None else argv)], description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
