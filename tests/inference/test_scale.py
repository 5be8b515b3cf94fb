"""Inference and evaluation at the scale the model trained at: run sizes, resizing, warnings, the commands."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hrgan.commands.evaluate import main as evaluate
from hrgan.commands.infer import main as infer
from hrgan.data.shards import nearest_resize
from hrgan.data.synthetic import write_dataset
from hrgan.inference.options import parse_scale
from hrgan.inference.scale import resize_ids, resize_photos, run_size, scale_warning
from hrgan.inference.synthesizer import Synthesizer
from hrgan.visualize import image_to_uint8


def test_run_size_keeps_the_trained_resolution_or_its_pixel_count():
    assert run_size((256, 128), (128, 64), "trained") == (128, 64)
    assert run_size((100, 100), (128, 64), "trained") == (91, 91)  # 8192 pixels at the map's own aspect ratio
    assert run_size((256, 128), (128, 64), "native") == (256, 128)
    assert run_size((256, 128), None, "trained") == (256, 128)  # imported weights record no resolution
    assert run_size((256, 128), (128, 64), (64, 64)) == (64, 64)
    assert parse_scale("trained") == "trained" and parse_scale("96x48") == (96, 48)
    with pytest.raises(ValueError, match="trained, native or WIDTHxHEIGHT"):
        parse_scale("big")


def test_resize_ids_is_the_shard_writers_nearest_resize():
    ids = torch.randint(0, 60000, (1, 37, 53))
    for size in ((20, 11), (106, 74), (53, 37)):
        np.testing.assert_array_equal(resize_ids(ids, size)[0].numpy(), nearest_resize(ids[0].numpy(), size))
    photos = torch.rand(2, 3, 40, 60) * 2 - 1
    assert resize_photos(photos, (30, 20)).shape == (2, 3, 20, 30) and resize_photos(photos, (90, 60)).abs().max() <= 1


def test_warnings_only_past_twice_the_training_scale():
    assert scale_warning((192, 96), (128, 64), "native") is None
    assert "4.0x the scale the model trained at" in scale_warning((512, 256), (128, 64), "native")
    assert "0.2x" in scale_warning((32, 16), (128, 64), (32, 16))
    assert "generated at 128x64 and resized back" in scale_warning((512, 256), (128, 64), "trained")
    assert scale_warning((256, 128), (128, 64), "trained") is None


@pytest.fixture(scope="module")
def large_maps(tmp_path_factory):
    """Two scenes at 256x128: twice the 128x64 the `trained` model's last stage trained at."""
    root = tmp_path_factory.mktemp("large")
    write_dataset(root, num=2, width=256, height=128, seed=3, split="test", progress=False)
    return root


def photo(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_infer_runs_at_the_trained_scale_and_writes_at_the_maps_size(trained, large_maps, tmp_path, capsys):
    export = trained / "export.pt"
    common = ["--checkpoint", str(export), "--labels", str(large_maps / "test_label"),
              "--instances", str(large_maps / "test_inst"), "--workers", "0"]
    assert infer(common + ["--out", str(tmp_path / "trained")]) == 0
    assert "maps run at the training scale (128x64)" in capsys.readouterr().out
    assert infer(common + ["--out", str(tmp_path / "native"), "--size", "native"]) == 0
    stem = sorted(p.stem for p in (large_maps / "test_label").iterdir())[0]
    label = torch.from_numpy(np.array(Image.open(large_maps / "test_label" / f"{stem}.png")).astype(np.int64))[None]
    inst = torch.from_numpy(np.array(Image.open(large_maps / "test_inst" / f"{stem}.png")).astype(np.int64))[None]
    synth = Synthesizer.load(export)
    expected = resize_photos(synth(resize_ids(label, (128, 64)), resize_ids(inst, (128, 64))), (256, 128))
    at_trained, at_native = photo(tmp_path / "trained" / f"{stem}.png"), photo(tmp_path / "native" / f"{stem}.png")
    assert at_trained.shape == at_native.shape == (128, 256, 3)
    assert np.abs(at_trained - image_to_uint8(expected[0]).astype(np.int16)).max() <= 1
    assert np.abs(at_trained - at_native).mean() > 1  # the scale changed what was painted


def test_infer_warns_about_maps_far_from_the_training_scale(trained, tmp_path, capsys):
    root = tmp_path / "huge"
    write_dataset(root, num=1, width=512, height=256, seed=4, split="test", progress=False)
    assert infer(["--checkpoint", str(trained / "export.pt"), "--labels", str(root / "test_label"), "--instances",
                  str(root / "test_inst"), "--out", str(tmp_path / "out"), "--size", "native", "--workers", "0"]) == 0
    err = capsys.readouterr().err
    assert "512x256 runs at 4.0x the scale the model trained at (128x64)" in err
    assert Image.open(next((tmp_path / "out").glob("*.png"))).size == (512, 256)


def test_evaluate_scores_at_the_samples_size_after_running_at_the_trained_scale(trained, large_maps, tmp_path):
    def score(*args):
        out = tmp_path / f"r{len(args)}.json"
        assert evaluate(["--checkpoint", str(trained / "export.pt"), "--data", str(large_maps), "--split", "test",
                         "--metrics", "psnr", "--out", str(out), "--workers", "0", *args]) == 0
        return json.loads(out.read_text())

    trained_scale, native = score(), score("--size", "native")
    assert len(trained_scale["samples"]) == len(native["samples"]) == 2
    assert trained_scale["psnr"] != native["psnr"]


def test_label_files_numbered_from_one_need_the_offset(trained, odd_maps, tmp_path, capsys):
    shifted = tmp_path / "from_one"
    shifted.mkdir()
    for path in (odd_maps / "test_label").iterdir():
        Image.fromarray(np.array(Image.open(path)) + 1).save(shifted / path.name)
    common = ["--checkpoint", str(trained / "export.pt"), "--instances", str(odd_maps / "test_inst"), "--workers", "0"]
    assert infer(common + ["--labels", str(shifted), "--out", str(tmp_path / "plain")]) == 1
    assert "masks numbered from 1? pass --label-offset 1" in capsys.readouterr().out
    assert infer(common + ["--labels", str(shifted), "--label-offset", "1", "--out", str(tmp_path / "offset")]) == 0
    assert infer(common + ["--labels", str(odd_maps / "test_label"), "--out", str(tmp_path / "stored")]) == 0
    for path in (tmp_path / "stored").glob("*.png"):
        assert np.array_equal(photo(path), photo(tmp_path / "offset" / path.name))


def test_label_files_follow_the_export_class_tables_convention():
    from hrgan.inference.synthesizer import label_file_convention

    ade = {"label_nc": 150, "ignore_index": 255, "classes": {"label_offset": 1, "ignore_index": 0}}
    assert label_file_convention(ade) == label_file_convention(ade, label_offset=1)  # the table's own offset
    np.testing.assert_array_equal(label_file_convention(ade).apply(np.array([0, 1, 150])), [255, 0, 149])
    plain = {"label_nc": 8, "ignore_index": 255, "classes": {}}
    np.testing.assert_array_equal(label_file_convention(plain, ignore_index=200).apply(np.array([200, 3])), [255, 3])
    assert label_file_convention(plain).apply(np.array([255, 3])).tolist() == [255, 3]
