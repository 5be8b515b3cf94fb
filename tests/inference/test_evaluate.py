"""`hrgan evaluate` and its metrics: FID with a local Inception file, PSNR/SSIM, segmenter mIoU, reports, two processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from hrgan.commands.evaluate import main as evaluate
from hrgan.evaluation.metrics import EvaluationMetrics, confusion, segmentation_scores
from hrgan.models.inception import FIDInceptionV3
from hrgan.visualize import default_palette

REPO = Path(__file__).resolve().parents[2]


class PaletteSegmenter(nn.Module):
    """Each pixel's class is the nearest palette colour: exact on images painted with the palette."""

    def __init__(self, palette: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("colours", palette.float() / 127.5 - 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        distance = (images[:, None] - self.colours[None, :, :, None, None]).pow(2).sum(2)
        return -distance


def painted(label: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    return (palette[label].permute(0, 3, 1, 2).float() / 127.5 - 1).contiguous()


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """Random weights written in the layout of pt_inception-2015-12-05 (FID values are then meaningless)."""
    path = tmp_path_factory.mktemp("weights") / "pt_inception-2015-12-05-6726825d.pth"
    torch.manual_seed(1)
    torch.save({k: v for k, v in FIDInceptionV3().state_dict().items() if not k.endswith("num_batches_tracked")}, path)
    return path


@pytest.fixture(scope="module")
def segmenter_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("segmenter") / "palette.pt"
    torch.jit.save(torch.jit.script(PaletteSegmenter(torch.from_numpy(default_palette(8)))), str(path))
    return path


def test_confusion_skips_the_ignore_label_and_miou_counts_only_present_classes():
    label = torch.tensor([[0, 0, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 2]])
    matrix = confusion(pred, label, 3, 255)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    scores = segmentation_scores(matrix)
    assert scores["per_class_iou"][:2] == [0.5, 0.5] and scores["per_class_iou"][2] is None
    assert scores["miou"] == 0.5 and scores["pixel_accuracy"] == 2 / 3


def test_pixel_accuracy_is_pooled_like_the_real_photos_ceiling():
    palette = torch.from_numpy(default_palette(3))
    label = torch.tensor([[[0] * 4] * 4, [[1] * 4] * 4])
    label[0, :3] = 2  # ignored: the first image has 4 labelled pixels, the second 16
    real = painted(label.clamp(max=1), palette)
    metrics = EvaluationMetrics(metrics=("miou",), label_nc=2, ignore_index=2, segmenter=PaletteSegmenter(palette[:2]))
    fake = painted(torch.zeros_like(label), palette)  # every pixel segmented as class 0
    metrics.update(fake, real, label, ["a", "b"])
    result = metrics.compute()
    assert [row["pixel_accuracy"] for row in result["samples"]] == [1.0, 0.0]  # per image: ranks the grid
    assert result["pixel_accuracy"] == pytest.approx(4 / 20) == result["segmentation"]["fake"]["pixel_accuracy"]


def test_spades_dont_care_class_is_not_scored_and_the_segmenter_may_leave_it_out():
    """SPADE's don't-care label is the last class (unlabeled_as): its pixels count in no score, as unlabeled ones."""
    palette = torch.from_numpy(default_palette(3))
    label = torch.tensor([[[0, 0, 1, 1]] * 4])
    label[0, :2] = 2  # the don't-care class: half the map
    real = painted(label.clamp(max=1), palette)
    metrics = EvaluationMetrics(metrics=("miou",), label_nc=3, unscored=2, segmenter=PaletteSegmenter(palette[:2]))
    metrics.update(real, real, label, ["a"])  # a segmenter of the 2 real classes only
    result = metrics.compute()
    assert result["miou"] == 1.0 and result["pixel_accuracy"] == 1.0  # 8 scored pixels, all right
    assert result["segmentation"]["fake"]["per_class_iou"][2] is None
    with pytest.raises(ValueError, match="expected \\[B, 3, h, w\\]"):  # without a don't-care class: all classes
        EvaluationMetrics(metrics=("miou",), label_nc=3, segmenter=PaletteSegmenter(palette[:2])).update(real, real, label, ["a"])


def test_a_perfect_generator_and_an_exact_segmenter_score_perfectly(inception_file):
    from hrgan.pretrained import load_fid_inception

    palette = torch.from_numpy(default_palette(5))
    label = torch.randint(0, 5, (6, 32, 48))
    real = painted(label, palette)
    metrics = EvaluationMetrics(metrics=("fid", "psnr", "ssim", "miou"), label_nc=5, inception=load_fid_inception(str(inception_file)),
                                segmenter=PaletteSegmenter(palette), keep=2)
    metrics.update(real.clone(), real, label, [f"s{i}" for i in range(6)])
    result = metrics.compute()
    assert result["num_samples"] == 6 and result["psnr"] == float("inf")
    assert result["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert result["miou"] == 1.0 and result["segmentation"]["real"]["miou"] == 1.0 and result["pixel_accuracy"] == 1.0
    assert abs(result["fid"]) < 1e-2  # the same images on both sides
    assert all(v == float("inf") for v, n in zip(result["per_class_psnr"], result["pixels_per_class"], strict=True) if n)
    noisy = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1)
    metrics.reset()
    metrics.update(noisy, real, label, [f"s{i}" for i in range(6)])
    worse = metrics.compute()
    assert 0 < worse["psnr"] < 30 and worse["ssim"] < 0.9 and worse["fid"] > 0 and worse["fid"] == worse["fid"]
    assert [key for _, key, _ in worse["worst"]] != [key for _, key, _ in worse["best"]]
    assert worse["worst"][0][0] <= worse["best"][0][0]
    assert all(0 < v < 30 for v in worse["per_class_psnr"] if v is not None)


def run(trained, tiny_shards, out, *extra):
    return evaluate(["--checkpoint", str(trained / "checkpoints" / "last.ckpt"), "--data", str(tiny_shards / "val-*.tar"),
                     "--out", str(out), "--workers", "0", "--batch-size", "3", *extra])


def test_report_json_class_table_and_grid(trained, tiny_shards, inception_file, segmenter_file, tmp_path, capsys):
    out = tmp_path / "eval" / "report.json"
    code = run(trained, tiny_shards, out, "--metrics", "fid,psnr,ssim,miou", "--inception-weights", str(inception_file),
               "--segmenter", str(segmenter_file), "--keep", "2")
    printed = capsys.readouterr()
    assert code == 0, printed.err
    report = json.loads(out.read_text())
    assert report["metrics"] == ["fid", "psnr", "ssim", "miou"] and report["skipped"] == 0
    assert len(report["samples"]) == 4 and all({"psnr", "ssim", "pixel_accuracy"} <= set(r) for r in report["samples"])
    for key in ("fid", "psnr", "ssim", "miou", "pixel_accuracy"):
        assert isinstance(report[key], float) and report[key] == report[key], key
    assert 0 <= report["miou"] <= 1 and 0 <= report["segmentation_real"]["miou"] <= 1
    assert report["per_class"] and all(row["pixels"] > 0 for row in report["per_class"])
    assert all({"psnr", "iou_generated", "iou_real"} <= set(row) for row in report["per_class"])
    assert report["ranked_by"] == "psnr" and len(report["worst"]) == 2 and len(report["best"]) == 2
    assert report["worst"][0]["score"] <= report["best"][0]["score"]
    table = (tmp_path / "eval" / "report_classes.md").read_text()
    assert table.count("\n") == 2 + len(report["per_class"]) and report["per_class"][0]["name"] in table
    with Image.open(tmp_path / "eval" / "report_grid.png") as grid:
        assert grid.size[0] == 3 * 256 and grid.size[1] > 4 * 128  # 4 rows of labels | generated | real
    assert f"samples 4, FID {report['fid']:.2f}" in printed.out
    assert run(trained, tiny_shards, out, "--metrics", "psnr") == 2  # no silent overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_missing_inception_weights_say_how_to_get_them(trained, tiny_shards, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_home"))
    assert run(trained, tiny_shards, tmp_path / "r.json", "--metrics", "fid") == 1
    err = capsys.readouterr().err
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--inception-weights" in err
    assert not (tmp_path / "r.json").exists()


def test_a_dataset_folder_is_sharded_beside_the_report(trained, odd_maps, tmp_path):
    out = tmp_path / "r.json"
    assert evaluate(["--checkpoint", str(trained / "export.pt"), "--data", str(odd_maps), "--split", "test",
                     "--metrics", "psnr,ssim", "--out", str(out), "--workers", "0"]) == 0
    assert len(json.loads(out.read_text())["samples"]) == 3
    assert list((tmp_path / "r_shards").glob("test-*.tar"))
    table = (tmp_path / "r_classes.md").read_text()  # without a segmenter: PSNR per class
    assert "| class | name | pixels | PSNR dB |" in table and "IoU" not in table


def test_two_processes_give_the_single_process_numbers(trained, tiny_shards, inception_file, segmenter_file, tmp_path):
    reports = {}
    for devices in ("1", "2"):
        out = tmp_path / f"r{devices}.json"
        command = [sys.executable, "-m", "hrgan.cli", "evaluate", "--checkpoint", str(trained / "export.pt"),
                   "--data", str(tiny_shards / "train-*.tar"), "--metrics", "fid,psnr,ssim,miou", "--inception-weights",
                   str(inception_file), "--segmenter", str(segmenter_file), "--out", str(out), "--workers", "0",
                   "--device", "cpu", "--devices", devices, "--batch-size", "2"]
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
        done = subprocess.run(command, cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        reports[devices] = json.loads(out.read_text())
    one, two = reports["1"], reports["2"]
    assert two["processes"] == 2 and one["processes"] == 1
    assert [r["key"] for r in two["samples"]] == [r["key"] for r in one["samples"]] and len(one["samples"]) == 16
    # each rank runs other batch compositions, and CPU kernels differ by batch size: the photos agree
    # within 1e-5 (tests/tolerances.py), the scores to the same order (SSIM was seen 2e-6 apart, relative)
    for key in ("psnr", "ssim", "miou", "pixel_accuracy"):
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-5), key
    assert two["fid"] == pytest.approx(one["fid"], rel=1e-4)
    # ranks see other batch compositions, so per-class scores agree to rounding; pixel counts exactly
    assert [r["pixels"] for r in two["per_class"]] == [r["pixels"] for r in one["per_class"]]
    for a, b in zip(two["per_class"], one["per_class"], strict=True):
        assert a.keys() == b.keys()
        for key, value in b.items():
            assert a[key] == (pytest.approx(value, rel=1e-5, abs=1e-5) if isinstance(value, float) else value), key


def test_evaluation_callback_scores_a_fixed_subset_during_training(tiny_shards, inception_file, segmenter_file, tmp_path):
    from pytorch_lightning.loggers import CSVLogger

    from hrgan.training.callbacks import Evaluation
    from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages

    callback = Evaluation(every_n_iterations=2, num_samples=3, metrics="fid,psnr,ssim,miou", batch_size=2,
                          inception_weights=str(inception_file), segmenter=str(segmenter_file))
    seen = []
    evaluate_once = callback.evaluate
    callback.evaluate = lambda trainer, module: seen.append(module.iteration) or evaluate_once(trainer, module)
    logger = CSVLogger(tmp_path, name="csv")
    data = tiny_data(tiny_shards, val_urls=str(tiny_shards / "val-*.tar"))
    tiny_trainer(tmp_path, [callback], logger=logger).fit(tiny_module(two_stages(2, 3)), data)
    assert seen == [2, 4, 5]  # every 2 iterations, and at the end
    assert [r["key"] for r in callback.last["samples"]] == [f"synth_s6_{i:06d}" for i in range(3)]  # the first 3, each time
    logged = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text()
    for name in ("eval/fid", "eval/psnr", "eval/ssim", "eval/miou", "eval/miou_real", "eval/pixel_accuracy"):
        assert name in logged, name


def test_bad_arguments_are_named(trained, tiny_shards, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(trained, tiny_shards, tmp_path / "r.json", "--metrics", "psnr,bleu")
    assert exit_info.value.code == 2 and "unknown metric(s) ['bleu']; choose from fid,psnr,ssim,miou" in capsys.readouterr().err
    assert run(trained, tiny_shards, tmp_path / "r.json", "--metrics", "miou") == 2
    assert "miou needs --segmenter" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_bytes(b"not torchscript")
    assert run(trained, tiny_shards, tmp_path / "r.json", "--metrics", "miou", "--segmenter", str(tmp_path / "bad.pt")) == 1
    assert "bad.pt is not a TorchScript file" in capsys.readouterr().err
