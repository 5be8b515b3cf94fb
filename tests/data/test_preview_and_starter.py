"""`hrgan preview` and `hrgan init-config` on shards the tests make, and a fit from the starter config."""

import warnings

import numpy as np
import yaml
from PIL import Image

from hrgan.cli import main
from hrgan.training.starter_config import training_size
from tests.training.helpers import TINY_NET_ARGS


def test_preview_shows_the_samples_with_a_legend_and_prints_pixel_shares(tiny_shards, tmp_path, capsys):
    out = tmp_path / "preview.png"
    assert main(["preview", "--data", str(tiny_shards), "--num", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    assert grid.shape[0] > 3 * 192 and grid.shape[1] >= 3 * 384  # 3 rows of labels | edges | photo at 192 px
    assert "labels | instance edges | photo" in printed and "| class | name | pixel share | pixels |" in printed
    assert "road" in printed and "sky" in printed  # names from the synthetic set's classes.json


def test_preview_of_a_folder_without_shards_is_one_line(tmp_path, capsys):
    assert main(["preview", "--data", str(tmp_path), "--out", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert "has no manifest.json" in err and len(err.splitlines()) == 1 and not (tmp_path / "p.png").exists()


def test_training_size_keeps_the_aspect_ratio_in_multiples_of_32():
    assert training_size((2048, 1024), "gpu") == (1024, 512) and training_size((2048, 1024), "cpu") == (256, 128)
    assert training_size((1024, 1024), "cpu") == (256, 256) and training_size((100, 70), "cpu") == (96, 64)


def test_starter_config_trains(tiny_shards, tmp_path, capsys):
    config = tmp_path / "mine.yaml"
    assert main(["init-config", "--data", str(tiny_shards), "--out", str(config), "--device", "cpu",
                 "--run-dir", str(tmp_path / "run")]) == 0
    settings = yaml.safe_load(config.read_text())
    assert settings["model"]["label_nc"] == 8 and settings["model"]["use_instance_edges"] is True
    assert settings["data"]["resolution"] == [128, 64] and settings["data"]["val_urls"].endswith("val-*.tar")
    assert main(["init-config", "--data", str(tiny_shards), "--out", str(config)]) == 2  # never overwritten silently
    assert "--overwrite" in capsys.readouterr().err
    stages = '[{"resolution": [64, 32], "n_enhancers": 0, "num_D": 1, "batch_size": 1, "steps": 2, "niter_decay": 0}]'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", "--config", str(config), *TINY_NET_ARGS, "--model.schedule.stages", stages,
                     "--trainer.logger", "false", "--trainer.val_check_interval", "2"]) == 0
    assert (tmp_path / "run" / "export.pt").is_file()
