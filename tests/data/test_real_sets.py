"""The shard writer and the stream on the real sets in ../shared/data (skipped in a plain clone)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hrgan.cli import main
from hrgan.data.stream import ShardStream
from tests.data.conftest import manifest

pytestmark = pytest.mark.shared_data


def shard(tmp_path, *args):
    assert main(["shards", "--out", str(tmp_path), "--workers", "2", *[str(a) for a in args]]) == 0
    return sorted(str(p) for p in tmp_path.glob("*.tar"))


def test_cityscapes_pix2pixhd_layout(shared_dir, tmp_path):
    urls = shard(tmp_path, "--layout", "pix2pixhd", "--root", shared_dir / "data/cityscapes_pix2pixhd_sample", "--label-nc", "35")
    entry = manifest(tmp_path)
    assert entry["num_samples"] == 8 and entry["image_sizes"] == {"2048x1024": 8}
    batch = next(iter(ShardStream(urls, batch_size=2, train=False)))
    assert batch["image"].shape == (2, 3, 1024, 2048) and int(batch["label"].max()) < 35
    assert int(batch["inst"].max()) > 24000  # Cityscapes instanceIds, class * 1000 + k, kept in 16 bits
    original = np.array(Image.open(shared_dir / "data/cityscapes_pix2pixhd_sample/train_inst" / f"{batch['key'][0]}_gtFine_instanceIds.png"))
    np.testing.assert_array_equal(batch["inst"][0].numpy(), original)


def test_vid2vid_sequence_with_folders_layout(shared_dir, tmp_path):
    root = shared_dir / "data/cityscapes_vid2vid_sample"
    shard(tmp_path, "--layout", "folders", "--root", root, "--labels", "{split}_A/seq0000", "--instances", "{split}_inst/seq0000",
          "--images", "{split}_B/seq0000", "--label-nc", "35")
    entry = manifest(tmp_path)
    assert entry["num_samples"] == 30 and entry["has_instances"] and entry["bad_samples"] == []


def test_facades_colour_labels_match_nearest_palette_maps(shared_dir, tmp_path):
    root = shared_dir / "data/facades"
    urls = shard(tmp_path, "--layout", "folders", "--root", root, "--labels", "{split}_label_rgb", "--images", "{split}_img",
                 "--palette", root / "palette.json", "--label-nc", "12")
    entry = manifest(tmp_path)
    assert entry["num_samples"] == 400 and 0.1 < entry["palette_outside_fraction"]["mean"] < 0.4
    batch = next(iter(ShardStream(urls, batch_size=4, train=False)))
    for key, label in zip(batch["key"], batch["label"], strict=True):
        approx = np.array(Image.open(root / "train_label_approx" / f"{key}.png"))
        assert (label.numpy() == approx).mean() > 0.99  # the README's maps are the nearest palette colours too


def test_coco_stuff_with_unlabeled_255_and_mixed_sizes(shared_dir, tmp_path):
    root = shared_dir / "data/coco_stuff_spade_sample"
    urls = shard(tmp_path, "--layout", "pix2pixhd", "--root", root, "--split", "val", "--label-nc", "182", "--ignore-index", "255")
    entry = manifest(tmp_path, "val")
    assert entry["num_samples"] == 8 and len(entry["image_sizes"]) > 1 and entry["ignore_index"] == 255
    stream = ShardStream(urls, batch_size=8, train=False, load_size=(256, 256))
    batch = next(iter(stream))
    assert batch["image"].shape == (8, 3, 256, 256)
    values = set(batch["label"].unique().tolist())
    assert 255 in values and max(values - {255}) < 182


def test_the_spade_cityscapes_config_starts_on_real_cityscapes_shards(shared_dir, tmp_path):
    import warnings

    from hrgan.artifacts import read_export

    shards = tmp_path / "shards"
    shard(shards, "--layout", "pix2pixhd", "--root", shared_dir / "data/cityscapes_pix2pixhd_sample", "--label-nc", "35")
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = Path(__file__).resolve().parents[2] / "configs" / "spade_cityscapes.yaml"
        assert main(["fit", "--config", str(config), "--trainer.default_root_dir", str(run),
                     "--model.generator.init_args.ngf", "4", "--model.discriminator.init_args.ndf", "4",
                     "--model.vgg_weights", "random", "--trainer.logger", "false", "--trainer.precision", "32",
                     "--trainer.enable_progress_bar", "false", "--trainer.max_steps", "2", "--data.num_workers", "0",
                     "--data.train_urls", str(shards / "train-*.tar"), "--data.val_urls", "null"]) == 0
    export = read_export(run / "export.pt")
    assert export["iteration"] == 1 and export["resolution"] == [512, 256] and export["label_nc"] == 35
