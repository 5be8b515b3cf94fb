"""Known crashes and wrong figures: checkpoint keep, logged learning rates, the lr decay's and fade-in's ends,
--style cluster:K past the last cluster, evaluate --out on a folder."""

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import Callback

from hrgan.cli import main
from hrgan.inference.styles import StyleBank
from hrgan.training.callbacks import Checkpoints
from hrgan.training.schedule import ProgressiveSchedule, Stage
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


def test_keep_n_keeps_the_n_newest_periodic_checkpoints(tiny_shards, tmp_path):
    folder = tmp_path / "ckpt"
    checkpoints = Checkpoints(dirpath=str(folder), every_n_iterations=1, keep=2)  # raised MisconfigurationException
    tiny_trainer(tmp_path, [checkpoints], enable_checkpointing=True).fit(tiny_module(two_stages(3, 2)), tiny_data(tiny_shards))
    assert sorted(p.name for p in folder.glob("*.ckpt")) == ["iter_0000004.ckpt", "iter_0000005.ckpt", "last.ckpt"]
    with pytest.raises(ValueError, match="keep must be -1 .* got -2"):
        Checkpoints(keep=-2)


class Logged(Callback):
    """What ProgressiveGrowth logged for each iteration, and what the optimizers held then. Read before the
    next batch and at the end: this callback's batch end runs before ProgressiveGrowth's."""

    def __init__(self):
        self.by_iteration = {}

    def _read(self, trainer, pl_module):
        logged = trainer.callback_metrics
        if "lr/G" not in logged:
            return
        opt_g, opt_d = pl_module.optimizers(use_pl_optimizer=False)
        self.by_iteration[int(logged["iteration"])] = (float(logged["lr/G"]), float(logged["lr/D"]), opt_g.param_groups[0]["lr"],
                                                       opt_d.param_groups[0]["lr"], float(logged["growth/alpha"]))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._read(trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        self._read(trainer, pl_module)

    @property
    def rows(self):
        return [self.by_iteration[i] for i in sorted(self.by_iteration)]


def test_logged_learning_rates_are_the_optimizers_with_the_linear_scaling(tiny_shards, tmp_path):
    logged = Logged()
    schedule = ProgressiveSchedule([Stage(resolution=(64, 32), num_D=1, batch_size=2, steps=4, niter_decay=2)])
    module = tiny_module(schedule, lr_G=1e-3, lr_D=4e-4, lr_reference_batch=1)  # batch 2: learning rates x2
    tiny_trainer(tmp_path, [logged]).fit(module, tiny_data(tiny_shards))
    for lr_g, lr_d, held_g, held_d, _ in logged.rows:
        assert lr_g == pytest.approx(held_g) and lr_d == pytest.approx(held_d)
    assert [round(row[0], 9) for row in logged.rows] == [2e-3, 2e-3, 2e-3, 1e-3]  # the last step still learns


def test_the_last_decay_step_has_a_positive_learning_rate():
    schedule = ProgressiveSchedule([Stage(steps=10, niter_decay=5), Stage(steps=3, niter_decay=3)])
    factors = [schedule.state(i).lr_factor for i in range(13)]
    assert factors[4:10] == pytest.approx([1, 1, 0.8, 0.6, 0.4, 0.2])  # pix2pixHD: lr - lr / niter_decay per step
    assert factors[10:] == pytest.approx([1, 2 / 3, 1 / 3]) and min(factors) > 0


def test_the_fade_in_starts_at_alpha_0_and_reaches_1_after_fade_in_steps(tiny_shards, tmp_path):
    schedule = two_stages(2, 5, fade_in_steps=4)
    assert [schedule.state(2 + i).alpha for i in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    logged = Logged()
    tiny_trainer(tmp_path, [logged]).fit(tiny_module(schedule), tiny_data(tiny_shards))
    assert [row[4] for row in logged.rows] == [1.0, 1.0, 0.0, 0.25, 0.5, 0.75, 1.0]


def test_style_cluster_past_the_last_cluster_of_a_class_warns_and_takes_its_last():
    bank = StyleBank(centres=torch.arange(6.0).reshape(2, 3, 1), counts=torch.tensor([3, 1]), instances=torch.tensor([5, 1]))
    label = torch.tensor([[0, 0], [1, 1]])
    instance = torch.tensor([[1, 1], [2, 2]])
    rng = np.random.default_rng(0)
    assert bank.feature_map(label, instance, cluster=0, rng=rng)[0].tolist() == [[0.0, 0.0], [3.0, 3.0]]
    with pytest.warns(UserWarning, match=r"style cluster:2: class 1 has 1 cluster\(s\); it uses cluster:0"):
        styled = bank.feature_map(label, instance, cluster=2, rng=rng)  # silently clamped before
    assert styled[0].tolist() == [[2.0, 2.0], [3.0, 3.0]]
    assert bank.feature_map(label[:1], instance[:1], cluster=2, rng=rng)[0].tolist() == [[2.0, 2.0]]  # class 0 has 3


def test_evaluate_out_on_a_folder_is_a_usage_error(tmp_path, capsys):
    code = main(["evaluate", "--checkpoint", str(tmp_path / "missing.pt"), "--data", str(tmp_path), "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == (f"hrgan evaluate: --out {tmp_path} is a folder; give the report's file name, "
                                       f"e.g. {tmp_path / 'report.json'}\n")


def test_infer_refuses_a_cluster_no_class_has_before_reading_inputs(tmp_path):
    from types import SimpleNamespace

    from hrgan.inference.options import InferOptions, Style
    from hrgan.inference.runner import check_options

    from hrgan.models import InstanceFeatureEncoder, InstanceStyle

    bank = StyleBank(centres=torch.zeros(2, 3, 1), counts=torch.tensor([3, 1]), instances=torch.tensor([5, 1]))
    style = InstanceStyle(InstanceFeatureEncoder(feat_num=1, nef=2), bank)
    # what check_options reads of a Synthesizer
    model = SimpleNamespace(use_instance_edges=False, label_nc=2, family=SimpleNamespace(style=style),
                            style_problems=style.choice_problems)
    options = InferOptions(out=tmp_path, style=Style.parse("cluster:3"))
    assert check_options(model, tmp_path / "export.pt", "labels/", options) == (
        "--style cluster:3: no class has more than 3 clusters (cluster:0 to cluster:2)", None)
    assert check_options(model, tmp_path / "export.pt", "labels/", InferOptions(out=tmp_path, style=Style.parse("cluster:2"))) == (None, None)
