"""The Synthesizer: exports and checkpoints, any input size, precision, no autograd."""

import pytest
import torch

from hrgan.artifacts import read_export
from hrgan.inference.synthesizer import Synthesizer, pad_to_multiple
from tests.training.helpers import LABEL_NC


def maps(height, width, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, LABEL_NC, (batch, height, width), generator=g)
    instance = torch.randint(0, 3, (batch, height, width), generator=g)
    return label, instance


def test_export_and_checkpoint_give_the_same_ema_generator(trained):
    from_export = Synthesizer.load(trained / "export.pt")
    from_ckpt = Synthesizer.load(trained / "checkpoints" / "last.ckpt")
    assert from_export.n_active_enhancers == from_ckpt.n_active_enhancers == 1
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    ema = {k.removeprefix("generator_ema."): v for k, v in checkpoint["state_dict"].items() if k.startswith("generator_ema.")}
    raw = {k.removeprefix("generator."): v for k, v in checkpoint["state_dict"].items() if k.startswith("generator.")}
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)  # the test can tell the two apart
    for name, value in from_ckpt.generator.state_dict().items():
        torch.testing.assert_close(value, ema[name])
    label, instance = maps(64, 128)
    torch.testing.assert_close(from_export(label, instance), from_ckpt(label, instance))


@pytest.mark.parametrize("size", [(45, 70), (7, 9), (64, 128), (33, 200)])
def test_any_size_comes_back_at_its_own_size(trained, size):
    synth = Synthesizer.load(trained / "export.pt")
    label, instance = maps(*size)
    out = synth(label, instance)
    assert out.shape == (2, 3, *size) and out.dtype == torch.float32
    assert not out.requires_grad and out.abs().max() <= 1


def test_padding_leaves_sizes_the_network_takes_untouched(trained):
    synth = Synthesizer.load(trained / "export.pt")
    label, instance = maps(64, 128)
    from hrgan.conditioning import build_generator_input

    x = build_generator_input(label, label_nc=LABEL_NC, instance=instance)
    direct = synth.generator(x, n_active_enhancers=1)
    torch.testing.assert_close(synth(label, instance), direct)
    assert pad_to_multiple(x, synth.size_multiple) is x


def test_padding_reflects_and_falls_back_to_replicate_on_tiny_inputs():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    padded = pad_to_multiple(x, 8)
    assert padded.shape == (1, 1, 16, 16)  # at least two multiples
    torch.testing.assert_close(padded[..., :3, :4], x)
    tall = pad_to_multiple(torch.arange(80.0).view(1, 1, 20, 4), 8)
    assert tall.shape == (1, 1, 24, 16)


def test_bf16_is_close_to_fp32(trained):
    label, instance = maps(45, 70)
    full = Synthesizer.load(trained / "export.pt")(label, instance)
    half = Synthesizer.load(trained / "export.pt", precision="bf16")(label, instance)
    assert half.dtype == torch.float32
    assert (half - full).abs().mean() < 0.05


def test_bad_label_values_are_listed(trained):
    synth = Synthesizer.load(trained / "export.pt")
    label, instance = maps(16, 16)
    label[0, 0, 0], label[1, 3, 3] = 9, 200
    with pytest.raises(ValueError, match=r"9, 200"):
        synth(label, instance)


class Arbitrary:
    """Any class: unpickling it would run code of the file's choosing."""


def test_checkpoint_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "inference": Arbitrary()}, path)
    with pytest.raises(ValueError, match="not a readable hrgan export or checkpoint"):
        read_export(path)


def test_export_file_is_unchanged_by_loading(trained):
    export = read_export(trained / "export.pt")
    assert export["ema"] is True and export["n_active_enhancers"] == 1
