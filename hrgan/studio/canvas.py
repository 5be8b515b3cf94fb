"""The document ``hrgan studio`` edits: a label map and its instance map, with exact edits and their history.

Every edit writes class ids as given (no blending: a stroke of class 3 leaves only 3s where it passes),
keeps the instance map consistent (a region painted without "new object" takes the class's stuff id, a new
object a fresh ``class * 1000 + k`` id, Cityscapes' convention, so instance edges appear around objects
only), and can be undone and redone bit for bit.
"""

from __future__ import annotations

import bisect
from collections import deque

import numpy as np

from hrgan.studio.history import DEFAULT_BYTES, DEFAULT_STEPS, History, Patch, bounding_box

OBJECT_ID_STEP = 1000  # instance ids of objects: class * 1000 + k (Cityscapes' instanceIds); stuff: the class id


def stuff_id(cls: int) -> int:
    """The instance id of a class's region that is no object."""
    return cls


def disc_stroke(height: int, width: int, points: list[tuple[float, float]], radius: float) -> np.ndarray:
    """Pixels within ``radius`` of the polyline through ``points`` ((x, y) pixel coordinates): a bool mask."""
    ys, xs = np.ogrid[0:height, 0:width]
    mask = np.zeros((height, width), dtype=bool)
    segments = zip(points, points[1:], strict=False) if len(points) > 1 else [(points[0], points[0])]
    for (x0, y0), (x1, y1) in segments:
        left, right = int(min(x0, x1) - radius), int(max(x0, x1) + radius) + 1
        top, bottom = int(min(y0, y1) - radius), int(max(y0, y1) + radius) + 1
        window = (slice(max(top, 0), max(min(bottom, height), 0)), slice(max(left, 0), max(min(right, width), 0)))
        px, py = xs[:, window[1]], ys[window[0], :]
        dx, dy = x1 - x0, y1 - y0
        length = dx * dx + dy * dy
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / length, 0, 1) if length else np.zeros(px.shape)
        mask[window] |= (px - (x0 + t * dx)) ** 2 + (py - (y0 + t * dy)) ** 2 <= radius * radius
    return mask


def stroke_cost(height: int, width: int, points: list[tuple[float, float]], radius: float) -> int:
    """The pixels ``disc_stroke`` visits: each segment's window (its bounding box grown by the radius, clipped to
    the map), summed; what painting a stroke costs."""
    segments = zip(points, points[1:], strict=False) if len(points) > 1 else [(points[0], points[0])]
    total = 0
    for (x0, y0), (x1, y1) in segments:
        w = min(int(max(x0, x1) + radius) + 1, width) - max(int(min(x0, x1) - radius), 0)
        h = min(int(max(y0, y1) + radius) + 1, height) - max(int(min(y0, y1) - radius), 0)
        total += max(w, 0) * max(h, 0)
    return total


