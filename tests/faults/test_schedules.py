"""Schedules and options are checked before the first training step, every problem reported at once."""

import json
import warnings
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from hrgan.cli import main
from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
from hrgan.training.callbacks import Checkpoints
from hrgan.training.checks import SettingsError
from hrgan.training.module import Pix2PixHDModule
from hrgan.training.schedule import ProgressiveSchedule, Stage
from tests.training.helpers import TINY_NET_ARGS, tiny_data, tiny_module, tiny_trainer, two_stages

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY_NETS = [*TINY_NET_ARGS, "--trainer.logger", "false", "--model.use_vgg_loss", "false"]


class CountSteps(Callback):
    def __init__(self):
        self.steps = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps += 1


def test_a_schedule_lists_every_problem_of_its_stages():
    with pytest.raises(SettingsError) as caught:
        ProgressiveSchedule([
            Stage(resolution=(128, 64), batch_size=0, steps=0),
            Stage(resolution=(64, 64), n_enhancers=1, steps=4, niter_decay=5, fade_in_steps=6),
            Stage(resolution=(128, 64), n_enhancers=1, epochs=2, niter_decay=3),
        ])
    assert caught.value.problems == [
        "stage 1: steps must be at least 1, got 0",
        "stage 1: batch_size must be at least 1, got 0",
        "stage 2: the resolution may not shrink (128x64 -> 64x64)",
        "stage 2: niter_decay (5) is longer than the stage (4 steps)",
        "stage 2: fade_in_steps (6) is longer than the stage (4 steps)",
        "stage 3: niter_decay (3) is longer than the stage (2 epochs)",
    ]


def test_what_the_networks_cannot_run_is_refused_when_the_module_is_built():
    # the resolution check is what used to fail only at the stage transition, after stage 1 had trained
    schedule = ProgressiveSchedule([
        Stage(resolution=(64, 32), n_enhancers=0, num_D=1, batch_size=2, steps=2),
        Stage(resolution=(100, 64), n_enhancers=1, num_D=2, batch_size=1, steps=2),
        Stage(resolution=(128, 64), n_enhancers=2, num_D=5, batch_size=1, steps=2),
    ])
    with pytest.raises(SettingsError) as caught:
        tiny_module(schedule)  # 1 local enhancer, 2 discriminator scales, size multiple 4 * 2**k
    assert caught.value.problems == [
        "stage 2: resolution 100x64 is not a multiple of 8, which the generator needs with 1 local enhancer(s) active",
        "stage 3: num_D is 5, but the discriminator has 2 scales (discriminator num_D)",
        "stage 3: n_enhancers is 2, but the generator has 1 local enhancer(s) (generator n_local_enhancers)",
    ]


def test_a_fade_in_needs_the_coarser_output_layer():
    generator = Pix2PixHDGenerator(in_channels=9, ngf=4, n_downsample_global=2, n_blocks_global=1,
                                   n_local_enhancers=1, n_blocks_local=1, keep_coarse_heads=False)
    with pytest.raises(SettingsError, match="stage 1: level 0 has no output layer"):
        Pix2PixHDModule(generator=generator, discriminator=MultiscaleDiscriminator(in_channels=12, ndf=4, n_layers=2, num_D=2),
                        label_nc=8, use_vgg_loss=False, schedule=two_stages(2, 2, fade_in_steps=2))


def test_label_nc_against_the_classes_table_and_the_shards_manifest(tiny_shards, tmp_path):
    with pytest.raises(SettingsError, match="lists 8 classes but label_nc is 7"):
        Pix2PixHDModule(generator=Pix2PixHDGenerator(in_channels=8, ngf=4, n_local_enhancers=0),
                        discriminator=MultiscaleDiscriminator(in_channels=11, ndf=4, n_layers=2),
                        label_nc=7, classes="synthetic", use_vgg_loss=False,
                        schedule=ProgressiveSchedule([Stage(resolution=(64, 32), num_D=1, steps=2)]))
    module = Pix2PixHDModule(generator=Pix2PixHDGenerator(in_channels=8, ngf=4, n_downsample_global=2, n_local_enhancers=0),
                             discriminator=MultiscaleDiscriminator(in_channels=11, ndf=4, n_layers=2, num_D=1),
                             label_nc=7, use_vgg_loss=False, fused_adam=False,
                             schedule=ProgressiveSchedule([Stage(resolution=(64, 32), num_D=1, steps=2)]))
    counter = CountSteps()
    with pytest.raises(SettingsError) as caught:
        tiny_trainer(tmp_path, [counter]).fit(module, tiny_data(tiny_shards))
    assert counter.steps == 0
    assert caught.value.problems == [f"label_nc is 7, but the shards' manifest {tiny_shards / 'manifest.json'} (train) "
                                     "records label_nc 8"]


