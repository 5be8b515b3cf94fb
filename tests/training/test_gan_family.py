"""The paired image-to-image family in the one module: image inputs, pix2pix's networks, WGAN-GP's critic
steps counted in iterations (through a resume), label smoothing's settings."""

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from hrgan.data.labels import LabelConvention
from hrgan.data.shards import write_split
from hrgan.inference.synthesizer import Synthesizer
from hrgan.models import GlobalGenerator, MultiscaleDiscriminator, UNetGenerator
from hrgan.training.callbacks import Checkpoints, InferenceExport, SampleGrids
from hrgan.training.checks import SettingsError
from hrgan.training.module import Pix2PixHDModule
from hrgan.training.schedule import ProgressiveSchedule, Stage
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer


@pytest.fixture(scope="module")
def image_shards(tiny_shards, tmp_path_factory):
    """The tiny synthetic photos as image inputs (photo -> photo), 128x64."""
    out = tmp_path_factory.mktemp("image_shards")
    for split in ("train", "val"):
        result = write_split("folders", tiny_shards.parent, split, out, convention=LabelConvention(0),
                             labels="{split}_img", images="{split}_img", progress=False)
        assert not result.bad and result.entry["input"] == "image"
    return out


def one_stage(steps, resolution=(64, 32), batch_size=2):
    return ProgressiveSchedule([Stage(resolution=resolution, n_enhancers=0, num_D=1, batch_size=batch_size, steps=steps)])


def image_module(steps=2, generator=None, **kwargs):
    generator = generator or GlobalGenerator(in_channels=3, ngf=4, n_downsample=2, n_blocks=1)
    discriminator = MultiscaleDiscriminator(in_channels=6, ndf=4, n_layers=2, num_D=1, **kwargs.pop("d_args", {}))
    options = dict(use_instance_edges=False, use_vgg_loss=False, lambda_l1=10.0, ema_decay=0.0, fused_adam=False)
    return Pix2PixHDModule(generator=generator, discriminator=discriminator, label_nc=0, schedule=one_stage(steps),
                           **(options | kwargs))


class StepCounter(Callback):
    """Optimizer steps of G and D, and the iterations whose logged losses included G's."""

    def __init__(self):
        self.g = self.d = 0
        self.hooked = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not self.hooked:
            opt_g, opt_d = pl_module.optimizers(use_pl_optimizer=False)
            opt_g.register_step_post_hook(lambda *_: setattr(self, "g", self.g + 1))
            opt_d.register_step_post_hook(lambda *_: setattr(self, "d", self.d + 1))
            self.hooked = True


def test_a_unet_pix2pix_model_trains_on_image_inputs_and_exports(image_shards, tmp_path):
    unet = UNetGenerator(in_channels=3, num_downs=5, ngf=4)
    module = image_module(3, generator=unet, gan_mode="vanilla",
                          d_args=dict(norm="batch", padding=1, weight_init="pix2pix"), use_feat_loss=False)
    trainer = tiny_trainer(tmp_path, [InferenceExport()])
    trainer.fit(module, tiny_data(image_shards, label_nc=0))
    assert module.iteration == 3
    synth = Synthesizer.load(tmp_path / "export.pt")
    assert synth.label_nc == 0 and synth.input_nc == 3 and synth.size_multiple == 32
    photo = torch.rand(1, 3, 40, 50) * 2 - 1  # any size: padded to one multiple of 32 and cropped back
    out = synth(photo)
    assert out.shape == (1, 3, 40, 50) and out.abs().max() <= 1
    assert not torch.equal(out, synth(-photo))  # the output follows the input image


def test_image_inputs_with_instance_edges_train_and_infer(tiny_shards, tmp_path):
    shards = tmp_path / "shards"
    assert not write_split("folders", tiny_shards.parent, "train", shards, convention=LabelConvention(0), labels="{split}_img",
                           images="{split}_img", instances="{split}_inst", progress=False).bad
    generator = GlobalGenerator(in_channels=4, ngf=4, n_downsample=2, n_blocks=1)
    discriminator = MultiscaleDiscriminator(in_channels=7, ndf=4, n_layers=2, num_D=1)
    module = Pix2PixHDModule(generator=generator, discriminator=discriminator, label_nc=0, use_instance_edges=True,
                             schedule=one_stage(2), use_vgg_loss=False, ema_decay=0.0, fused_adam=False)
    tiny_trainer(tmp_path, [InferenceExport()]).fit(module, tiny_data(shards, label_nc=0))
    synth = Synthesizer.load(tmp_path / "export.pt")
    photo, instance = torch.rand(1, 3, 32, 64) * 2 - 1, torch.zeros(1, 32, 64, dtype=torch.long)
    split = instance.clone()
    split[:, :, 32:] = 1  # one boundary down the middle: the edge channel changes the output
    assert synth.use_instance_edges and not torch.equal(synth(photo, instance), synth(photo, split))


