"""Class tables: the built-in ones by name, classes.json files, and their errors."""

import json

import pytest

from hrgan.data.classes import builtin_tables, load_classes

EXPECTED = {"cityscapes": 35, "ade20k": 150, "coco-stuff": 182, "celebamask-hq": 19, "facades": 12, "synthetic": 8}


def test_every_builtin_table_loads_with_its_published_class_count():
    assert set(builtin_tables()) == set(EXPECTED)
    for name, label_nc in EXPECTED.items():
        info = load_classes(name, label_nc)
        assert len(info.colors) == label_nc and len(set(map(tuple, info.colors))) > label_nc // 2, name
    ade = load_classes("ade20k")
    assert (ade.label_offset, ade.ignore_index, ade.names[0], ade.names[2]) == (1, 0, "wall", "sky")
    coco = load_classes("coco-stuff")
    assert (coco.ignore_index, coco.names[0], len(set(coco.names))) == (255, "person", 182)
    assert load_classes("facades").names[2] == "window" and load_classes("celebamask-hq").names[1] == "skin"


def test_a_classes_file_without_colours_gets_generated_ones(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"names": ["a", "b", "c"], "label_offset": 1}))
    info = load_classes(str(path))
    assert info.label_nc == 3 and len(info.colors) == 3 and info.label_offset == 1 and info.ignore_index is None
    with pytest.raises(ValueError, match="lists 3 classes but label_nc is 4"):
        load_classes(str(path), 4)


@pytest.mark.parametrize("content, message", [
    ("{", "not a readable classes table"),
    ('{"names": []}', "non-empty 'names' list"),
    ('{"names": ["a"], "colors": [[1, 2]]}', r"one \[r, g, b\]"),
    ('{"names": ["a"], "label_nc": 2}', "label_nc is 2 but 1 names"),
])
def test_bad_classes_files_are_named(tmp_path, content, message):
    path = tmp_path / "classes.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as caught:
        load_classes(str(path))
    assert str(path) in str(caught.value)
