"""One bad file never stops a job; a bad fraction does, with counts (issue 14, points 2 and 3)."""

import json
import shutil
import tarfile

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from hrgan.commands.evaluate import main as evaluate
from hrgan.commands.infer import main as infer
from hrgan.commands.shards import main as shards
from hrgan.data.datamodule import ShardDataModule
from hrgan.data.images import BadSampleError, decode_image, encode_png
from hrgan.data.shards import write_split
from hrgan.data.stream import ShardStream, TooManyBadSamples, read_shards
from tests.faults.conftest import claimed_png, out_of_range, write_set

# ----------------------------------------------------------------- images that claim huge sizes


def test_a_tiny_png_claiming_12000x12000_is_refused_before_decoding():
    data = claimed_png(12000, 12000)
    assert len(data) < 100
    with pytest.raises(BadSampleError, match=r"^x.png: 12000x12000 is 144000000 pixels, more than the limit of "
                                             r"67108864 \(set HRGAN_MAX_PIXELS to allow larger images\)$"):
        decode_image(data, "x.png")


def test_pils_decompression_bomb_error_is_a_bad_sample():
    with pytest.raises(BadSampleError, match="x.png: refused by PIL as a decompression bomb"):
        decode_image(claimed_png(20000, 20000), "x.png")  # PIL raises a plain Exception from open()


def test_the_pixel_limit_is_an_environment_variable(monkeypatch):
    small = encode_png(np.zeros((64, 128), dtype=np.uint8))
    monkeypatch.setenv("HRGAN_MAX_PIXELS", "4096")
    with pytest.raises(BadSampleError, match="128x64 is 8192 pixels, more than the limit of 4096"):
        decode_image(small, "s.png")
    monkeypatch.setenv("HRGAN_MAX_PIXELS", "8192")
    assert decode_image(small, "s.png").size == (128, 64)
    monkeypatch.setenv("HRGAN_MAX_PIXELS", "many")
    with pytest.raises(ValueError, match="HRGAN_MAX_PIXELS='many': expected a whole number"):
        decode_image(small, "s.png")


def test_infer_writes_the_good_maps_beside_a_bomb(trained, odd_maps, tmp_path, capsys):
    labels = tmp_path / "labels"
    shutil.copytree(odd_maps / "test_label", labels)
    (labels / "bomb.png").write_bytes(claimed_png(12000, 12000))
    code = infer(["--checkpoint", str(trained / "export.pt"), "--labels", str(labels), "--out", str(tmp_path / "out"),
                  "--instance-edges", "false", "--workers", "0"])
    printed = capsys.readouterr().out
    assert code == 1 and "written 3, skipped 0, failed 1" in printed
    assert f"failed: {labels / 'bomb.png'}: 12000x12000 is 144000000 pixels, more than the limit" in printed


