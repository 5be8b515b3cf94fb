"""Finding label / instance / photo files on disk and pairing them by stem.

pix2pixHD pairs files by sort order, which silently misaligns a whole split
when one file is missing. We pair by stem (the file name without extension and
without a known modality suffix such as ``_gtFine_labelIds``) and report
every file that has no partner.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

LAYOUTS = ("pix2pixhd", "cityscapes", "folders", "aligned")
DIRECTIONS = ("AtoB", "BtoA")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Modality suffixes stripped from stems, longest first.
KNOWN_SUFFIXES = (
    "_gtFine_instanceIds",
    "_gtFine_labelIds",
    "_gtCoarse_instanceIds",
    "_gtCoarse_labelIds",
    "_leftImg8bit",
    "_instanceIds",
    "_labelIds",
)


@dataclass(frozen=True)
class SampleFiles:
    """The files of one sample; ``instance`` and ``image`` may be absent.

    ``label`` is the input side: a label map, or an input image when the shards are written with image inputs.
    ``aligned`` (``AtoB`` or ``BtoA``) marks pix2pix's side-by-side A|B files, where ``label`` and ``image`` are
    one file: the input is its A (left) half for ``AtoB``, its B (right) half for ``BtoA``, the target the other.
    """

    key: str
    label: Path
    instance: Path | None = None
    image: Path | None = None
    aligned: str | None = None


@dataclass(frozen=True)
class Unpaired:
    path: Path
    reason: str


def sample_key(path: Path, root: Path | None = None, *, suffixes: tuple[str, ...] = KNOWN_SUFFIXES) -> str:
    """The pairing key of a file: its stem without modality suffixes."""
    stem = path.name
    for ext in IMAGE_SUFFIXES:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    for suffix in suffixes:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def list_images(pattern_or_dir: Path | str) -> list[Path]:
    """Image files in a folder (recursive) or matching a glob (``**`` allowed)."""
    path = Path(pattern_or_dir)
    if path.is_dir():
        files = (p for p in path.rglob("*") if p.is_file())
    else:
        files = (Path(p) for p in glob.glob(str(pattern_or_dir), recursive=True))
    return sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)


def _index(files: list[Path], what: str, unpaired: list[Unpaired]) -> dict[str, Path]:
    by_key: dict[str, Path] = {}
    for path in files:
        key = sample_key(path)
        if key in by_key:
            unpaired.append(Unpaired(path, f"duplicate {what} for key {key!r} (also {by_key[key]})"))
            continue
        by_key[key] = path
    return by_key


def pair_files(
    labels: list[Path], instances: list[Path] | None, images: list[Path] | None, *, require_images: bool = True
) -> tuple[list[SampleFiles], list[Unpaired]]:
    """Pair files by key.

    A label is kept when it has an image (unless ``require_images`` is False)
    and, when instance files exist at all, an instance map. Every file left
    without partners is reported.
    """
    unpaired: list[Unpaired] = []
    label_by = _index(labels, "label", unpaired)
    inst_by = _index(instances or [], "instance map", unpaired)
    image_by = _index(images or [], "image", unpaired)
    samples = []
    for key, label in sorted(label_by.items()):
        instance, image = inst_by.get(key), image_by.get(key)
        if inst_by and instance is None:
            unpaired.append(Unpaired(label, f"no instance map for key {key!r}"))
            continue
        if image is None and require_images:
            unpaired.append(Unpaired(label, f"no image for key {key!r}"))
            continue
        samples.append(SampleFiles(key, label, instance, image))
    used = {s.key for s in samples}
    rejected = {u.path for u in unpaired}
    for what, by in (("instance map", inst_by), ("image", image_by)):
        for key, path in sorted(by.items()):
            if key not in used and path not in rejected and key not in label_by:
                unpaired.append(Unpaired(path, f"{what} without a label map (key {key!r})"))
    return samples, unpaired


def find_samples(
    layout: str,
    root: Path,
    split: str,
    *,
    labels: str | None = None,
    instances: str | None = None,
    images: str | None = None,
    require_images: bool = True,
    direction: str = "AtoB",
) -> tuple[list[SampleFiles], list[Unpaired]]:
    """List and pair one split's files.

    Args:
        layout: ``pix2pixhd`` ({split}_label/, {split}_inst/, {split}_img/), ``cityscapes``
            (gtFine/{split}/{city}/*_gtFine_labelIds.png, *_gtFine_instanceIds.png,
            leftImg8bit/{split}/{city}/*_leftImg8bit.png) or ``folders`` (the globs or
            folders given in ``labels`` / ``instances`` / ``images``, relative to ``root``;
            ``{split}`` in them is replaced) or ``aligned`` (pix2pix's ``{split}/`` of side-by-side A|B files,
            or the folder or glob given in ``images``).
        root: dataset root.
        split: split name.
        require_images: drop labels without a photo (training); keep them for inference sets.
        direction: ``aligned`` only: ``AtoB`` (the left half is the input) or ``BtoA``.
    """
    root = Path(root)
    if layout == "aligned":
        return find_aligned(root, split, images=images, direction=direction)
    if layout == "pix2pixhd":
        label_files = list_images(root / f"{split}_label")
        inst_dir, img_dir = root / f"{split}_inst", root / f"{split}_img"
        inst_files = list_images(inst_dir) if inst_dir.is_dir() else []
        img_files = list_images(img_dir) if img_dir.is_dir() else []
        where = root / f"{split}_label"
    elif layout == "cityscapes":
        label_files = list_images(root / "gtFine" / split / "*" / "*_gtFine_labelIds.png")
        inst_files = list_images(root / "gtFine" / split / "*" / "*_gtFine_instanceIds.png")
        img_files = list_images(root / "leftImg8bit" / split / "*" / "*_leftImg8bit.png")
        where = root / "gtFine" / split
    elif layout == "folders":
        if not labels:
            raise ValueError("the 'folders' layout needs a labels folder or glob (--labels)")

        def resolve(pattern: str | None) -> list[Path]:
            return list_images(root / pattern.replace("{split}", split)) if pattern else []

        label_files, inst_files, img_files = resolve(labels), resolve(instances), resolve(images)
        where = root / labels.replace("{split}", split)
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    if not label_files:
        raise FileNotFoundError(f"no label maps found for layout {layout!r}, split {split!r} under {where}")
    return pair_files(label_files, inst_files, img_files, require_images=require_images)


def find_aligned(root: Path, split: str, *, images: str | None = None,
                 direction: str = "AtoB") -> tuple[list[SampleFiles], list[Unpaired]]:
    """pix2pix's aligned layout: each file of ``{root}/{split}/`` (or of ``images``) holds A and B side by side."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {DIRECTIONS}")
    where = Path(root) / (images.replace("{split}", split) if images else split)
    files = list_images(where)
    if not files:
        raise FileNotFoundError(f"no A|B images found for layout 'aligned', split {split!r} under {where}")
    unpaired: list[Unpaired] = []
    by_key = _index(files, "A|B image", unpaired)
    return [SampleFiles(key, path, image=path, aligned=direction) for key, path in sorted(by_key.items())], unpaired
