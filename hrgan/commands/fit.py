"""hrgan fit: train a model from a YAML config (LightningCLI: every option is also a --dotted.flag).

Input channel counts are linked: the generator takes label_nc (input_nc for
image inputs, label_nc 0) + 1 (instance edges, when used) + feat_num channels,
the discriminator the same without feat_num, + 3.
Every output of a run goes under trainer.default_root_dir: config.yaml (the
resolved configuration), checkpoints/, samples/, wandb/ (offline unless wandb
is set up) and export.pt.

Corrupt samples (undecodable or oversized images, label values outside
[0, model.label_nc), a size other than the set's, unsafe keys, truncated tars)
are skipped and named in the log; when more than data.max_bad_fraction of the
samples read in the run (every epoch and worker) are corrupt, fit stops with
one line giving the counts and exit code 1.

examples:
  hrgan fit --config configs/demo.yaml
  hrgan fit --config configs/cityscapes_2048x1024.yaml --data.train_urls '/data/cs/train-{000000..000029}.tar'
  hrgan fit --config configs/demo.yaml --ckpt_path last          # resume where the run stopped
  hrgan fit --config configs/demo.yaml --print_config            # the full configuration with every default
"""

from __future__ import annotations

import sys

from hrgan.commands.common import USAGE_ERROR, fail, fail_lines

PROG = "hrgan fit"


def main(argv: list[str] | None = None) -> int:
    from hrgan.data.stream import TooManyBadSamples
    from hrgan.training.checks import settings_error_in
    from hrgan.training.lightning_cli import run_lightning_cli  # its options come from the classes' signatures

    try:
        return run_lightning_cli(["fit", *(sys.argv[1:] if argv is None else argv)], description=__doc__)
    except TooManyBadSamples as error:
        return fail(PROG, error.line())
    except FileNotFoundError as error:  # no shards where the config points, a weights file or checkpoint that is not there
        return fail(PROG, str(error))
    except Exception as error:  # every problem with the schedule, networks or data, found before training
        found = settings_error_in(error)
        if found is None:
            raise
        return fail_lines(PROG, found.problems, USAGE_ERROR)


if __name__ == "__main__":
    sys.exit(main())
