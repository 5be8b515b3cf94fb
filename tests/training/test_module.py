"""The training module's step order, growth, checkpoints and failure handling, on tiny networks."""

import math

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from hrgan.training.callbacks import Checkpoints
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


class StepWatcher(Callback):
    """Checks, at each optimizer step, which network changed and which got gradients."""

    def __init__(self):
        self.checks = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if getattr(self, "_hooked", False):
            return
        opt_g, opt_d = (o.optimizer for o in pl_module.optimizers())
        G, D = pl_module.generator, pl_module.discriminator
        state = {}

        def g_pre(*_):
            state["G"], state["D"] = snapshot(G), snapshot(D)
            self.checks.append(("no D grads in the G step", all(p.grad is None for p in D.parameters())))

        def g_post(*_):
            self.checks.append(("G step leaves D", same(state["D"], snapshot(D))))
            self.checks.append(("G step changes G", not same(state["G"], snapshot(G))))
            state["G_after"] = snapshot(G)

        def d_pre(*_):
            self.checks.append(("no G grads in the D step", all(p.grad is None for p in G.parameters())))
            active = pl_module.current_growth().num_D
            self.checks.append(("D step has D grads", all(
                p.grad is not None for d in D.discriminators[:active] for p in d.parameters())))

        def d_post(*_):
            self.checks.append(("D step leaves G", same(state["G_after"], snapshot(G))))
            self.checks.append(("D step changes D", not same(state["D"], snapshot(D))))

        opt_g.register_step_pre_hook(g_pre)
        opt_g.register_step_post_hook(g_post)
        opt_d.register_step_pre_hook(d_pre)
        opt_d.register_step_post_hook(d_post)
        self._hooked = True


def test_each_step_touches_only_its_own_network(tiny_shards, tmp_path):
    watcher = StepWatcher()
    tiny_trainer(tmp_path, [watcher]).fit(tiny_module(two_stages(3, 0 + 1)), tiny_data(tiny_shards))
    assert watcher.checks and all(ok for _, ok in watcher.checks), [name for name, ok in watcher.checks if not ok]


