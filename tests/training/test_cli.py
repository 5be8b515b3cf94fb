"""Every config runs through ``hrgan fit`` for a few steps with tiny overrides; the demo's outputs are checked."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hrgan.cli import main
from hrgan.artifacts import build_network, read_export
from hrgan.data.labels import LabelConvention
from hrgan.data.shards import write_split
from tests.training.helpers import TINY_NET_ARGS
from tests.wandb_offline import history

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY_NETS = [*TINY_NET_ARGS, "--trainer.val_check_interval", "2", "--trainer.log_every_n_steps", "1"]


def stages(*specs):
    """Stages in steps; epochs and the decay are nulled, since jsonargparse merges a list override into the YAML's."""
    keys = ("resolution", "n_enhancers", "num_D", "batch_size", "steps")
    return json.dumps([dict(zip(keys, s, strict=True)) | {"epochs": None, "niter_decay": 0, "fix_global_steps": 0,
                                                            "fade_in_steps": 0} for s in specs])


def fit(config, tmp_path, *extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", "--config", str(CONFIGS / config), "--trainer.default_root_dir", str(tmp_path), *TINY_NETS, *extra]) == 0


@pytest.mark.parametrize("config, label_nc, two_stage", [
    ("cityscapes_1024x512.yaml", 35, False),
    ("cityscapes_2048x1024.yaml", 35, True),
    ("facades_256.yaml", 12, False),
])
def test_paper_configs_start_on_shards(config, label_nc, two_stage, tiny_shards, tmp_path):
    schedule = stages([[64, 32], 0, 2, 1, 2], [[128, 64], 1, 3, 1, 2]) if two_stage else stages([[64, 32], 0, 2, 1, 3])
    shards = tmp_path / "shards"  # the synthetic scenes, recorded with the config's label_nc (fit checks the manifest)
    for split in ("train", "val"):
        assert not write_split("pix2pixhd", tiny_shards.parent, split, shards, convention=LabelConvention(label_nc), progress=False).bad
    fit(config, tmp_path, "--model.schedule.stages", schedule, "--model.vgg_weights", "random",
        "--data.train_urls", str(shards / "train-*.tar"), "--data.val_urls", str(shards / "val-*.tar"),
        "--data.resolution", "null", "--trainer.logger", "false")
    export = read_export(tmp_path / "export.pt")
    assert export["label_nc"] == label_nc and export["n_active_enhancers"] == int(two_stage)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and (tmp_path / "config.yaml").is_file()


# the image-input configs with tiny networks: pix2pix's U-Net at 5 levels (multiples of 32), or pix2pixHD's global generator
IMAGE_CONFIGS = {
    "pix2pix_facades.yaml": ["--model.generator.init_args.ngf", "4", "--model.generator.init_args.num_downs", "5",
                             "--model.discriminator.init_args.ndf", "4", "--model.discriminator.init_args.n_layers", "2"],
    "facades_image_input.yaml": TINY_NET_ARGS[:8],
}


@pytest.mark.parametrize("config", sorted(IMAGE_CONFIGS))
def test_image_input_configs_train_and_infer_turns_photos_into_photos(config, tiny_shards, tmp_path, capsys):
    shards = tmp_path / "shards"  # the synthetic photos as inputs (photo -> photo)
    for split in ("train", "val"):
        assert not write_split("folders", tiny_shards.parent, split, shards, convention=LabelConvention(0),
                               labels="{split}_img", images="{split}_img", progress=False).bad
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", "--config", str(CONFIGS / config), "--trainer.default_root_dir", str(run), *IMAGE_CONFIGS[config],
                     "--trainer.enable_progress_bar", "false", "--data.num_workers", "0", "--trainer.val_check_interval", "2",
                     "--model.schedule.stages", stages([[64, 32], 0, 1 if "pix2pix" in config else 2, 1, 3]),
                     "--model.vgg_weights", "random", "--data.train_urls", str(shards / "train-*.tar"),
                     "--data.val_urls", str(shards / "val-*.tar"), "--data.resolution", "null", "--trainer.logger", "false"]) == 0
    export = read_export(run / "export.pt")
    assert export["label_nc"] == 0 and export["input_nc"] == 3 and export["iteration"] == 3
    photos = tiny_shards.parent / "val_img"
    out = tmp_path / "out"
    assert main(["infer", "--checkpoint", str(run / "export.pt"), "--inputs", str(photos), "--out", str(out),
                 "--workers", "0", "--side-by-side"]) == 0
    assert "written 4, skipped 0, failed 0" in capsys.readouterr().out
    for path in sorted(photos.iterdir()):
        generated = np.asarray(Image.open(out / path.name))
        assert generated.shape == np.asarray(Image.open(path)).shape[:2] + (3,) and generated.std() > 0
        assert np.asarray(Image.open(out / f"{path.stem}_side.png")).shape[1] == 2 * generated.shape[1]
    report = tmp_path / "eval" / "report.json"
    assert main(["evaluate", "--checkpoint", str(run / "export.pt"), "--data", str(shards), "--split", "val",
                 "--metrics", "psnr,ssim", "--out", str(report), "--workers", "0"]) == 0
    result = json.loads(report.read_text())
    assert result["num_samples"] == 4 and np.isfinite(result["psnr"]) and 0 < result["ssim"] <= 1


