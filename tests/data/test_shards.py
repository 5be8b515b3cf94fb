import io
import json

import numpy as np
import pytest
from PIL import Image

from hrgan.cli import main
from hrgan.data.stream import ShardStream
from tests.data.conftest import manifest


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_round_trip_returns_the_same_tensors(synth_root, synth_shards):
    stream = ShardStream(str(synth_shards / "train-{000000..000005}.tar"), batch_size=1, train=False)
    keys = []
    for batch in stream:
        key = batch["key"][0]
        keys.append(key)
        label = np.array(Image.open(synth_root / "train_label" / f"{key}.png"))
        inst = np.array(Image.open(synth_root / "train_inst" / f"{key}.png"))
        photo = np.array(Image.open(synth_root / "train_img" / f"{key}.png"))
        np.testing.assert_array_equal(batch["label"][0].numpy(), label)
        np.testing.assert_array_equal(batch["inst"][0].numpy(), inst)
        np.testing.assert_allclose(batch["image"][0].permute(1, 2, 0).numpy(), photo / 127.5 - 1, atol=1e-6)
    assert sorted(keys) == sorted(p.stem for p in (synth_root / "train_label").iterdir())


def test_manifest_counts(synth_root, synth_shards):
    entry = manifest(synth_shards)
    assert entry["num_samples"] == 12 and [s["samples"] for s in entry["shards"]] == [2] * 6
    assert all((synth_shards / s["url"]).stat().st_size == s["bytes"] for s in entry["shards"])
    labels = [np.array(Image.open(p)) for p in sorted((synth_root / "train_label").iterdir())]
    expected = np.bincount(np.concatenate([x.ravel() for x in labels]), minlength=8)
    assert entry["class_pixel_counts"] == expected.tolist()
    assert entry["image_sizes"] == {"128x64": 12} and entry["has_instances"] and entry["label_nc"] == 8
    assert abs(sum(entry["class_pixel_frequency"]) - 1) < 1e-4


@pytest.fixture
def messy_root(tmp_path):
    """5 good samples plus one of each kind of bad sample."""
    rng = np.random.default_rng(0)
    root = tmp_path / "messy"
    for i in range(5):
        write_png(root / "train_label" / f"good{i}.png", rng.integers(0, 4, (16, 32), dtype=np.uint8))
        write_png(root / "train_img" / f"good{i}.png", rng.integers(0, 255, (16, 32, 3), dtype=np.uint8))
    write_png(root / "train_label" / "size.png", np.zeros((16, 32), np.uint8))
    write_png(root / "train_img" / "size.png", np.zeros((8, 32, 3), np.uint8))
    write_png(root / "train_label" / "range.png", np.full((16, 32), 9, np.uint8))
    write_png(root / "train_img" / "range.png", np.zeros((16, 32, 3), np.uint8))
    write_png(root / "train_label" / "trunc.png", np.zeros((16, 32), np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (16, 32, 3), dtype=np.uint8)).save(buffer, format="PNG")
    (root / "train_img" / "trunc.png").write_bytes(buffer.getvalue()[:200])
    write_png(root / "train_label" / "colour.png", rng.integers(0, 255, (16, 32, 3), dtype=np.uint8))
    write_png(root / "train_img" / "colour.png", np.zeros((16, 32, 3), np.uint8))
    write_png(root / "train_label" / "lonely.png", np.zeros((16, 32), np.uint8))
    return root


