"""SPADE's VAE through hrgan: the style encoder trains with G under the KL term, and infer's --style is multimodal."""

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_lightning.callbacks import Callback

from hrgan.artifacts import read_export
from hrgan.cli import main
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
