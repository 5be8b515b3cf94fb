"""Class tables: names, colours, and how the data set's mask files number the classes.

A table is a ``classes.json`` file or a built-in one by name (``hrgan/data/classes/NAME.json``,
and ``synthetic``)::

    {"names": ["background", "skin", ...],          # one per class, in id order (required)
     "colors": [[0, 0, 0], [204, 0, 0], ...],        # optional: generated when absent
     "ignore_index": 0,                              # optional: the mask files' "unlabeled" value
     "label_offset": 1}                              # optional: the mask files' value of class 0

``label_nc`` is the number of names (a ``label_nc`` key, when present, must agree).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hrgan.visualize import default_palette

BUILTIN = Path(__file__).with_name("classes")


@dataclass(frozen=True)
class ClassInfo:
    names: list[str]
    colors: list[list[int]]
    random_appearance: list[int] = field(default_factory=list)  # classes whose colour varies per instance
    ignore_index: int | None = None  # in the mask files, before the offset
    label_offset: int = 0
    unlabeled_as: int | None = None  # the class unlabeled file pixels are read as (SPADE's don't-care label), else unlabeled

    @property
    def label_nc(self) -> int:
        return len(self.names)


def builtin_tables() -> list[str]:
    """Names of the built-in tables."""
    return sorted([p.stem for p in BUILTIN.glob("*.json")] + ["synthetic"])


def read_table(spec: str) -> tuple[dict, str]:
    """The raw JSON of a table (a built-in name or a path) and where it came from; errors name the file."""
    if spec == "synthetic":
        from hrgan.data.synthetic import classes_json

        return classes_json(), "synthetic"
    path = BUILTIN / f"{spec}.json" if (BUILTIN / f"{spec}.json").is_file() else Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"classes table {spec!r} not found: neither a file nor a built-in table ({', '.join(builtin_tables())})")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable classes table ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("names"), list) or not data["names"]:
        raise ValueError(f"{path}: a classes table needs a non-empty 'names' list")
    return data, str(path)


def table_info(data: dict, source: str) -> ClassInfo:
    """A ``ClassInfo`` from a table's JSON, checked."""
    names = [str(n) for n in data["names"]]
    if data.get("label_nc") is not None and int(data["label_nc"]) != len(names):
        raise ValueError(f"{source}: label_nc is {data['label_nc']} but {len(names)} names are listed")
    colors = data.get("colors")
    if colors is None:
        colors = default_palette(len(names)).tolist()
    elif len(colors) != len(names) or any(len(c) != 3 or not all(0 <= int(v) <= 255 for v in c) for c in colors):
        raise ValueError(f"{source}: 'colors' must hold one [r, g, b] (0-255) per name ({len(names)})")
    ignore = data.get("ignore_index")
    return ClassInfo(names, [list(map(int, c)) for c in colors], list(data.get("random_appearance_classes", [])),
                     None if ignore is None else int(ignore), int(data.get("label_offset", 0)))


def load_classes(spec: str | None, label_nc: int | None = None) -> ClassInfo:
    """Read class names and colours.

    Args:
        spec: a classes.json path, the name of a built-in table (``cityscapes``), or None
            for numbered classes with generated colours.
        label_nc: the number of classes the model uses; the table must match it.
    """
    if spec is None:
        if label_nc is None:
            raise ValueError("numbered classes need label_nc")
        return ClassInfo([f"class_{i}" for i in range(label_nc)], default_palette(label_nc).tolist())
    data, source = read_table(spec)
    info = table_info(data, source)
    if label_nc is not None and info.label_nc != label_nc:
        raise ValueError(f"{source} lists {info.label_nc} classes but label_nc is {label_nc}")
    return info
