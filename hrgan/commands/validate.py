"""hrgan validate: validation metrics of a checkpoint, at the stage it was saved in.

examples:
  hrgan validate --config configs/demo.yaml --ckpt_path runs/demo/checkpoints/last.ckpt
"""

from __future__ import annotations

import sys

from hrgan.commands.common import USAGE_ERROR, fail_lines


def main(argv: list[str] | None = None) -> int:
    from hrgan.training.checks import settings_error_in
    from hrgan.training.lightning_cli import run_lightning_cli  # its options come from the classes' signatures

    try:
        return run_lightning_cli(["validate", *(sys.argv[1:] if argv is None else argv)], description=__doc__)
    except Exception as error:  # every problem with the schedule, networks or data, found before training
        found = settings_error_in(error)
        if found is None:
            raise
        return fail_lines("hrgan validate", found.problems, USAGE_ERROR)


if __name__ == "__main__":
    sys.exit(main())
