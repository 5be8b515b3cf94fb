"""`hrgan infer` as a user runs it: files, folders, globs, shards; odd sizes; bad files; existing outputs."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from hrgan.cli import main as hrgan
from hrgan.commands.infer import main as infer


def run(trained, out, *args, workers="0"):
    return infer(["--checkpoint", str(trained / "export.pt"), "--out", str(out), "--workers", workers, *args])


def folders(root, split="test"):
    return ["--labels", str(root / f"{split}_label"), "--instances", str(root / f"{split}_inst")]


def png_size(path):
    with Image.open(path) as image:
        return image.size


def test_folder_of_odd_sized_maps_gives_one_photo_per_stem(trained, odd_maps, tmp_path, capsys):
    assert run(trained, tmp_path, *folders(odd_maps), "--side-by-side", workers="2") == 0
    stems = sorted(p.stem for p in (odd_maps / "test_label").iterdir())
    assert sorted(p.stem for p in tmp_path.glob("*.png") if not p.stem.endswith("_side")) == stems
    for stem in stems:
        assert png_size(tmp_path / f"{stem}.png") == (70, 45)
        assert png_size(tmp_path / f"{stem}_side.png") == (140, 45)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    assert "written 3, skipped 0" in capsys.readouterr().out


def test_existing_outputs_are_kept_unless_overwrite(trained, odd_maps, tmp_path, capsys):
    assert run(trained, tmp_path, *folders(odd_maps)) == 0
    first = sorted(tmp_path.glob("*.png"))[0]
    first.write_bytes(b"mine")
    assert run(trained, tmp_path, *folders(odd_maps)) == 0
    assert first.read_bytes() == b"mine"
    assert "written 0, skipped 3 (outputs exist; --overwrite replaces them)" in capsys.readouterr().out
    assert run(trained, tmp_path, *folders(odd_maps), "--overwrite") == 0
    assert png_size(first) == (70, 45)


def test_glob_single_file_and_resize(trained, odd_maps, tmp_path):
    label = sorted((odd_maps / "test_label").iterdir())[0]
    inst = odd_maps / "test_inst" / label.name
    assert run(trained, tmp_path / "one", "--labels", str(label), "--instances", str(inst), "--size", "50x30") == 0
    assert png_size(tmp_path / "one" / f"{label.stem}.png") == (50, 30)
    pattern = str(odd_maps / "test_label" / "*.png")
    assert run(trained, tmp_path / "glob", "--labels", pattern, "--instances", str(odd_maps / "test_inst")) == 0
    assert len(list((tmp_path / "glob").glob("*.png"))) == 3


def test_shard_urls(trained, tiny_shards, tmp_path):
    assert run(trained, tmp_path, "--labels", str(tiny_shards / "val-*.tar"), "--batch-size", "3") == 0
    keys = json.loads((tiny_shards / "manifest.json").read_text())["splits"]["val"]
    assert len(list(tmp_path.glob("*.png"))) == sum(s["samples"] for s in keys["shards"])


def copy_maps(odd_maps, root):
    (root / "l").mkdir(parents=True)
    (root / "i").mkdir()
    for path in sorted((odd_maps / "test_label").iterdir()):
        (root / "l" / path.name).write_bytes(path.read_bytes())
        (root / "i" / path.name).write_bytes((odd_maps / "test_inst" / path.name).read_bytes())
    return ["--labels", str(root / "l"), "--instances", str(root / "i")]


def write_png(path, array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


def test_every_bad_input_is_reported_by_name_and_the_good_ones_are_written(trained, odd_maps, tmp_path, capsys):
    inputs = copy_maps(odd_maps, tmp_path / "in")
    labels, insts = tmp_path / "in" / "l", tmp_path / "in" / "i"
    good = np.asarray(Image.open(next(labels.iterdir())))
    bad_values = good.copy()
    bad_values[0, :2] = [9, 42]
    write_png(labels / "values.png", bad_values)
    write_png(insts / "values.png", np.zeros_like(good))
    write_png(labels / "sizes.png", good)
    write_png(insts / "sizes.png", np.zeros((10, 10), np.uint8))
    truncated = labels / "truncated.png"
    write_png(truncated, good)
    truncated.write_bytes(truncated.read_bytes()[:200])
    write_png(insts / "truncated.png", np.zeros_like(good))
    colour = np.stack([good * 30, good * 7, 255 - good * 20], axis=-1).astype(np.uint8)
    write_png(labels / "colour.png", colour)
    write_png(insts / "colour.png", np.zeros_like(good))
    write_png(labels / "lonely.png", good)  # no instance map

    assert run(trained, tmp_path / "out", *inputs) == 1
    out = capsys.readouterr().out
    assert "written 3, skipped 0" in out and "failed 5" in out
    lines = {name: next(line for line in out.splitlines() if f"{name}.png" in line)
             for name in ("values", "sizes", "truncated", "colour", "lonely")}
    assert "9, 42" in lines["values"] and "not classes of this model" in lines["values"]
    assert "10x10" in lines["sizes"] and "70x45" in lines["sizes"]
    assert "truncated" in lines["truncated"]
    assert "RGB colour image" in lines["colour"] and "--palette" in lines["colour"]
    assert "no instance map" in lines["lonely"]
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.png")) == sorted(
        p.stem for p in (odd_maps / "test_label").iterdir())


def test_colour_labels_with_a_palette(trained, odd_maps, tmp_path):
    inputs = copy_maps(odd_maps, tmp_path / "in")
    label_path = next((tmp_path / "in" / "l").iterdir())
    ids = np.asarray(Image.open(label_path))
    colours = np.array(json.loads((odd_maps / "classes.json").read_text())["colors"], dtype=np.uint8)
    write_png(label_path, colours[ids])
    palette = odd_maps / "classes.json"
    assert run(trained, tmp_path / "a", *inputs, "--palette", str(palette)) == 0
    assert len(list((tmp_path / "a").glob("*.png"))) == 3


def test_instances_are_required_for_a_model_trained_with_them(trained, odd_maps, tmp_path, capsys):
    labels = ["--labels", str(odd_maps / "test_label")]
    assert run(trained, tmp_path, *labels) == 2
    assert "--instance-edges false" in capsys.readouterr().err
    assert run(trained, tmp_path, *labels, "--instance-edges", "false") == 0
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_missing_checkpoint_and_help(tmp_path, capsys):
    assert infer(["--checkpoint", str(tmp_path / "nope.pt"), "--labels", "x", "--out", str(tmp_path)]) == 1
    assert "nope.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hrgan(["infer", "--help"])
    assert "--side-by-side" in capsys.readouterr().out