def test_bad_samples_are_reported_and_skipped(messy_root, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["shards", "--layout", "pix2pixhd", "--root", str(messy_root), "--out", str(out), "--label-nc", "4", "--workers", "1"]
    assert main(args) == 1  # 4 of 9 bad is more than the default 5%: nothing is written or recorded
    err = capsys.readouterr().err
    assert "lonely.png" in err and "4 of 9 samples are bad" in err and "nothing written" in err
    assert not (out / "manifest.json").exists() and not list(out.glob("*.tar")) and not list(out.glob(".*"))
    assert main(args + ["--max-bad-fraction", "0.5"]) == 0
    entry = manifest(out)
    assert entry["num_samples"] == 5
    reasons = {r["path"].rsplit("/", 1)[1]: r["reason"] for r in entry["bad_samples"]}
    assert "is 32x8, label map 32x16" in reasons["size.png"] and "--size" in reasons["size.png"]
    assert "label values 9 are neither a class (0..3)" in reasons["range.png"]
    assert "truncated" in reasons["trunc.png"] and "trunc.png" in reasons["trunc.png"]
    assert "RGB colour image" in reasons["colour.png"] and "--palette" in reasons["colour.png"]
    assert entry["unpaired_files"][0]["path"].endswith("lonely.png")
    assert entry["label_values"]["9"] > 0  # the values of refused maps are counted too


def test_a_failed_split_keeps_the_shards_it_would_replace(messy_root, synth_root, tmp_path):
    out = tmp_path / "out"
    good = ["shards", "--layout", "pix2pixhd", "--root", str(synth_root), "--out", str(out), "--workers", "1"]
    assert main(good) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    messy = ["shards", "--layout", "pix2pixhd", "--root", str(messy_root), "--out", str(out), "--label-nc", "4",
             "--workers", "1", "--overwrite"]
    assert main(messy) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_existing_shards_need_overwrite(synth_root, tmp_path, capsys):
    args = ["shards", "--layout", "pix2pixhd", "--root", str(synth_root), "--out", str(tmp_path), "--workers", "1"]
    assert main(args + ["--max-shard-samples", "4"]) == 0  # label_nc from classes.json
    with pytest.raises(SystemExit):
        main(args)
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite", "--max-shard-samples", "100"]) == 0
    assert sorted(p.name for p in tmp_path.glob("train-*.tar")) == ["train-000000.tar"]  # stale shards removed


def test_colour_labels_through_a_palette(tmp_path, capsys):
    colours = np.array([[0, 0, 222], [0, 48, 255], [255, 80, 0]])
    ids = np.zeros((16, 32), np.uint8)
    ids[:, 10:20], ids[:, 20:] = 1, 2
    rgb = colours[ids].astype(np.int16)
    rgb[0, :] += 60  # a row of pixels off the palette
    write_png(tmp_path / "d/train_label/x.png", np.clip(rgb, 0, 255).astype(np.uint8))
    write_png(tmp_path / "d/train_img/x.png", np.zeros((16, 32, 3), np.uint8))
    palette = tmp_path / "palette.json"
    palette.write_text(json.dumps({"classes": [{"index": i, "rgb": c.tolist()} for i, c in enumerate(colours)]}))
    out = tmp_path / "out"
    assert main(["shards", "--layout", "pix2pixhd", "--root", str(tmp_path / "d"), "--out", str(out),
                 "--label-nc", "3", "--palette", str(palette), "--workers", "1"]) == 0
    batch = next(iter(ShardStream(str(out / "train-000000.tar"), batch_size=1, train=False)))
    np.testing.assert_array_equal(batch["label"][0].numpy()[1:], ids[1:])  # row 0 is off the palette
    fraction = manifest(out)["palette_outside_fraction"]["max"]
    assert fraction == pytest.approx(1 / 16)
    assert "6.2% of label pixels" in capsys.readouterr().out


def test_size_resizes_once_at_shard_time(synth_root, tmp_path):
    out = tmp_path / "half"
    assert main(["shards", "--layout", "pix2pixhd", "--root", str(synth_root), "--split", "train", "--out", str(out),
                 "--size", "64x32", "--workers", "1"]) == 0
    assert manifest(out)["image_sizes"] == {"64x32": 12}
    stream = ShardStream(str(out / "train-*.tar"), batch_size=1, train=False)
    for batch in stream:
        key = batch["key"][0]
        label = np.array(Image.open(synth_root / "train_label" / f"{key}.png"))
        inst = np.array(Image.open(synth_root / "train_inst" / f"{key}.png"))
        photo = Image.open(synth_root / "train_img" / f"{key}.png").convert("RGB").resize((64, 32), Image.LANCZOS)
        # ids are picked, never blended: the pixel at each 2x2 cell's centre (rounded down-right, as PIL)
        np.testing.assert_array_equal(batch["label"][0].numpy(), label[1::2, 1::2])
        np.testing.assert_array_equal(batch["inst"][0].numpy(), inst[1::2, 1::2])
        np.testing.assert_allclose(batch["image"][0].permute(1, 2, 0).numpy(), np.asarray(photo) / 127.5 - 1, atol=1e-6)


def photo_with_mask(root, name, photo_size, mask_size, *, value=1, split="train"):
    """A photo (left half dark, right half bright) and its mask (left 0, right ``value``) at their own sizes."""
    (pw, ph), (mw, mh) = photo_size, mask_size
    photo = np.zeros((ph, pw, 3), np.uint8)
    photo[:, pw // 2:] = 200
    mask = np.zeros((mh, mw), np.uint8)
    mask[:, mw // 2:] = value
    write_png(root / f"{split}_img" / f"{name}.png", photo)
    write_png(root / f"{split}_label" / f"{name}.png", mask)


def read_back(out, split="train"):
    stream = ShardStream(str(out / f"{split}-000000.tar"), batch_size=1, train=False)
    return {b["key"][0]: b for b in stream}


def test_size_resizes_each_modality_before_comparing(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "s"
    photo_with_mask(root, "half", (64, 64), (32, 32))  # masks at half the photo's size
    photo_with_mask(root, "big", (128, 128), (128, 128))  # mixed sizes across the set
    photo_with_mask(root, "other", (64, 48), (32, 32))  # another picture's aspect ratio
    args = ["shards", "--layout", "pix2pixhd", "--root", str(root), "--out", str(out), "--label-nc", "2", "--workers", "1"]
    assert main(args) == 1  # without --size, 2 of 3 pairs differ in size
    assert "pass --size WxH" in capsys.readouterr().err
    assert main(args + ["--size", "16x16", "--max-bad-fraction", "0.5"]) == 0
    samples = read_back(out)
    assert sorted(samples) == ["big", "half"] and manifest(out)["image_sizes"] == {"16x16": 2}
    for batch in samples.values():
        assert batch["label"][0, :, :8].eq(0).all() and batch["label"][0, :, 8:].eq(1).all()
        assert batch["image"][0, :, :, :7].max() < -0.9 and batch["image"][0, :, :, 9:].min() > 0.5
    reason = manifest(out)["bad_samples"][0]["reason"]
    assert "other.png: image is 64x48, label map 32x32: their aspect ratios differ" in reason
    assert manifest(out)["label_values"] == {"0": 2 * 512 + 128 * 64, "1": 2 * 512 + 128 * 64}  # all 3 maps, the refused one too


def test_label_offset_and_ignore_value_store_classes_from_zero(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "s"
    mask = np.array([[0, 1, 2, 3]] * 4, np.uint8)  # ADE20K style: 0 unlabeled, classes 1..3
    write_png(root / "train_label" / "a.png", mask)
    write_png(root / "train_img" / "a.png", np.zeros((4, 4, 3), np.uint8))
    args = ["shards", "--layout", "pix2pixhd", "--root", str(root), "--out", str(out), "--workers", "1"]
    assert main(args + ["--label-nc", "3", "--ignore-index", "0"]) == 1  # 3 is not a class of 0..2: never silent
    err = capsys.readouterr().err
    assert "pass --label-offset 1 --ignore-index 0" in err and "ignore value 0 is also class 0" in err
    assert main(args + ["--label-nc", "3", "--ignore-index", "0", "--label-offset", "1"]) == 0
    printed = capsys.readouterr()
    assert "label values found: 0..3 (4 distinct)" in printed.out and "check:" not in printed.err
    stored = read_back(out)["a"]["label"][0].numpy()
    np.testing.assert_array_equal(stored[0], [255, 0, 1, 2])
    entry = manifest(out)
    assert (entry["ignore_index"], entry["file_ignore_index"], entry["label_offset"]) == (255, 0, 1)
    assert entry["class_pixel_counts"] == [4, 4, 4]


def test_a_classes_file_gives_the_convention(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --classes path is recorded absolute, for commands run elsewhere
    root, out = tmp_path / "data", tmp_path / "s"
    write_png(root / "train_label" / "a.png", np.array([[1, 2, 255, 1]], np.uint8))
    write_png(root / "train_img" / "a.png", np.zeros((1, 4, 3), np.uint8))
    table = tmp_path / "mine.json"
    table.write_text(json.dumps({"names": ["sky", "tree"], "label_offset": 1, "ignore_index": 255}))
    assert main(["shards", "--layout", "pix2pixhd", "--root", str(root), "--out", str(out), "--workers", "1",
                 "--classes", "mine.json"]) == 0
    np.testing.assert_array_equal(read_back(out)["a"]["label"][0, 0].numpy(), [0, 1, 255, 0])
    assert manifest(out)["classes"] == str(table.resolve()) and manifest(out)["label_nc"] == 2


def test_unknown_classes_table_is_one_line(tmp_path, capsys):
    code = main(["shards", "--layout", "pix2pixhd", "--root", str(tmp_path), "--out", str(tmp_path / "s"),
                 "--classes", "nope"])
    err = capsys.readouterr().err
    assert code == 1 and "'nope' not found" in err and "cityscapes" in err and len(err.strip().splitlines()) == 1


def test_classes_numbered_from_one_are_refused_even_when_few_samples_show_it(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "s"
    for i in range(30):  # ADE20K style, 0 unlabeled, classes 1..3; only the first map holds class 3
        write_png(root / "train_label" / f"{i}.png", np.array([[0, 1, 2, 3 if i == 0 else 2]], np.uint8))
        write_png(root / "train_img" / f"{i}.png", np.zeros((1, 4, 3), np.uint8))
    args = ["shards", "--layout", "pix2pixhd", "--root", str(root), "--out", str(out), "--workers", "1",
            "--label-nc", "3", "--ignore-index", "0"]
    assert main(args) == 1  # 1 bad of 30 is under 5%, but every stored id would be one too high
    err = capsys.readouterr().err
    assert "pass --label-offset 1 --ignore-index 0" in err and "--accept-labels" in err
    assert not list(out.glob("*.tar")) and not (out / "manifest.json").exists()
    assert main(args + ["--accept-labels"]) == 0 and manifest(out)["num_samples"] == 29