class Recorder(Callback):
    """Per iteration: losses, learning rates, growth state, and optionally parameters."""

    def __init__(self, keep=()):
        self.rows, self.keep, self.params = [], keep, {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.progress.end_epoch:
            return
        opt_g, _ = pl_module.optimizers(use_pl_optimizer=False)
        it = pl_module.iteration
        adam = {}
        for name in self.keep:
            param = dict(pl_module.named_parameters())[name]
            adam[name] = {k: v.clone() for k, v in opt_g.state.get(param, {}).items()}
            self.params[(it, name)] = (param.detach().clone(), adam[name])
        self._start = {"iteration": it, "image_shape": tuple(batch["image"].shape)}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # growth and lr are read here: the ProgressiveGrowth callback sets them after this callback's batch start
        if pl_module.progress.end_epoch:
            return
        opt_g, _ = pl_module.optimizers(use_pl_optimizer=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss/")}
        self.rows.append({**self._start, "lr_G": opt_g.param_groups[0]["lr"], "growth": pl_module.current_growth(), **metrics})


def test_growth_keeps_weights_and_adam_state_and_changes_the_data(tiny_shards, tmp_path):
    keep = ["generator.global_generator.stem.1.weight", "generator.enhancers.0.stem.1.weight",
            "discriminator.discriminators.1.layers.0.0.weight"]
    recorder = Recorder(keep)
    module = tiny_module(two_stages(4, 3))
    initial = snapshot(module)
    tiny_trainer(tmp_path, [recorder]).fit(module, tiny_data(tiny_shards))
    assert [r["iteration"] for r in recorder.rows] == list(range(7))
    assert [r["image_shape"] for r in recorder.rows] == [(2, 3, 32, 64)] * 4 + [(1, 3, 64, 128)] * 3
    assert [r["growth"].n_enhancers for r in recorder.rows] == [0] * 4 + [1] * 3
    global_w, enhancer_w, new_d = keep
    # the global generator trained in stage 0 carries its weights and Adam moments into stage 1 ...
    end0_param, end0_adam = recorder.params[(3, global_w)]
    start1_param, start1_adam = recorder.params[(4, global_w)]
    assert not torch.equal(start1_param, initial[global_w]) and end0_adam["exp_avg"].abs().sum() > 0
    assert int(start1_adam["step"]) == int(end0_adam["step"]) + 1
    # ... while the enhancer and the new finest D scale start untouched, with no Adam state
    torch.testing.assert_close(recorder.params[(4, enhancer_w)][0], initial[enhancer_w])
    assert recorder.params[(4, enhancer_w)][1] == {}
    assert not torch.equal(snapshot(module)[enhancer_w], initial[enhancer_w])
    torch.testing.assert_close(snapshot(module)[new_d] != initial[new_d], torch.ones_like(initial[new_d], dtype=torch.bool))


def test_fix_global_then_train_everything(tiny_shards, tmp_path):
    keep = ["generator.global_generator.stem.1.weight"]
    recorder = Recorder(keep)
    tiny_trainer(tmp_path, [recorder]).fit(tiny_module(two_stages(2, 4, fix_global_steps=2)), tiny_data(tiny_shards))
    weights = [recorder.params[(i, keep[0])][0] for i in range(2, 6)]
    assert torch.equal(weights[0], weights[1]) and torch.equal(weights[1], weights[2])  # frozen at 2 and 3
    assert not torch.equal(weights[2], weights[3])  # trains again from iteration 4
    assert [r["growth"].train_only_newest for r in recorder.rows[2:]] == [True, True, False, False]


def test_learning_rates_follow_the_schedule(tiny_shards, tmp_path):
    from hrgan.training.schedule import ProgressiveSchedule, Stage

    recorder = Recorder()
    schedule = ProgressiveSchedule([Stage(resolution=(64, 32), n_enhancers=0, num_D=1, batch_size=2, steps=6, niter_decay=4)])
    tiny_trainer(tmp_path, [recorder]).fit(tiny_module(schedule, lr_G=1e-3), tiny_data(tiny_shards))
    # what the optimizer holds: the decay's first step at lr, its last at lr / niter_decay (not 0)
    assert [round(r["lr_G"], 9) for r in recorder.rows] == [1e-3, 1e-3, 1e-3, 7.5e-4, 5e-4, 2.5e-4]


def test_resume_mid_stage_gives_the_same_next_steps(tiny_shards, tmp_path):
    def run(folder, ckpt_path=None, callbacks=()):
        recorder = Recorder()
        trainer = tiny_trainer(folder, [recorder, *callbacks], enable_checkpointing=True)
        pl.seed_everything(0)
        trainer.fit(tiny_module(two_stages(3, 5, fade_in_steps=4)), tiny_data(tiny_shards), ckpt_path=ckpt_path)
        return recorder.rows

    checkpoint = Checkpoints(dirpath=str(tmp_path / "ckpt"), every_n_iterations=5)
    full = run(tmp_path / "a", callbacks=[checkpoint])  # checkpoint after iteration 5 (global step 10), mid-stage 2
    resumed = run(tmp_path / "b", ckpt_path=str(tmp_path / "ckpt" / "iter_0000005.ckpt"))
    assert [r["iteration"] for r in resumed] == [5, 6, 7]
    for a, b in zip(full[5:], resumed, strict=True):
        assert a["growth"] == b["growth"] and a["lr_G"] == b["lr_G"]
        for key in ("loss/G/gan", "loss/G/l1", "loss/D/real", "loss/D/fake"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key


def test_g_loss_and_l1_fall_on_a_fixed_batch(tiny_shards, tmp_path):
    from hrgan.training.schedule import ProgressiveSchedule, Stage

    recorder = Recorder()
    schedule = ProgressiveSchedule([Stage(resolution=(64, 32), n_enhancers=0, num_D=1, batch_size=2, steps=50)])
    data = tiny_data(tiny_shards, train_urls=str(tiny_shards / "val-*.tar"), flip=False)  # 4 scenes, over and over
    tiny_trainer(tmp_path, [recorder]).fit(tiny_module(schedule, lr_G=1e-3), data)
    for key, factor in (("loss/G/l1", 0.7), ("loss/G/total", 0.9)):
        values = [r[key] for r in recorder.rows]
        assert sum(values[-5:]) / 5 < factor * sum(values[:5]) / 5, key


class Poison(Callback):
    """Turns the photo of one batch into NaNs."""

    def __init__(self, at):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.iteration == self.at:
            batch["image"].fill_(math.nan)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tiny_shards, tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=4, save_last=True)
    trainer = tiny_trainer(tmp_path, [checkpoint, Poison(at=3)], enable_checkpointing=True)
    module = tiny_module(two_stages(6, 1))
    with pytest.raises(FloatingPointError, match="non-finite generator loss at iteration 3: .*intact"):
        trainer.fit(module, tiny_data(tiny_shards))
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["progress"]["iteration"] == 2
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values() if v.is_floating_point())
    assert not list((tmp_path / "ckpt").glob(".*tmp"))  # no half-written files


def test_ema_generator_is_updated_and_used_for_validation(tiny_shards, tmp_path):
    module = tiny_module(two_stages(3, 3))  # the EMA of a stage's first update is that update: give it three
    initial = snapshot(module.generator_ema)
    data = tiny_data(tiny_shards, val_urls=str(tiny_shards / "val-*.tar"))
    trainer = tiny_trainer(tmp_path, limit_val_batches=None, val_check_interval=2, check_val_every_n_epoch=None)
    trainer.fit(module, data)
    assert not same(initial, snapshot(module.generator_ema))
    assert not same(snapshot(module.generator), snapshot(module.generator_ema))
    assert "val/psnr" in trainer.callback_metrics and math.isfinite(float(trainer.callback_metrics["val/psnr"]))


def test_channel_mismatch_is_explained():
    from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
    from hrgan.training.module import Pix2PixHDModule

    with pytest.raises(ValueError, match="takes 10 input channels, but label_nc=8"):
        Pix2PixHDModule(generator=Pix2PixHDGenerator(in_channels=10, ngf=4, n_local_enhancers=0),
                        discriminator=MultiscaleDiscriminator(in_channels=12), label_nc=8, use_vgg_loss=False)


def test_instance_feature_encoder_trains_with_the_generator(tiny_shards, tmp_path):
    from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
    from hrgan.training.module import Pix2PixHDModule
    from hrgan.training.schedule import ProgressiveSchedule, Stage

    generator = Pix2PixHDGenerator(in_channels=8 + 1 + 3, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=0)
    module = Pix2PixHDModule(generator=generator, discriminator=MultiscaleDiscriminator(in_channels=12, ndf=4, n_layers=2, num_D=1),
                             label_nc=8, feat_num=3, nef=4, use_vgg_loss=False, fused_adam=False,
                             schedule=ProgressiveSchedule([Stage(resolution=(64, 32), num_D=1, batch_size=2, steps=3)]))
    before = snapshot(module.encoder)
    tiny_trainer(tmp_path).fit(module, tiny_data(tiny_shards))
    assert not same(before, snapshot(module.encoder))


def test_init_from_starts_a_later_stage_from_another_runs_export(tiny_shards, tmp_path):
    from hrgan.artifacts import read_export
    from hrgan.training.callbacks import InferenceExport
    from hrgan.training.schedule import ProgressiveSchedule, Stage

    first = tiny_module(ProgressiveSchedule([Stage(resolution=(64, 32), num_D=1, batch_size=2, steps=3)]))
    tiny_trainer(tmp_path / "a", [InferenceExport()]).fit(first, tiny_data(tiny_shards))
    export = tmp_path / "a" / "export.pt"
    trained = read_export(export)["generator"]["state_dict"]

    seen = {}

    class Look(Callback):
        def on_train_start(self, trainer, pl_module):
            seen.update({k: v.clone() for k, v in pl_module.generator.state_dict().items()})

    later = tiny_module(ProgressiveSchedule([Stage(resolution=(128, 64), n_enhancers=1, num_D=2, batch_size=1, steps=2)]),
                        init_from=str(export))
    tiny_trainer(tmp_path / "b", [Look()]).fit(later, tiny_data(tiny_shards))
    global_keys = [k for k in trained if k.startswith("global_generator.")]
    assert global_keys and all(torch.equal(seen[k], trained[k]) for k in global_keys)


def test_channels_last_and_bf16_steps_are_finite(tiny_shards, tmp_path):
    module = tiny_module(two_stages(2, 1), channels_last=True)
    tiny_trainer(tmp_path, precision="bf16-mixed").fit(module, tiny_data(tiny_shards))
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_validating_a_checkpoint_runs_at_its_stage(tiny_shards, tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    tiny_trainer(tmp_path, [checkpoint], enable_checkpointing=True).fit(tiny_module(two_stages(2, 2)), tiny_data(tiny_shards))

    shapes = []

    class Look(Callback):
        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            shapes.append(tuple(batch["image"].shape[-2:]))

    fresh = tiny_module(two_stages(2, 2))
    data = tiny_data(tiny_shards, val_urls=str(tiny_shards / "val-*.tar"))
    tiny_trainer(tmp_path, [Look()], limit_val_batches=None).validate(fresh, data, ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert fresh.current_growth().stage == 1 and fresh.current_growth().n_enhancers == 1
    assert shapes and set(shapes) == {(64, 128)}


def test_init_from_a_lightning_checkpoint(tiny_shards, tmp_path):
    from hrgan.training.pretrain import load_matching_weights

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trained = tiny_module(two_stages(2, 1))
    tiny_trainer(tmp_path, [checkpoint], enable_checkpointing=True).fit(trained, tiny_data(tiny_shards))
    fresh = tiny_module(two_stages(2, 1))
    report = load_matching_weights(fresh, tmp_path / "ckpt" / "last.ckpt")
    assert not report["new"] and not report["skipped"]
    assert same(snapshot(trained.generator), snapshot(fresh.generator))


def test_the_vgg_loss_says_when_it_is_off_for_want_of_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.warns(UserWarning, match=r"the VGG loss is off: no VGG19 weights .*model.vgg_weights"):
        module = tiny_module(use_vgg_loss=True, vgg_if_available=True)
    assert module.vgg is None
