"""Count the places outside ``hrgan/models/`` that branch on the generator family (issue 28's measure).

A branch point is the test of an ``if`` statement, a conditional expression or a comprehension filter that
mentions ``z_dim``, ``style_encoder``, ``feat_num``, ``encoder``, ``class_path``, a family's name or an
``isinstance`` check of a model class. The official importers (``inference/official_import.py``,
``inference/spade_import.py``, ``commands/import_*.py``) are left out: they read one family's files.

    .venv/bin/python benchmarks/family_branches.py [--list]
"""

from __future__ import annotations

import argparse
import ast
import re
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hrgan"
EXCLUDED = ("models/", "inference/official_import.py", "inference/spade_import.py", "commands/import_")
FAMILY_NAMES = ("SPADE", "Pix2PixHD", "GlobalGenerator", "LocalEnhancer", "UNet")  # class names (a layout is no family)
WORDS = re.compile(r"\b(z_dim|style_encoder|feat_num|encoder|class_path)\b|" + "|".join(FAMILY_NAMES))
MODEL_CLASSES = re.compile(r"isinstance\([^)]*(Generator|Enhancer|Encoder|Discriminator|VGG19Features)")


def branch_tests(tree: ast.AST) -> list[ast.expr]:
    tests = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            tests.append(node.test)
        elif isinstance(node, ast.comprehension):
            tests += node.ifs
    return tests


def family_branches(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    """(file relative to the package, line, the test's source) of every family branch point."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(EXCLUDED):
            continue
        source = path.read_text()
        for test in branch_tests(ast.parse(source)):
            text = ast.get_source_segment(source, test) or ""
            if WORDS.search(text) or MODEL_CLASSES.search(text):
                found.append((relative, test.lineno, " ".join(text.split())))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every branch point")
    args = parser.parse_args()
    found = family_branches()
    if args.list:
        for file, line, text in found:
            print(f"{file}:{line}: {text}")
    per_file = Counter(file for file, _, _ in found)
    print(f"{len(found)} family branch points in {len(per_file)} files: "
          + ", ".join(f"{file} {n}" for file, n in per_file.most_common()))


if __name__ == "__main__":
    main()