def test_fit_prints_every_problem_as_a_line_and_exits_2(tmp_path, capsys):
    bad = [{"resolution": [64, 32], "n_enhancers": 0, "num_D": 2, "batch_size": 0, "steps": 4, "niter_decay": 5},
           {"resolution": [100, 64], "n_enhancers": 1, "num_D": 4, "batch_size": 1, "steps": 2, "niter_decay": 0,
            "fade_in_steps": 1}]  # every key given: jsonargparse merges list items into the YAML's
    stages = json.dumps([s | {"epochs": None, "fix_global_steps": 0} | {"fade_in_steps": s.get("fade_in_steps", 0)}
                         for s in bad])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["fit", "--config", str(CONFIGS / "demo.yaml"), "--trainer.default_root_dir", str(tmp_path),
                     *TINY_NETS, "--model.schedule.stages", stages, "--data.synthetic.root", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("hrgan fit: ")]
    assert lines == ["hrgan fit: stage 1: batch_size must be at least 1, got 0",
                     "hrgan fit: stage 1: niter_decay (5) is longer than the stage (4 steps)"]
    assert not (tmp_path / "data").exists()  # refused before any data was made

    good = json.dumps([s | {"batch_size": 1, "niter_decay": 0, "epochs": None, "fix_global_steps": 0, "fade_in_steps": 0}
                       for s in bad])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["fit", "--config", str(CONFIGS / "demo.yaml"), "--trainer.default_root_dir", str(tmp_path),
                     *TINY_NETS, "--model.schedule.stages", good, "--data.synthetic.root", str(tmp_path / "data")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("hrgan fit: ")]
    assert code == 2 and lines == [
        "hrgan fit: stage 2: num_D is 4, but the discriminator has 3 scales (discriminator num_D)",
        "hrgan fit: stage 2: resolution 100x64 is not a multiple of 8, which the generator needs with 1 local enhancer(s) active",
    ]


def test_resuming_into_another_stage_needs_allow_stage_change(tiny_shards, tmp_path):
    checkpoints = Checkpoints(dirpath=str(tmp_path / "ckpt"), every_n_iterations=2)
    tiny_trainer(tmp_path / "a", [checkpoints], enable_checkpointing=True).fit(tiny_module(two_stages(3, 2)), tiny_data(tiny_shards))
    saved = str(tmp_path / "ckpt" / "iter_0000002.ckpt")  # the next iteration, 2, is in stage 1 of that schedule
    assert torch.load(saved, weights_only=True)["progress"]["stage"] == 0

    counter = CountSteps()
    with pytest.raises(SettingsError, match=r"saved at iteration 2 in stage 1 of its schedule, but this schedule puts "
                                            r"iteration 2 in stage 2 of 2 \(128x64, 1 local enhancer\(s\)\); .*"
                                            r"--model.allow_stage_change true"):
        tiny_trainer(tmp_path / "b", [counter]).fit(tiny_module(two_stages(2, 3)), tiny_data(tiny_shards), ckpt_path=saved)
    assert counter.steps == 0

    module = tiny_module(two_stages(2, 3), allow_stage_change=True)
    tiny_trainer(tmp_path / "c").fit(module, tiny_data(tiny_shards), ckpt_path=saved)
    assert module.iteration == 5 and module.current_growth().stage == 1
    # the same schedule, or one that moves only later boundaries, resumes as before
    tiny_trainer(tmp_path / "d").fit(tiny_module(two_stages(3, 4)), tiny_data(tiny_shards), ckpt_path=saved)


@pytest.mark.parametrize("argv, message", [
    (["synth", "--out", "x", "--num", "-3"], "argument --num: must be at least 1, got -3"),
    (["synth", "--out", "x", "--num", "1", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["infer", "--checkpoint", "x", "--labels", "y", "--out", "z", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["infer", "--checkpoint", "x", "--labels", "y", "--out", "z", "--seed", "-2"], "argument --seed: must be at least 0, got -2"),
    (["shards", "--layout", "pix2pixhd", "--root", "r", "--out", "o", "--ignore-index", "-1"], "argument --ignore-index: must be at least 0"),
    (["import-pix2pixhd", "--generator", "g", "--out", "o", "--ignore-index", "-5"], "argument --ignore-index: must be at least 0"),
    (["encode-features", "--checkpoint", "c", "--data", "d", "--seed", "-1"], "argument --seed: must be at least 0"),
    (["selftest", "--seed", "-1"], "argument --seed: must be at least 0"),
    (["evaluate", "--checkpoint", "c", "--data", "d", "--out", "o", "--batch-size", "0"], "argument --batch-size: must be at least 1"),
])
def test_numeric_options_are_range_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_infer_on_cuda_without_cuda_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["infer", "--checkpoint", "x", "--labels", "y", "--out", str(tmp_path), "--device", "cuda"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err == "hrgan infer: --device cuda: CUDA is not available on this machine (use --device cpu or auto)\n"
