"""Writing files so that a crash never leaves a half-written output behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class OutputError(OSError):
    """A file or folder of a command's output cannot be written: the message names it and the cause."""


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it onto ``path``.

    The rename is atomic on POSIX file systems, so readers see the old file or
    the complete new one, never a partial write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically replace ``path``'s content with ``data``."""
    return write_atomic(path, lambda f: f.write(data))


TEMPORARY_GLOB = ".*.tmp"  # what write_atomic leaves behind when the process is killed mid-write


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files killed writes left in ``folder`` (call before this run writes there)."""
    removed = []
    for path in Path(folder).glob(TEMPORARY_GLOB):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def writable_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and check a file can be written in it; else ``OutputError`` naming the cause."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OutputError(f"{path}: cannot write there ({error.strerror or error})") from error
    return path


def describe_write_error(path: str | os.PathLike, error: BaseException) -> OutputError:
    """An ``OutputError`` for a failed write of ``path``; torch's writer reports a full disk or a file size
    limit only as "enforce fail ... file write failed"."""
    if isinstance(error, OSError) and error.strerror:
        return OutputError(f"could not write {path}: {error.strerror}")
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "write failed" in message or "inline_container" in message:
        message = "the write failed (is the disk full, or a file size limit reached?)"
    return OutputError(f"could not write {path}: {message}")
