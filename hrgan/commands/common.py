"""Conventions every ``hrgan`` command shares: exit codes, error lines, devices and argument types.

Exit codes: 0 done; 2 the command line cannot run as given (argparse's own
errors, an option missing or contradicting the model, an output that exists
where the command has --overwrite); 1 a file, model or data set is wrong
(missing, unreadable, unfit for the command) or some inputs failed.

Nothing here imports torch, so ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

USAGE_ERROR = 2
DATA_ERROR = 1
DEVICE_HELP = "auto (CUDA when present, else CPU), cpu, cuda or cuda:N (default: %(default)s)"


def fail(prog: str, message: str, code: int = DATA_ERROR) -> int:
    """Print ``prog: message`` on stderr and return ``code``, for ``return fail(...)`` in a command's main."""
    print(f"{prog}: {message}", file=sys.stderr)
    return code


def fail_lines(prog: str, messages: list[str], code: int = DATA_ERROR) -> int:
    """``fail`` for several problems found together: one ``prog: message`` line each, then ``code``."""
    for message in messages:
        print(f"{prog}: {message}", file=sys.stderr)
    return code


def warn(prog: str, message: str) -> None:
    print(f"{prog}: warning: {message}", file=sys.stderr)


def command_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the command module's docstring, printed as written."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, then ``--device`` resolved (see ``resolve_device``); a CUDA device on a machine
    without CUDA exits with one line and the usage code."""
    args = parser.parse_args(argv)
    if hasattr(args, "device"):
        try:
            args.device = resolve_device(args.device)
        except ValueError as error:
            raise SystemExit(fail(parser.prog, str(error), USAGE_ERROR)) from None
    return args


def argument_type(parse):
    """An argparse ``type=`` from a parser that raises ``ValueError``: its message becomes the usage error."""

    def wrapped(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    wrapped.__name__ = parse.__name__
    return wrapped


def lightning_device(device: str) -> tuple[str, list[int] | int]:
    """A resolved ``--device`` as Lightning's (accelerator, devices): ``cuda:1`` -> ("cuda", [1]), ``cpu`` -> ("cpu", 1)."""
    kind, _, index = device.partition(":")
    return kind, [int(index)] if index else 1


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when CUDA is present, else ``cpu``; a CUDA device without CUDA is a ``ValueError``."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith(("cuda", "gpu")) and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)")
    return "cuda" + name[3:] if name.startswith("gpu") else name


def parse_size(text: str, *, multiple: int = 1, minimum: int = 16) -> tuple[int, int]:
    """'2048x1024' -> (2048, 1024), for argparse ``type=``; sides must be multiples of ``multiple``."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like WIDTHxHEIGHT, e.g. 2048x1024; got {text!r}") from None
    if width < minimum or height < minimum:
        raise argparse.ArgumentTypeError(f"size must be at least {minimum}x{minimum}, got {text}")
    if width % multiple or height % multiple:
        raise argparse.ArgumentTypeError(f"width and height must be multiples of {multiple}, got {width}x{height}")
    return width, height


def any_size(text: str) -> tuple[int, int]:
    return parse_size(text, minimum=1)


def boolean(text: str) -> bool:
    """``true``/``false`` (also yes/no, on/off, 1/0) for options that are switched by value, never by a --no- flag."""
    value = text.lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def at_least(minimum: int):
    """An argparse type for integers >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


positive_int = at_least(1)
non_negative_int = at_least(0)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def fraction(text: str) -> float:
    """A float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def save_import(prog: str, out: Path, build) -> tuple[dict | None, int]:
    """Build an official checkpoint's export with ``build()`` and save it to ``out``: (the export, 0), or (None,
    the exit code) after a one-line error (the usage code when an option disagrees with the weights)."""
    from hrgan.artifacts import save_export
    from hrgan.inference.official_import import OptionMismatch

    try:
        export = build()
    except OptionMismatch as error:
        return None, fail(prog, str(error), USAGE_ERROR)
    except (ValueError, FileNotFoundError) as error:
        return None, fail(prog, str(error))
    save_export(out, export)
    return export, 0
