"""`hrgan preview` and `hrgan init-config` on shards the tests make, and a fit from the starter config."""

import warnings

import numpy as np
import pytest
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


def test_starter_config_reads_back_whatever_the_paths_hold():
    from hrgan.training.starter_config import DataFacts, starter_config

    facts = DataFacts(label_nc=300, ignore_index=65535, has_instances=False, size=(2048, 1024), mixed_sizes=True,
                      num_samples=30, classes="yes")
    text = starter_config(facts, train_urls="s/{a,b}-*.tar", val_urls="v: #1.tar", device="gpu", run_dir="runs/a #b")
    settings = yaml.safe_load(text)
    assert settings["trainer"]["default_root_dir"] == "runs/a #b" and settings["model"]["classes"] == "yes"
    assert settings["data"]["train_urls"] == "s/{a,b}-*.tar" and settings["data"]["val_urls"] == "v: #1.tar"
    assert settings["data"]["load_size"] == [2048, 1024] and settings["model"]["ignore_index"] == 65535
    first, second = settings["model"]["schedule"]["stages"]
    assert first["resolution"] == [512, 256] and second["resolution"] == [1024, 512]
    assert second["fix_global_steps"] + second["fade_in_steps"] <= 200 * 30  # fits inside the stage


def test_init_config_takes_the_device_names_of_every_command(capsys):
    from hrgan.commands.init_config import target_device

    assert [target_device(name) for name in ("auto", "cpu", "cuda", "cuda:1", "gpu")] == ["auto", "cpu", "gpu", "gpu", "gpu"]
    with pytest.raises(SystemExit) as exit_info:
        main(["init-config", "--data", "x", "--out", "y.yaml", "--device", "tpu"])
    assert exit_info.value.code == 2 and "expected auto, cpu, cuda or cuda:N, got 'tpu'" in capsys.readouterr().err
