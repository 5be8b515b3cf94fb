"""Undo and redo for the studio: entries that swap what they hold with the live state, bounded in steps and bytes.

An entry's ``swap()`` exchanges its stored state with the document's, so the same call undoes and redoes it;
a map edit stores only the box it changed, in the smallest integer type that holds its values. An entry may
also carry the photo shown before it (``attach_photo``), which undo brings back exactly as it was.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

DEFAULT_STEPS = 50
DEFAULT_BYTES = 64 << 20  # per canvas; 2048x1024 maps fill about ten full-map edits


class Entry(Protocol):
    nbytes: int
    photo: object | None  # what was shown on the other side of this step, with its nbytes (History.attach_photo)

    def swap(self) -> None: ...


def compact(values: np.ndarray) -> np.ndarray:
    """A copy of integer ``values`` in the smallest integer type that holds them."""
    if not values.size:
        return values.copy()
    dtype = np.promote_types(np.min_scalar_type(int(values.min())), np.min_scalar_type(int(values.max())))
    return values.astype(dtype if np.issubdtype(dtype, np.integer) else np.int64)  # int64 with uint64 promotes to float


class Patch:
    """The box of a set of arrays (same shape) that an edit is about to change, as it was before."""

    photo = None

    def __init__(self, arrays: list[np.ndarray], box: tuple[slice, slice]) -> None:
        self.arrays, self.box = arrays, box
        self.saved = [compact(array[box]) for array in arrays]

    @property
    def nbytes(self) -> int:
        return sum(saved.nbytes for saved in self.saved)

    def swap(self) -> None:
        live = [compact(array[self.box]) for array in self.arrays]
        for array, saved in zip(self.arrays, self.saved, strict=True):
            array[self.box] = saved
        self.saved = live


def bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The smallest (rows, columns) box holding every True of a 2-D mask (an empty box for none)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return slice(0, 0), slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


class History:
    """The undo and redo stacks: at most ``steps`` entries and about ``max_bytes`` (the newest entry is kept
    whatever its size); a new entry clears redo."""

    def __init__(self, *, steps: int = DEFAULT_STEPS, max_bytes: int = DEFAULT_BYTES) -> None:
        if steps < 1:
            raise ValueError(f"history must hold >= 1 step, got {steps}")
        self.steps, self.max_bytes = steps, max_bytes
        self._undo: list[Entry] = []
        self._redo: list[Entry] = []
        self._before_push: tuple[list[Entry], list[Entry]] | None = None  # the redo stack and the entries a push dropped

    @property
    def nbytes(self) -> int:
        return sum(entry.nbytes + (entry.photo.nbytes if entry.photo is not None else 0) for entry in self._undo + self._redo)

    @property
    def last(self) -> Entry | None:
        """The entry undo would take back next."""
        return self._undo[-1] if self._undo else None

    def push(self, entry: Entry) -> None:
        """Remember an edit (call before making it, with the state it will change)."""
        self._before_push = (self._redo, [])
        self._redo = []
        self._undo.append(entry)
        self._trim()

    def attach_photo(self, photo) -> None:
        """Let the last entry bring back ``photo`` (what was shown before it; anything with ``nbytes``) on undo."""
        self._undo[-1].photo = photo
        self._trim()

    def _trim(self) -> None:
        while len(self._undo) > 1 and (len(self._undo) > self.steps or self.nbytes > self.max_bytes):
            dropped = self._undo.pop(0)
            if self._before_push is not None:
                self._before_push[1].append(dropped)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def _move(self, source: list[Entry], target: list[Entry], nothing: str) -> Entry:
        """Swap the top entry of ``source`` back or forth and put it on ``target``."""
        if not source:
            raise ValueError(nothing)
        self._before_push = None
        entry = source.pop()
        entry.swap()
        target.append(entry)
        return entry

    def undo(self) -> Entry:
        """Take the last edit back and return its entry (``ValueError`` when there is none)."""
        return self._move(self._undo, self._redo, "nothing to undo")

    def revert(self) -> Entry:
        """Take back the edit just pushed as if it had never been (one that failed half way): the redo stack and
        the entries its push dropped come back; returns its entry."""
        entry = self._undo.pop()
        entry.swap()
        if self._before_push is not None:
            self._redo, dropped = self._before_push
            self._undo[:0] = dropped
            self._before_push = None
        return entry

    def redo(self) -> Entry:
        """Make the last undone edit again and return its entry (``ValueError`` when there is none)."""
        entry = self._move(self._redo, self._undo, "nothing to redo")
        self._trim()  # an entry may have grown (a map's ids before and after can differ in type)
        return entry
