"""How a data set's mask files number their classes, and what we store: the label offset and ignore value.

Published sets disagree: Cityscapes counts from 0, ADE20K from 1 with 0 for
"unlabeled", COCO-Stuff marks unlabeled pixels 255. ``LabelConvention`` maps
file values to stored ids ``0 .. label_nc - 1`` (file value minus the offset)
plus one stored ignore value, and ``label_advice`` reads the values a set
actually holds and says which option fixes a mismatch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelConvention:
    """File values to stored class ids.

    Args:
        label_nc: classes the model is given.
        ignore_index: the file value meaning unlabeled, or None.
        offset: the file value of class 0 (ADE20K: 1); stored id = file value - offset.
        store_ignore_as: the stored value of unlabeled pixels (a model's ignore_index); default below.
    """

    label_nc: int
    ignore_index: int | None = None
    offset: int = 0
    store_ignore_as: int | None = None

    @property
    def stored_ignore(self) -> int | None:
        """The ignore value in stored maps: ``store_ignore_as``, else the file's own without an offset,
        else 255 (65535 past 255 classes)."""
        if self.ignore_index is None:
            return None
        if self.store_ignore_as is not None:
            return self.store_ignore_as
        if not self.offset:
            return self.ignore_index
        return 255 if self.label_nc <= 255 else 65535

    @property
    def ignore_is_a_class(self) -> bool:
        """The ignore value is also the file value of a class (whose pixels would then never train it)."""
        return self.ignore_index is not None and 0 <= self.ignore_index - self.offset < self.label_nc

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Stored ids of file values (an int64 array; values that fall outside the classes stay visible as such)."""
        if not self.offset and self.stored_ignore == self.ignore_index:
            return values
        stored = values - self.offset
        if self.ignore_index is not None:
            stored[values == self.ignore_index] = self.stored_ignore
        return stored

    def to_file(self, stored: np.ndarray) -> np.ndarray:
        """File values of stored ids (``apply``'s inverse for classes and the unlabeled value), so that a map
        written this way reads back as the same ids."""
        if not self.offset and self.stored_ignore == self.ignore_index:
            return stored
        values = stored + self.offset
        if self.ignore_index is not None:
            values[stored == self.stored_ignore] = self.ignore_index
        return values

    def out_of_range(self, values) -> list[int]:
        """Distinct file values that are neither a class nor the ignore value."""
        return [v for v in values if v != self.ignore_index and not 0 <= v - self.offset < self.label_nc]


def value_counts(label: np.ndarray) -> Counter:
    """Pixel count per distinct value of a map."""
    values, counts = np.unique(label, return_counts=True)
    return Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))


def describe_values(counts: Counter, limit: int = 12) -> str:
    """``0..150 (151 distinct); commonest: 1 15.2%, 0 9.1%, ...``"""
    if not counts:
        return "none"
    total = sum(counts.values())
    common = ", ".join(f"{v} {n / total:.1%}" for v, n in counts.most_common(limit))
    return f"{min(counts)}..{max(counts)} ({len(counts)} distinct); commonest: {common}"


def numbered_from_one(counts: Counter, convention: LabelConvention) -> bool:
    """The values look like classes 1..label_nc (0 unlabeled or absent) read without ``--label-offset 1``."""
    classes = set(counts) - {convention.ignore_index}
    return (not convention.offset and bool(classes) and min(classes) >= 1 and max(classes) == convention.label_nc
            and (convention.ignore_index in (None, 0) or convention.ignore_index > convention.label_nc))


def label_mismatch(counts: Counter, convention: LabelConvention) -> bool:
    """A convention that would store wrong ids without failing: classes numbered from 1 read from 0, or an
    ignore value that is also a class's value. ``hrgan shards`` refuses these unless told otherwise."""
    return bool(counts) and (numbered_from_one(counts, convention) or convention.ignore_is_a_class)


def label_advice(counts: Counter, convention: LabelConvention) -> list[str]:
    """What the values found say about the options given: one line per mismatch, with the option that fixes it."""
    if not counts:
        return []
    nc, ignore, offset = convention.label_nc, convention.ignore_index, convention.offset
    low, high = min(counts), max(counts)
    found = set(counts)
    advice = []
    outside = convention.out_of_range(sorted(found))
    if outside:
        classes = found - {ignore}
        last = max(classes, default=0)
        line = f"values {_shown(outside)} are neither a class ({offset}..{offset + nc - 1} in the files) nor the ignore value"
        if numbered_from_one(counts, convention):
            keep = f" --ignore-index {ignore}" if ignore not in (None, 0) else " --ignore-index 0" if 0 in found else ""
            line += "; classes numbered from 1" + (" with 0 = unlabeled" if 0 in found and ignore in (None, 0) else "")
            line += f": pass --label-offset 1{keep}"
        elif 255 in outside and 255 == high and ignore is None:
            line += "; 255 looks like 'unlabeled': pass --ignore-index 255"
        else:
            line += f"; pass --label-nc {last - offset + 1} to cover them"
        advice.append(line)
    if convention.ignore_is_a_class:
        cls = ignore - offset
        advice.append(f"the ignore value {ignore} is also class {cls} (of 0..{nc - 1}): those pixels never train class "
                      f"{cls}" + ("; if classes are numbered from 1, pass --label-offset 1" if not offset else ""))
    if ignore is not None and ignore not in found and not outside:
        advice.append(f"the ignore value {ignore} never occurs in the labels")
    unused = [c for c in range(nc) if c + offset not in found]
    if unused and len(unused) * 2 >= nc:
        advice.append(f"{len(unused)} of the {nc} classes never occur (the files hold {low}..{high}); "
                      "check --label-nc and --label-offset")
    return advice


def _shown(values: list[int], limit: int = 8) -> str:
    return ", ".join(map(str, values[:limit])) + (" ..." if len(values) > limit else "")
