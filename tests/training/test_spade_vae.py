"""SPADE's VAE through hrgan: the style encoder trains with G under the KL term, and infer's --style is multimodal."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_lightning.callbacks import Callback

from hrgan.artifacts import read_export
from hrgan.cli import main
from hrgan.conditioning import build_generator_input
from hrgan.inference.synthesizer import Synthesizer
from hrgan.models import MultiscaleDiscriminator, SPADEGenerator
from hrgan.training.callbacks import InferenceExport
from hrgan.training.checks import SettingsError
from hrgan.training.module import Pix2PixHDModule
from hrgan.training.schedule import ProgressiveSchedule, Stage
from tests.training.helpers import LABEL_NC, tiny_data, tiny_trainer


def vae_module(steps=3, latent_size=(2, 1), **kwargs):
    generator = SPADEGenerator(in_channels=LABEL_NC + 1, ngf=4, z_dim=8, latent_size=latent_size)
    discriminator = MultiscaleDiscriminator(in_channels=LABEL_NC + 1 + 3, ndf=4, n_layers=2, num_D=2, spectral=True)
    options = dict(classes="synthetic", gan_mode="hinge", gan_scale_reduction="mean", use_vgg_loss=False, ema_decay=0,
                   fused_adam=False, schedule=ProgressiveSchedule([Stage(resolution=(64, 32), num_D=2, batch_size=2, steps=steps)]))
    return Pix2PixHDModule(generator=generator, discriminator=discriminator, label_nc=LABEL_NC, **(options | kwargs))


class Losses(Callback):
    """Every logged G loss of every step."""

    def __init__(self):
        self.steps = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss/G/")})


@pytest.fixture(scope="module")
def vae_run(tiny_shards, tmp_path_factory):
    run = tmp_path_factory.mktemp("vae_run")
    module = vae_module()
    before = {k: v.clone() for k, v in module.style_encoder.state_dict().items()}
    losses = Losses()
    tiny_trainer(run, callbacks=[losses, InferenceExport()]).fit(module, tiny_data(tiny_shards))
    return run, module, before, losses


def test_the_style_encoder_trains_with_the_generator_under_the_kl_term(vae_run):
    _, module, before, losses = vae_run
    assert len(losses.steps) == 3 and all(step["loss/G/kld"] > 0 for step in losses.steps)
    changed = [k for k, v in module.style_encoder.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("fc_mu") for k in changed) and any(k.startswith("fc_var") for k in changed)
    opt_g, opt_d = module.optimizers(use_pl_optimizer=False)
    encoder = {id(p) for p in module.style_encoder.parameters()}
    assert encoder <= {id(p) for group in opt_g.param_groups for p in group["params"]}
    assert not encoder & {id(p) for group in opt_d.param_groups for p in group["params"]}


def test_the_export_carries_the_style_encoder_and_styles_change_the_photo(vae_run, tiny_shards):
    run, module, _, _ = vae_run
    export = read_export(run / "export.pt")
    assert export["style_encoder"]["class_path"] == "hrgan.models.spade.SPADEStyleEncoder"
    synth = Synthesizer(export)
    label = torch.randint(0, LABEL_NC, (1, 32, 64))
    instance = torch.zeros(1, 32, 64, dtype=torch.long)
    z = torch.randn(2, 8)
    first, second = synth(label, instance, z=z[:1]), synth(label, instance, z=z[1:])
    assert torch.equal(first, synth(label, instance, z=z[:1])) and not torch.equal(first, second)
    photo = torch.rand(1, 3, 32, 64) * 2 - 1
    with torch.no_grad():
        mu, _ = module.style_encoder.eval()(photo)
    torch.testing.assert_close(synth.encode_style(photo), mu)


def write_maps(folder, n=2):
    (folder / "labels").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, LABEL_NC, (32, 64), dtype=np.uint8)).save(folder / "labels" / f"map{i}.png")
    Image.fromarray(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(folder / "photo.png")


def infer(run, folder, out, *style):
    return main(["infer", "--checkpoint", str(run / "export.pt"), "--labels", str(folder / "labels"), "--instance-edges",
                 "false", "--out", str(folder / out), "--workers", "0", *style])


def read(folder, out):
    return [np.array(Image.open(folder / out / f"map{i}.png")) for i in range(2)]


def test_infer_styles_are_deterministic_per_seed_and_image(vae_run, tmp_path, capsys):
    run = vae_run[0]
    write_maps(tmp_path)
    assert infer(run, tmp_path, "a", "--style", "random", "--seed", "3") == 0
    assert infer(run, tmp_path, "b", "--style", "random", "--seed", "3", "--batch-size", "1") == 0
    assert infer(run, tmp_path, "c", "--style", "random", "--seed", "4") == 0
    a, b, c = read(tmp_path, "a"), read(tmp_path, "b"), read(tmp_path, "c")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # the same seed, another batching
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))
    assert not np.array_equal(a[0], a[1])  # each map draws its own z
    photo = str(tmp_path / "photo.png")
    assert infer(run, tmp_path, "d", "--style", "from-image", photo) == 0
    assert infer(run, tmp_path, "e", "--style", f"from-image:{photo}", "--seed", "9") == 0
    assert all(np.array_equal(x, y) for x, y in zip(read(tmp_path, "d"), read(tmp_path, "e")))
    capsys.readouterr()
    assert infer(run, tmp_path, "f", "--style", "cluster:1") == 2
    assert "random" in capsys.readouterr().err
    assert infer(run, tmp_path, "g", "--style", "from-image", str(tmp_path / "missing.png")) == 1
    assert "missing.png does not exist" in capsys.readouterr().err


def test_a_latent_size_that_is_not_the_stage_resolutions_is_refused():
    with pytest.raises(SettingsError, match=r"latent_size \[2, 1\]"):
        vae_module(latent_size=(4, 2))
    with pytest.raises(SettingsError, match="feat_num: 0"):
        vae_module(feat_num=3)
    with pytest.raises(SettingsError, match="ema_decay: 0"):
        vae_module(ema_decay=0.999)


def conditioning(height, width):
    label = torch.randint(0, LABEL_NC, (2, height, width))
    return build_generator_input(label, label_nc=LABEL_NC, instance=torch.randint(0, 3, (2, height, width)))


def test_the_vae_generator_exports_with_z_as_a_second_input(vae_run, tmp_path):
    run = vae_run[0]
    synth = Synthesizer.load(run / "export.pt")
    torchscript, onnx = tmp_path / "g.pt", tmp_path / "g.onnx"
    assert main(["export", "--checkpoint", str(run / "export.pt"), "--format", "torchscript", "--out", str(torchscript)]) == 0
    scripted = torch.jit.load(str(torchscript))
    x, z = conditioning(32, 64), torch.randn(2, 8)  # the training size: the latent map as trained
    with torch.no_grad():
        torch.testing.assert_close(scripted(x, z), synth.generator(x, z))
        other = conditioning(64, 96)
        torch.testing.assert_close(scripted(other, z), synth.generator(other, z))
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    assert main(["export", "--checkpoint", str(run / "export.pt"), "--format", "onnx", "--out", str(onnx)]) == 0
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["condition", "z"]
    assert session.get_inputs()[0].shape[2:] == [32, 64]  # the latent map's size (metadata fixed_size)
    for x in (conditioning(32, 64), conditioning(32, 64)[:1]):
        (got,) = session.run(None, {"condition": x.numpy(), "z": z[: len(x)].numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), synth.generator(x, z[: len(x)]), atol=1e-4, rtol=1e-4)


def test_a_bf16_step_with_checkpointed_blocks_is_finite(tiny_shards, tmp_path):
    module = vae_module(steps=2, activation_checkpointing=True, channels_last=True)
    losses = Losses()
    tiny_trainer(tmp_path, callbacks=[losses], precision="bf16-mixed").fit(module, tiny_data(tiny_shards))
    assert len(losses.steps) == 2 and all(np.isfinite(v) for step in losses.steps for v in step.values())
    assert {"loss/G/gan", "loss/G/feat", "loss/G/kld"} <= set(losses.steps[-1])


def test_evaluate_takes_the_real_photos_styles_so_scores_repeat(vae_run, tiny_shards, tmp_path):
    run = vae_run[0]
    scores = []
    for name in ("a", "b"):
        report = tmp_path / name / "report.json"
        assert main(["evaluate", "--checkpoint", str(run / "export.pt"), "--data", str(tiny_shards), "--split", "val",
                     "--metrics", "psnr", "--out", str(report), "--workers", "0", "--size", "native"]) == 0
        scores.append(json.loads(report.read_text())["psnr"])
    assert np.isfinite(scores[0]) and scores[0] == scores[1]


def test_encode_features_says_a_vae_model_takes_its_styles_from_z(vae_run, tiny_shards, capsys):
    run = vae_run[0]
    assert main(["encode-features", "--checkpoint", str(run / "export.pt"), "--data", str(tiny_shards / "train-*.tar"),
                 "--out", str(run / "styled.pt")]) == 1
    assert "takes its styles from z" in capsys.readouterr().err and not (run / "styled.pt").exists()