def connected_region(mask: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 4-connected part of ``mask`` that holds pixel (x, y), found over each row's runs."""
    height = mask.shape[0]
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    runs = []  # per row: sorted run starts and ends (exclusive)
    for row in padded:
        edges = np.flatnonzero(np.diff(row))
        runs.append((edges[0::2].tolist(), edges[1::2].tolist()))
    region = np.zeros_like(mask)
    if not mask[y, x]:
        return region
    starts, ends = runs[y]
    first = bisect.bisect_right(starts, x) - 1
    seen, todo = {(y, first)}, deque([(y, first)])
    while todo:
        row, index = todo.popleft()
        start, end = runs[row][0][index], runs[row][1][index]
        region[row, start:end] = True
        for other in (row - 1, row + 1):
            if not 0 <= other < height:
                continue
            other_starts, other_ends = runs[other]
            # runs of the next row that overlap [start, end): their start < end and their end > start
            for j in range(max(bisect.bisect_right(other_ends, start), 0), bisect.bisect_left(other_starts, end)):
                if (other, j) not in seen:
                    seen.add((other, j))
                    todo.append((other, j))
    return region


class Canvas:
    """A label map [H, W] of class ids and its instance map, edited in place, with undo and redo.

    Args:
        label: class ids (``unlabeled`` for unlabeled pixels).
        instance: instance ids; None starts every pixel at its class's stuff id.
        label_nc: the model's classes; painting any other id is refused.
        unlabeled: the value erasing writes (the model's ignore value), or None: erasing is refused.
        steps, max_bytes: how many edits undo can take back, and in about how many bytes.
    """

    def __init__(self, label: np.ndarray, instance: np.ndarray | None = None, *, label_nc: int,
                 unlabeled: int | None = None, steps: int = DEFAULT_STEPS, max_bytes: int = DEFAULT_BYTES) -> None:
        if label.ndim != 2:
            raise ValueError(f"a label map is [H, W], got shape {label.shape}")
        if instance is not None and instance.shape != label.shape:
            raise ValueError(f"the instance map is {instance.shape[::-1]}, the label map {label.shape[::-1]} (W, H)")
        self.label = label.astype(np.int64)
        self.instance = (self.label.copy() if instance is None else instance.astype(np.int64))
        self.label_nc, self.unlabeled = label_nc, unlabeled
        self.history = History(steps=steps, max_bytes=max_bytes)  # map edits here; the session adds style changes
        self._next_object: dict[int, int] = {}  # class -> the k its next object takes (ids are never reused)

    @classmethod
    def blank(cls, width: int, height: int, fill: int, **kwargs) -> Canvas:
        """A canvas of one class."""
        return cls(np.full((height, width), fill, dtype=np.int64), **kwargs)

    # ----------------------------------------------------------------- edits
    def _check_class(self, value: int) -> None:
        if not 0 <= value < self.label_nc:
            raise ValueError(f"class {value} is not one of the model's 0..{self.label_nc - 1}")

    def _remember(self, mask: np.ndarray) -> bool:
        """Put what ``mask`` is about to change on the undo stack; False: the mask is empty (nothing to do)."""
        box = bounding_box(mask)
        if box[0].start == box[0].stop:
            return False
        self.history.push(Patch([self.label, self.instance], box))
        return True

    def new_object_id(self, cls: int) -> int:
        """A fresh instance id of class ``cls``: class * 1000 + k, k past every k this canvas has held (an id is
        never given twice, so a new object never inherits a deleted one's style)."""
        if cls == 0:  # 0 * 1000 + k would be another class's stuff id
            raise ValueError("class 0 cannot be an object (its ids would be other classes' region ids): paint it as a region")
        base = cls * OBJECT_ID_STEP
        taken = self.instance[(self.instance > base) & (self.instance < base + OBJECT_ID_STEP)]
        k = max(self._next_object.get(cls, 1), int(taken.max()) - base + 1 if taken.size else 1)
        if k >= OBJECT_ID_STEP:
            raise ValueError(f"class {cls} has had {OBJECT_ID_STEP - 1} objects on this canvas, the most its ids hold")
        return base + k

    def paint(self, mask: np.ndarray, cls: int, *, new_object: bool = False) -> int | None:
        """Class ``cls`` on ``mask``: a region of the class (its stuff id), or a new object; returns the instance
        id (None: nothing changed, the mask being empty or already of that class)."""
        self._check_class(cls)
        instance = self.new_object_id(cls) if new_object else stuff_id(cls)
        if not new_object and (self.label[mask] == cls).all() and (self.instance[mask] == instance).all():
            return None  # already so: no edit to remember (e.g. a fill with the region's own class)
        if not self._remember(mask):
            return None
        if new_object:
            self._next_object[cls] = instance - cls * OBJECT_ID_STEP + 1
        self.label[mask] = cls
        self.instance[mask] = instance
        return instance

    def brush(self, points: list[tuple[float, float]], radius: float, cls: int, *, new_object: bool = False) -> int:
        """A stroke of class ``cls`` (see ``paint``) through ``points`` with the given radius."""
        return self.paint(disc_stroke(*self.label.shape, points, radius), cls, new_object=new_object)

    def fill(self, x: int, y: int, cls: int) -> None:
        """Class ``cls`` over the 4-connected region of (x, y)'s class and instance (a flood fill)."""
        same = (self.label == self.label[y, x]) & (self.instance == self.instance[y, x])
        self.paint(connected_region(same, x, y), cls)

    def erase(self, mask: np.ndarray) -> None:
        """``mask`` back to unlabeled (the model's ignore value)."""
        if self.unlabeled is None:
            raise ValueError("this model has no unlabeled value (no ignore index): paint a class instead")
        if (self.label[mask] == self.unlabeled).all() and (self.instance[mask] == 0).all():
            return  # already erased
        if not self._remember(mask):
            return
        self.label[mask] = self.unlabeled
        self.instance[mask] = 0

    def object_at(self, x: int, y: int) -> int | None:
        """The object (instance id) under (x, y), or None on a region that is no object."""
        instance = int(self.instance[y, x])
        return instance if instance >= OBJECT_ID_STEP else None

    def delete_object(self, instance: int) -> None:
        """Remove an object: its pixels take the class that surrounds it most (the pixels bordering it)."""
        mask = self.instance == instance
        if instance < OBJECT_ID_STEP or not mask.any():
            raise ValueError(f"there is no object {instance}")
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        ring = grown & ~mask
        around = self.label[ring]
        around = around[(around >= 0) & (around < self.label_nc)]
        if not around.size:
            raise ValueError(f"object {instance} covers the whole map: nothing surrounds it")
        cls = int(np.bincount(around).argmax())
        self.paint(mask, cls)

    # ----------------------------------------------------------------- history
    @property
    def can_undo(self) -> bool:
        return self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo

    def undo(self) -> None:
        """Take the last edit back (``ValueError`` when there is none)."""
        self.history.undo()

    def redo(self) -> None:
        """Make the last undone edit again (``ValueError`` when there is none)."""
        self.history.redo()
