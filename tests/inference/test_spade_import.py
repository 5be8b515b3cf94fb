"""hrgan import-spade: NVlabs/SPADE checkpoints reproduce SPADE's own outputs (tests/fixtures/spade_reference.pt,
made by benchmarks/spade_parity.py from the reference code), and bad files or options are one line."""

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.spade_parity import CASES, NGF, image_size, reference_shaped_state_dict, semantic_nc, shapes_of
from hrgan.artifacts import make_export
from hrgan.cli import main
from hrgan.inference.spade_import import class_table
from hrgan.inference.synthesizer import Synthesizer, label_file_convention, shard_label_convention
from hrgan.models import SPADEGenerator, SPADEStyleEncoder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "spade_reference.pt"


@pytest.fixture(scope="module")
def reference():
    return torch.load(FIXTURE, weights_only=True)


def write_checkpoints(name: str, folder: Path) -> list[str]:
    """SPADE-shaped latest_net_G.pth (and E) with the fixture's weights; the import options of the case."""
    case = CASES[name]
    height, width = image_size(case)
    n = {"normal": 5, "more": 6, "most": 7}[case["num_upsampling_layers"]]
    vae = dict(z_dim=256, latent_size=(width // 2**n, height // 2**n)) if case["use_vae"] else {}
    ours = SPADEGenerator(in_channels=semantic_nc(case), ngf=NGF, num_upsampling_layers=case["num_upsampling_layers"], **vae)
    torch.save(reference_shaped_state_dict(shapes_of(ours)), folder / "latest_net_G.pth")
    options = ["--generator", str(folder / "latest_net_G.pth"), "--label-nc", str(case["label_nc"]),
               "--aspect-ratio", str(case["aspect_ratio"]), "--instance-edges", str(not case["no_instance"]).lower()]
    if case["contain_dontcare_label"]:
        options.append("--dontcare-label")
    if case["use_vae"]:
        torch.save(reference_shaped_state_dict(shapes_of(SPADEStyleEncoder(ngf=NGF))), folder / "latest_net_E.pth")
        options += ["--encoder", str(folder / "latest_net_E.pth")]
    return options


@pytest.mark.parametrize("name", list(CASES))
def test_imported_checkpoints_give_spades_own_outputs(name, reference, tmp_path, capsys):
    entry = reference["cases"][name]
    out = tmp_path / "spade.pt"
    assert main(["import-spade", *write_checkpoints(name, tmp_path), "--out", str(out)]) == 0
    assert f"try it: hrgan infer --checkpoint {out}" in capsys.readouterr().out
    synth = Synthesizer.load(out)
    instance = entry["instance"].long() if synth.use_instance_edges else None
    z = None
    if synth.z_dim:
        z = synth.encode_style(entry["photo"].float() / 127.5 - 1)
        torch.testing.assert_close(z, entry["mu"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(synth(entry["label"].long(), instance, z=z), entry["output"], atol=1e-5, rtol=1e-4)


def test_a_wrong_label_count_or_key_set_is_one_line(tmp_path, capsys):
    options = write_checkpoints("dontcare_edges", tmp_path)
    out = ["--out", str(tmp_path / "x.pt")]
    wrong_count = [*options[:3], "5", *options[4:]]
    assert main(["import-spade", *wrong_count, *out]) == 2
    error = capsys.readouterr().err
    assert "takes 6 label channels, but --label-nc 5 + 1 don't-care label + 1 instance edge = 7" in error
    assert main(["import-spade", *options, "--encoder", str(tmp_path / "latest_net_G.pth"), *out]) == 1
    assert "not a SPADE encoder state dict" in capsys.readouterr().err
    state = torch.load(tmp_path / "latest_net_G.pth", weights_only=True)
    del state["up_2.conv_1.weight_orig"]
    torch.save(state, tmp_path / "latest_net_G.pth")
    assert main(["import-spade", *options, *out]) == 1
    assert "1 missing: up_2.conv_1.weight_orig" in capsys.readouterr().err
    state["head_0.conv_0.weight"] = state.pop("head_0.conv_0.weight_orig")  # trained without spectral norm
    torch.save(state, tmp_path / "latest_net_G.pth")
    assert main(["import-spade", *options, *out]) == 1
    assert "no spectral norm" in capsys.readouterr().err
    torch.save({"model.0.weight": torch.zeros(1)}, tmp_path / "latest_net_G.pth")  # e.g. a pix2pixHD generator
    assert main(["import-spade", *options, *out]) == 1
    assert "not a SPADE generator state dict" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_an_encoder_for_a_generator_without_the_vae_is_refused(tmp_path, capsys):
    options = write_checkpoints("most", tmp_path)
    torch.save(reference_shaped_state_dict(shapes_of(SPADEStyleEncoder(ngf=NGF))), tmp_path / "E.pth")
    assert main(["import-spade", *options, "--encoder", str(tmp_path / "E.pth"), "--out", str(tmp_path / "x.pt")]) == 2
    assert "has no VAE" in capsys.readouterr().err
    assert main(["import-spade", *options, "--num-upsampling-layers", "normal", "--out", str(tmp_path / "x.pt")]) == 2
    assert "fifth up block" in capsys.readouterr().err


@pytest.mark.parametrize("table, label_nc, files, classes", [
    ("ade20k", 150, [0, 1, 150], [150, 0, 149]),  # ADE20K: 0 is SPADE's don't care (its last channel), 1..150 the classes
    ("coco-stuff", 182, [255, 0, 181], [182, 0, 181]),  # COCO-Stuff: 255 is, 0..181 the classes
])
def test_the_dont_care_label_is_where_spade_reads_unlabeled_pixels(table, label_nc, files, classes):
    """In label files, and in shards written with the table (hrgan shards --classes TABLE stores unlabeled as 255)."""
    info = class_table(table, label_nc, dontcare_label=True)
    assert info.label_nc == label_nc + 1 and info.names[-1] == "don't care" and info.unlabeled_as == label_nc
    export = make_export(generator=SPADEGenerator(in_channels=label_nc + 1, ngf=1), encoder=None, label_nc=label_nc + 1,
                         ignore_index=None, use_instance_edges=False, feat_num=0, n_active_enhancers=0, classes=info, weights=False)
    assert label_file_convention(export).apply(np.array(files)).tolist() == classes
    stored = [255, *(c for c in classes[1:])]  # the shard writer's unlabeled value, then the classes' ids
    assert shard_label_convention(export).apply(np.array(stored)).tolist() == classes


def test_an_export_written_before_spade_reads_label_files_as_before():
    info = class_table("ade20k", 150, dontcare_label=False)
    old = make_export(generator=SPADEGenerator(in_channels=150, ngf=1), encoder=None, label_nc=150, ignore_index=255,
                      use_instance_edges=False, feat_num=0, n_active_enhancers=0, classes=info, weights=False)
    del old["classes"]["unlabeled_as"], old["style_encoder"]
    assert label_file_convention(old).apply(np.array([0, 1, 150])).tolist() == [255, 0, 149]


def test_an_imported_spade_generator_exports_to_onnx_with_dynamic_sizes(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    export, onnx = tmp_path / "spade.pt", tmp_path / "g.onnx"
    assert main(["import-spade", *write_checkpoints("dontcare_edges", tmp_path), "--out", str(export)]) == 0
    assert main(["export", "--checkpoint", str(export), "--format", "onnx", "--out", str(onnx)]) == 0
    synth = Synthesizer.load(export)
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    for height, width in ((32, 64), (64, 96)):
        x = torch.rand(2, 6, height, width)
        (got,) = session.run(None, {"condition": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), synth.generator(x), atol=1e-4, rtol=1e-4)


def test_an_ade20k_model_imported_without_its_dont_care_label_gets_a_warning(tmp_path, capsys):
    generator = SPADEGenerator(in_channels=151, ngf=1)  # ADE20K's 150 classes + the don't-care label
    torch.save(reference_shaped_state_dict(shapes_of(generator)), tmp_path / "G.pth")
    out = ["--generator", str(tmp_path / "G.pth"), "--label-nc", "150", "--classes", "ade20k", "--out", str(tmp_path / "a.pt")]
    assert main(["import-spade", *out]) == 0  # 150 + an instance edge: the same count, read the wrong way
    assert "import it with --dontcare-label --instance-edges false" in capsys.readouterr().err
    assert main(["import-spade", *out, "--dontcare-label", "--instance-edges", "false"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert Synthesizer.load(tmp_path / "a.pt").export["classes"]["unlabeled_as"] == 150
