"""Names that come from data (shard member keys, file stems) checked before they become paths.

A shard is data, not a file system: a member named ``../../x.label.png`` or
``/abs/x.label.png`` has the key ``../../x`` or ``/abs/x``, and ``out / f"{key}.png"``
would then write outside ``out``. Every place that turns such a name into a path
asks ``safe_key`` (or ``path_under``) first; a bad key makes its sample bad
(``BadSampleError``), never a file somewhere else.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hrgan.data.images import BadSampleError


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot name a file under an output folder, or None when it can.

    Keys may hold ``/`` (subfolders under the output folder) but not an absolute
    path, a ``..`` component, a backslash or a NUL byte, and not be empty.
    """
    if not key or not key.strip():
        return "the key is empty"
    if "\0" in key:
        return "the key holds a NUL byte"
    if "\\" in key:
        return "the key holds a backslash"
    path = PurePosixPath(key)
    if path.is_absolute():
        return "the key is an absolute path"
    if ".." in path.parts:
        return "the key has a '..' component"
    return None


def safe_key(key: str, source: str) -> str:
    """``key`` unchanged when it can name a file under an output folder; else ``BadSampleError`` naming ``source``."""
    problem = key_problem(key)
    if problem:
        raise BadSampleError(f"{source}: unsafe sample key {key!r} ({problem}); the sample is skipped")
    return key


def path_under(folder: Path, key: str, suffix: str = "") -> Path:
    """``folder / (key + suffix)``, refusing (``BadSampleError``) any key that would leave ``folder``."""
    return Path(folder) / f"{safe_key(key, str(folder))}{suffix}"
