"""Argument types shared by the command-line tools."""

from __future__ import annotations

import argparse


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
