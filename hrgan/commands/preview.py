"""hrgan preview: look at a shard set before training on it.

Writes OUT (PNG): one row per sample, colourised labels | instance edges (when
the shards have them) | photo, a caption naming the columns, and a legend with
the id, colour and name of every class the rows show (names from the class
table the shards were written with: 'hrgan shards --classes'). Prints each
class's share of the labelled pixels over the whole split, commonest first,
so a class that never occurs or a label offset gone wrong shows before any
training.

examples:
  hrgan preview --data data/facades/shards --out preview.png
  hrgan preview --data data/ade/shards --split validation --num 4 --out val.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from hrgan.commands.common import USAGE_ERROR, command_parser, fail, positive_int, warn

PROG = "hrgan preview"


def build_parser():
    parser = command_parser(PROG, __doc__)
    parser.add_argument("--data", required=True, help="a shard folder (with manifest.json) or shard URLs beside one")
    parser.add_argument("--split", help="split of a shard folder (default: train, or the only one)")
    parser.add_argument("--out", type=Path, required=True, help="the preview PNG to write")
    parser.add_argument("--num", type=positive_int, default=8, help="samples to show (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out.is_dir():
        return fail(PROG, f"--out {args.out} is a folder; give the picture's file name, e.g. {args.out / 'preview.png'}", USAGE_ERROR)
    from hrgan.data.preview import ShardSet, class_share_table, preview_grid
    from hrgan.io import OutputError
    from hrgan.visualize import save_png

    from hrgan.data.stream import TooManyBadSamples

    try:
        shards = ShardSet.find(args.data, args.split)
        classes = shards.classes(on_warning=lambda line: warn(PROG, line))  # read once, for the grid and the table
        grid, columns = preview_grid(shards, classes, args.num)
    except TooManyBadSamples as error:
        return fail(PROG, error.line())
    except (FileNotFoundError, ValueError, KeyError) as error:
        return fail(PROG, f"{args.data}: {error}" if isinstance(error, KeyError) else str(error))
    try:
        save_png(args.out, grid)
    except (OSError, OutputError) as error:
        return fail(PROG, f"cannot write {args.out}: {error}")
    entry = shards.entry
    if entry["label_nc"]:
        print(class_share_table(shards, classes))
        inputs = f"label_nc {entry['label_nc']}, ignore value {entry.get('ignore_index')}"
    else:
        inputs = "input images (label_nc 0)"
    print(f"{entry.get('num_samples', '?')} samples, {inputs}, sizes {entry.get('image_sizes')}; wrote {args.out} "
          f"({' | '.join(columns)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
