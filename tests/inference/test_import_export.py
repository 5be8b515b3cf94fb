"""`hrgan import-pix2pixhd` (official weights -> export) and `hrgan export` (TorchScript / ONNX)."""

import json

import pytest
import torch

from hrgan.conditioning import build_generator_input
from hrgan.commands.export import main as export_main
from hrgan.commands.import_pix2pixhd import main as import_main
from hrgan.commands.infer import main as infer
from hrgan.inference.synthesizer import Synthesizer
from tests.models import pix2pixhd_layout as official

LABEL_NC = 8


def official_weights(tmp_path, network):
    torch.manual_seed(3)
    path = tmp_path / "latest_net_G.pth"
    torch.save(network.state_dict(), path)  # what pix2pixHD's save_network writes
    return path, network.eval()


@pytest.mark.parametrize("kind", ["global", "local"])
def test_imported_official_generator_computes_what_the_official_one_does(tmp_path, kind, odd_maps):
    channels = LABEL_NC + 1
    if kind == "global":
        network = official.OfficialGlobal(channels, ngf=8)
    else:
        network = official.OfficialLocal(channels, ngf=4, n_down=2, n_blocks=1, n_local=1, n_blocks_local=1)
    path, network = official_weights(tmp_path, network)
    out = tmp_path / "imported.pt"
    assert import_main(["--generator", str(path), "--label-nc", str(LABEL_NC), "--classes", "synthetic",
                        "--netG", kind, "--out", str(out)]) == 0
    synth = Synthesizer.load(out)
    label = torch.randint(0, LABEL_NC, (1, 64, 64))
    instance = torch.randint(0, 3, (1, 64, 64))
    x = build_generator_input(label, label_nc=LABEL_NC, instance=instance)
    with torch.no_grad():
        torch.testing.assert_close(synth(label, instance), network(x))
    maps = ["--labels", str(odd_maps / "test_label"), "--instances", str(odd_maps / "test_inst"), "--workers", "0"]
    assert infer(["--checkpoint", str(out), "--out", str(tmp_path / "photos"), *maps]) == 0
    assert len(list((tmp_path / "photos").glob("*.png"))) == 3


def test_import_checks_options_against_the_weights(tmp_path, capsys):
    path, _ = official_weights(tmp_path, official.OfficialGlobal(LABEL_NC + 1, ngf=8))
    out = str(tmp_path / "x.pt")
    assert import_main(["--generator", str(path), "--label-nc", "35", "--out", out]) == 2
    assert "takes 9 input channels" in capsys.readouterr().err
    assert import_main(["--generator", str(path), "--label-nc", str(LABEL_NC), "--netG", "local", "--out", out]) == 2
    assert "global generator" in capsys.readouterr().err
    assert import_main(["--generator", str(path), "--label-nc", str(LABEL_NC), "--ngf", "64", "--out", out]) == 2
    assert "ngf 8" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    assert import_main(["--generator", str(garbage), "--label-nc", str(LABEL_NC), "--out", out]) == 1  # not a state dict: a data error
    assert "garbage.pth" in capsys.readouterr().err


def test_an_official_label_nc_0_model_imports_and_runs_on_photos(tmp_path, capsys):
    path, network = official_weights(tmp_path, official.OfficialGlobal(3, ngf=8))  # pix2pixHD --label_nc 0 --no_instance
    out = tmp_path / "photo2photo.pt"
    assert import_main(["--generator", str(path), "--label-nc", "0", "--input-nc", "3", "--instance-edges", "false",
                        "--out", str(out)]) == 0
    assert "--inputs IMAGES" in capsys.readouterr().out
    synth = Synthesizer.load(out)
    assert (synth.label_nc, synth.input_nc) == (0, 3)
    photo = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(synth(photo), network(photo))
    assert import_main(["--generator", str(path), "--label-nc", "0", "--out", str(out)]) == 2  # edges on: 4 expected
    assert "takes 3 input channels, but --input-nc 3 (--label-nc 0) + 1 instance edge" in capsys.readouterr().err


def conditioning(synth, height, width):
    label = torch.randint(0, LABEL_NC, (2, height, width))
    return build_generator_input(label, label_nc=LABEL_NC, instance=torch.randint(0, 3, (2, height, width)))


def test_torchscript_export_matches_eager_at_another_size(trained, tmp_path):
    out = tmp_path / "g.pt"
    assert export_main(["--checkpoint", str(trained / "export.pt"), "--format", "torchscript", "--out", str(out)]) == 0
    synth = Synthesizer.load(trained / "export.pt")
    extra = {"hrgan.json": ""}
    scripted = torch.jit.load(str(out), _extra_files=extra)
    meta = json.loads(extra["hrgan.json"])
    assert meta["label_nc"] == LABEL_NC and meta["size_multiple"] == synth.size_multiple
    x = conditioning(synth, 3 * synth.size_multiple, 5 * synth.size_multiple)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), synth.generator(x, n_active_enhancers=synth.n_active_enhancers))


def test_onnx_export_matches_eager_with_dynamic_sizes(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    out = tmp_path / "g.onnx"
    assert export_main(["--checkpoint", str(trained / "checkpoints" / "last.ckpt"), "--format", "onnx", "--out", str(out)]) == 0
    synth = Synthesizer.load(trained / "checkpoints" / "last.ckpt")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for rows, cols in ((2, 2), (3, 5)):
        x = conditioning(synth, rows * synth.size_multiple, cols * synth.size_multiple)
        (got,) = session.run(None, {"condition": x.numpy()})
        with torch.no_grad():
            expected = synth.generator(x, n_active_enhancers=synth.n_active_enhancers)
        torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-4, rtol=1e-4)
