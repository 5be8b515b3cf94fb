"""The label maps a studio may open: files of the given folders, named by stem; no path comes from the browser."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hrgan.data.images import BadSampleError, decode_image
from hrgan.data.layouts import list_images
from hrgan.data.labels import LabelConvention
from hrgan.data.names import safe_key


LABEL_SUFFIXES = ("_gtFine_labelIds", "_labelIds")
INSTANCE_SUFFIXES = ("_gtFine_instanceIds", "_instanceIds")
OTHER_SUFFIXES = ("_gtFine_color", "_color", "_gtFine_labelTrainIds")
MAX_MAP_PIXELS = 4096 * 2048  # an edit copies boxes of the map and each render runs on all of it


class MapLibrary:
    """Label maps (and instance maps paired by stem) under two folders, opened by the stem the listing gave.

    Args:
        labels: folder of label maps (searched recursively), or None: blank canvases only.
        instances: folder of instance maps paired by stem, or None.
        convention: how the label files number the model's classes.
    """

    def __init__(self, labels: Path | None, instances: Path | None, convention: LabelConvention) -> None:
        self.convention = convention
        self.labels = self._index(labels, skip=INSTANCE_SUFFIXES + OTHER_SUFFIXES)
        self.instances = self._index(instances, skip=LABEL_SUFFIXES + OTHER_SUFFIXES)

    @staticmethod
    def _index(folder: Path | None, *, skip: tuple[str, ...]) -> dict[str, Path]:
        """{name: file} of the folder's images, Cityscapes' suffixes taken off the names and the other side's
        files (``skip``) left out (gtFine folders hold labelIds, instanceIds and colour files side by side)."""
        if folder is None:
            return {}
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        root = folder.resolve()
        found = {}
        for path in sorted(list_images(str(folder))):
            stem = Path(path).stem
            if stem.endswith(skip) or not Path(path).resolve().is_relative_to(root):  # a link out of the folder
                continue
            for suffix in LABEL_SUFFIXES + INSTANCE_SUFFIXES:
                stem = stem.removesuffix(suffix)
            try:
                found.setdefault(safe_key(stem, str(path)), Path(path))
            except BadSampleError:  # a name that cannot be a key is not offered
                continue
        return found

    def names(self) -> list[str]:
        return sorted(self.labels)

    def open(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(class ids, instance ids or None) of the map called ``name`` (``KeyError`` for any other name)."""
        path = self.labels[name]  # a name from names(), never a path
        image = decode_image(path.read_bytes(), path)
        if image.width * image.height > MAX_MAP_PIXELS:
            raise ValueError(f"{path}: {image.width}x{image.height} is larger than the studio edits "
                             f"({MAX_MAP_PIXELS} pixels, e.g. 4096x2048)")
        label = np.asarray(image).astype(np.int64)
        if label.ndim != 2:
            raise ValueError(f"{path}: a colour image, not a label map of class ids")
        outside = self.convention.out_of_range(np.unique(label).tolist())
        if outside:
            raise ValueError(f"{path}: values {outside[:5]} are neither classes nor the unlabeled value")
        label = self.convention.apply(label)
        instance = None
        if name in self.instances:
            instance_path = self.instances[name]
            instance = np.asarray(decode_image(instance_path.read_bytes(), instance_path)).astype(np.int64)
            if instance.shape != label.shape:
                raise ValueError(f"{instance_path}: {instance.shape[::-1]} is not the label map's size {label.shape[::-1]}")
        return label, instance
