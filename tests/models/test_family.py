"""The generator family: one object that every consumer asks, with one seeded rule for styles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hrgan.models import (Conditioning, GeneratorFamily, InstanceFeatureEncoder, Pix2PixHDGenerator, SPADEGenerator,
                          StyleChoice, UNetGenerator)
from hrgan.models.family import StyleRequest
from hrgan.models.style_bank import StyleBank, style_rng
from hrgan.training.speed import compile_units

ROOT = Path(__file__).resolve().parents[2]


def family_branches():
    spec = importlib.util.spec_from_file_location("family_branches", ROOT / "benchmarks" / "family_branches.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.family_branches


def test_few_places_outside_the_models_test_which_family_a_model_is():
    found = family_branches()()
    assert len(found) <= 8 and len({file for file, _, _ in found}) <= 3, found


def test_the_counter_finds_a_family_branch(tmp_path):
    (tmp_path / "consumer.py").write_text("def f(synth):\n    if synth.z_dim:\n        return 1\n"
                                          "    return [n for n in synth.nets if isinstance(n, SPADEGenerator)]\n")
    assert [line for _, line, _ in family_branches()(tmp_path)] == [2, 4]


def vae_family(**conditioning) -> GeneratorFamily:
    generator = SPADEGenerator(in_channels=5, ngf=2, z_dim=6, latent_size=(2, 1))
    return GeneratorFamily.for_training(generator, Conditioning(label_nc=4, **conditioning), nef=4)


def test_random_z_is_one_rule_for_every_consumer():
    family = vae_family()
    label = torch.zeros(2, 32, 64, dtype=torch.long)
    request = StyleRequest(label, None, ["a", "b"])
    drawn = family.style.choose(StyleChoice("random", seed=3), request).z
    assert torch.equal(drawn[1], family.style.random_z(3, "b"))
    assert torch.equal(drawn[1], torch.from_numpy(style_rng(3, "b").standard_normal(6).astype(np.float32)))
    assert not torch.equal(drawn[0], drawn[1])  # per map
    family.style.encoder = None  # an import without its encoder: evaluation draws z by key with seed 0
    assert torch.equal(family.style.choose(StyleChoice("photo"), request).z[0], family.style.random_z(0, "a"))


def test_training_samples_z_and_evaluation_takes_the_posterior_mean():
    family = vae_family().eval()  # spectral norm's power iteration stands still
    photo = torch.rand(2, 3, 32, 64) * 2 - 1
    mean = family.style.train_style(photo, None, sample=False)
    sampled = family.style.train_style(photo, None, sample=True)
    assert mean.mu is None and sampled.mu is not None and torch.equal(sampled.mu, mean.z)
    assert not torch.equal(sampled.z, mean.z)


def test_a_family_says_which_networks_an_export_holds():
    assert set(k for k, v in vae_family().networks().items() if v is not None) == {"generator", "style_encoder"}
    generator = Pix2PixHDGenerator(in_channels=8, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=1,
                                   n_blocks_local=1)
    family = GeneratorFamily.for_training(generator, Conditioning(label_nc=4, feat_num=3), nef=4)
    assert isinstance(family.networks()["encoder"], InstanceFeatureEncoder) and family.networks()["style_encoder"] is None
    assert family.problems(ema=True) == []
    plain = GeneratorFamily.for_training(UNetGenerator(in_channels=4, ngf=2, num_downs=5), Conditioning(label_nc=4, use_instance_edges=False), nef=4)
    assert set(k for k, v in plain.networks().items() if v is not None) == {"generator"} and plain.style.choices == ()


def test_a_family_names_what_it_cannot_train_with():
    problems = vae_family(feat_num=2).problems(ema=True)
    assert any("takes its style from z" in p for p in problems)
    assert any("ema_decay" in p for p in problems)
    assert any("takes 5 input channels" in p and "make 7" in p for p in problems)


def test_instance_styles_use_the_bank_per_map_and_per_object():
    encoder = InstanceFeatureEncoder(feat_num=2, nef=2, n_downsample=2)
    generator = UNetGenerator(in_channels=7, ngf=2, num_downs=5)
    family = GeneratorFamily.for_training(generator, Conditioning(label_nc=4, feat_num=2), nef=2)
    family.style.encoder = encoder
    label = torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match="has no styles: run 'hrgan encode-features"):  # before encode-features
        family.style.choose(StyleChoice("random"), StyleRequest(label, label, ["m"]))
    assert family.style.choices == ("photo", "reference") and family.style.choice_problems(StyleChoice("random"))
    centres = torch.arange(4 * 3 * 2, dtype=torch.float32).view(4, 3, 2)
    family.style.bank = StyleBank(centres, torch.tensor([3, 3, 3, 3]), torch.tensor([9, 9, 9, 9]))
    label[:, :, 4:] = 2
    instance = label.clone()
    request = StyleRequest(label, instance, ["m"])
    fixed = family.style.choose(StyleChoice("cluster", cluster=1), request).features
    assert torch.equal(fixed[0, :, 0, 0], centres[0, 1]) and torch.equal(fixed[0, :, 0, 7], centres[2, 1])
    picked = family.style.choose(StyleChoice(objects=lambda instance_id, cls, count: 2 if cls == 2 else None), request)
    assert torch.equal(picked.features[0, :, 0, 7], centres[2, 2]) and not picked.features[0, :, 0, 0].any()
    assert family.style.choice_problems(StyleChoice("cluster", cluster=3))[0][0]  # a usage problem


def test_compile_units_come_from_the_networks():
    generator = Pix2PixHDGenerator(in_channels=8, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=1,
                                   n_blocks_local=1)
    units = compile_units(generator)
    assert units and all(isinstance(u, nn.Sequential) for u in units)
    spade = SPADEGenerator(in_channels=5, ngf=2)
    assert compile_units(spade) == [spade]
    undeclared = nn.Sequential(nn.Conv2d(3, 3, 1))
    assert compile_units(undeclared) == [undeclared]  # a network that says nothing is compiled whole


@pytest.mark.parametrize("fmt,fixed", [("torchscript", None), ("onnx", (64, 32))])
def test_a_vae_generator_says_how_it_is_traced(fmt, fixed):
    generator = SPADEGenerator(in_channels=5, ngf=2, z_dim=6, latent_size=(2, 1))
    assert generator.fixed_export_size(fmt) == fixed
    assert [tuple(t.shape) for t in generator.example_inputs(32, 64)] == [(1, 5, 32, 64), (1, 6)]
    assert UNetGenerator(in_channels=4, ngf=2, num_downs=5).fixed_export_size("onnx") is None