def test_shards_skip_a_bomb_and_write_the_rest(synth_root, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(synth_root, root)
    bomb = sorted((root / "train_label").iterdir())[0]
    bomb.write_bytes(claimed_png(12000, 12000))
    assert shards(["--layout", "pix2pixhd", "--root", str(root), "--out", str(tmp_path / "s"), "--workers", "1",
                   "--max-bad-fraction", "0.1"]) == 0
    captured = capsys.readouterr()
    assert f"bad sample {bomb}: 12000x12000 is 144000000 pixels" in captured.err
    assert "wrote 11 samples in 1 shards" in captured.out


# ----------------------------------------------------------------- training data: skip, count, stop on a fraction


def sizes_of(batches):
    return {tuple(b["label"].shape[1:]) for b in batches}


def test_bad_labels_wrong_sizes_and_undecodable_members_are_skipped_by_name(good_samples, tmp_path, caplog):
    records = dict(list(good_samples.items())[:6])
    keys = list(records)
    records[keys[1]] = out_of_range(records[keys[1]])
    records[keys[3]] = records[keys[3]] | {"img.png": b"not a png"}
    small = encode_png(np.zeros((32, 64), dtype=np.uint8))
    records[keys[4]] = {"label.png": small, "inst.png": small, "img.png": encode_png(np.zeros((32, 64, 3), np.uint8))}
    url = write_set(tmp_path, records, sizes={"128x64": 5, "64x32": 1})
    stream = ShardStream(str(url), batch_size=2, train=False, label_nc=8, max_bad_fraction=0.5)
    batches = list(stream)
    assert sorted(k for b in batches for k in b["key"]) == sorted([keys[0], keys[2], keys[5]])
    assert sizes_of(batches) == {(64, 128)} and (stream.counts.good, stream.counts.bad) == (3, 3)
    warned = caplog.text
    assert f"{url}:{keys[1]} label.png: label values 200 outside [0, 8)" in warned
    assert f"{url}:{keys[3]} img.png: unreadable or truncated image" in warned
    assert f"{url}:{keys[4]}: 64x32, but the set's samples are 128x64 (a set of mixed sizes" in warned


def test_a_small_set_with_a_third_bad_stops_with_counts(good_samples, tmp_path):
    records = dict(list(good_samples.items())[:6])
    for key in list(records)[:2]:
        records[key] = out_of_range(records[key])
    url = write_set(tmp_path, records)
    stream = ShardStream(str(url), batch_size=1, train=True, label_nc=8, shuffle_buffer=1)
    with pytest.raises(TooManyBadSamples, match=r"^2 of 6 samples read were corrupt, more than max_bad_fraction=0.05"):
        list(stream)


def test_the_data_modules_totals_span_workers_and_epochs(good_samples, tmp_path):
    records = dict(list(good_samples.items())[:4])
    write_set(tmp_path, records)
    data = ShardDataModule(train_urls=str(tmp_path / "train-*.tar"), num_workers=2, shuffle_buffer=1, label_nc=8,
                           pin_memory=False)
    for epoch in range(2):  # a fresh stream and fresh worker processes every epoch
        assert sum(len(b["key"]) for b in data.train_dataloader()) == 4
    assert (data.bad_counts("train").good, data.bad_counts("train").bad) == (8, 0)


def test_a_workers_too_many_bad_error_gives_one_line(good_samples, tmp_path):
    records = {k: out_of_range(v) for k, v in list(good_samples.items())[:3]}
    stream = ShardStream(str(write_set(tmp_path, records)), batch_size=1, train=True, label_nc=8, shuffle_buffer=1)
    with pytest.raises(TooManyBadSamples) as raised:
        list(DataLoader(stream, batch_size=None, num_workers=1))
    assert raised.value.line().startswith("3 of 3 samples read were corrupt, more than max_bad_fraction=0.05; the last: ")


def test_fit_stops_on_a_third_bad_with_one_line(good_samples, tmp_path, capsys):
    from hrgan.cli import main
    from tests.training.test_cli import CONFIGS, TINY_NETS, stages

    records = dict(list(good_samples.items())[:6])
    for key in list(records)[:2]:
        records[key] = out_of_range(records[key])
    write_set(tmp_path / "shards", records)
    code = main(["fit", "--config", str(CONFIGS / "facades_256.yaml"), "--trainer.default_root_dir", str(tmp_path / "run"),
                 *TINY_NETS, "--model.schedule.stages", stages([[64, 32], 0, 1, 1, 50]), "--model.vgg_weights", "random",
                 "--data.train_urls", str(tmp_path / "shards" / "train-*.tar"), "--data.val_urls", "null",
                 "--data.resolution", "null", "--trainer.logger", "false"])
    err = capsys.readouterr().err
    assert code == 1
    assert "hrgan fit: 2 of 6 samples read were corrupt, more than max_bad_fraction=0.05; the last: " in err
    assert "label values 200 outside [0, 12)" in err


# ----------------------------------------------------------------- truncated tars


def truncated_copy(url, tmp_path, index=2):
    """``url`` cut in the middle of the data of its ``index``-th sample's label."""
    with tarfile.open(url) as tar:
        member = [m for m in tar.getmembers() if m.name.endswith("label.png")][index]
    cut = tmp_path / "cut" / "val-000000.tar"
    cut.parent.mkdir()
    cut.write_bytes(url.read_bytes()[: member.offset_data + member.size // 2])
    return cut


def test_a_truncated_tar_is_named_and_the_samples_before_the_cut_are_used(tiny_shards, tmp_path, caplog):
    cut = truncated_copy(tiny_shards / "val-000000.tar", tmp_path)
    stream = ShardStream(str(cut), batch_size=1, train=False, max_bad_fraction=1)
    assert len(list(stream)) == 2 and stream.counts.bad == 1  # the sample cut short counts with the truncation
    assert f"{cut}: truncated (the tar ends inside a member; the samples from there on are lost)" in caplog.text


def test_infer_reports_a_truncated_tar(trained, tiny_shards, tmp_path, capsys):
    cut = truncated_copy(tiny_shards / "val-000000.tar", tmp_path)
    code = infer(["--checkpoint", str(trained / "export.pt"), "--labels", str(cut), "--out", str(tmp_path / "out"),
                  "--workers", "0"])
    printed = capsys.readouterr().out
    assert code == 1 and "written 2, skipped 0, failed 1;" in printed
    assert f"failed: {cut}: truncated (the tar ends inside a member; the samples from there on are lost)" in printed


def test_evaluate_reports_skipped_samples_in_its_summary_and_exit_code(trained, good_samples, tmp_path, capsys):
    scenes = list(good_samples.values())
    url = write_set(tmp_path / "whole", {f"s{i:02d}": scenes[i % len(scenes)] for i in range(21)}, split="val")
    cut = truncated_copy(url, tmp_path, index=20)  # 1 in 21 lost: under max_bad_fraction, so the run goes on
    shutil.copy(url.parent / "manifest.json", cut.parent)  # the manifest says 21 samples
    out = tmp_path / "r.json"
    code = evaluate(["--checkpoint", str(trained / "export.pt"), "--data", str(cut), "--metrics", "psnr",
                     "--out", str(out), "--workers", "0"])
    captured = capsys.readouterr()
    report = json.loads(out.read_text())
    assert code == 1 and (report["num_samples"], report["skipped"]) == (20, 1)
    assert f", skipped {report['skipped']}\n" in captured.out
    assert (f"hrgan evaluate: skipped {report['skipped']} samples (corrupt, unreadable or lost to a truncated shard; "
            "each is named above); the report covers the others") in captured.err


# ----------------------------------------------------------------- manifests


def test_a_corrupt_manifest_is_named_and_kept(synth_root, tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / "manifest.json").write_text('{"splits": {"val": ')  # cut short
    code = shards(["--layout", "pix2pixhd", "--root", str(synth_root), "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"hrgan shards: {out / 'manifest.json'}: corrupt shard manifest (")
    assert len(err.strip().splitlines()) == 1
    assert (out / "manifest.json").read_text() == '{"splits": {"val": ' and not list(out.glob("*.tar"))
    with pytest.raises(ValueError, match="manifest.json: corrupt shard manifest"):
        read_shards(str(tmp_path / "s" / "*.tar") if list(out.glob("*.tar")) else [str(out / "train-000000.tar")])


# ----------------------------------------------------------------- evaluate scores what it was given


def test_evaluate_rescores_another_folder_with_the_same_out(trained, odd_maps, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(odd_maps, other)
    for folder in ("test_label", "test_inst", "test_img"):
        sorted((other / folder).iterdir())[0].unlink()
    out = tmp_path / "r.json"
    counts = []
    for data in (odd_maps, other, other):
        assert evaluate(["--checkpoint", str(trained / "export.pt"), "--data", str(data), "--metrics", "psnr",
                         "--out", str(out), "--workers", "0", "--overwrite"]) == 0
        counts.append(json.loads(out.read_text())["num_samples"])
    assert counts == [3, 2, 2]
    source = json.loads((tmp_path / "r_shards" / "source.json").read_text())
    assert source["folder"] == str(other.resolve())


def test_evaluate_never_falls_back_to_another_split(trained, tiny_shards, tmp_path, capsys):
    code = evaluate(["--checkpoint", str(trained / "export.pt"), "--data", str(tiny_shards), "--metrics", "psnr",
                     "--out", str(tmp_path / "r.json"), "--workers", "0"])
    assert code == 1
    assert capsys.readouterr().err == (f"hrgan evaluate: --data {tiny_shards} holds no test-*.tar shards, only shards "
                                       "of split(s) train, val: pass --split train (or another of them)\n")


def test_fit_on_shards_of_mixed_sizes_names_the_option_before_training(tmp_path, capsys):
    from hrgan.cli import main
    from hrgan.data.synthetic import write_dataset
    from tests.training.helpers import TINY_NET_ARGS
    from tests.training.test_cli import CONFIGS

    root = tmp_path / "data"
    write_dataset(root, num=2, width=64, height=32, seed=1, progress=False)
    write_dataset(tmp_path / "other", num=2, width=48, height=32, seed=2, progress=False)
    for folder in ("train_label", "train_inst", "train_img"):
        for path in (tmp_path / "other" / folder).iterdir():
            shutil.copy(path, root / folder / f"b_{path.name}")
    assert shards(["--layout", "pix2pixhd", "--root", str(root), "--out", str(tmp_path / "s"), "--workers", "1"]) == 0
    assert "several sizes" in capsys.readouterr().err
    stages = '[{"resolution": [64, 32], "n_enhancers": 0, "num_D": 1, "batch_size": 2, "steps": 1}]'
    code = main(["fit", "--config", str(CONFIGS / "demo.yaml"), *TINY_NET_ARGS, "--data.synthetic", "null",
                 "--data.train_urls", str(tmp_path / "s" / "train-*.tar"), "--model.schedule.stages", stages,
                 "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "records samples of 2 sizes (48x32 (2), 64x32 (2))" in err and "--data.load_size [" in err
