"""Class names and colours (for pictures and exports): a classes.json file or a built-in table."""

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

    @property
    def label_nc(self) -> int:
        return len(self.names)


def load_classes(spec: str | None, label_nc: int) -> ClassInfo:
    """Read class names and colours.

    Args:
        spec: a classes.json path, the name of a built-in table (``cityscapes``), or None
            for numbered classes with generated colours.
        label_nc: the number of classes the model uses; the table must match it.
    """
    if spec is None:
        return ClassInfo([f"class_{i}" for i in range(label_nc)], default_palette(label_nc).tolist())
    if spec == "synthetic":
        from hrgan.data.synthetic import classes_json

        data = classes_json()
        return _checked(ClassInfo(data["names"], data["colors"], data["random_appearance_classes"]), label_nc, spec)
    path = BUILTIN / f"{spec}.json" if (BUILTIN / f"{spec}.json").is_file() else Path(spec)
    if not path.is_file():
        builtins = sorted([p.stem for p in BUILTIN.glob("*.json")] + ["synthetic"])
        raise FileNotFoundError(f"classes file {spec!r} not found (built-in tables: {builtins})")
    data = json.loads(path.read_text())
    info = ClassInfo(list(data["names"]), [list(map(int, c)) for c in data["colors"]], list(data.get("random_appearance_classes", [])))
    return _checked(info, label_nc, path)


def _checked(info: ClassInfo, label_nc: int, source) -> ClassInfo:
    if len(info.names) != label_nc or len(info.colors) != label_nc:
        raise ValueError(f"{source} lists {len(info.names)} classes but label_nc is {label_nc}")
    return info