def test_critic_steps_count_iterations_through_a_resume(image_shards, tmp_path):
    def run(folder, steps, ckpt_path=None, callbacks=()):
        counter = StepCounter()
        trainer = tiny_trainer(folder, [counter, *callbacks], enable_checkpointing=True)
        pl.seed_everything(0)
        module = image_module(steps, gan_mode="wgan-gp", critic_steps=3, lambda_gp=10.0, use_feat_loss=False)
        trainer.fit(module, tiny_data(image_shards, label_nc=0), ckpt_path=ckpt_path)
        return module, counter, trainer

    checkpoint = Checkpoints(dirpath=str(tmp_path / "ckpt"), every_n_iterations=4)
    module, counter, trainer = run(tmp_path / "a", 6, callbacks=[checkpoint])
    assert module.iteration == 6 and (counter.d, counter.g) == (6, 2)  # G at iterations 3 and 6
    assert trainer.logged_metrics["loss/D/gp"] >= 0 and "loss/G/gan" in trainer.logged_metrics
    module, counter, _ = run(tmp_path / "b", 6, ckpt_path=str(tmp_path / "ckpt" / "iter_0000004.ckpt"))
    assert module.iteration == 6 and (counter.d, counter.g) == (2, 1)  # iterations 5 and 6: G once, at 6


def test_gan_settings_are_checked_before_training():
    with pytest.raises(SettingsError, match="real_label"):
        image_module(gan_mode="hinge", real_label=0.9)
    with pytest.raises(SettingsError, match="critic_steps must be >= 1"):
        image_module(critic_steps=0)
    assert image_module(gan_mode="vanilla", real_label=0.9).objective.gan.real_label == 0.9
    with pytest.warns(UserWarning, match="batch norm in the discriminator"):
        image_module(gan_mode="wgan-gp", d_args=dict(norm="batch", padding=1))


def test_settings_that_cannot_work_with_image_inputs_or_wgan_gp_are_refused():
    with pytest.raises(SettingsError, match="input_nc 1 or 3"):
        image_module(input_nc=4)
    with pytest.raises(SettingsError, match="feat_num: 0"):
        image_module(feat_num=3)
    with pytest.raises(SettingsError, match="torch.compile does not support"):
        image_module(gan_mode="wgan-gp", compile=True)


def test_sample_grids_run_batch_norm_networks_as_inference_does(image_shards, tmp_path):
    module = image_module(2, generator=UNetGenerator(in_channels=3, num_downs=5, ngf=4))
    trainer = tiny_trainer(tmp_path)
    data = tiny_data(image_shards, label_nc=0, val_urls=str(image_shards / "val-*.tar"))
    trainer.fit(module, data)
    module.train()
    before = {k: v.clone() for k, v in module.generator.state_dict().items() if "running" in k}
    grids = SampleGrids(num_samples=2)
    first, second = grids.render(trainer, module), grids.render(trainer, module)
    after = {k: v for k, v in module.generator.state_dict().items() if "running" in k}
    assert before and all(torch.equal(before[k], after[k]) for k in before)  # eval mode: running statistics untouched
    assert (first == second).all() and module.training  # no dropout; the module is back in train mode
    assert grids.columns == ["input", "generated", "real"]


def test_checkpoints_read_the_state_key_of_runs_saved_before_iterations_were_counted_here():
    checkpoints = Checkpoints(every_n_iterations=5)
    assert "'every_n_iterations': 5" in checkpoints.state_key  # saves are counted in iterations, whatever critic_steps
    assert "'every_n_train_steps': 10" in checkpoints._legacy_state_key  # Lightning's count then: 2 steps an iteration


def test_image_input_channels_are_explained():
    generator = GlobalGenerator(in_channels=4, ngf=4, n_downsample=2, n_blocks=1)
    with pytest.raises(SettingsError, match="takes 4 input channels, but image inputs of input_nc=3"):
        image_module(generator=generator)


def test_inputs_and_shards_of_the_other_kind_are_refused_with_the_fix(tiny_shards, image_shards, tmp_path):
    with pytest.raises(SettingsError, match="write the shards with 'hrgan shards --input image'"):
        tiny_trainer(tmp_path).fit(image_module(2), tiny_data(tiny_shards, label_nc=0))
    with pytest.raises(SettingsError, match=r"records input images \(label_nc 0\): set model.label_nc: 0"):
        tiny_trainer(tmp_path).fit(tiny_module(), tiny_data(image_shards, label_nc=8))
