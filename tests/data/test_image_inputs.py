"""Image inputs (label_nc 0) through the data path: pix2pix's aligned A|B files, paired photo folders,
decoding and augmentation with the input image beside the photo."""

import numpy as np
import pytest
import torch
from PIL import Image

from hrgan.cli import main
from hrgan.data.augment import GPUAugment
from hrgan.data.labels import LabelConvention
from hrgan.data.shards import write_split
from hrgan.data.stream import ShardStream
from tests.data.conftest import manifest

IMAGE_INPUT = LabelConvention(label_nc=0)


def noise(seed, shape):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def aligned_root(tmp_path):
    """Three 32x16 A|B PNGs (A left, B right) in pix2pix's {split}/ folder, with the halves kept for checks."""
    halves = {}
    for i in range(3):
        a, b = noise(i, (16, 16, 3)), noise(10 + i, (16, 16, 3))
        (tmp_path / "train").mkdir(exist_ok=True)
        Image.fromarray(np.concatenate([a, b], axis=1)).save(tmp_path / "train" / f"{i}.png")
        halves[str(i)] = (a, b)
    return tmp_path, halves


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_aligned_layout_splits_each_file_into_input_and_target(aligned_root, direction, tmp_path):
    root, halves = aligned_root
    out = tmp_path / f"shards_{direction}"
    result = write_split("aligned", root, "train", out, convention=IMAGE_INPUT, direction=direction, progress=False)
    assert not result.bad and result.entry["input"] == "image" and result.entry["label_nc"] == 0
    assert result.entry["direction"] == direction and result.entry["image_sizes"] == {"16x16": 3}
    batches = list(ShardStream(str(out / "train-*.tar"), batch_size=1, train=False, label_nc=0, image_dtype="uint8"))
    assert sorted(b["key"][0] for b in batches) == ["0", "1", "2"]
    for batch in batches:
        a, b = halves[batch["key"][0]]
        source, target = (a, b) if direction == "AtoB" else (b, a)
        assert "label" not in batch
        np.testing.assert_array_equal(batch["input"][0].permute(1, 2, 0).numpy(), source)  # PNG halves: exact
        np.testing.assert_array_equal(batch["image"][0].permute(1, 2, 0).numpy(), target)


def test_aligned_file_of_odd_width_is_a_bad_sample_named(aligned_root, tmp_path):
    root, _ = aligned_root
    Image.fromarray(noise(7, (16, 33, 3))).save(root / "train" / "odd.png")
    result = write_split("aligned", root, "train", tmp_path / "s", convention=IMAGE_INPUT, progress=False,
                         max_bad_fraction=0.5)
    assert [b.reason for b in result.bad] == [f"{root / 'train' / 'odd.png'}: an aligned A|B image needs an even width, got 33x16"]
    assert manifest(tmp_path / "s")["num_samples"] == 3


def test_folders_layout_with_images_on_both_sides_through_the_command(tmp_path, capsys):
    for split_dir, seed in (("day", 0), ("night", 100)):
        (tmp_path / split_dir).mkdir()
        for i in range(2):
            Image.fromarray(noise(seed + i, (8, 12, 3))).save(tmp_path / split_dir / f"{i}.jpg", quality=95)
    out = tmp_path / "shards"
    assert main(["shards", "--layout", "folders", "--root", str(tmp_path), "--labels", "day", "--images", "night",
                 "--input", "image", "--out", str(out), "--workers", "1"]) == 0
    entry = manifest(out)
    assert entry["num_samples"] == 2 and entry["input"] == "image" and entry["label_values"] == {}
    sample = next(iter(ShardStream(str(out / "train-*.tar"), batch_size=1, train=False, label_nc=0, image_dtype="uint8")))
    kept = np.asarray(Image.open(tmp_path / "day" / f"{sample['key'][0]}.jpg"))  # the file's own bytes, not re-encoded
    np.testing.assert_array_equal(sample["input"][0].permute(1, 2, 0).numpy(), kept)
    assert "label values found" not in capsys.readouterr().out


def test_class_options_with_image_inputs_are_refused(aligned_root, tmp_path, capsys):
    root, _ = aligned_root
    with pytest.raises(SystemExit) as stop:
        main(["shards", "--layout", "aligned", "--root", str(root), "--input", "image", "--classes", "facades",
              "--out", str(tmp_path / "s")])
    assert stop.value.code == 2
    assert "--classes only apply to label maps" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_a_label_model_skips_image_input_samples_with_a_reason(aligned_root, tmp_path, caplog):
    root, _ = aligned_root
    out = tmp_path / "s"
    write_split("aligned", root, "train", out, convention=IMAGE_INPUT, progress=False)
    stream = ShardStream(str(out / "train-*.tar"), batch_size=1, train=False, label_nc=8, max_bad_fraction=1.0)
    assert list(stream) == [] and stream.counts.bad == 3
    assert caplog.text.count("written with --input image, for a model with label_nc 0") == 3


def test_augmentation_moves_the_input_image_with_the_photo():
    photo = torch.rand(2, 3, 20, 30) * 2 - 1
    batch = {"image": photo, "input": photo[:, :1].clone(), "key": ["a", "b"]}
    augment = GPUAugment(size=(16, 12), scale_range=(1.0, 1.5), flip=True, color_jitter=0.0, seed=3)
    out = augment(batch)
    assert out["input"].shape == (2, 1, 12, 16) and out["image"].shape == (2, 3, 12, 16)
    torch.testing.assert_close(out["input"], out["image"][:, :1])  # the same resize, crop and flip
    assert "label" not in out


def test_a_greyscale_target_photo_comes_out_with_three_channels(tmp_path):
    for side, mode in (("inputs", "RGB"), ("photos", "L")):
        (tmp_path / side).mkdir()
        shape = (8, 8, 3) if mode == "RGB" else (8, 8)
        Image.fromarray(noise(1, shape), mode).save(tmp_path / side / "a.png")
    out = tmp_path / "s"
    write_split("folders", tmp_path, "train", out, convention=IMAGE_INPUT, labels="inputs", images="photos", progress=False)
    batch = next(iter(ShardStream(str(out / "train-*.tar"), batch_size=1, train=False, label_nc=0)))
    assert batch["image"].shape == (1, 3, 8, 8) and batch["input"].shape == (1, 3, 8, 8)
    grey = next(iter(ShardStream(str(out / "train-*.tar"), batch_size=1, train=False, label_nc=0, input_nc=1)))
    assert grey["input"].shape == (1, 1, 8, 8)
