"""Instance styles: k-means per class, `hrgan encode-features`, and `hrgan infer --style`."""

import numpy as np
import pytest
import torch
from PIL import Image

from hrgan.artifacts import read_export
from hrgan.commands.encode_features import main as encode_features
from hrgan.commands.infer import main as infer
from hrgan.inference.styles import StyleBank, instance_regions, kmeans, large_instance_features
from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
from hrgan.training.callbacks import InferenceExport
from hrgan.training.module import Pix2PixHDModule
from hrgan.training.schedule import ProgressiveSchedule, Stage
from tests.tolerances import assert_outputs_match, assert_photos_match
from tests.training.helpers import tiny_data, tiny_trainer


def test_kmeans_finds_separated_clusters():
    g = torch.Generator().manual_seed(0)
    truth = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    points = torch.cat([c + 0.1 * torch.randn(30, 2, generator=g) for c in truth])
    centres = kmeans(points, 3, seed=1)
    matched = torch.cdist(truth, centres).min(1).values
    assert matched.max() < 0.1
    assert kmeans(points[:2], 10).shape == (2, 2)  # never more centres than points


def test_an_instances_class_is_the_majority_label_under_it():
    label = torch.tensor([[1, 1, 2], [1, 2, 2], [255, 255, 255]])
    instance = torch.tensor([[7, 7, 7], [7, 9, 9], [4, 4, 4]])
    region, classes, sizes = instance_regions(label, instance, label_nc=3)
    by_id = {int(instance.flatten()[i]): (int(classes[r]), int(sizes[r])) for i, r in enumerate(region.flatten())}
    assert by_id == {7: (1, 4), 9: (2, 2), 4: (-1, 3)}  # id 4 lies on the ignore label only


def test_small_instances_are_left_out():
    label = torch.zeros(8, 8, dtype=torch.long)
    instance = torch.zeros(8, 8, dtype=torch.long)
    instance[0, 0] = 1  # one pixel: 1/64 of the image, not more
    features = torch.where(instance.bool(), 5.0, 1.0).expand(2, 8, 8)
    found = large_instance_features(features, label, instance, label_nc=1)
    assert list(found) == [0] and found[0].tolist() == [[1.0, 1.0]]


@pytest.fixture(scope="module")
def feature_model(tiny_shards, tmp_path_factory):
    run = tmp_path_factory.mktemp("features")
    generator = Pix2PixHDGenerator(in_channels=8 + 1 + 3, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=0)
    module = Pix2PixHDModule(
        generator=generator, discriminator=MultiscaleDiscriminator(in_channels=12, ndf=4, n_layers=2, num_D=1),
        label_nc=8, feat_num=3, nef=4, use_vgg_loss=False, fused_adam=False, classes="synthetic",
        schedule=ProgressiveSchedule([Stage(resolution=(64, 32), num_D=1, batch_size=2, steps=2)]))
    tiny_trainer(run, [InferenceExport()]).fit(module, tiny_data(tiny_shards))
    return run / "export.pt"


def test_encode_features_then_infer_with_styles(feature_model, tiny_shards, odd_maps, tmp_path, capsys):
    maps = ["--labels", str(odd_maps / "test_label"), "--instances", str(odd_maps / "test_inst"), "--workers", "0",
            "--size", "native"]  # the reference check below runs at the maps' own size
    assert infer(["--checkpoint", str(feature_model), "--out", str(tmp_path / "x"), *maps]) == 1  # the model is not ready: exit 1
    assert "hrgan encode-features" in capsys.readouterr().err  # no styles yet: says what to run

    styled = tmp_path / "styled.pt"
    assert encode_features(["--checkpoint", str(feature_model), "--data", str(tiny_shards / "train-*.tar"),
                            "--out", str(styled), "--clusters", "3"]) == 0
    styles = read_export(styled)["styles"]
    assert styles["centres"].shape == (8, 3, 3)
    assert int(styles["counts"].sum()) > 0 and (styles["counts"] <= 3).all()
    assert "sky" in capsys.readouterr().out  # per-class table

    def photos(name, *extra):
        out = tmp_path / name
        assert infer(["--checkpoint", str(styled), "--out", str(out), *maps, *extra]) == 0
        return [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]

    same_a, same_b, other = photos("a", "--seed", "1"), photos("b", "--seed", "1"), photos("c", "--seed", "2")
    assert all(np.array_equal(x, y) for x, y in zip(same_a, same_b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(same_a, other, strict=True))
    first, again = photos("k0", "--style", "cluster:0"), photos("k0b", "--style", "cluster:0", "--seed", "9")
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))  # a fixed cluster ignores the seed
    reference = next((tiny_shards.parent / "train_img").iterdir())
    referenced = photos("ref", "--style", f"from-image:{reference}")
    assert len(referenced) == 3
    one_by_one = photos("ref1", "--style", f"from-image:{reference}", "--batch-size", "1")
    for x, y in zip(referenced, one_by_one, strict=True):  # batch 3 against batch 1: rounding may differ
        assert_photos_match(x, y)
    # the same as encoding the resized reference photo over the map's instances directly
    from hrgan.inference.synthesizer import Synthesizer
    from hrgan.pixels import from_uint8
    from hrgan.visualize import image_to_uint8

    synth = Synthesizer.load(styled)
    stem = sorted((odd_maps / "test_label").iterdir())[0].stem
    label = torch.from_numpy(np.array(Image.open(odd_maps / "test_label" / f"{stem}.png"))).long()[None]
    instance = torch.from_numpy(np.array(Image.open(odd_maps / "test_inst" / f"{stem}.png"))).long()[None]
    photo = Image.open(reference).convert("RGB").resize((label.shape[2], label.shape[1]), Image.Resampling.BICUBIC)
    pixels = from_uint8(torch.from_numpy(np.array(photo)).permute(2, 0, 1))[None]
    features = synth.encode(pixels, instance)
    expected = image_to_uint8(synth(label, instance, features)[0])
    assert_photos_match(np.asarray(Image.open(tmp_path / "ref" / f"{stem}.png")), expected)
    # in floats: a batch of three copies gives each copy the single photo, to rounding
    three = synth(label.expand(3, -1, -1), instance.expand(3, -1, -1), synth.encode(pixels.expand(3, -1, -1, -1), instance.expand(3, -1, -1)))
    for copy in three:
        assert_outputs_match(copy, synth(label, instance, features)[0])


def test_encode_features_refuses_a_model_without_encoder(trained, tiny_shards, capsys):
    assert encode_features(["--checkpoint", str(trained / "export.pt"), "--data", str(tiny_shards / "train-*.tar")]) == 1
    assert "no instance-feature encoder" in capsys.readouterr().err


def test_style_bank_round_trips_through_the_export():
    bank = StyleBank.fit({2: [torch.ones(4, 3)], 5: [torch.zeros(1, 3)]}, label_nc=8, feat_num=3, clusters=2)
    again = StyleBank.from_export(bank.to_export())
    assert again.counts.tolist() == [0, 0, 1, 0, 0, 1, 0, 0] and again.instances.tolist()[2] == 4
