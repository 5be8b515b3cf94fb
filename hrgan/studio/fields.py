"""The fields of the studio's requests, read strictly: a missing or mistyped field is a ``ValueError`` naming it."""

from __future__ import annotations

import math
from collections.abc import Mapping

_MISSING = object()


def _value(body: Mapping, name: str, default):
    value = body.get(name, default)
    if value is _MISSING:
        raise ValueError(f"missing {name!r}")
    return value


def integer(body: Mapping, name: str, default=_MISSING) -> int:
    """A JSON integer (not a boolean, not 2.7)."""
    value = _value(body, name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name!r} must be an integer, got {value!r}")
    return value


def boolean(body: Mapping, name: str, default=_MISSING) -> bool:
    """A JSON true or false."""
    value = _value(body, name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name!r} must be true or false, got {value!r}")
    return value


def number(body: Mapping, name: str, default=_MISSING) -> float:
    """A finite JSON number."""
    value = _value(body, name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name!r} must be a number, got {value!r}")
    return float(value)


def points(body: Mapping, limit: int) -> list[tuple[float, float]]:
    """A stroke's [[x, y], ...]: 1 to ``limit`` pairs of finite numbers."""
    value = body.get("points")
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise ValueError(f"'points' must be a list of 1 to {limit} [x, y] pairs")
    pairs = []
    for point in value:
        if not isinstance(point, list) or len(point) != 2:
            raise ValueError(f"'points' holds [x, y] pairs, got {point!r}")
        pairs.append((number({"x": point[0]}, "x"), number({"y": point[1]}, "y")))
    return pairs


def query_integer(query: Mapping, name: str) -> int:
    """An integer from a URL's query (?x=12)."""
    text = query.get(name)
    if text is None:
        raise ValueError(f"missing ?{name}=")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"?{name}= must be an integer, got {text!r}") from None