SPADE_TINY = ["--model.generator.init_args.ngf", "4", "--model.discriminator.init_args.ndf", "4",
              "--model.discriminator.init_args.n_layers", "2"]


VAE = ["--model.generator.init_args.z_dim", "8", "--model.generator.init_args.latent_size", "[2, 1]"]


@pytest.mark.parametrize("config, label_nc, extra", [("spade_cityscapes.yaml", 35, []), ("spade_ade20k.yaml", 151, []),
                                                     ("spade_tiny.yaml", 12, []), ("spade_tiny.yaml", 12, VAE)])
def test_spade_configs_train_export_and_infer(config, label_nc, extra, tiny_shards, tmp_path, capsys):
    shards = tmp_path / "shards"  # the synthetic scenes, recorded with the config's label_nc
    for split in ("train", "val"):
        assert not write_split("pix2pixhd", tiny_shards.parent, split, shards, convention=LabelConvention(label_nc), progress=False).bad
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", "--config", str(CONFIGS / config), "--trainer.default_root_dir", str(run), *SPADE_TINY, *extra,
                     "--trainer.enable_progress_bar", "false", "--trainer.precision", "32", "--trainer.logger", "false",
                     "--data.num_workers", "0", "--trainer.val_check_interval", "2", "--model.vgg_weights", "random",
                     "--model.schedule.stages", stages([[64, 32], 0, 2, 1, 3]), "--data.resolution", "null",
                     "--data.train_urls", str(shards / "train-*.tar"), "--data.val_urls", str(shards / "val-*.tar")]) == 0
    export = read_export(run / "export.pt")
    assert export["generator"]["class_path"] == "hrgan.models.spade.SPADEGenerator" and export["label_nc"] == label_nc
    out = tmp_path / "out"
    maps = ["--labels", str(tiny_shards.parent / "val_label"), "--workers", "0"]
    if export["use_instance_edges"]:
        maps += ["--instances", str(tiny_shards.parent / "val_inst")]
    if extra:  # the VAE: multimodal
        maps += ["--style", "random", "--seed", "1"]
        assert export["style_encoder"] is not None and export["generator"]["init_args"]["z_dim"] == 8
    assert main(["infer", "--checkpoint", str(run / "export.pt"), "--out", str(out), *maps]) == 0
    assert "written 4, skipped 0, failed 0" in capsys.readouterr().out


def demo_run(tmp_path, schedule, *extra):
    fit("demo.yaml", tmp_path, "--model.schedule.stages", schedule, "--data.synthetic.root", str(tmp_path / "data"), "--data.synthetic.train", "6", "--data.synthetic.val", "4",
        "--data.synthetic.size", "[128, 64]", *extra)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo config, shrunk: synthetic data made by the DataModule, two stages, wandb offline."""
    folder = tmp_path_factory.mktemp("demo")
    demo_run(folder, stages([[64, 32], 0, 2, 2, 3], [[128, 64], 1, 3, 1, 3]))
    return folder


def test_demo_writes_config_samples_export_and_report(demo, capsys):
    assert "label_nc: 8" in (demo / "config.yaml").read_text()
    grid = np.asarray(Image.open(demo / "samples" / "latest.png"))
    assert grid.shape == (4 * 64, 4 * 128, 3) and grid.std() > 10  # 4 samples x (labels | edges | fake | real)
    scores = json.loads((demo / "fidelity.json").read_text())
    assert set(scores) == {"model_predictable", "baseline_predictable", "model_full", "baseline_full"}
    assert all(np.isfinite(v) for v in scores.values())


def test_export_loads_without_pickle_and_matches_the_ema_generator(demo):
    export = read_export(demo / "export.pt")  # weights_only=True inside
    assert export["ema"] and export["classes"]["names"][0] == "sky" and export["resolution"] == [128, 64]
    generator = build_network(export["generator"])
    checkpoint = torch.load(demo / "checkpoints" / "last.ckpt", weights_only=True)
    ema = {k[len("generator_ema."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("generator_ema.")}
    for key, value in generator.state_dict().items():
        torch.testing.assert_close(value, ema[key])


def test_offline_wandb_run_has_losses_and_images(demo):
    (run,) = (demo / "wandb").glob("offline-run-*")
    rows = history(run)
    keys = set().union(*rows)
    for key in ("loss/D/real", "loss/D/fake", "loss/G/gan", "loss/G/feat", "loss/G/l1", "lr/G", "lr/D",
                "growth/stage", "growth/alpha", "perf/images_per_s", "val/psnr", "val/l1", "samples", "eval/psnr", "eval/ssim"):
        assert key in keys, key
    images = [row["samples"] for row in rows if "samples" in row]
    assert images[-1]["_type"] == "images/separated" and images[-1]["format"] == "png"
    media = run / "files" / images[-1]["filenames"][0]
    picture = np.asarray(Image.open(media))
    assert picture.dtype == np.uint8 and picture.std() > 10  # not blank
    stages_seen = {row["growth/stage"] for row in rows if "growth/stage" in row}
    assert stages_seen == {0.0, 1.0}
    # the x-axis counts iterations (3 + 3), not optimizer steps (two per iteration)
    assert max(row["trainer/global_step"] for row in rows if "trainer/global_step" in row) == 6
    assert all(row["trainer/global_step"] == row["iteration"] for row in rows if "iteration" in row)
    assert [row["trainer/global_step"] for row in rows if "samples" in row][-1] == 6
    assert [row["trainer/global_step"] for row in rows if "eval/psnr" in row] == [6]
    assert (demo / "samples" / "iter_0000006.png").is_file()


def test_resume_with_ckpt_path_last_continues(demo, tmp_path):
    import shutil

    folder = tmp_path / "resumed"
    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns("wandb"))
    longer = stages([[64, 32], 0, 2, 2, 3], [[128, 64], 1, 3, 1, 5])
    demo_run(folder, longer, "--ckpt_path", "last", "--trainer.logger", "false")
    state = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["progress"]["iteration"] == 8


def test_validate_a_checkpoint_at_its_stage(demo, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["validate", "--config", str(CONFIGS / "demo.yaml"), "--trainer.default_root_dir", str(demo), *TINY_NETS,
                     "--model.schedule.stages", stages([[64, 32], 0, 2, 2, 3], [[128, 64], 1, 3, 1, 3]),
                     "--data.synthetic.root", str(demo / "data"), "--trainer.logger", "false",
                     "--ckpt_path", str(demo / "checkpoints" / "last.ckpt")]) == 0
    out = capsys.readouterr().out
    assert "val/psnr" in out


def test_progress_bar_counts_the_whole_schedule_and_each_stage(tmp_path, capfd):
    demo_run(tmp_path, stages([[64, 32], 0, 2, 2, 3], [[128, 64], 1, 3, 1, 4]), "--trainer.enable_progress_bar", "true",
             "--trainer.logger", "false")
    err = capfd.readouterr().err
    assert "fit: 100%" in err and "7/7" in err and "stage 2/2 128x64 4/4" in err and "stage 1/2 64x32" in err
    assert "Epoch" not in err  # not Lightning's per-epoch bar (3 one-batch epochs here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["validate", "--config", str(CONFIGS / "demo.yaml"), "--trainer.default_root_dir", str(tmp_path),
                     *TINY_NETS, "--model.schedule.stages", stages([[64, 32], 0, 2, 2, 3], [[128, 64], 1, 3, 1, 4]),
                     "--data.synthetic.root", str(tmp_path / "data"), "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "true", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")]) == 0
    assert "validate: 100%" in capfd.readouterr().err


def test_fit_without_shards_says_so_in_one_line(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["fit", "--config", str(CONFIGS / "pix2pix_facades.yaml"), "--trainer.default_root_dir", str(tmp_path),
                     *IMAGE_CONFIGS["pix2pix_facades.yaml"], "--trainer.logger", "false", "--data.num_workers", "0",
                     "--data.train_urls", str(tmp_path / "none" / "train-*.tar"), "--data.val_urls", "null"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"hrgan fit: no shards match {tmp_path / 'none' / 'train-*.tar'}" in err
